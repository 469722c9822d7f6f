"""Pause, resume, roll back, fork and cancel: real trials, continued exactly."""

from __future__ import annotations

import threading
import time

import pytest

from pol import lifecycle
from pol.errors import NotFoundError, StateError, ValidationError
from pol.model import CategoricalBound, HyperParameters, HyperParamSearchSpace, Learner
from pol.trials import create_experiment
from pol.worker import work

SPACE = HyperParamSearchSpace({"alpha": CategoricalBound((0.05,))})


@pytest.fixture
def experiment(address):
    store = address.connect()
    yield create_experiment(store, "lifecycle", "digits", SPACE, seed=0)
    store.close()


@pytest.fixture
def store(address):
    store = address.connect()
    yield store
    store.close()


class Worker:
    """A trial worker on a thread of this process, polling the queue until stopped."""

    def __init__(self, address) -> None:
        self.stop = threading.Event()
        self.thread = threading.Thread(target=work, args=(address, "test-worker", self.stop))

    def __enter__(self) -> Worker:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(120)


def queue(
    store, experiment, *, epochs: int, batch_size: int = 64, count: int = 1, seed: int = 11
) -> list[Learner]:
    hyper_parameters = HyperParameters(
        alpha=0.05,
        momentum=0.5,
        batch_size=batch_size,
        max_epochs=epochs,
        patience=epochs,
        max_updates=10**9,
        hidden_nodes=[16],
    )
    return store.insert_learners(
        [
            Learner(
                experiment_id=experiment.id,
                learner_type="mlp",
                seed=seed,
                hyper_parameters=hyper_parameters,
                configuration=number,
            )
            for number in range(count)
        ]
    )


def wait_for(store, learner_id, condition, seconds: float = 120):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        learner = store.learner(learner_id)
        if condition(learner):
            return learner
        time.sleep(0.02)
    raise AssertionError(f"learner {learner_id} never got there: {store.learner(learner_id)}")


def checksums(store, learner_id) -> dict[int, list[str]]:
    return {
        snapshot.epoch: [t.checksum for layer in snapshot.layers for t in layer.tensors]
        for snapshot in store.snapshots_of(learner_id)
    }


def test_a_paused_and_resumed_trial_matches_one_never_interrupted(address, store, experiment):
    straight, paused = queue(store, experiment, epochs=25, batch_size=8, count=2)

    with Worker(address):
        wait_for(store, straight.id, lambda learner: learner.finished)
        wait_for(store, paused.id, lambda learner: learner.epochs >= 2)
        lifecycle.pause(store, paused.id)
        stopped = wait_for(store, paused.id, lambda learner: learner.status == "paused")
        assert 2 <= stopped.epochs < 25 and stopped.worker is None
        lifecycle.resume(store, paused.id)
        done = wait_for(store, paused.id, lambda learner: learner.finished)

    assert done.status == "completed" and done.claims == 2
    assert sorted(checksums(store, paused.id)) == list(range(25))
    assert checksums(store, paused.id) == checksums(store, straight.id)
    assert done.performance == store.learner(straight.id).performance


def test_roll_back_keeps_later_snapshots_as_superseded(address, store, experiment):
    learner = queue(store, experiment, epochs=6)[0]
    with Worker(address):
        wait_for(store, learner.id, lambda item: item.finished)
    before = checksums(store, learner.id)

    rolled = lifecycle.roll_back(store, learner.id, 2)

    assert (rolled.status, rolled.generation, rolled.epochs) == ("queued", 1, 3)
    assert [s.epoch for s in store.snapshots_of(learner.id)] == [0, 1, 2]
    current = [snapshot.id for snapshot in store.snapshots_of(learner.id)]
    assert store.learner(learner.id).recent_snapshot_ids == current
    assert [s.epoch for s in store.snapshots_of(learner.id, superseded=True)] == [0, 1, 2, 3, 4, 5]
    with Worker(address):
        wait_for(store, learner.id, lambda item: item.finished)
    history = store.snapshots_of(learner.id, superseded=True)
    assert [(s.epoch, s.generation, s.superseded) for s in history] == [
        (0, 0, False),
        (1, 0, False),
        (2, 0, False),
        (3, 0, True),
        (3, 1, False),
        (4, 0, True),
        (4, 1, False),
        (5, 0, True),
        (5, 1, False),
    ]
    assert checksums(store, learner.id) == before  # the same seed trains the same numbers


def test_a_fork_starts_from_its_parents_epoch_and_both_know_it(address, store, experiment):
    parent = queue(store, experiment, epochs=6)[0]
    with Worker(address):
        wait_for(store, parent.id, lambda item: item.finished)
        same = lifecycle.fork(store, parent.id, 2)
        slower = lifecycle.fork(store, parent.id, 2, {"alpha": 0.025, "patience": 9})
        wait_for(store, same.id, lambda item: item.finished)
        wait_for(store, slower.id, lambda item: item.finished)

    assert (same.parent_learner_id, same.parent_epoch) == (parent.id, 2)
    assert [child.id for child in store.forks_of(parent.id)] == [same.id, slower.id]
    assert store.learner(slower.id).hyper_parameters.alpha == 0.025
    assert store.learner(slower.id).hyper_parameters.hp_opt_method == "fork"
    assert sorted(checksums(store, same.id)) == [3, 4, 5]
    parents = checksums(store, parent.id)
    assert checksums(store, same.id) == {epoch: parents[epoch] for epoch in (3, 4, 5)}
    assert checksums(store, slower.id)[3] != parents[3]


def test_cancel_stops_a_running_trial_and_a_queued_one_at_once(address, store, experiment):
    running, waiting = queue(store, experiment, epochs=200, batch_size=8, count=2)

    with Worker(address):
        wait_for(store, running.id, lambda learner: learner.epochs >= 1)
        assert lifecycle.cancel(store, waiting.id).status == "cancelled"
        lifecycle.cancel(store, running.id)
        cancelled = wait_for(store, running.id, lambda learner: learner.status == "cancelled")

    assert cancelled.epochs < 200 and cancelled.finished_at is not None
    assert store.learner(waiting.id).claims == 0


def test_invalid_requests_are_clear_errors_that_change_nothing(address, store, experiment):
    done, waiting = queue(store, experiment, epochs=2, count=2)
    with Worker(address):
        wait_for(store, done.id, lambda learner: learner.finished)
        wait_for(store, waiting.id, lambda learner: learner.finished)
    lifecycle.cancel(
        store,
        store.insert_learners(
            [
                Learner(
                    experiment_id=experiment.id,
                    learner_type="mlp",
                    seed=1,
                    hyper_parameters=HyperParameters(),
                )
            ]
        )[0].id,
    )
    queued = queue(store, experiment, epochs=2)[0]
    before = {learner.id: learner for learner in store.learners_of(experiment.id)}
    snapshots = store.snapshots.count_documents({})

    with pytest.raises(StateError, match="is completed; resume needs a paused, failed"):
        lifecycle.resume(store, done.id)
    with pytest.raises(StateError, match="is queued; pause needs a running learner"):
        lifecycle.pause(store, queued.id)
    with pytest.raises(StateError, match="is completed; cancel needs a queued, paused or running"):
        lifecycle.cancel(store, done.id)
    with pytest.raises(NotFoundError, match="at epoch 7"):
        lifecycle.fork(store, done.id, 7)
    with pytest.raises(NotFoundError, match="at epoch 9"):
        lifecycle.roll_back(store, done.id, 9)
    with pytest.raises(ValidationError, match="hidden_nodes"):
        lifecycle.fork(store, done.id, 1, {"hidden_nodes": [64]})
    with pytest.raises(ValidationError, match="max_epochs: got 2; allowed: more than 2"):
        lifecycle.fork(store, done.id, 1, {"max_epochs": 2})

    assert {learner.id: learner for learner in store.learners_of(experiment.id)} == before
    assert store.snapshots.count_documents({}) == snapshots
