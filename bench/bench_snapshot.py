"""Cost of a snapshot every epoch against the time of one training epoch.

The demo's learner (an MLP with 32 ReLU hidden nodes on digits, batch 32, one torch thread
as in a worker) trains the same epochs with the same seed several ways, in turn, a few
times each; the best time of each way is kept:

- plain: a snapshot only after the last epoch;
- built: a snapshot built every epoch (tensor copies, statistics, checksums, training
  state) and dropped;
- written: built and written to a fresh store every epoch by the trial worker's snapshot
  writer.

Printed: the plain epoch time and, for each other way, the extra time per epoch and its
ratio to the plain epoch (the target for the written way is under 5%).

Run: python bench/bench_snapshot.py [--db URI] [--epochs N] [--repeats N]
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch

from pol.model import Experiment, HyperParameters, HyperParamSearchSpace, Indices, IntBound, Learner
from pol.store import connect
from pol.training.datasets import load_dataset
from pol.training.trainer import train
from pol.worker import SnapshotWriter


def demo_learner(store, loaded, indices, epochs: int) -> Learner:
    """Return a stored experiment's learner configured like the demo's."""
    experiment = store.insert_experiment(
        Experiment(
            name="bench",
            dataset=loaded.dataset,
            indices=indices,
            search_space=HyperParamSearchSpace({"hidden_nodes": IntBound(4, 64)}),
        )
    )
    return store.insert_learners(
        [
            Learner(
                experiment_id=experiment.id,
                learner_type="mlp",
                seed=0,
                hyper_parameters=HyperParameters(
                    hidden_nodes=[32],
                    batch_size=32,
                    alpha=0.05,
                    max_epochs=epochs,
                    patience=epochs,
                    max_updates=10**9,
                ),
            )
        ]
    )[0]


def main() -> None:
    """Print the epoch time and the extra time of each way of snapshotting."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=None, help="MongoDB URI (default: embedded engine)")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    loaded = load_dataset("digits")
    indices = Indices.split(loaded.dataset.rows, seed=0)
    seconds: dict[str, list[float]] = {"plain": [], "built": [], "written": []}

    with tempfile.TemporaryDirectory() as data_dir:
        store = connect(args.db, data_dir=data_dir, database="pol_bench_snapshot")
        for _ in range(args.repeats):
            for way in seconds:
                learner = demo_learner(store, loaded, indices, args.epochs)
                writer = SnapshotWriter(store)
                on_snapshot = writer if way == "written" else (lambda snapshot: None)
                started = time.perf_counter()
                train(
                    learner,
                    loaded,
                    indices,
                    on_snapshot=on_snapshot,
                    snapshot_every=args.epochs + 1 if way == "plain" else 1,
                )
                writer.close()
                seconds[way].append((time.perf_counter() - started) / args.epochs)
        if args.db:
            store.client.drop_database("pol_bench_snapshot")
        store.close()

    epoch = min(seconds["plain"])
    print(
        f"engine: {'MongoDB at ' + args.db if args.db else 'embedded'}; "
        f"{args.repeats} x {args.epochs} epochs each way; best of {args.repeats}"
    )
    print(f"plain epoch: {epoch * 1000:.2f} ms")
    for way in ("built", "written"):
        extra = min(seconds[way]) - epoch
        print(f"{way:>8}: +{extra * 1000:.2f} ms per epoch = {extra / epoch:+.1%} of an epoch")
    print("target: written under +5%")


if __name__ == "__main__":
    main()
