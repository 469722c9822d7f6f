"""Checks of GraphQL arguments, each raising a ValidationError that names the argument."""

from __future__ import annotations

import math
from typing import Any

from ..errors import ValidationError
from ..model.ids import object_id


def valid_id(field: str, value: Any) -> str:
    """Return `value` as a lower-case 24-character hexadecimal id, or raise InvalidIdError."""
    return str(object_id(field, value))


def at_least(field: str, value: int, low: int) -> int:
    """Return `value` if it is an integer >= `low`."""
    if value < low:
        raise ValidationError(field, value, f"an integer >= {low}")
    return value


def optional_at_least(field: str, value: int | None, low: int) -> int | None:
    """Return `value` if it is None or an integer >= `low`."""
    return None if value is None else at_least(field, value, low)


def top_k_size(value: float) -> int | float:
    """Return `k` as the analytics take it: an int count for k >= 1, a fraction below 1."""
    allowed = "a whole count >= 1, or a fraction 0 < k < 1 of the ranked learners"
    if not math.isfinite(value) or value <= 0:
        raise ValidationError("k", value, allowed)
    if value < 1:
        return float(value)
    if not float(value).is_integer():
        raise ValidationError("k", value, allowed)
    return int(value)
