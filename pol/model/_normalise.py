"""Turn numpy and torch values into the plain Python types BSON encodes."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np

# Types BSON encodes as they are; checked by exact type first, as most values are of these.
_PLAIN_TYPES = frozenset((type(None), bool, int, float, str, bytes))


def plain(value: Any) -> Any:
    """Return `value` with numpy/torch scalars and arrays replaced by plain Python values."""
    kind = type(value)
    if kind in _PLAIN_TYPES:
        return value
    if kind is list and all(type(item) in _PLAIN_TYPES for item in value):
        return list(value)
    if value is None or isinstance(value, (bool, str, bytes)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, np.ndarray):
        return plain(value.tolist())
    if isinstance(value, dt.datetime):
        return utc(value)
    if hasattr(value, "item") and hasattr(value, "dtype"):
        # A zero-dimensional torch tensor: import of torch is not needed to unwrap it.
        return plain(value.item())
    return value


def utc(moment: dt.datetime) -> dt.datetime:
    """Return `moment` as a UTC-aware datetime; naive values are taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def now() -> dt.datetime:
    """Return the current time, UTC-aware, truncated to the millisecond BSON keeps."""
    moment = dt.datetime.now(dt.UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def is_finite(value: float | None) -> bool:
    """Return True for a number that is neither NaN nor infinite."""
    return value is not None and math.isfinite(value)
