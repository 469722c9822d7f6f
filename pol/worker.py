"""Trial workers: processes that claim queued learners from the store and train them.

A claim is a lease that the worker renews from a heartbeat thread. A worker that dies
leaves a lease that expires; the next claim queues that learner again and any worker then
continues it from its latest snapshot. A worker asks the store at each snapshot whether
its learner was asked to pause or cancel, or claimed by another worker after its lease
ran out; on SIGTERM it stops at the next snapshot and gives its learner back to the queue.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any, Self

from .errors import ConflictError
from .model import Learner, Snapshot
from .store import Store, connect

logger = logging.getLogger(__name__)

LEASE_SECONDS = 60.0
POLL_SECONDS = 0.5


@dataclass(frozen=True)
class StoreAddress:
    """Where a worker process finds the store: a MongoDB URI or an embedded data directory."""

    uri: str | None = None
    data_dir: str | None = None
    database: str | None = None

    def connect(self) -> Store:
        """Return a new store connection at this address."""
        return connect(self.uri, data_dir=self.data_dir, database=self.database)


class SnapshotWriter:
    """Writes a learner's snapshots in its current roll-back generation, as training goes.

    Each snapshot is stored before training continues, so a crash loses at most the epoch
    in progress. (Writing on a background thread was measured slower: the store's work is
    Python that shares the interpreter lock with training.)
    """

    def __init__(self, store: Store, generation: int = 0) -> None:
        self.store = store
        self.generation = generation

    def __call__(self, snapshot: Snapshot) -> None:
        snapshot.generation = self.generation
        self.store.write_snapshot(snapshot)

    def close(self) -> None:
        """Nothing is left in flight; kept so callers can close every writer alike."""


class Claim:
    """A worker's hold on one running learner: its lease heartbeat and why it must stop."""

    def __init__(
        self, store: Store, learner: Learner, worker: str, lease_seconds: float, stop: Any
    ) -> None:
        self.store = store
        self.learner = learner
        self.worker = worker
        self.lease_seconds = lease_seconds
        self.stop = stop
        self.reason: str | None = None
        self.ended = threading.Event()
        self.heartbeat = threading.Thread(target=self._beat, name="pol-heartbeat", daemon=True)

    def __enter__(self) -> Self:
        self.heartbeat.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.ended.set()
        self.heartbeat.join()

    def _beat(self) -> None:
        while not self.ended.wait(self.lease_seconds / 3):
            try:
                if not self.store.renew_lease(self.learner.id, self.worker, self.lease_seconds):
                    self.reason = "lost"
                    return
            except Exception:  # a store hiccup: the next beat tries again
                logger.warning("learner %s: lease renewal failed", self.learner.id, exc_info=True)

    def should_stop(self) -> bool:
        """Return True when training must stop at this snapshot, remembering why."""
        if self.reason is None and self.stop is not None and self.stop.is_set():
            self.reason = "shutdown"
        if self.reason is None:
            self.reason = self.store.claim_state(self.learner.id, self.worker)
        return self.reason is not None


def run_learner(
    store: Store,
    learner: Learner,
    worker: str,
    stop: Any = None,
    *,
    lease_seconds: float = LEASE_SECONDS,
) -> str:
    """Train a claimed learner until it ends or must stop; return the status it is left in.

    A learner that already has snapshots continues from its latest one; a fork without
    snapshots starts from its parent's snapshot.
    """
    from .lifecycle import start_snapshot
    from .training.datasets import load_dataset
    from .training.trainer import train

    with Claim(store, learner, worker, lease_seconds, stop) as claim:
        writer = SnapshotWriter(store, learner.generation)
        try:
            experiment = store.experiment(learner.experiment_id)
            dataset = experiment.dataset
            loaded = load_dataset(
                dataset.name,
                csv_path=dataset.source if dataset.name == "csv" else None,
                target=dataset.target if dataset.name == "csv" else None,
                window=dataset.window,
            )
            start_from = start_snapshot(store, learner)
            logger.info("learner %s started by %s", learner.id, worker)
            try:
                outcome = train(
                    learner,
                    loaded,
                    learner.indices or experiment.indices,
                    on_snapshot=writer,
                    should_stop=claim.should_stop,
                    start_from=start_from,
                    snapshot_every=experiment.snapshot_every,
                    snapshot_every_updates=experiment.snapshot_every_updates,
                )
            finally:
                writer.close()
        except ConflictError as error:
            logger.warning("learner %s: %s; %s stops it", learner.id, error, worker)
            return "lost"
        except Exception as error:  # a failed trial must not take its worker down
            reason = f"{type(error).__name__}: {error}"
            logger.exception("learner %s failed: %s", learner.id, reason)
            store.release_learner(learner.id, worker, "failed", reason=reason)
            return "failed"
    if outcome.status == "paused":
        return _stop(store, learner, worker, claim.reason, outcome.epochs)
    store.finish_learner(
        learner.id,
        status=outcome.status,
        reason=outcome.reason,
        performance=outcome.performance,
        layers=outcome.layers,
        best_epoch=outcome.best_epoch,
        worker=worker,
    )
    return outcome.status


def _stop(store: Store, learner: Learner, worker: str, reason: str | None, epochs: int) -> str:
    status = {"pause": "paused", "cancel": "cancelled", "lost": "lost"}.get(reason, "queued")
    if status != "lost":
        store.release_learner(learner.id, worker, status)
    logger.info("learner %s %s after %d epochs (%s)", learner.id, status, epochs, reason)
    return status


def work(
    address: StoreAddress,
    name: str,
    stop: Any,
    *,
    experiment_id: str | None = None,
    exit_when_idle: bool = False,
    lease_seconds: float = LEASE_SECONDS,
) -> int:
    """Claim and train learners until `stop` is set (or the queue is empty); return the count."""
    store = address.connect()
    trained = 0
    try:
        while not stop.is_set():
            learner = store.claim_learner(
                name, experiment_id=experiment_id, lease_seconds=lease_seconds
            )
            if learner is None:
                if exit_when_idle:
                    break
                stop.wait(POLL_SECONDS)
                continue
            run_learner(store, learner, name, stop, lease_seconds=lease_seconds)
            trained += 1
    finally:
        store.close()
    return trained


def _work_in_process(
    address: StoreAddress,
    number: int,
    stop: Any,
    experiment_id: str | None,
    exit_when_idle: bool,
    lease_seconds: float,
) -> None:
    # The parent decides when workers stop; a Ctrl-C in the terminal reaches the parent only.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # SIGTERM to this process alone: finish at the next snapshot and give the learner back.
    terminate = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: terminate.set())
    threading.Thread(target=_watch_parent, args=(terminate,), daemon=True).start()
    logging.basicConfig(level=logging.WARNING)

    import torch

    # One worker per core: each worker trains on one thread so workers do not compete.
    torch.set_num_threads(1)
    name = f"{socket.gethostname()}:{os.getpid()}:{number}"
    work(
        address,
        name,
        _Either(stop, terminate),
        experiment_id=experiment_id,
        exit_when_idle=exit_when_idle,
        lease_seconds=lease_seconds,
    )


def _watch_parent(terminate: threading.Event) -> None:
    """Set `terminate` when the process that started this worker is gone."""
    parent = os.getppid()
    while not terminate.wait(1.0):
        if os.getppid() != parent:
            logger.warning("worker %d: its parent %d is gone; stopping", os.getpid(), parent)
            terminate.set()


class _Either:
    """Set when either of two events is set (the pool's stop, or this process's SIGTERM)."""

    def __init__(self, first: Any, second: threading.Event) -> None:
        self.first = first
        self.second = second

    def is_set(self) -> bool:
        return self.first.is_set() or self.second.is_set()

    def wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not self.is_set() and time.monotonic() < deadline:
            self.second.wait(min(0.1, max(0.0, deadline - time.monotonic())))
        return self.is_set()


class WorkerPool:
    """Local worker processes (started with spawn) that share one store address."""

    def __init__(
        self,
        address: StoreAddress,
        size: int,
        *,
        experiment_id: str | None = None,
        exit_when_idle: bool = False,
        lease_seconds: float = LEASE_SECONDS,
    ) -> None:
        context = multiprocessing.get_context("spawn")
        self.stop = context.Event()
        self.processes = [
            context.Process(
                target=_work_in_process,
                args=(address, n, self.stop, experiment_id, exit_when_idle, lease_seconds),
                name=f"pol-worker-{n}",
                daemon=True,
            )
            for n in range(size)
        ]

    def start(self) -> WorkerPool:
        """Start every worker process."""
        for process in self.processes:
            process.start()
        logger.info("%d trial workers started", len(self.processes))
        return self

    def alive(self) -> bool:
        """Return True while any worker process runs."""
        return any(process.is_alive() for process in self.processes)

    def close(self, timeout: float = 60.0) -> None:
        """Ask the workers to stop at their next snapshot and wait for them."""
        self.stop.set()
        deadline = time.monotonic() + timeout
        for process in self.processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.terminate()
                process.join(5)
        logger.info("trial workers stopped")
