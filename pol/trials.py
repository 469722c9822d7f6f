"""Setting up experiments and queueing their trials: the paper's Setup library."""

from __future__ import annotations

import logging

import numpy as np

from .errors import ValidationError
from .model import Experiment, HyperParamSearchSpace, Indices, Learner
from .model.hyperparameters import HP_OPT_METHODS
from .model.ids import object_id
from .store import Store

logger = logging.getLogger(__name__)

# Seeds are drawn below 2**62 so that every seed stays a signed 64-bit integer.
SEED_LIMIT = 2**62
TRIAL_METHODS = ("random", "grid")
MAX_TRIALS = 10_000


def create_experiment(
    store: Store,
    name: str,
    dataset: str,
    search_space: HyperParamSearchSpace,
    *,
    learner_type: str = "mlp",
    hp_opt_method: str = "random",
    description: str = "",
    seed: int = 0,
    snapshot_every: int = 1,
    snapshot_every_updates: int | None = None,
    csv_path: str | None = None,
    target: str | None = None,
    window: int | None = None,
) -> Experiment:
    """Load `dataset`, split its rows, and store a new experiment over it."""
    from .training.datasets import load_dataset

    if hp_opt_method not in HP_OPT_METHODS:
        raise ValidationError("hp_opt_method", hp_opt_method, "one of " + ", ".join(HP_OPT_METHODS))
    loaded = load_dataset(dataset, csv_path=csv_path, target=target, window=window)
    rows = loaded.dataset.rows
    if loaded.dataset.window:
        indices = Indices.in_order(rows)
    else:
        indices = Indices.split(rows, seed)
    experiment = Experiment(
        name=name,
        description=description,
        dataset=loaded.dataset,
        indices=indices,
        search_space=search_space,
        learner_type=learner_type,
        hp_opt_method=hp_opt_method,
        snapshot_every=snapshot_every,
        snapshot_every_updates=snapshot_every_updates,
    )
    return store.insert_experiment(experiment)


def queue_trials(
    store: Store,
    experiment_id: str,
    count: int,
    *,
    method: str = "random",
    runs: int = 1,
    seed: int | None = None,
) -> list[Learner]:
    """Draw `count` configurations from the experiment's space and queue `runs` learners each.

    For grid search `count` caps the number of grid points taken, in grid order.
    """
    from .training.search import draw_configurations, grid_configurations

    if method not in TRIAL_METHODS:
        raise ValidationError("method", method, "one of " + ", ".join(TRIAL_METHODS))
    _check_count("count", count)
    _check_count("runs", runs)
    if count * runs > MAX_TRIALS:
        raise ValidationError("count", count, f"count x runs at most {MAX_TRIALS}")
    experiment = store.experiment(experiment_id)
    rng = np.random.default_rng(seed)
    if method == "random":
        configurations = draw_configurations(experiment.search_space, count, rng)
    else:
        configurations = grid_configurations(experiment.search_space)[:count]
    first = next_configuration(store, experiment_id)
    learners = [
        Learner(
            experiment_id=experiment_id,
            learner_type=experiment.learner_type,
            hyper_parameters=hyper_parameters,
            seed=int(rng.integers(0, SEED_LIMIT)),
            configuration=first + number,
            run=run,
        )
        for number, hyper_parameters in enumerate(configurations)
        for run in range(runs)
    ]
    store.insert_learners(learners)
    logger.info(
        "experiment %s: %d %s trials queued (%d runs each)",
        experiment_id,
        len(configurations),
        method,
        runs,
    )
    return learners


def _check_count(field: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError(field, value, "an integer >= 1")


def next_configuration(store: Store, experiment_id: str) -> int:
    """Return the number the experiment's next configuration gets."""
    last = store.learners.find_one(
        {"experiment_id": object_id("experiment_id", experiment_id)},
        sort=[("configuration", -1)],
        projection={"configuration": 1},
    )
    return 0 if last is None else int(last["configuration"]) + 1
