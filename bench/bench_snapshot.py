"""Cost of a snapshot every epoch against the time of one training epoch.

The demo's learner (an MLP with 32 ReLU hidden nodes on digits, batch 32, one torch thread
as in a worker) trains the same epochs, with the same seed, twice in turn, a few times:
once with a snapshot written to a fresh store every epoch, once with only the final one.
Printed: the epoch time without snapshots, the extra time per epoch of snapshotting
(building the snapshot: tensor copies, statistics, checksums, training state; and writing
it), the write alone, and the ratio to the epoch (the target is under 5%).

Run: python bench/bench_snapshot.py [--db URI] [--epochs N] [--repeats N]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import torch

from pol.model import Experiment, HyperParameters, HyperParamSearchSpace, Indices, IntBound, Learner
from pol.store import connect
from pol.training.datasets import load_dataset
from pol.training.trainer import train


def demo_learner(store, loaded, indices, epochs: int) -> Learner:
    """Return a stored experiment's learner configured like the demo's."""
    experiment = store.insert_experiment(Experiment(
        name="bench", dataset=loaded.dataset, indices=indices,
        search_space=HyperParamSearchSpace({"hidden_nodes": IntBound(4, 64)}),
    ))
    return store.insert_learners([Learner(
        experiment_id=experiment.id, learner_type="mlp", seed=0,
        hyper_parameters=HyperParameters(hidden_nodes=[32], batch_size=32, alpha=0.05,
                                         max_epochs=epochs, patience=epochs, max_updates=10**9),
    )])[0]


def main() -> None:
    """Print epoch time, snapshot cost and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=None, help="MongoDB URI (default: embedded engine)")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    loaded = load_dataset("digits")
    indices = Indices.split(loaded.dataset.rows, seed=0)

    plain_seconds, snapshot_seconds, write_seconds = [], [], []
    with tempfile.TemporaryDirectory() as data_dir:
        store = connect(args.db, data_dir=data_dir, database="pol_bench_snapshot")
        for _ in range(args.repeats):
            learner = demo_learner(store, loaded, indices, args.epochs)

            def write(snapshot):
                started = time.perf_counter()
                store.write_snapshot(snapshot)
                write_seconds.append(time.perf_counter() - started)

            started = time.perf_counter()
            train(learner, loaded, indices, on_snapshot=write)
            snapshot_seconds.append((time.perf_counter() - started) / args.epochs)

            started = time.perf_counter()
            train(learner, loaded, indices, on_snapshot=lambda snapshot: None,
                  snapshot_every=args.epochs + 1)
            plain_seconds.append((time.perf_counter() - started) / args.epochs)
        if args.db:
            store.client.drop_database("pol_bench_snapshot")
        store.close()

    epoch = min(plain_seconds)
    extra = max(0.0, min(snapshot_seconds) - epoch)
    write = statistics.median(write_seconds)
    print(f"engine: {'MongoDB at ' + args.db if args.db else 'embedded'}; "
          f"{args.repeats} x {args.epochs} epochs each way")
    print(f"epoch without snapshots (best of {args.repeats}): {epoch * 1000:.2f} ms")
    print(f"extra per epoch with a snapshot every epoch: {extra * 1000:.2f} ms "
          f"= {extra / epoch:.1%} of an epoch (target < 5%)")
    print(f"snapshot write alone (median): {write * 1000:.2f} ms = {write / epoch:.1%} of an epoch")


if __name__ == "__main__":
    main()
