"""Throughput of the trial queue: claim, train and complete short trials with 1, 2, 4 workers.

Each run uses a fresh store, queues `--trials` short trials (an MLP on wine, 2 epochs, a
snapshot per epoch) and starts a pool of worker processes that leave when the queue is
empty. Printed per pool size: trials per second between the first claim and the last
completion (from the store's timestamps, so process start-up is left out), and the wall time
including start-up. The machine's cores bound the gain from more workers.

Run: python bench/bench_workers.py [--db URI] [--trials N] [--sizes 1 2 4]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid

from pol.model import CategoricalBound, HyperParamSearchSpace
from pol.trials import create_experiment, queue_trials
from pol.worker import StoreAddress, WorkerPool

SHORT = HyperParamSearchSpace(
    {
        "max_epochs": CategoricalBound((2,)),
        "hidden_nodes": CategoricalBound((8,)),
    }
)


def throughput(address: StoreAddress, workers: int, trials: int) -> tuple[float, float]:
    """Return (trials per second from first claim to last completion, wall seconds)."""
    store = address.connect()
    experiment = create_experiment(store, "queue bench", "wine", SHORT, seed=0)
    queue_trials(store, experiment.id, trials, seed=0)
    started = time.perf_counter()
    pool = WorkerPool(address, workers, experiment_id=experiment.id, exit_when_idle=True).start()
    for process in pool.processes:
        process.join()
    pool.close()
    wall = time.perf_counter() - started
    learners = store.learners_of(experiment.id)
    assert all(learner.finished and learner.claims == 1 for learner in learners)
    first = min(learner.started_at for learner in learners)
    last = max(learner.finished_at for learner in learners)
    store.close()
    return trials / (last - first).total_seconds(), wall


def main() -> None:
    """Print queue throughput per pool size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=None, help="MongoDB URI (default: embedded engine)")
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 2, 4])
    args = parser.parse_args()

    print(
        f"engine: {'MongoDB at ' + args.db if args.db else 'embedded'}; "
        f"{args.trials} trials of 2 epochs each (MLP on wine)"
    )
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as data_dir:
            if args.db:
                address = StoreAddress(uri=args.db, database=f"pol_bench_{uuid.uuid4().hex[:8]}")
            else:
                address = StoreAddress(data_dir=data_dir)
            rate, wall = throughput(address, size, args.trials)
            if args.db:
                store = address.connect()
                store.client.drop_database(address.database)
                store.close()
        print(
            f"{size} worker(s): {rate:6.1f} trials/s between first claim and last "
            f"completion; {wall:5.1f} s wall with start-up"
        )


if __name__ == "__main__":
    main()
