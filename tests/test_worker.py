"""Trial workers: real training through the store, a snapshot per epoch, and failures kept."""

from __future__ import annotations

import math
import threading

import pytest

from pol.model import CategoricalBound, FloatBound, HyperParamSearchSpace, IntBound
from pol.store import connect
from pol.trials import create_experiment, queue_trials
from pol.worker import StoreAddress, WorkerPool, run_learner, work

SMALL_SPACE = HyperParamSearchSpace(
    {
        "hidden_nodes": IntBound(4, 16),
        "alpha": FloatBound(0.01, 0.2, log=True),
        "max_epochs": CategoricalBound((4,)),
    }
)


def test_a_worker_trains_every_queued_learner_with_a_snapshot_per_epoch(tmp_path):
    address = StoreAddress(data_dir=str(tmp_path / "pol-data"))
    store = address.connect()
    experiment = create_experiment(store, "wine", "wine", SMALL_SPACE, seed=3)
    learners = queue_trials(store, experiment.id, 2, runs=2, seed=3)

    trained = work(address, "test-worker", threading.Event(), exit_when_idle=True)

    assert trained == 4
    for learner in store.learners_of(experiment.id):
        epochs = [snapshot.epoch for snapshot in store.snapshots_of(learner.id)]
        assert learner.status in ("completed", "stopped_early")
        assert epochs == list(range(learner.epochs))
        assert learner.trained and learner.best_epoch in epochs
        assert learner.layers[0].tensors[0].name == "weights"
        best = store.snapshot(learner.id, learner.best_epoch)
        assert learner.performance == best.performance
    assert [learner.run for learner in learners] == [0, 1, 0, 1]
    store.close()


def test_a_diverging_trial_fails_with_its_reason_and_keeps_its_nan_snapshot(tmp_path):
    store = connect(data_dir=tmp_path / "pol-data")
    space = HyperParamSearchSpace(
        {"alpha": CategoricalBound((1e6,)), "max_epochs": CategoricalBound((5,))}
    )
    experiment = create_experiment(store, "diverging", "breast_cancer", space, seed=0)
    learner = queue_trials(store, experiment.id, 1, seed=0)[0]
    claimed = store.claim_learner("test-worker")

    status = run_learner(store, claimed, "test-worker")

    failed = store.learner(learner.id)
    last = store.latest_snapshot(learner.id)
    assert status == "failed" and failed.status == "failed"
    assert "loss became nan" in failed.failure_reason
    assert not math.isfinite(last.performance.train.loss)
    store.close()


def test_an_unknown_dataset_is_refused_before_anything_is_written(tmp_path):
    from pol.errors import ValidationError

    store = connect(data_dir=tmp_path / "pol-data")

    with pytest.raises(ValidationError, match="dataset"):
        create_experiment(store, "bad", "mnist-from-the-internet", SMALL_SPACE)

    assert store.experiments.count_documents({}) == 0
    store.close()


def test_a_pool_of_worker_processes_shares_the_queue(tmp_path):
    address = StoreAddress(data_dir=str(tmp_path / "pol-data"))
    store = address.connect()
    experiment = create_experiment(store, "wine", "wine", SMALL_SPACE, seed=4)
    queue_trials(store, experiment.id, 6, seed=4)

    pool = WorkerPool(address, 2, experiment_id=experiment.id, exit_when_idle=True).start()
    for process in pool.processes:
        process.join(120)
    pool.close()

    learners = store.learners_of(experiment.id)
    assert all(learner.finished for learner in learners)
    assert len({learner.id for learner in learners}) == 6
    snapshots = store.snapshots.count_documents({})
    assert snapshots == sum(learner.epochs for learner in learners)
    store.close()
