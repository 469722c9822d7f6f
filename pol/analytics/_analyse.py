"""analyse: top-k, hyper-parameters, coalesce and reduce in one call, and its text report."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd
from pymongo.database import Database

from ..errors import NotFoundError
from ..model.ids import object_id
from ..model.search_space import CategoricalBound, HyperParamSearchSpace
from ._coalesce import CoalescedHyperParameters, coalesce_hyper_parameters, get_hyper_parameters
from ._reduce import UNIFORM_THRESHOLD, ReducedSearchSpace, reduce_search_space
from ._text import format_number, render_table
from ._top_k import KCount, TopKEntry, get_top_k_ids

logger = logging.getLogger(__name__)


@dataclass
class Analysis:
    """Everything one search-space reduction produced, step by step."""

    experiment_id: str
    k: KCount
    metric: str
    split: str
    space: HyperParamSearchSpace
    top_k: list[TopKEntry]
    hyper_parameters: pd.DataFrame
    coalesced: CoalescedHyperParameters
    reduced: ReducedSearchSpace

    def to_text(self) -> str:
        """Return the three tables (top-k learners, statistics, reduced space) for a terminal."""
        return render_analysis(self)


def analyse(
    db: Database,
    experiment_id: str,
    k: KCount,
    metric: str = "loss",
    split: str = "valid",
    *,
    uniform: Iterable[str] = (),
    uniform_threshold: float | None = UNIFORM_THRESHOLD,
) -> Analysis:
    """Return the top-k learners, their hyper-parameters, statistics and reduced search space.

    Only the hyper-parameters the experiment's search space bounds are coalesced; those it
    bounds as categorical are counted even when their values are numbers.
    """
    started = time.perf_counter()
    experiment = object_id("experiment_id", experiment_id)
    document = db["experiments"].find_one({"_id": experiment}, {"search_space": 1})
    if document is None:
        raise NotFoundError("experiment", str(experiment), field="experiment_id")
    space = HyperParamSearchSpace.from_document(document["search_space"])

    top_k = get_top_k_ids(db, experiment_id, k, metric=metric, split=split)
    table = get_hyper_parameters(db, [entry.learner_id for entry in top_k])
    categorical = [
        name for name, bound in space.bounds.items() if isinstance(bound, CategoricalBound)
    ]
    coalesced = coalesce_hyper_parameters(table, list(space.bounds), categorical=categorical)
    reduced = reduce_search_space(
        coalesced, space, uniform=uniform, uniform_threshold=uniform_threshold
    )
    logger.info(
        "analysed experiment %s: top %d learners on %s %s in %.2f s",
        experiment,
        len(top_k),
        split,
        metric,
        time.perf_counter() - started,
    )
    return Analysis(
        experiment_id=str(experiment),
        k=k,
        metric=metric,
        split=split,
        space=space,
        top_k=top_k,
        hyper_parameters=table,
        coalesced=coalesced,
        reduced=reduced,
    )


def render_analysis(analysis: Analysis) -> str:
    """Return the top-k learners, the coalesced statistics and the reduced space as text."""
    title = (
        f"Top {len(analysis.top_k)} learners of experiment {analysis.experiment_id} "
        f"by {analysis.split} {analysis.metric}"
    )
    return "\n\n".join(
        [
            title,
            render_top_k(analysis.top_k, analysis.metric),
            "Hyper-parameter summary statistics",
            analysis.coalesced.to_text(),
            "Reduced search space",
            analysis.reduced.to_text(),
        ]
    )


def render_top_k(top_k: list[TopKEntry], metric: str = "value") -> str:
    """Return the ranked learners as a table: rank, learner id, best value, its epoch."""
    rows = [
        [str(entry.rank), entry.learner_id, format_number(entry.value, 6), str(entry.epoch)]
        for entry in top_k
    ]
    return render_table(["rank", "learner", metric, "epoch"], rows, left=2)
