"""Non-finite numbers: null in the response, with a flag saying which value it was.

JSON has no NaN or infinity, and GraphQL's Float refuses them, so a field holding one
would fail and null its parent. Instead the field is null and a NonFinite flag names it.
"""

from __future__ import annotations

import math
from typing import Any

import strawberry

from .enums import NonFinite


@strawberry.type(description="A field that is null because its value was NaN or infinite.")
class NonFiniteField:
    field: str = strawberry.field(description="The GraphQL name of the field.")
    value: NonFinite


def finite(value: Any) -> float | None:
    """Return `value` as a float when it is a finite number, else None."""
    if value is None or isinstance(value, bool):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def non_finite(value: Any) -> NonFinite | None:
    """Return which non-finite value `value` is, or None for a finite number or None."""
    if value is None or isinstance(value, (bool, str)):
        return None
    value = float(value)
    if math.isnan(value):
        return NonFinite.NAN
    if math.isinf(value):
        return NonFinite.POSITIVE_INFINITY if value > 0 else NonFinite.NEGATIVE_INFINITY
    return None


def non_finite_fields(values: dict[str, Any]) -> list[NonFiniteField]:
    """Return a flag for every non-finite value of a GraphQL field name -> value mapping."""
    return [
        NonFiniteField(field=name, value=kind)
        for name, value in values.items()
        if (kind := non_finite(value)) is not None
    ]


def json_safe(value: Any) -> Any:
    """Return a JSON value with non-finite floats replaced by None, recursively."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    if isinstance(value, dict):
        return {str(key): json_safe(item) for key, item in value.items()}
    if hasattr(value, "item") and hasattr(value, "dtype"):
        return json_safe(value.item())
    return value
