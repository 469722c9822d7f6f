"""get_top_k_ids: the learners of an experiment ranked by their best snapshot on one metric."""

from __future__ import annotations

import logging
import math
import numbers
from dataclasses import dataclass
from typing import Any

from bson import ObjectId
from pymongo.database import Database

from ..errors import NotFoundError, ValidationError
from ..model.ids import object_id
from ..model.performance import METRICS, SPLITS

logger = logging.getLogger(__name__)

# Metrics where a smaller value is better; every other metric ranks larger values first.
LOWER_IS_BETTER = ("loss", "mse", "mae")

# How many learners to take: an int is a count, a float a fraction of the ranked learners.
KCount = int | float


@dataclass(frozen=True)
class TopKEntry:
    """One ranked learner: its best value on the metric, the epoch of that value, its rank."""

    learner_id: str
    value: float
    epoch: int
    rank: int

    def to_document(self) -> dict[str, Any]:
        """Return the entry as a plain dictionary."""
        return {
            "learner_id": self.learner_id,
            "value": self.value,
            "epoch": self.epoch,
            "rank": self.rank,
        }


def get_top_k_ids(
    db: Database,
    experiment_id: str,
    k: KCount,
    *,
    metric: str = "loss",
    split: str = "valid",
    ascending: bool | None = None,
) -> list[TopKEntry]:
    """Return the k best learners of an experiment, best first, by their best snapshot.

    Every non-superseded snapshot of every learner counts, so a learner ranks by the best
    epoch it ever reached, not by its last one. `k` is a count (an int >= 1) or a fraction
    in (0, 1] of the learners that have a finite value, rounded up. NaN and infinite values
    never rank. Equal values rank by learner id.
    """
    _check_choice("metric", metric, METRICS)
    _check_choice("split", split, SPLITS)
    k = _checked_k(k)
    experiment = object_id("experiment_id", experiment_id)
    if ascending is None:
        ascending = metric in LOWER_IS_BETTER
    _require_experiment(db, experiment)

    best = best_snapshots(db, experiment, f"performance.{split}.{metric}", ascending)
    count = top_k_count(k, len(best))
    logger.debug("top-k of experiment %s: %d of %d learners", experiment, count, len(best))
    return [
        TopKEntry(learner_id=learner_id, value=value, epoch=epoch, rank=rank)
        for rank, (learner_id, value, epoch) in enumerate(best[:count], start=1)
    ]


def best_snapshots(
    db: Database, experiment: ObjectId, path: str, ascending: bool
) -> list[tuple[str, float, int]]:
    """Return (learner id, best value, its epoch) for every learner with a finite value, ranked."""
    # $gt -inf / $lt inf keeps finite numbers only: NaN, infinities, None and missing
    # metrics all fail the comparison, on MongoDB and in Python alike.
    pipeline = [
        {
            "$match": {
                "experiment_id": experiment,
                "superseded": {"$ne": True},
                path: {"$gt": -math.inf, "$lt": math.inf},
            }
        },
        {"$project": {"_id": 0, "learner_id": 1, "epoch": 1, path: 1}},
        {"$sort": {path: 1 if ascending else -1, "epoch": 1}},
        {
            "$group": {
                "_id": "$learner_id",
                "value": {"$first": f"${path}"},
                "epoch": {"$first": "$epoch"},
            }
        },
    ]
    best = [
        (str(row["_id"]), float(row["value"]), int(row["epoch"]))
        for row in db["snapshots"].aggregate(pipeline)
        if isinstance(row.get("value"), (int, float)) and math.isfinite(row["value"])
    ]
    sign = 1.0 if ascending else -1.0
    best.sort(key=lambda row: (sign * row[1], row[0]))
    return best


def top_k_count(k: KCount, learners: int) -> int:
    """Return how many of `learners` ranked learners a count or fraction `k` takes."""
    if learners == 0:
        return 0
    if isinstance(k, float):
        # Rounding first keeps 20 / 180 * 180 at 20 rather than 20.000000000000004 -> 21.
        return min(learners, max(1, math.ceil(round(k * learners, 9))))
    return min(learners, k)


def _checked_k(k: Any) -> KCount:
    allowed = "a positive integer count, or a fraction in (0, 1] of the ranked learners"
    if isinstance(k, bool) or not isinstance(k, numbers.Real):
        raise ValidationError("k", k, allowed)
    if isinstance(k, numbers.Integral):
        if k < 1:
            raise ValidationError("k", k, allowed)
        return int(k)
    if not 0.0 < k <= 1.0:
        raise ValidationError("k", k, allowed)
    return float(k)


def _check_choice(field: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValidationError(field, value, "one of " + ", ".join(allowed))


def _require_experiment(db: Database, experiment: ObjectId) -> None:
    if db["experiments"].count_documents({"_id": experiment}, limit=1) == 0:
        raise NotFoundError("experiment", str(experiment), field="experiment_id")
