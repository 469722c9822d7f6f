"""Training state as BSON: tensors as raw bytes, no pickle, so loading runs no code.

Encodes the nested dicts, lists and tuples of an optimiser's and scheduler's state_dict,
random-number-generator states and early-stopping state. Dicts with keys that are not
strings (an optimiser's state is keyed by parameter number) and tuples are tagged so they
come back as they went in.
"""

from __future__ import annotations

from typing import Any

import bson
import numpy as np
import torch

from ..errors import ValidationError


def encode_state(state: Any) -> bytes:
    """Return `state` as BSON bytes."""
    return bson.encode({"state": _encode(state)})


def decode_state(values: bytes) -> Any:
    """Return the state that `encode_state` turned into `values`."""
    try:
        document = bson.decode(values)
    except bson.errors.BSONError as error:
        raise ValidationError("training_state", f"{len(values)} bytes", "BSON from POL") from error
    return _decode(document["state"])


def _encode(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        array = value.detach().cpu().contiguous()
        return {
            "$tensor": {
                "dtype": str(array.dtype).removeprefix("torch."),
                "shape": list(array.shape),
                "data": array.view(-1).view(torch.uint8).numpy().tobytes()
                if array.numel()
                else b"",
            }
        }
    if isinstance(value, np.ndarray):
        array = np.ascontiguousarray(value)
        return {
            "$ndarray": {
                "dtype": array.dtype.str,
                "shape": list(array.shape),
                "data": array.tobytes(),
            }
        }
    if isinstance(value, tuple):
        return {"$tuple": [_encode(item) for item in value]}
    if isinstance(value, list):
        return [_encode(item) for item in value]
    if isinstance(value, dict):
        if all(isinstance(key, str) and not key.startswith("$") for key in value):
            return {key: _encode(item) for key, item in value.items()}
        return {"$dict": [[_encode(key), _encode(item)] for key, item in value.items()]}
    if isinstance(value, np.generic):
        return value.item()
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(item) for item in value]
    if not isinstance(value, dict):
        return value
    if "$tensor" in value:
        spec = value["$tensor"]
        dtype = getattr(torch, spec["dtype"])
        raw = (
            torch.frombuffer(bytearray(spec["data"]), dtype=torch.uint8)
            if spec["data"]
            else (torch.empty(0, dtype=torch.uint8))
        )
        return raw.view(dtype).reshape(spec["shape"]).clone()
    if "$ndarray" in value:
        spec = value["$ndarray"]
        return (
            np.frombuffer(spec["data"], dtype=np.dtype(spec["dtype"])).reshape(spec["shape"]).copy()
        )
    if "$tuple" in value:
        return tuple(_decode(item) for item in value["$tuple"])
    if "$dict" in value:
        return {_decode(key): _decode(item) for key, item in value["$dict"]}
    return {key: _decode(item) for key, item in value.items()}
