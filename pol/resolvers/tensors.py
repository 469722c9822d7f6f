"""Tensor values: pages, slices by range per dimension, raw bytes, and epoch differences.

Values are stored as little-endian bytes in chunks of CHUNK_BYTES with _id
"<checksum>:<n>"; a read loads only the chunks that hold the bytes asked for, through the
request's chunk loader, so every tensor read at one depth of a query is one round trip.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass

import numpy as np

from ..errors import NotFoundError, ValidationError
from ..model import Learner, Snapshot, Tensor
from ..model.tensor import checksum
from ..store.store import CHUNK_BYTES, chunk_id
from .arguments import at_least
from .context import Context

# The most values one request may read as floats, and the most raw bytes (1 MiB).
MAX_TENSOR_VALUES = 100_000
MAX_RAW_BYTES = 1024 * 1024
BYTE_ORDER = "little"


@dataclass
class TensorValues:
    """A run of a tensor's values in row-major order, as float64."""

    offset: int
    size: int
    values: np.ndarray


@dataclass
class DimensionRange:
    """Indices start (included) to stop (excluded) of one dimension; None: to its end."""

    start: int = 0
    stop: int | None = None


@dataclass
class TensorSlice:
    """The sub-array of given ranges, its shape, and each value's row-major index."""

    shape: tuple[int, ...]
    ranges: list[tuple[int, int]]
    values: np.ndarray  # in the tensor's own dtype, row-major
    indices: np.ndarray  # position of each value in the whole tensor, row-major


@dataclass
class RawBytes:
    """Little-endian bytes of a tensor or a part of it, with its dtype and shape."""

    dtype: str
    shape: tuple[int, ...]
    offset: int | None
    base64: str


@dataclass
class WeightDifference:
    """Summary of (values at to_epoch) - (values at from_epoch), over its finite entries."""

    layer: int
    tensor: str
    from_epoch: int
    to_epoch: int
    shape: tuple[int, ...]
    l2_norm: float
    max_abs: float
    mean_abs: float
    non_finite: int


async def read_bytes(
    context: Context, tensor: Tensor, start: int, stop: int, *, returned: bool = True
) -> bytes:
    """Return bytes start..stop of a tensor's values, loading only the chunks holding them.

    Bytes `returned` to the client count against the request's budget of tensor values.
    """
    if stop <= start:
        return b""
    if returned:
        context.spend_values(stop - start)
    first, last = start // CHUNK_BYTES, (stop - 1) // CHUNK_BYTES
    ids = [chunk_id(tensor.checksum, n) for n in range(first, last + 1)]
    chunks = await context.loaders.tensor_chunks.load_many(ids)
    for n, chunk in zip(range(first, last + 1), chunks):
        expected = min(CHUNK_BYTES, tensor.nbytes - n * CHUNK_BYTES)
        if chunk is None or len(chunk) != expected:
            raise NotFoundError("tensor values", f"{tensor.name} ({tensor.checksum[:12]})")
    joined = b"".join(chunks)
    if start == 0 and stop == tensor.nbytes and checksum(joined) != tensor.checksum:
        raise NotFoundError("tensor values", f"{tensor.name} ({tensor.checksum[:12]})")
    skip = start - first * CHUNK_BYTES
    return joined[skip : skip + stop - start]


def _dtype(tensor: Tensor) -> np.dtype:
    return np.dtype(tensor.dtype).newbyteorder("<")


async def tensor_values(
    context: Context, tensor: Tensor, offset: int, length: int | None
) -> TensorValues:
    """Return `length` values of a tensor from `offset` on (default: to its end), capped."""
    offset, length = _run("length", tensor, offset, length, MAX_TENSOR_VALUES, "values")
    flat = await _flat(context, tensor, offset, length)
    return TensorValues(offset=offset, size=tensor.size, values=flat.astype(np.float64))


def _run(
    field: str, tensor: Tensor, offset: int, length: int | None, cap: int, unit: str
) -> tuple[int, int]:
    size = tensor.size
    at_least("offset", offset, 0)
    if offset > size:
        raise ValidationError("offset", offset, f"0 .. {size}, the tensor's size")
    length = size - offset if length is None else at_least("length", length, 0)
    length = min(length, size - offset) if unit == "values" else length
    if length * (1 if unit == "values" else _dtype(tensor).itemsize) > cap:
        raise ValidationError(
            field,
            length,
            f"at most {cap} {unit} per request; page through the {size} values with offset "
            "and length",
        )
    if offset + length > size:
        raise ValidationError("length", length, f"0 .. {size - offset}, the values after offset")
    return offset, length


async def _flat(context: Context, tensor: Tensor, offset: int, length: int) -> np.ndarray:
    itemsize = _dtype(tensor).itemsize
    values = await read_bytes(context, tensor, offset * itemsize, (offset + length) * itemsize)
    return np.frombuffer(values, dtype=_dtype(tensor))


async def tensor_slice(
    context: Context, tensor: Tensor, ranges: list[DimensionRange], cap: int = MAX_TENSOR_VALUES
) -> TensorSlice:
    """Return the sub-array `ranges` select, one range per leading dimension (rest whole)."""
    bounds = _ranges(tensor.shape, ranges)
    shape = tuple(stop - start for start, stop in bounds)
    count = math.prod(shape)
    if count > cap:
        raise ValidationError(
            "ranges", _text(bounds), f"at most {cap} values per request; this slice has {count}"
        )
    if count == 0:
        empty = np.zeros(shape, dtype=_dtype(tensor))
        return TensorSlice(shape, bounds, empty, np.zeros(shape, dtype=np.int64))

    grid = np.ix_(*(np.arange(start, stop) for start, stop in bounds))
    indices = np.ravel_multi_index(grid, tensor.shape) if tensor.shape else np.zeros((), np.int64)
    first, last = int(indices.min()), int(indices.max())
    window = await _flat(context, tensor, first, last - first + 1)
    return TensorSlice(shape, bounds, window[indices - first], indices)


def _ranges(shape: tuple[int, ...], ranges: list[DimensionRange]) -> list[tuple[int, int]]:
    if len(ranges) > len(shape):
        raise ValidationError(
            "ranges",
            len(ranges),
            f"at most {len(shape)} ranges, one per dimension of {list(shape)}",
        )
    bounds = []
    for dimension, size in enumerate(shape):
        given = ranges[dimension] if dimension < len(ranges) else DimensionRange()
        stop = size if given.stop is None else given.stop
        if not 0 <= given.start <= size:
            raise ValidationError(
                f"ranges[{dimension}].start", given.start, f"0 .. {size} (dimension {dimension})"
            )
        if not given.start <= stop <= size:
            raise ValidationError(
                f"ranges[{dimension}].stop",
                stop,
                f"{given.start} .. {size}: start .. the size of dimension {dimension}",
            )
        bounds.append((given.start, stop))
    return bounds


def _text(bounds: list[tuple[int, int]]) -> str:
    return "[" + ", ".join(f"{start}:{stop}" for start, stop in bounds) + "]"


async def raw_bytes(
    context: Context,
    tensor: Tensor,
    offset: int,
    length: int | None,
    ranges: list[DimensionRange] | None,
) -> RawBytes:
    """Return the little-endian bytes of a run of values, or of a slice by ranges, capped."""
    itemsize = _dtype(tensor).itemsize
    if ranges is not None:
        if offset != 0 or length is not None:
            raise ValidationError(
                "ranges", "ranges with offset or length", "ranges, or offset and length"
            )
        bounds = _ranges(tensor.shape, ranges)
        count = math.prod(stop - start for start, stop in bounds)
        if count * itemsize > MAX_RAW_BYTES:
            raise ValidationError(
                "ranges",
                _text(bounds),
                f"at most {MAX_RAW_BYTES} bytes (1 MiB) per request; this slice has "
                f"{count * itemsize}",
            )
        part = await tensor_slice(context, tensor, ranges, cap=count)
        encoded = np.ascontiguousarray(part.values).tobytes()
        return RawBytes(tensor.dtype, part.shape, None, base64.b64encode(encoded).decode())
    if length is None:
        length = tensor.size - min(max(offset, 0), tensor.size)
    offset, length = _run("length", tensor, offset, length, MAX_RAW_BYTES, "bytes")
    values = await read_bytes(context, tensor, offset * itemsize, (offset + length) * itemsize)
    return RawBytes(tensor.dtype, (length,), offset, base64.b64encode(values).decode())


async def weight_difference(
    context: Context,
    learner: Learner,
    snapshots: list[Snapshot],
    layer: int,
    tensor_name: str,
    from_epoch: int,
    to_epoch: int,
) -> WeightDifference:
    """Return norms of a layer's tensor at `to_epoch` minus the same tensor at `from_epoch`."""
    at_least("fromEpoch", from_epoch, 0)
    at_least("toEpoch", to_epoch, 0)
    by_epoch = {snapshot.epoch: snapshot for snapshot in snapshots}
    tensors = []
    for field, epoch in (("fromEpoch", from_epoch), ("toEpoch", to_epoch)):
        if epoch not in by_epoch:
            raise NotFoundError(
                "snapshot", f"of learner {learner.id} at epoch {epoch}", field=field
            )
        tensors.append(_tensor_of(by_epoch[epoch], layer, tensor_name))
    before, after = tensors
    if before.shape != after.shape:
        raise ValidationError(
            "tensor",
            tensor_name,
            f"a tensor of one shape at both epochs; it is {list(before.shape)} at epoch "
            f"{from_epoch} and {list(after.shape)} at epoch {to_epoch}",
        )

    values = []
    for tensor in tensors:
        raw = await read_bytes(context, tensor, 0, tensor.nbytes, returned=False)
        values.append(np.frombuffer(raw, dtype=_dtype(tensor)).astype(np.float64))
    difference = values[1] - values[0]
    finite = np.abs(difference[np.isfinite(difference)])

    return WeightDifference(
        layer=layer,
        tensor=tensor_name,
        from_epoch=from_epoch,
        to_epoch=to_epoch,
        shape=before.shape,
        l2_norm=float(np.sqrt(np.dot(finite, finite))),
        max_abs=float(finite.max()) if finite.size else math.nan,
        mean_abs=float(finite.mean()) if finite.size else math.nan,
        non_finite=int(difference.size - finite.size),
    )


def _tensor_of(snapshot: Snapshot, layer: int, name: str) -> Tensor:
    if not 0 <= layer < len(snapshot.layers):
        raise ValidationError(
            "layer", layer, f"0 .. {len(snapshot.layers) - 1}, the layers of epoch {snapshot.epoch}"
        )
    tensor = snapshot.layers[layer].tensor(name)
    if tensor is None:
        names = ", ".join(item.name for item in snapshot.layers[layer].tensors)
        raise ValidationError("tensor", name, f"one of {names} (layer {layer})")
    return tensor
