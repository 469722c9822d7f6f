"""The `pol` command as a user runs it: the demo end to end, and bad flags refused."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def pol(*arguments: str, data_dir) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pol.cli", *arguments, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "POL_MONGODB_URI": ""},
    )


def test_a_small_demo_trains_stores_and_prints_the_three_tables(tmp_path):
    done = pol(
        "demo",
        "--dataset",
        "wine",
        "--trials",
        "4",
        "--runs",
        "2",
        "--max-epochs",
        "3",
        "--top-k",
        "3",
        "--workers",
        "2",
        data_dir=tmp_path,
    )

    assert done.returncode == 0, done.stderr
    assert "8 trial-runs on wine" in done.stdout
    assert "Top 3 learners" in done.stdout
    assert "Hyper-parameter summary statistics" in done.stdout
    assert "Reduced search space" in done.stdout
    assert "epoch snapshots stored" in done.stdout
    assert "pol serve --data-dir" in done.stdout


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--top-k", "0"], "argument --top-k: got 0; allowed: a whole count >= 1, or a fraction"),
        (["--top-k", "1.5"], "argument --top-k: got 1.5"),
        (["--workers", "-1"], "argument --workers: got -1; allowed: an integer >= 1"),
        (["--seed", "-1"], "argument --seed: got -1; allowed: an integer >= 0"),
        (["--trials", "0"], "argument --trials: got 0; allowed: an integer >= 1"),
        (["--dataset", "nope"], "dataset.name: got 'nope'; allowed: one of digits"),
    ],
)
def test_bad_demo_flags_are_refused_before_anything_runs(tmp_path, flags, message):
    done = pol("demo", *flags, data_dir=tmp_path)

    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr
