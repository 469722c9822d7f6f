"""Many trial workers sharing one store: each trial once, crashes survived, nothing lost."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time

from pol.model import CategoricalBound, HyperParameters, HyperParamSearchSpace, Learner
from pol.trials import create_experiment, queue_trials
from pol.worker import WorkerPool

SHORT = HyperParamSearchSpace(
    {"max_epochs": CategoricalBound((2,)), "hidden_nodes": CategoricalBound((4, 8))}
)


def long_learners(store, experiment, count: int, epochs: int = 30) -> list[Learner]:
    hyper_parameters = HyperParameters(
        alpha=0.05,
        batch_size=8,
        hidden_nodes=[16],
        max_epochs=epochs,
        patience=epochs,
        max_updates=10**9,
    )
    return store.insert_learners(
        [
            Learner(
                experiment_id=experiment.id,
                learner_type="mlp",
                seed=5,
                hyper_parameters=hyper_parameters,
                configuration=number,
            )
            for number in range(count)
        ]
    )


def wait_for(store, learner_id, condition, seconds: float = 180):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        learner = store.learner(learner_id)
        if condition(learner):
            return learner
        time.sleep(0.05)
    raise AssertionError(f"learner {learner_id} never got there: {store.learner(learner_id)}")


def checksums(store, learner_id) -> dict[int, list[str]]:
    return {
        snapshot.epoch: [t.checksum for layer in snapshot.layers for t in layer.tensors]
        for snapshot in store.snapshots_of(learner_id)
    }


def test_four_workers_run_each_of_100_trials_exactly_once(address):
    store = address.connect()
    experiment = create_experiment(store, "queue", "wine", SHORT, seed=1)
    queue_trials(store, experiment.id, 100, seed=1)

    pool = WorkerPool(address, 4, experiment_id=experiment.id, exit_when_idle=True).start()
    for process in pool.processes:
        process.join(600)
    pool.close()

    learners = store.learners_of(experiment.id)
    assert len(learners) == 100
    assert {learner.status for learner in learners} <= {"completed", "stopped_early"}
    assert [learner.claims for learner in learners] == [1] * 100
    for learner in learners:
        assert [s.epoch for s in store.snapshots_of(learner.id)] == list(range(learner.epochs))
    assert store.snapshots.count_documents({}) == sum(learner.epochs for learner in learners)
    workers = {
        document["worker"]
        for document in store.learners.find({}, {"worker": 1})
        if document.get("worker")
    }
    assert workers == set()  # every claim was given up when its trial finished
    store.close()


def test_a_killed_workers_trial_is_finished_by_another_from_its_last_snapshot(address):
    store = address.connect()
    experiment = create_experiment(store, "crash", "digits", SHORT, seed=2)
    victim, reference = long_learners(store, experiment, 2)

    pool = WorkerPool(address, 2, experiment_id=experiment.id, lease_seconds=3).start()
    running = wait_for(store, victim.id, lambda learner: learner.epochs >= 3)
    os.kill(int(running.worker.split(":")[1]), signal.SIGKILL)
    done = wait_for(store, victim.id, lambda learner: learner.finished)
    wait_for(store, reference.id, lambda learner: learner.finished)
    pool.close()

    assert done.status == "completed" and done.claims == 2
    assert store.snapshots.count_documents({"learner_id": _oid(victim.id)}) == 30
    assert sorted(checksums(store, victim.id)) == list(range(30))
    assert checksums(store, victim.id) == checksums(store, reference.id)
    store.close()


def test_sigterm_gives_the_trial_back_at_the_next_snapshot(address):
    store = address.connect()
    experiment = create_experiment(store, "sigterm", "digits", SHORT, seed=3)
    learner = long_learners(store, experiment, 1, epochs=200)[0]

    pool = WorkerPool(address, 1, experiment_id=experiment.id).start()
    running = wait_for(store, learner.id, lambda item: item.epochs >= 2)
    os.kill(int(running.worker.split(":")[1]), signal.SIGTERM)
    pool.processes[0].join(60)

    back = store.learner(learner.id)
    assert not pool.processes[0].is_alive()
    assert back.status == "queued" and back.worker is None
    assert back.epochs == store.latest_snapshot(learner.id).epoch + 1
    pool.close()
    store.close()


def _claim_and_release(address, experiment_id, rounds, claims):
    store = address.connect()
    name = f"racer-{os.getpid()}"
    taken = 0
    for _ in range(rounds):
        learner = store.claim_learner(name, experiment_id=experiment_id)
        if learner is not None:
            assert learner.worker == name and learner.status == "running"
            assert store.release_learner(learner.id, name, "queued")
            taken += 1
    claims.put(taken)
    store.close()


def test_concurrent_claims_and_status_changes_lose_no_update(address):
    store = address.connect()
    experiment = create_experiment(store, "race", "wine", SHORT, seed=4)
    queue_trials(store, experiment.id, 10, seed=4)
    context = multiprocessing.get_context("spawn")
    claims = context.Queue()

    racers = [
        context.Process(target=_claim_and_release, args=(address, experiment.id, 50, claims))
        for _ in range(4)
    ]
    for racer in racers:
        racer.start()
    counted = sum(claims.get(timeout=600) for _ in racers)
    for racer in racers:
        racer.join(60)

    learners = store.learners_of(experiment.id)
    assert all(racer.exitcode == 0 for racer in racers)
    assert counted == 200  # 10 learners were always enough for 4 racers
    assert sum(learner.claims for learner in learners) == counted
    assert {learner.status for learner in learners} == {"queued"}
    store.close()


def _oid(learner_id):
    from bson import ObjectId

    return ObjectId(learner_id)
