"""Global ids: one opaque id per object of the API, resolvable by Query.node.

A global id is the base64 of "<Type>:<parts>": "Experiment:<id>", "Learner:<id>",
"Snapshot:<id>", and for the layers and tensors a snapshot or a finished learner holds,
"Layer:<Snapshot|Learner>:<id>:<layer index>" and
"Tensor:<Snapshot|Learner>:<id>:<layer index>:<name>" (layer index "state" for a
snapshot's training state). The `id` fields keep the 24-character hexadecimal ids.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from dataclasses import dataclass
from typing import Any

from bson import ObjectId

from ..errors import NotFoundError, ValidationError
from ..model import Experiment, Learner, Snapshot
from .context import Context

OWNERS = ("Snapshot", "Learner")
KINDS = ("Experiment", "Learner", "Snapshot", "Layer", "Tensor")
STATE = "state"


class InvalidGlobalIdError(ValidationError):
    """A string that is neither a global id of this API nor a 24-character hexadecimal id."""

    code = "INVALID_ID"

    def __init__(self, field: str, value: Any) -> None:
        super().__init__(
            field,
            value,
            "a global id (globalId of an Experiment, Learner, Snapshot, Layer or Tensor) or "
            "a 24-character hexadecimal id of an experiment, learner or snapshot",
        )


@dataclass
class NodeTarget:
    """What a global id names: an object, or a layer or tensor inside its owner."""

    kind: str
    owner: Experiment | Learner | Snapshot
    layer: int | None = None  # None with kind Tensor: the snapshot's training state
    tensor: str | None = None


def global_id(kind: str, *parts: Any) -> str:
    """Return the global id of the object of `kind` that `parts` name."""
    text = ":".join([kind, *(str(part) for part in parts)])
    return base64.b64encode(text.encode()).decode("ascii")


def layer_id(owner_kind: str, owner_id: str | None, index: int) -> str:
    """Return the global id of layer `index` of a snapshot or a learner."""
    return global_id("Layer", owner_kind, owner_id, index)


def tensor_id(owner_kind: str, owner_id: str | None, index: int | None, name: str) -> str:
    """Return the global id of a tensor of a layer (index None: the training state)."""
    return global_id("Tensor", owner_kind, owner_id, STATE if index is None else index, name)


def parse(field: str, value: str) -> tuple[str, list[str]]:
    """Return (kind, parts) of a global id, or raise InvalidGlobalIdError naming `field`."""
    try:
        text = base64.b64decode(value.encode("ascii"), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeError, ValueError):
        raise InvalidGlobalIdError(field, value) from None
    kind, _, rest = text.partition(":")
    limits = {"Experiment": 1, "Learner": 1, "Snapshot": 1, "Layer": 3, "Tensor": 4}
    if kind not in limits:
        raise InvalidGlobalIdError(field, value)
    parts = rest.split(":", limits[kind] - 1)
    if len(parts) != limits[kind] or not _well_formed(kind, parts):
        raise InvalidGlobalIdError(field, value)
    return kind, parts


def _well_formed(kind: str, parts: list[str]) -> bool:
    if kind in ("Layer", "Tensor"):
        owner, owner_id, index = parts[:3]
        numbered = index.isdigit() or (kind == "Tensor" and owner == "Snapshot" and index == STATE)
        return owner in OWNERS and _hexadecimal(owner_id) and numbered and all(parts)
    return _hexadecimal(parts[0])


def _hexadecimal(value: str) -> bool:
    return len(value) == 24 and ObjectId.is_valid(value) and value == value.lower()


async def node(context: Context, value: str, field: str = "id") -> NodeTarget:
    """Return what a global id (or a raw hexadecimal id) names, or raise NOT_FOUND."""
    if _hexadecimal(value):
        return await _raw(context, value, field)
    kind, parts = parse(field, value)
    if kind in ("Experiment", "Learner", "Snapshot"):
        return NodeTarget(kind, await _load(context, kind, parts[0], field))
    owner = await _load(context, parts[0], parts[1], field)
    index = None if parts[2] == STATE else int(parts[2])
    if index is not None and index >= len(owner.layers):
        raise NotFoundError("layer", f"{index} of {parts[0].lower()} {parts[1]}", field=field)
    if kind == "Layer":
        return NodeTarget(kind, owner, index)
    if index is None:
        tensors = [owner.training_state] if owner.training_state else []
    else:
        tensors = owner.layers[index].tensors
    if not any(tensor.name == parts[3] for tensor in tensors):
        raise NotFoundError("tensor", f"{parts[3]} of layer {parts[2]}", field=field)
    return NodeTarget(kind, owner, index, parts[3])


async def _load(context: Context, kind: str, key: str, field: str) -> Any:
    loader = {
        "Experiment": context.loaders.experiment,
        "Learner": context.loaders.learner,
        "Snapshot": context.loaders.snapshot,
    }[kind]
    try:
        return await loader.load(key)
    except NotFoundError as error:
        raise NotFoundError(kind.lower(), key, field=field) from error


async def _raw(context: Context, key: str, field: str) -> NodeTarget:
    # A hexadecimal id does not say what it names; object ids are unique across
    # collections, so at most one of the three reads finds it.
    kinds = ("Experiment", "Learner", "Snapshot")
    found = await asyncio.gather(
        *(_load(context, kind, key, field) for kind in kinds), return_exceptions=True
    )
    for kind, result in zip(kinds, found):
        if not isinstance(result, BaseException):
            return NodeTarget(kind, result)
    for result in found:
        if not isinstance(result, NotFoundError):
            raise result
    raise NotFoundError("experiment, learner or snapshot", key, field=field)
