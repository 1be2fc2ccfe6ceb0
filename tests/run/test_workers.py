"""Several `actbench run` processes on one results folder split the trials: none is
trained twice while its claim is alive, and a worker killed mid-trial is taken over."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from actbench.results.store import DB_NAME

TESTS = Path(__file__).resolve().parents[1]
ACTS, SEEDS = ("relu", "gelu", "silu"), range(4)
RUN = ("run", "--task", "mnist-mini", "--acts", ",".join(ACTS), "--repeats", str(len(SEEDS)), "--engine", "sequential")
TRAINED = re.compile(r"^(\S+) seed (\d+): ", re.M)  # the line a run prints for each trial it trains


def worker(results: Path, *extra: str) -> subprocess.Popen:
    # One thread each: three workers on two cores would otherwise fight over them.
    env = {**os.environ, "PYTHONPATH": str(TESTS), "COLUMNS": "200", "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "actbench", *RUN, "--results-dir", str(results), *extra],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def stored(results: Path) -> list[tuple]:
    try:
        with sqlite3.connect(results / DB_NAME, timeout=30) as conn:
            return conn.execute("SELECT activation, seed FROM trials").fetchall()
    except sqlite3.OperationalError:  # not created yet
        return []


ALL = sorted((act, seed) for act in ACTS for seed in SEEDS)


# Three workers in the default suite; two, the same path with less contention, with the slow tests.
@pytest.mark.parametrize("workers", [pytest.param(2, marks=pytest.mark.slow), 3])
def test_workers_on_one_folder_train_every_trial_exactly_once(tmp_path, workers):
    results = tmp_path / "results"
    processes = [worker(results, "--epochs", "2") for _ in range(workers)]
    trained = []
    for process in processes:
        _, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, stderr
        assert "already stored by another process" not in stderr
        trained += [(act, int(seed)) for act, seed in TRAINED.findall(stderr)]
    assert sorted(trained) == ALL  # each trial trained by exactly one worker
    assert sorted(stored(results)) == ALL


def test_a_worker_killed_mid_trial_is_taken_over(tmp_path):
    results = tmp_path / "results"
    first, second = worker(results, "--epochs", "3"), worker(results, "--epochs", "3")
    deadline = time.monotonic() + 120
    while len(stored(results)) < 2:  # both are training by now, each with a trial claimed
        assert first.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.communicate(timeout=60)
    _, stderr = second.communicate(timeout=300)
    assert second.returncode == 0, stderr
    assert sorted(stored(results)) == ALL  # the killed worker's trial too, stored once
    with sqlite3.connect(results / DB_NAME) as conn:
        assert conn.execute("SELECT COUNT(*) FROM claims").fetchone() == (0,)
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
