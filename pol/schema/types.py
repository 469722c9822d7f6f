"""Output types of the GraphQL API: the POL model, nested, as clients read it.

Fields that read the store on their own (learners, snapshots, tensor values, ...) are
nullable: when one fails, its error names it and its parent object is kept.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import numpy as np
import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from .. import model
from ..model.search_space import Bound, CategoricalBound, FloatBound
from ..resolvers import nodes, queries, tensors
from ..resolvers.context import Context
from .connections import PAGE_DESCRIPTION, Connection
from .enums import (
    BoundKind,
    HpOptMethod,
    LearnerType,
    Metric,
    NonFinite,
    Split,
    Status,
)
from .filters import LearnerFilter, LearnerOrder
from .numbers import NonFiniteField, finite, json_safe, non_finite, non_finite_fields
from .scalars import Int64

PolInfo = Info[Context, None]
FIRST_VALUE = Int64(0)


# Arguments of a learner's snapshot lists: which snapshots besides the current end-of-epoch ones.
WithSuperseded = Annotated[
    bool, strawberry.argument(description="Also those a roll-back replaced.")
]
WithMidEpoch = Annotated[bool, strawberry.argument(description="Also those taken inside an epoch.")]


@strawberry.interface(
    description="An object with a global id: Query.node(id: globalId) reads it back. The "
    "id fields of experiments, learners and snapshots stay their hexadecimal ids."
)
class Node:
    global_id: strawberry.ID = strawberry.field(description="The object's global id.")


@strawberry.input(description="Indices start (included) to stop (excluded) of one dimension.")
class DimensionRangeInput:
    start: int = 0
    stop: int | None = strawberry.field(default=None, description="Null: to the dimension's end.")

    def to_range(self) -> tensors.DimensionRange:
        """Return the range as the resolvers check it."""
        return tensors.DimensionRange(self.start, self.stop)


@strawberry.type(description="Indices start (included) to stop (excluded) of one dimension.")
class DimensionRange:
    start: int
    stop: int


@strawberry.type(description="The rows an experiment was built from and what they hold.")
class Dataset:
    name: str
    source: str
    rows: int
    features: list[str]
    target: str
    task: str = strawberry.field(description="classification or regression.")
    window: int | None = strawberry.field(
        description="Time steps per sequence of a windowed time series; null for tabular data."
    )
    labels: list[int] = strawberry.field(description="Class labels of a classification task.")

    @classmethod
    def of(cls, dataset: model.Dataset) -> Dataset:
        """Return the GraphQL form of a dataset."""
        return cls(
            name=dataset.name,
            source=dataset.source,
            rows=dataset.rows,
            features=list(dataset.features),
            target=dataset.target,
            task=dataset.task,
            window=dataset.window,
            labels=list(dataset.labels or []),
        )


@strawberry.type(description="How an experiment's rows were split; the row numbers on request.")
class Indices:
    indices: strawberry.Private[model.Indices]
    seed: Int64
    train_size: int
    valid_size: int
    test_size: int

    @classmethod
    def of(cls, indices: model.Indices) -> Indices:
        """Return the GraphQL form of a split."""
        sizes = indices.sizes()
        return cls(
            indices=indices,
            seed=Int64(indices.seed),
            train_size=sizes["train"],
            valid_size=sizes["valid"],
            test_size=sizes["test"],
        )

    @strawberry.field(description="Row numbers of the train split, ascending.")
    def train(self) -> list[int]:
        return list(self.indices.train)

    @strawberry.field(description="Row numbers of the valid split, ascending.")
    def valid(self) -> list[int]:
        return list(self.indices.valid)

    @strawberry.field(description="Row numbers of the test split, ascending.")
    def test(self) -> list[int]:
        return list(self.indices.test)


@strawberry.type(description="The range or choices one hyper-parameter is drawn from.")
class SearchSpaceBound:
    name: str = strawberry.field(description="The hyper-parameter's search-space name, e.g. alpha.")
    kind: BoundKind
    low: float | None = strawberry.field(description="Lowest value; null for a categorical.")
    high: float | None = strawberry.field(
        description="Highest value, included; null for a categorical."
    )
    log: bool = strawberry.field(description="True when a float is drawn log-uniformly.")
    choices: list[JSON] | None = strawberry.field(description="The values of a categorical.")

    @classmethod
    def of(cls, name: str, bound: Bound) -> SearchSpaceBound:
        """Return the GraphQL form of one bound."""
        if isinstance(bound, CategoricalBound):
            return cls(
                name=name,
                kind=BoundKind.CATEGORICAL,
                low=None,
                high=None,
                log=False,
                choices=json_safe(list(bound.choices)),
            )
        return cls(
            name=name,
            kind=BoundKind(bound.kind),
            low=finite(bound.low),
            high=finite(bound.high),
            log=isinstance(bound, FloatBound) and bound.log,
            choices=None,
        )


@strawberry.type(description="The number of an experiment's learners in each status.")
class LearnerCounts:
    queued: int
    running: int
    paused: int
    completed: int
    stopped_early: int
    failed: int
    cancelled: int
    total: int

    @classmethod
    def of(cls, counts: dict[str, int]) -> LearnerCounts:
        """Return the GraphQL form of status -> count."""
        return cls(**counts, total=sum(counts.values()))


@strawberry.type(description="Counts of (true label, predicted label) pairs; rows are true labels.")
class ConfusionMatrix:
    labels: list[int]
    counts: list[list[int]]


@strawberry.type(description="A metric that is null because its value was NaN or infinite.")
class NonFiniteMetric:
    metric: Metric
    value: NonFinite


@strawberry.type(
    description="Metrics on one split; a metric that does not apply to the task is null, "
    "and one that was NaN or infinite is null and listed in nonFinite."
)
class Performance:
    split: Split
    loss: float | None
    accuracy: float | None
    precision: float | None
    recall: float | None
    f1: float | None
    mse: float | None
    mae: float | None
    confusion_matrix: ConfusionMatrix | None
    non_finite: list[NonFiniteMetric]

    @classmethod
    def of(cls, performance: model.Performance) -> Performance:
        """Return the GraphQL form of one split's metrics."""
        metrics = {metric: performance.metric(metric.value) for metric in Metric}
        matrix = performance.confusion_matrix
        return cls(
            split=Split(performance.split),
            **{metric.value: finite(value) for metric, value in metrics.items()},
            confusion_matrix=ConfusionMatrix(labels=matrix.labels, counts=matrix.counts)
            if matrix
            else None,
            non_finite=[
                NonFiniteMetric(metric=metric, value=kind)
                for metric, value in metrics.items()
                if (kind := non_finite(value)) is not None
            ],
        )


@strawberry.type(description="Performance on each split; a split not evaluated is null.")
class LearnerPerformance:
    train: Performance | None
    valid: Performance | None
    test: Performance | None

    @classmethod
    def of(cls, performance: model.LearnerPerformance) -> LearnerPerformance:
        """Return the GraphQL form of every split's metrics."""
        splits = {split.value: performance.split(split.value) for split in Split}
        return cls(
            **{name: Performance.of(item) if item else None for name, item in splits.items()}
        )


@strawberry.type(description="The setup of one layer of a learner's architecture.")
class LayerConfiguration:
    index: int
    label: str
    kind: str
    inputs: int
    outputs: int
    activation: str | None

    @classmethod
    def of(cls, configuration: model.LayerConfiguration) -> LayerConfiguration:
        """Return the GraphQL form of a layer's setup."""
        return cls(**configuration.to_document())


@strawberry.type(
    description="Summary statistics over a tensor's finite values; a statistic that is "
    "NaN (no finite value at all) is null and listed in nonFinite."
)
class TensorStats:
    min: float | None
    max: float | None
    mean: float | None
    std: float | None
    l2_norm: float | None
    non_finite_count: Int64 = strawberry.field(
        description="How many of the tensor's values are NaN or infinite."
    )
    non_finite: list[NonFiniteField]

    @classmethod
    def of(cls, stats: model.TensorStats) -> TensorStats:
        """Return the GraphQL form of a tensor's statistics."""
        values = {
            "min": stats.min,
            "max": stats.max,
            "mean": stats.mean,
            "std": stats.std,
            "l2Norm": stats.l2_norm,
        }
        return cls(
            min=finite(stats.min),
            max=finite(stats.max),
            mean=finite(stats.mean),
            std=finite(stats.std),
            l2_norm=finite(stats.l2_norm),
            non_finite_count=Int64(stats.non_finite),
            non_finite=non_finite_fields(values),
        )


@strawberry.type(
    description="A value of a tensor that is null in `values` because it is not finite."
)
class NonFiniteValue:
    index: Int64 = strawberry.field(description="Position in the whole tensor, row-major.")
    value: NonFinite


@strawberry.type(description="A slice of a tensor's values in row-major order, as floats.")
class TensorValues:
    offset: Int64
    size: Int64 = strawberry.field(description="The number of values of the whole tensor.")
    values: list[float | None] = strawberry.field(
        description="The values from offset on; NaN and infinities are null, see nonFinite."
    )
    non_finite: list[NonFiniteValue]

    @classmethod
    def of(cls, values: queries.TensorValues) -> TensorValues:
        """Return the GraphQL form of a slice of values."""
        return cls(
            offset=Int64(values.offset),
            size=Int64(values.size),
            values=[finite(value) for value in values.values.tolist()],
            non_finite=[
                NonFiniteValue(index=Int64(values.offset + position), value=kind)
                for position, value in enumerate(values.values.tolist())
                if (kind := non_finite(value)) is not None
            ],
        )


@strawberry.type(
    description="The sub-array that ranges select, in row-major order, with its shape."
)
class TensorSlice:
    shape: list[int]
    ranges: list[DimensionRange]
    values: list[float | None] = strawberry.field(
        description="The values as floats; NaN and infinities are null, see nonFinite."
    )
    non_finite: list[NonFiniteValue] = strawberry.field(
        description="Non-finite values, by their position in the whole tensor."
    )

    @classmethod
    def of(cls, part: tensors.TensorSlice) -> TensorSlice:
        """Return the GraphQL form of a slice."""
        values = part.values.astype(np.float64).ravel().tolist()
        positions = part.indices.ravel().tolist()
        return cls(
            shape=list(part.shape),
            ranges=[DimensionRange(start=start, stop=stop) for start, stop in part.ranges],
            values=[finite(value) for value in values],
            non_finite=[
                NonFiniteValue(index=Int64(position), value=kind)
                for position, value in zip(positions, values)
                if (kind := non_finite(value)) is not None
            ],
        )


@strawberry.type(description="Raw values: the base64 of their little-endian bytes.")
class TensorBytes:
    dtype: str
    shape: list[int] = strawberry.field(
        description="The shape of the bytes' array: [length] for a run, the slice's for ranges."
    )
    byte_order: str = strawberry.field(description='Always "little".')
    offset: Int64 | None = strawberry.field(description="The first value's position in a run.")
    base64: str

    @classmethod
    def of(cls, raw: tensors.RawBytes) -> TensorBytes:
        """Return the GraphQL form of raw bytes."""
        return cls(
            dtype=raw.dtype,
            shape=list(raw.shape),
            byte_order=tensors.BYTE_ORDER,
            offset=None if raw.offset is None else Int64(raw.offset),
            base64=raw.base64,
        )


@strawberry.type(
    description="A layer tensor at toEpoch minus the same tensor at fromEpoch, summarised "
    "over its finite entries; a statistic without any is null."
)
class WeightDifference:
    layer: int
    tensor: str
    from_epoch: int
    to_epoch: int
    shape: list[int]
    l2_norm: float | None = strawberry.field(description="The Euclidean norm of the difference.")
    max_abs: float | None
    mean_abs: float | None
    non_finite_count: Int64 = strawberry.field(
        description="Entries where either epoch's value (or the difference) is not finite."
    )

    @classmethod
    def of(cls, difference: tensors.WeightDifference) -> WeightDifference:
        """Return the GraphQL form of a difference."""
        return cls(
            layer=difference.layer,
            tensor=difference.tensor,
            from_epoch=difference.from_epoch,
            to_epoch=difference.to_epoch,
            shape=list(difference.shape),
            l2_norm=finite(difference.l2_norm),
            max_abs=finite(difference.max_abs),
            mean_abs=finite(difference.mean_abs),
            non_finite_count=Int64(difference.non_finite),
        )


@strawberry.type(description="A named array: a layer's weights or biases, or a training state.")
class Tensor(Node):
    tensor: strawberry.Private[model.Tensor]
    name: str
    dtype: str
    shape: list[int]
    checksum: str = strawberry.field(description="SHA-256 of the values' little-endian bytes.")
    nbytes: Int64
    size: Int64 = strawberry.field(description="The number of values.")
    stats: TensorStats | None = strawberry.field(description="Null for boolean tensors.")

    @classmethod
    def of(
        cls,
        tensor: model.Tensor,
        owner: str = "Snapshot",
        owner_id: str | None = None,
        layer: int | None = None,
    ) -> Tensor:
        """Return the GraphQL form of a tensor of layer `layer` (None: the training state)."""
        return cls(
            global_id=strawberry.ID(nodes.tensor_id(owner, owner_id, layer, tensor.name)),
            tensor=tensor,
            name=tensor.name,
            dtype=tensor.dtype,
            shape=list(tensor.shape),
            checksum=tensor.checksum,
            nbytes=Int64(tensor.nbytes),
            size=Int64(tensor.size),
            stats=TensorStats.of(tensor.stats) if tensor.stats else None,
        )

    @strawberry.field(
        description=f"The values from offset, `length` of them (default: to the end); at most "
        f"{queries.MAX_TENSOR_VALUES} per request, larger tensors are read in pages."
    )
    async def values(
        self, info: PolInfo, offset: Int64 = FIRST_VALUE, length: Int64 | None = None
    ) -> TensorValues | None:
        return TensorValues.of(
            await queries.tensor_values(info.context, self.tensor, offset, length)
        )

    @strawberry.field(
        name="slice",
        description=f"The sub-array of one range per leading dimension (the dimensions "
        f"after them whole), at most {tensors.MAX_TENSOR_VALUES} values; reads only the "
        "stored chunks that hold them.",
    )
    async def slice_(self, info: PolInfo, ranges: list[DimensionRangeInput]) -> TensorSlice | None:
        part = await tensors.tensor_slice(
            info.context, self.tensor, [item.to_range() for item in ranges]
        )
        return TensorSlice.of(part)

    @strawberry.field(
        description=f"The values' raw little-endian bytes, base64: a run from offset "
        f"(`length` values, default to the end) or the slice `ranges` select, at most "
        f"{tensors.MAX_RAW_BYTES} bytes (1 MiB) per request."
    )
    async def raw(
        self,
        info: PolInfo,
        offset: Int64 = FIRST_VALUE,
        length: Int64 | None = None,
        ranges: list[DimensionRangeInput] | None = None,
    ) -> TensorBytes | None:
        raw = await tensors.raw_bytes(
            info.context,
            self.tensor,
            offset,
            length,
            None if ranges is None else [item.to_range() for item in ranges],
        )
        return TensorBytes.of(raw)


@strawberry.type(description="One layer: its setup and its tensors.")
class Layer(Node):
    configuration: LayerConfiguration
    tensors: list[Tensor]

    @classmethod
    def of(
        cls,
        layer: model.Layer,
        owner: str = "Snapshot",
        owner_id: str | None = None,
        index: int = 0,
    ) -> Layer:
        """Return the GraphQL form of layer `index` of a snapshot's or a learner's layers."""
        return cls(
            global_id=strawberry.ID(nodes.layer_id(owner, owner_id, index)),
            configuration=LayerConfiguration.of(layer.configuration),
            tensors=[Tensor.of(tensor, owner, owner_id, index) for tensor in layer.tensors],
        )


@strawberry.type(
    description="A learner's hyper-parameters. The regularisation term `lambda` (a reserved "
    "word in Python) is the field regularisationLambda."
)
class HyperParameters:
    hp_opt_method: HpOptMethod
    alpha: float | None = strawberry.field(description="The learning rate.")
    regularisation_lambda: float | None = strawberry.field(
        description="The search-space hyper-parameter `lambda`: the l1 or l2 term; null with "
        "dropout or no regularisation."
    )
    regularisation: str
    dropout: float | None
    n_hidden_layers: int
    hidden_nodes: list[int]
    activation: str
    batch_size: int
    max_updates: Int64
    max_epochs: int
    truncate_gradient: int
    patience: int
    momentum: float | None
    lr_step_size: int
    lr_gamma: float | None
    n_train_batches: int
    n_valid_batches: int
    n_test_batches: int
    layers: list[LayerConfiguration]

    @classmethod
    def of(cls, hyper_parameters: model.HyperParameters) -> HyperParameters:
        """Return the GraphQL form of a configuration."""
        values = hyper_parameters
        return cls(
            hp_opt_method=HpOptMethod(values.hp_opt_method),
            alpha=finite(values.alpha),
            regularisation_lambda=finite(values.lambda_),
            regularisation=values.regularisation,
            dropout=finite(values.dropout),
            n_hidden_layers=values.n_hidden_layers,
            hidden_nodes=list(values.hidden_nodes),
            activation=values.activation,
            batch_size=values.batch_size,
            max_updates=Int64(values.max_updates),
            max_epochs=values.max_epochs,
            truncate_gradient=values.truncate_gradient,
            patience=values.patience,
            momentum=finite(values.momentum),
            lr_step_size=values.lr_step_size,
            lr_gamma=finite(values.lr_gamma),
            n_train_batches=values.n_train_batches,
            n_valid_batches=values.n_valid_batches,
            n_test_batches=values.n_test_batches,
            layers=[LayerConfiguration.of(layer) for layer in values.layers],
        )


@strawberry.type(description="A learner at the end of one epoch.")
class Snapshot(Node):
    snapshot: strawberry.Private[model.Snapshot]
    id: strawberry.ID
    epoch: int = strawberry.field(description="Zero-based epoch.")
    updates: Int64 = strawberry.field(description="Parameter updates made up to this epoch.")
    elapsed: float | None = strawberry.field(description="Seconds of training up to this epoch.")
    superseded: bool
    batch: int | None = strawberry.field(
        description="Batches of the epoch done, for a snapshot taken inside an epoch; null at "
        "the end of an epoch."
    )
    generation: int = strawberry.field(
        description="The learner's roll-back generation this snapshot was written in."
    )
    created_at: dt.datetime

    @classmethod
    def of(cls, snapshot: model.Snapshot) -> Snapshot:
        """Return the GraphQL form of a snapshot."""
        return cls(
            global_id=strawberry.ID(nodes.global_id("Snapshot", snapshot.id)),
            snapshot=snapshot,
            id=strawberry.ID(snapshot.id or ""),
            epoch=snapshot.epoch,
            updates=Int64(snapshot.updates),
            elapsed=finite(snapshot.elapsed),
            superseded=snapshot.superseded,
            batch=snapshot.batch,
            generation=snapshot.generation,
            created_at=snapshot.created_at,
        )

    @strawberry.field
    def performance(self) -> LearnerPerformance:
        return LearnerPerformance.of(self.snapshot.performance)

    @strawberry.field
    def layers(self) -> list[Layer]:
        return [
            Layer.of(layer, "Snapshot", self.snapshot.id, index)
            for index, layer in enumerate(self.snapshot.layers)
        ]

    @strawberry.field(description="The serialized optimiser and RNG state needed to resume.")
    def training_state(self) -> Tensor | None:
        state = self.snapshot.training_state
        return Tensor.of(state, "Snapshot", self.snapshot.id, None) if state else None


@strawberry.type(description="One trial run of one hyper-parameter configuration.")
class Learner(Node):
    learner: strawberry.Private[model.Learner]
    id: strawberry.ID
    experiment_id: strawberry.ID
    learner_type: LearnerType
    learning_type: str
    optimisation_method: str
    status: Status
    failure_reason: str | None
    stop_reason: str | None = strawberry.field(
        description="Why a finished learner stopped: early stopping, max epochs or updates, "
        "or its failure."
    )
    seed: Int64
    configuration: int = strawberry.field(
        description="The configuration's number in its experiment."
    )
    run: int = strawberry.field(description="The run's number among runs of its configuration.")
    epochs: int = strawberry.field(description="Epochs trained so far.")
    updates: Int64 = strawberry.field(description="Parameter updates made so far.")
    best_epoch: int | None = strawberry.field(description="Epoch of the lowest validation loss.")
    trained: bool
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    parent_epoch: int | None = strawberry.field(
        description="The epoch of the parent's snapshot a fork started from."
    )
    generation: int = strawberry.field(description="How often the learner was rolled back.")
    request: str | None = strawberry.field(
        description="A pause or cancel asked of the running learner, done at its next snapshot."
    )
    worker: str | None = strawberry.field(description="The worker holding the running learner.")
    lease_expires_at: dt.datetime | None
    claims: int = strawberry.field(description="How often a worker claimed the learner.")

    @classmethod
    def of(cls, learner: model.Learner) -> Learner:
        """Return the GraphQL form of a learner."""
        return cls(
            global_id=strawberry.ID(nodes.global_id("Learner", learner.id)),
            learner=learner,
            id=strawberry.ID(learner.id or ""),
            experiment_id=strawberry.ID(learner.experiment_id),
            learner_type=LearnerType(learner.learner_type),
            learning_type=learner.learning_type,
            optimisation_method=learner.optimisation_method,
            status=Status(learner.status),
            failure_reason=learner.failure_reason,
            stop_reason=learner.stop_reason,
            seed=Int64(learner.seed),
            configuration=learner.configuration,
            run=learner.run,
            epochs=learner.epochs,
            updates=Int64(learner.updates),
            best_epoch=learner.best_epoch,
            trained=learner.trained,
            created_at=learner.created_at,
            started_at=learner.started_at,
            finished_at=learner.finished_at,
            parent_epoch=learner.parent_epoch,
            generation=learner.generation,
            request=learner.request,
            worker=learner.worker,
            lease_expires_at=learner.lease_expires_at,
            claims=learner.claims,
        )

    @strawberry.field
    def hyper_parameters(self) -> HyperParameters:
        return HyperParameters.of(self.learner.hyper_parameters)

    @strawberry.field(description="The latest performance, or at the best epoch once finished.")
    def performance(self) -> LearnerPerformance:
        return LearnerPerformance.of(self.learner.performance)

    @strawberry.field(description="Layers at the best epoch, once the learner has finished.")
    def layers(self) -> list[Layer]:
        return [
            Layer.of(layer, "Learner", self.learner.id, index)
            for index, layer in enumerate(self.learner.layers)
        ]

    @strawberry.field(
        description="The split this learner was trained and measured on: its own, or else "
        "its experiment's."
    )
    async def indices(self, info: PolInfo) -> Indices | None:
        if self.learner.indices is not None:
            return Indices.of(self.learner.indices)
        experiment = await queries.experiment(info.context, self.learner.experiment_id)
        return Indices.of(experiment.indices)

    @strawberry.field
    async def experiment(self, info: PolInfo) -> Experiment | None:
        return Experiment.of(await queries.experiment(info.context, self.learner.experiment_id))

    @strawberry.field(
        description="Snapshots in epoch order, within fromEpoch..toEpoch (both included); "
        "with `last`, only the last few of them."
    )
    async def snapshots(
        self,
        info: PolInfo,
        from_epoch: int | None = None,
        to_epoch: int | None = None,
        last: int | None = None,
        superseded: WithSuperseded = False,
        mid_epoch: WithMidEpoch = False,
    ) -> list[Snapshot] | None:
        snapshots = await queries.snapshots_of(
            info.context,
            self.learner.id,
            from_epoch=from_epoch,
            to_epoch=to_epoch,
            last=last,
            superseded=superseded,
            mid_epoch=mid_epoch,
            recent=self.learner.recent_snapshot_ids,
        )
        return [Snapshot.of(snapshot) for snapshot in snapshots]

    @strawberry.field(
        description="Snapshots in training order as a cursor connection, within "
        "fromEpoch..toEpoch (both included). " + PAGE_DESCRIPTION
    )
    async def snapshots_connection(
        self,
        info: PolInfo,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        from_epoch: int | None = None,
        to_epoch: int | None = None,
        superseded: WithSuperseded = False,
        mid_epoch: WithMidEpoch = False,
    ) -> Connection[Snapshot] | None:
        connection = await queries.snapshots_page(
            info.context,
            self.learner.id,
            from_epoch=from_epoch,
            to_epoch=to_epoch,
            superseded=superseded,
            mid_epoch=mid_epoch,
            first=first,
            after=after,
            last=last,
            before=before,
        )
        return Connection.of(connection, lambda row: Snapshot.of(model.Snapshot.from_document(row)))

    @strawberry.field(
        description="A layer's tensor at toEpoch minus the same tensor at fromEpoch (the "
        "learner's current end-of-epoch snapshots): how far training moved it."
    )
    async def weight_difference(
        self,
        info: PolInfo,
        layer: Annotated[int, strawberry.argument(description="The layer's index, from 0.")],
        tensor: Annotated[str, strawberry.argument(description="e.g. weights or biases.")],
        from_epoch: int,
        to_epoch: int,
    ) -> WeightDifference | None:
        snapshots = await queries.snapshots_of(info.context, self.learner.id)
        difference = await tensors.weight_difference(
            info.context, self.learner, snapshots, layer, tensor, from_epoch, to_epoch
        )
        return WeightDifference.of(difference)

    @strawberry.field(description="The learner this one was forked from, if any.")
    async def parent(self, info: PolInfo) -> Learner | None:
        if self.learner.parent_learner_id is None:
            return None
        return Learner.of(await queries.learner(info.context, self.learner.parent_learner_id))

    @strawberry.field(description="The learners forked from this one, oldest first.")
    async def forks(self, info: PolInfo) -> list[Learner] | None:
        return [Learner.of(item) for item in await queries.forks_of(info.context, self.learner.id)]


@strawberry.type(description="One search over one dataset, and the learners it queued.")
class Experiment(Node):
    experiment: strawberry.Private[model.Experiment]
    id: strawberry.ID
    name: str
    description: str
    dataset: Dataset
    indices: Indices
    learner_type: LearnerType
    hp_opt_method: HpOptMethod
    snapshot_every: int = strawberry.field(
        description="Epochs between two snapshots of a learner; the last epoch always has one."
    )
    snapshot_every_updates: int | None = strawberry.field(
        description="Updates between two snapshots inside an epoch; null when none are taken."
    )
    created_at: dt.datetime
    updated_at: dt.datetime

    @classmethod
    def of(cls, experiment: model.Experiment) -> Experiment:
        """Return the GraphQL form of an experiment."""
        return cls(
            global_id=strawberry.ID(nodes.global_id("Experiment", experiment.id)),
            experiment=experiment,
            id=strawberry.ID(experiment.id or ""),
            name=experiment.name,
            description=experiment.description,
            dataset=Dataset.of(experiment.dataset),
            indices=Indices.of(experiment.indices),
            learner_type=LearnerType(experiment.learner_type),
            hp_opt_method=HpOptMethod(experiment.hp_opt_method),
            snapshot_every=experiment.snapshot_every,
            snapshot_every_updates=experiment.snapshot_every_updates,
            created_at=experiment.created_at,
            updated_at=experiment.updated_at,
        )

    @strawberry.field(description="One bound per hyper-parameter the search draws.")
    def search_space(self) -> list[SearchSpaceBound]:
        space = self.experiment.search_space
        return [SearchSpaceBound.of(name, bound) for name, bound in space.bounds.items()]

    @strawberry.field(
        description="The experiment's learners, by (configuration, run); with orderBy, by "
        "their latest value of that metric on `split`, best first unless `descending` says "
        "otherwise (learners without a finite value last)."
    )
    async def learners(
        self,
        info: PolInfo,
        order_by: Metric | None = None,
        split: Split = Split.VALID,
        descending: bool | None = None,
        status: Status | None = None,
        limit: int | None = None,
    ) -> list[Learner] | None:
        learners = await queries.learners_of(
            info.context,
            self.experiment.id,
            status=status.value if status else None,
            order_by=order_by.value if order_by else None,
            split=split.value,
            descending=descending,
            limit=limit,
        )
        return [Learner.of(learner) for learner in learners]

    @strawberry.field(
        description="The experiment's learners as a cursor connection: those `filter` "
        "admits, by (configuration, run) or by `orderBy`, ties broken by id. " + PAGE_DESCRIPTION
    )
    async def learners_connection(
        self,
        info: PolInfo,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        filter: LearnerFilter | None = None,
        order_by: list[LearnerOrder] | None = None,
    ) -> Connection[Learner] | None:
        connection = await queries.learners_page(
            info.context,
            self.experiment.id,
            filter.criteria() if filter is not None else None,
            [term.criteria() for term in order_by] if order_by is not None else None,
            first,
            after,
            last,
            before,
        )
        return Connection.of(connection, lambda row: Learner.of(model.Learner.from_document(row)))

    @strawberry.field
    async def learner_counts(self, info: PolInfo) -> LearnerCounts | None:
        return LearnerCounts.of(await queries.learner_counts(info.context, self.experiment.id))
