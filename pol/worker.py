"""Trial workers: processes that claim queued learners from the store and train them."""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
import time
import traceback
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from .model import Learner, Snapshot
from .store import Store, connect

logger = logging.getLogger(__name__)

LEASE_SECONDS = 120.0
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
    """Writes a learner's snapshots on a background thread while training goes on.

    At most one snapshot is in flight: handing over the next one first waits for the
    previous write, so a crash loses at most the latest epoch. A failed write is raised
    on the next hand-over or on `close`.
    """

    def __init__(self, store: Store, learner_id: str, worker: str) -> None:
        self.store = store
        self.learner_id = learner_id
        self.worker = worker
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pol-snapshot")
        self.pending: Future | None = None

    def __call__(self, snapshot: Snapshot) -> None:
        self.wait()
        self.pending = self.executor.submit(self._write, snapshot)

    def _write(self, snapshot: Snapshot) -> None:
        self.store.write_snapshot(snapshot)
        self.store.renew_lease(self.learner_id, self.worker, LEASE_SECONDS)

    def wait(self) -> None:
        """Block until the snapshot in flight is stored; raise if its write failed."""
        if self.pending is not None:
            pending, self.pending = self.pending, None
            pending.result()

    def close(self) -> None:
        """Store the snapshot in flight, then stop the writer thread."""
        try:
            self.wait()
        finally:
            self.executor.shutdown(wait=True)


def run_learner(store: Store, learner: Learner, worker: str, stop: Any = None) -> str:
    """Train a claimed learner to its end, writing a snapshot every epoch; return its status.

    A learner that already has snapshots continues from its latest one.
    """
    from .training.datasets import load_dataset
    from .training.trainer import train

    experiment = store.experiment(learner.experiment_id)
    dataset = experiment.dataset
    loaded = load_dataset(
        dataset.name,
        csv_path=dataset.source if dataset.name == "csv" else None,
        target=dataset.target if dataset.name == "csv" else None,
        window=dataset.window,
    )
    start_from = store.latest_snapshot(learner.id, values=True)
    writer = SnapshotWriter(store, learner.id, worker)

    logger.info("learner %s started by %s", learner.id, worker)
    try:
        try:
            outcome = train(
                learner,
                loaded,
                learner.indices or experiment.indices,
                on_snapshot=writer,
                should_stop=(lambda: stop.is_set()) if stop is not None else (lambda: False),
                start_from=start_from,
                snapshot_every=experiment.snapshot_every,
            )
        finally:
            writer.close()
    except Exception as error:  # a failed trial must not take its worker down
        reason = f"{type(error).__name__}: {error}"
        logger.error("learner %s failed: %s\n%s", learner.id, reason, traceback.format_exc())
        store.set_status(learner.id, "failed", reason=reason)
        return "failed"
    if outcome.status == "paused":
        store.set_status(learner.id, "queued", expected=["running"])
        logger.info("learner %s put back in the queue at epoch %s", learner.id, outcome.epochs)
        return "queued"
    store.finish_learner(
        learner.id,
        status=outcome.status,
        reason=outcome.reason,
        performance=outcome.performance,
        layers=outcome.layers,
        best_epoch=outcome.best_epoch,
    )
    return outcome.status


def work(
    address: StoreAddress,
    name: str,
    stop: Any,
    *,
    experiment_id: str | None = None,
    exit_when_idle: bool = False,
) -> int:
    """Claim and train learners until `stop` is set (or the queue is empty); return the count."""
    store = address.connect()
    trained = 0
    try:
        while not stop.is_set():
            learner = store.claim_learner(name, experiment_id=experiment_id,
                                          lease_seconds=LEASE_SECONDS)
            if learner is None:
                if exit_when_idle:
                    break
                stop.wait(POLL_SECONDS)
                continue
            run_learner(store, learner, name, stop)
            trained += 1
    finally:
        store.close()
    return trained


def _work_in_process(address: StoreAddress, name: str, stop: Any, experiment_id: str | None,
                     exit_when_idle: bool) -> None:
    # The parent decides when workers stop; a Ctrl-C in the terminal reaches the parent only.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _limit_threads()
    logging.basicConfig(level=logging.WARNING)
    work(address, name, stop, experiment_id=experiment_id, exit_when_idle=exit_when_idle)


def _limit_threads() -> None:
    import torch

    # One worker per core: each worker trains on one thread so workers do not compete.
    torch.set_num_threads(1)


class WorkerPool:
    """Local worker processes (started with spawn) that share one store address."""

    def __init__(
        self,
        address: StoreAddress,
        size: int,
        *,
        experiment_id: str | None = None,
        exit_when_idle: bool = False,
    ) -> None:
        context = multiprocessing.get_context("spawn")
        self.stop = context.Event()
        host = socket.gethostname()
        self.processes = [
            context.Process(
                target=_work_in_process,
                args=(address, f"{host}:{os.getpid()}:{n}", self.stop, experiment_id,
                      exit_when_idle),
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

    def close(self, timeout: float = 30.0) -> None:
        """Ask the workers to stop at their next snapshot and wait for them."""
        self.stop.set()
        deadline = time.monotonic() + timeout
        for process in self.processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.terminate()
                process.join(5)
        logger.info("trial workers stopped")
