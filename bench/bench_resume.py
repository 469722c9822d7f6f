"""Time to resume a trial: from reading its snapshot to its first training step.

For the demo's learner (an MLP with 32 hidden nodes on digits) and for a learner with a
20 MB layer (two hidden layers of 2,236 nodes: a 2,236 x 2,236 weight matrix of 5.0 million
float32 values), one epoch is trained and snapshotted into a fresh store; then the trial is
resumed a few times. Printed per learner: the snapshot's size, the time to read it with
every tensor's values (checked against their checksums), the time from the start of `train`
to the first optimiser step (building the module, loading weights and state), and the sum.

Run: python bench/bench_resume.py [--db URI] [--repeats N]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import torch
from torch.optim.optimizer import register_optimizer_step_pre_hook

from pol.model import Experiment, HyperParameters, HyperParamSearchSpace, Indices, IntBound, Learner
from pol.store import connect
from pol.training.datasets import load_dataset
from pol.training.trainer import train

LEARNERS = {
    "demo MLP (32 hidden)": HyperParameters(hidden_nodes=[32], batch_size=32),
    "20 MB layer (2 x 2,236 hidden)": HyperParameters(
        n_hidden_layers=2, hidden_nodes=[2236, 2236], batch_size=256
    ),
}


class FirstStep:
    """Records when any optimiser first takes a step after `arm`."""

    def __init__(self) -> None:
        self.armed_at = 0.0
        self.seconds: float | None = None
        register_optimizer_step_pre_hook(self._hook)

    def arm(self) -> None:
        self.armed_at, self.seconds = time.perf_counter(), None

    def _hook(self, optimiser, args, kwargs) -> None:
        if self.seconds is None:
            self.seconds = time.perf_counter() - self.armed_at
            raise _Stop


class _Stop(Exception):
    pass


def main() -> None:
    """Print read and restart times of a resumed trial per learner size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=None, help="MongoDB URI (default: embedded engine)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    loaded = load_dataset("digits")
    indices = Indices.split(loaded.dataset.rows, seed=0)
    first_step = FirstStep()

    with tempfile.TemporaryDirectory() as data_dir:
        store = connect(args.db, data_dir=data_dir, database="pol_bench_resume")
        experiment = store.insert_experiment(
            Experiment(
                name="resume bench",
                dataset=loaded.dataset,
                indices=indices,
                search_space=HyperParamSearchSpace({"hidden_nodes": IntBound(4, 64)}),
            )
        )
        print(
            f"engine: {'MongoDB at ' + args.db if args.db else 'embedded'}; "
            f"median of {args.repeats}"
        )
        for label, hyper_parameters in LEARNERS.items():
            hyper_parameters = hyper_parameters.with_values(max_epochs=3, patience=3)
            learner = store.insert_learners(
                [
                    Learner(
                        experiment_id=experiment.id,
                        learner_type="mlp",
                        seed=0,
                        hyper_parameters=hyper_parameters,
                    )
                ]
            )[0]
            first_step.seconds = 0.0  # the first epoch runs without stopping at its first step
            train(
                learner, loaded, indices, on_snapshot=store.write_snapshot, should_stop=lambda: True
            )
            reads, restarts = [], []
            for _ in range(args.repeats):
                started = time.perf_counter()
                snapshot = store.latest_snapshot(learner.id, values=True)
                reads.append(time.perf_counter() - started)
                first_step.arm()
                try:
                    train(
                        learner, loaded, indices, on_snapshot=lambda item: None, start_from=snapshot
                    )
                except _Stop:
                    pass
                restarts.append(first_step.seconds)
            size = sum(tensor.nbytes for tensor in snapshot.tensors()) / 1e6
            read, restart = statistics.median(reads), statistics.median(restarts)
            print(
                f"{label}: snapshot {size:.2f} MB; read {read * 1000:.0f} ms + start "
                f"{restart * 1000:.0f} ms = {(read + restart) * 1000:.0f} ms to the first step"
            )
        if args.db:
            store.client.drop_database("pol_bench_resume")
        store.close()


if __name__ == "__main__":
    main()
