"""Time top-k, hyper-parameters, coalesce and reduce on an experiment of the paper's scale.

    python bench/bench_analytics.py                      # POL's embedded engine
    python bench/bench_analytics.py --db mongodb://127.0.0.1:27017/   # a MongoDB server
    python bench/bench_analytics.py --factory mymodule:make_db --learners 180 --epochs 222

`--factory` names a callable that takes no argument and returns an empty pymongo Database
(or anything with the same find/aggregate/insert_many API), such as `bench_analytics:
mongomock_db`. The defaults give 180 learners and 39,960 snapshots, as in the paper's
Table 2; each snapshot holds the performance on three splits and the metadata of a
two-layer learner's tensors (their values live apart, as in POL's store).
"""

from __future__ import annotations

import argparse
import importlib
import time
from collections.abc import Callable
from typing import Any

import mongomock
import numpy as np
from bson import ObjectId

from pol.analytics import (
    coalesce_hyper_parameters,
    get_hyper_parameters,
    get_top_k_ids,
    reduce_search_space,
)
from pol.model import (
    CategoricalBound,
    Dataset,
    Experiment,
    FloatBound,
    HyperParameters,
    HyperParamSearchSpace,
    Indices,
    IntBound,
    Layer,
    LayerConfiguration,
    Learner,
    LearnerPerformance,
    Performance,
    Snapshot,
    Tensor,
)
from pol.model.ids import new_id
from pol.model.learner import RECENT_SNAPSHOTS

PAPER_SPACE = HyperParamSearchSpace(
    {
        "activation": CategoricalBound(("relu", "logistic")),
        "hidden_nodes": IntBound(1, 10),
        "truncate_gradient": IntBound(5, 100),
        "alpha": FloatBound(0.0001, 0.9),
        "max_updates": IntBound(10, 10000),
        "batch_size": IntBound(60, 600),
    }
)


def embedded_db() -> Any:
    """Return an empty database of POL's embedded engine, in a temporary directory."""
    import tempfile

    from pol.store.embedded import EmbeddedClient

    return EmbeddedClient(tempfile.mkdtemp(prefix="pol-bench-"))["pol_bench"]


def mongomock_db() -> Any:
    """Return an empty mongomock database."""
    return mongomock.MongoClient(tz_aware=True)["pol_bench"]


def fill_paper_scale(db: Any, learners: int, epochs: int, seed: int = 7) -> str:
    """Insert one experiment of `learners` learners with `epochs` snapshots each; return its id."""
    rng = np.random.default_rng(seed)
    layers = [
        Layer(
            LayerConfiguration(index, f"hidden_{index}", "rnn", 10, 10, "relu"),
            [
                Tensor.from_numpy(name, rng.standard_normal((10, 10)).astype(np.float32))
                for name in ("weights", "biases", "weights_hh", "biases_hh")
            ],
        )
        for index in range(2)
    ]
    experiment = Experiment(
        name="bench",
        dataset=Dataset("sensors", "sensors.csv", 100, ["x"], "y", "regression"),
        indices=Indices.in_order(100),
        search_space=PAPER_SPACE,
        id=new_id(),
    )
    db["experiments"].insert_one(experiment.to_document())
    for _ in range(learners):
        learner = _random_learner(rng, experiment.id)
        db["learners"].insert_one(learner.to_document())
        floor = rng.uniform(0.1, 1.0)
        snapshots = [
            Snapshot(
                learner_id=learner.id,
                experiment_id=experiment.id,
                epoch=epoch,
                updates=100 * (epoch + 1),
                elapsed=1.0,
                performance=LearnerPerformance(
                    train=Performance("train", loss=floor + 0.5 / (epoch + 1), mse=floor),
                    valid=Performance("valid", loss=floor + 1.0 / (epoch + 1), mse=floor),
                    test=Performance("test", loss=floor + 1.1 / (epoch + 1), mse=floor),
                ),
                layers=layers,
            ).to_document()
            for epoch in range(epochs)
        ]
        inserted = db["snapshots"].insert_many(snapshots).inserted_ids
        # As the store's write_snapshot keeps them: the learner's latest snapshot ids.
        db["learners"].update_one(
            {"_id": ObjectId(learner.id)},
            {"$set": {"recent_snapshots": inserted[-RECENT_SNAPSHOTS:], "epochs": epochs}},
        )
    return experiment.id


def _random_learner(rng: np.random.Generator, experiment_id: str) -> Learner:
    values = {
        "hidden_nodes": [int(rng.integers(1, 11))],
        "truncate_gradient": int(rng.integers(5, 101)),
        "alpha": float(rng.uniform(0.0001, 0.9)),
        "max_updates": int(rng.integers(10, 10001)),
        "batch_size": int(rng.integers(60, 601)),
        "activation": str(rng.choice(["relu", "logistic"])),
    }
    return Learner(
        experiment_id=experiment_id,
        learner_type="rnn",
        hyper_parameters=HyperParameters().with_values(**values),
        seed=int(rng.integers(0, 2**31)),
        id=new_id(),
    )


def run(
    db_factory: Callable[[], Any] = embedded_db,
    *,
    learners: int = 180,
    epochs: int = 222,
    k: int = 20,
    indexes: bool = True,
) -> dict[str, float]:
    """Fill a database from `db_factory` and return the seconds each analytics step took."""
    db = db_factory()
    if indexes:
        db["snapshots"].create_index([("experiment_id", 1), ("learner_id", 1)])
        db["learners"].create_index([("experiment_id", 1)])
    timings: dict[str, float] = {}

    started = time.perf_counter()
    experiment_id = fill_paper_scale(db, learners, epochs)
    timings["fill"] = time.perf_counter() - started

    started = time.perf_counter()
    top_k = get_top_k_ids(db, experiment_id, k)
    timings["top-k"] = time.perf_counter() - started

    step = time.perf_counter()
    table = get_hyper_parameters(db, [entry.learner_id for entry in top_k])
    timings["hyper-parameters"] = time.perf_counter() - step

    step = time.perf_counter()
    coalesced = coalesce_hyper_parameters(table, list(PAPER_SPACE.bounds))
    reduce_search_space(coalesced, PAPER_SPACE)
    timings["coalesce + reduce"] = time.perf_counter() - step
    timings["total analysis"] = time.perf_counter() - started
    return timings


def _factory(spec: str) -> Callable[[], Any]:
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--factory", help="module:callable returning an empty Database")
    parser.add_argument("--db", help="MongoDB URI; a database pol_bench_analytics is used")
    parser.add_argument("--learners", type=int, default=180)
    parser.add_argument("--epochs", type=int, default=222)
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--no-indexes", action="store_true", help="create no indexes first")
    arguments = parser.parse_args()

    factory = _factory(arguments.factory) if arguments.factory else embedded_db
    if arguments.db:
        from pymongo import MongoClient

        client = MongoClient(arguments.db, tz_aware=True)
        client.drop_database("pol_bench_analytics")
        factory = lambda: client["pol_bench_analytics"]
    timings = run(
        factory,
        learners=arguments.learners,
        epochs=arguments.epochs,
        k=arguments.k,
        indexes=not arguments.no_indexes,
    )
    snapshots = arguments.learners * arguments.epochs
    print(f"{arguments.learners} learners, {snapshots:,} snapshots, top {arguments.k}")
    for step, seconds in timings.items():
        print(f"  {step:<18} {seconds:8.3f} s")


if __name__ == "__main__":
    main()
