"""The root Query and Mutation types."""

from __future__ import annotations

from typing import Annotated

import strawberry

from .. import model
from ..errors import ValidationError
from ..resolvers import mutations, nodes, queries
from ..resolvers.connections import MAX_PAGE_SIZE
from .analytics import CoalescedHyperParameters, HpDistribution, ReducedSearchSpace, TopKEntry
from .connections import PAGE_DESCRIPTION, Connection
from .enums import Metric, Split, TrialMethod
from .inputs import CreateExperimentInput, ForkOverridesInput
from .scalars import Int64
from .types import Experiment, Layer, Learner, Node, PolInfo, Snapshot, Tensor

K_DESCRIPTION = (
    "How many learners: a whole count k >= 1, or a fraction 0 < k < 1 of the learners with "
    "a finite value (rounded up)."
)

TopKSize = Annotated[float, strawberry.argument(description=K_DESCRIPTION)]


@strawberry.type
class Query:
    @strawberry.field(description="Experiments, newest first; limit null or 0 means all.")
    async def experiments(self, info: PolInfo, limit: int | None = None) -> list[Experiment]:
        return [Experiment.of(item) for item in await queries.experiments(info.context, limit)]

    @strawberry.field(
        description="Experiments, newest first, as a cursor connection. " + PAGE_DESCRIPTION
    )
    async def experiments_connection(
        self,
        info: PolInfo,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Experiment] | None:
        connection = await queries.experiments_page(info.context, first, after, last, before)
        return Connection.of(
            connection, lambda row: Experiment.of(model.Experiment.from_document(row))
        )

    @strawberry.field(
        description="The object a global id names (globalId of any Node); a 24-character "
        "hexadecimal id of an experiment, learner or snapshot is taken too."
    )
    async def node(self, info: PolInfo, id: strawberry.ID) -> Node | None:
        return node_of(await nodes.node(info.context, id))

    @strawberry.field(
        description=f"The objects global ids name, in order; at most {MAX_PAGE_SIZE} ids. An "
        "id that names nothing gives null there and an error with its index in the path."
    )
    async def nodes(self, info: PolInfo, ids: list[strawberry.ID]) -> list[Node | None]:
        if len(ids) > MAX_PAGE_SIZE:
            raise ValidationError("ids", len(ids), f"at most {MAX_PAGE_SIZE} ids")
        return [_node(info, value) for value in ids]

    @strawberry.field
    async def experiment(self, info: PolInfo, id: strawberry.ID) -> Experiment | None:
        return Experiment.of(await queries.experiment(info.context, id))

    @strawberry.field
    async def learner(self, info: PolInfo, id: strawberry.ID) -> Learner | None:
        return Learner.of(await queries.learner(info.context, id))

    @strawberry.field(description="The k best learners of an experiment by their best snapshot.")
    async def top_k(
        self,
        info: PolInfo,
        experiment_id: strawberry.ID,
        k: TopKSize,
        metric: Metric = Metric.LOSS,
        split: Split = Split.VALID,
        descending: Annotated[
            bool | None,
            strawberry.argument(description="Default: descending unless lower is better."),
        ] = None,
    ) -> list[TopKEntry] | None:
        entries = await queries.top_k(
            info.context,
            experiment_id,
            k,
            metric=metric.value,
            split=split.value,
            descending=descending,
        )
        return [TopKEntry.of(entry) for entry in entries]

    @strawberry.field(description="Summary statistics of the top-k learners' hyper-parameters.")
    async def coalesced_hyper_parameters(
        self,
        info: PolInfo,
        experiment_id: strawberry.ID,
        k: TopKSize,
        metric: Metric = Metric.LOSS,
        split: Split = Split.VALID,
    ) -> CoalescedHyperParameters | None:
        analysis = await queries.analysis(
            info.context, experiment_id, k, metric=metric.value, split=split.value
        )
        return CoalescedHyperParameters.of(analysis)

    @strawberry.field(description="The search space reduced by the top-k learners' statistics.")
    async def reduced_search_space(
        self,
        info: PolInfo,
        experiment_id: strawberry.ID,
        k: TopKSize,
        metric: Metric = Metric.LOSS,
        split: Split = Split.VALID,
    ) -> ReducedSearchSpace | None:
        analysis = await queries.analysis(
            info.context, experiment_id, k, metric=metric.value, split=split.value
        )
        return ReducedSearchSpace.of(analysis)

    @strawberry.field(
        description="Per bounded hyper-parameter, top-k and all-learner counts on the same bins."
    )
    async def hp_distribution(
        self,
        info: PolInfo,
        experiment_id: strawberry.ID,
        k: TopKSize,
        metric: Metric = Metric.LOSS,
        split: Split = Split.VALID,
        bins: int = 10,
    ) -> list[HpDistribution] | None:
        distributions = await queries.hp_distributions(
            info.context, experiment_id, k, metric=metric.value, split=split.value, bins=bins
        )
        return [HpDistribution.of(item) for item in distributions]


async def _node(info: PolInfo, value: str) -> Node:
    return node_of(await nodes.node(info.context, value, "ids"))


def node_of(target: nodes.NodeTarget) -> Node:
    """Return the GraphQL object a resolved global id names."""
    owner = target.owner
    if target.kind == "Experiment":
        return Experiment.of(owner)
    if target.kind == "Learner":
        return Learner.of(owner)
    if target.kind == "Snapshot":
        return Snapshot.of(owner)
    kind = "Snapshot" if isinstance(owner, model.Snapshot) else "Learner"
    if target.kind == "Layer":
        return Layer.of(owner.layers[target.layer], kind, owner.id, target.layer)
    if target.layer is None:
        return Tensor.of(owner.training_state, kind, owner.id, None)
    tensor = owner.layers[target.layer].tensor(target.tensor)
    return Tensor.of(tensor, kind, owner.id, target.layer)


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Store a new experiment; invalid input writes nothing.")
    async def create_experiment(
        self,
        info: PolInfo,
        input_: Annotated[CreateExperimentInput, strawberry.argument(name="input")],
    ) -> Experiment | None:
        experiment = await mutations.new_experiment(
            info.context,
            name=input_.name,
            dataset=input_.dataset,
            search_space=[(bound.name, bound.to_document()) for bound in input_.search_space],
            learner_type=input_.learner_type.value,
            hp_opt_method=input_.hp_opt_method.value,
            description=input_.description,
            seed=input_.seed,
            snapshot_every=input_.snapshot_every,
            snapshot_every_updates=input_.snapshot_every_updates,
            window=input_.window,
        )
        return Experiment.of(experiment)

    @strawberry.mutation(
        description="Queue `count` configurations drawn from the experiment's search space, "
        "runsPerConfiguration learners each (status QUEUED); workers train them."
    )
    async def start_trials(
        self,
        info: PolInfo,
        experiment_id: strawberry.ID,
        count: int,
        method: TrialMethod = TrialMethod.RANDOM,
        runs_per_configuration: int = 1,
        seed: Int64 | None = None,
    ) -> list[Learner] | None:
        learners = await mutations.start_trials(
            info.context,
            experiment_id,
            count,
            method=method.value,
            runs=runs_per_configuration,
            seed=seed,
        )
        return [Learner.of(learner) for learner in learners]

    @strawberry.mutation(
        description="Ask a running learner to stop at its next snapshot, with status PAUSED."
    )
    async def pause_learner(self, info: PolInfo, id: strawberry.ID) -> Learner | None:
        return Learner.of(await mutations.change_learner(info.context, "pause", id))

    @strawberry.mutation(
        description="Queue a paused, failed or interrupted learner to continue from its "
        "latest snapshot."
    )
    async def resume_learner(self, info: PolInfo, id: strawberry.ID) -> Learner | None:
        return Learner.of(await mutations.change_learner(info.context, "resume", id))

    @strawberry.mutation(
        description="Cancel a queued or paused learner at once; a running one stops at its "
        "next snapshot."
    )
    async def cancel_learner(self, info: PolInfo, id: strawberry.ID) -> Learner | None:
        return Learner.of(await mutations.change_learner(info.context, "cancel", id))

    @strawberry.mutation(
        description="Queue a learner to continue from its own earlier epoch; its later "
        "snapshots are kept, marked superseded."
    )
    async def roll_back_learner(
        self, info: PolInfo, id: strawberry.ID, epoch: int
    ) -> Learner | None:
        return Learner.of(await mutations.roll_back(info.context, id, epoch))

    @strawberry.mutation(
        description="Queue a new learner that starts from this learner's snapshot of `epoch`, "
        "with some hyper-parameters changed; it records its parent and epoch."
    )
    async def fork_learner(
        self,
        info: PolInfo,
        id: strawberry.ID,
        epoch: int,
        hyper_parameters: ForkOverridesInput | None = None,
    ) -> Learner | None:
        overrides = hyper_parameters.to_document() if hyper_parameters else {}
        return Learner.of(await mutations.fork(info.context, id, epoch, overrides))
