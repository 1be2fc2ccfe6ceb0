"""A run killed with SIGKILL at random points, again and again, then finished: every
trial stored once, the store intact, the numbers those of a run never killed, and at
most one epoch per unit in flight trained again after each kill. Slow: real processes,
several kills per engine (pytest -m slow)."""

from __future__ import annotations

import io
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from actbench.results.store import DB_NAME

pytestmark = pytest.mark.slow

TESTS = Path(__file__).resolve().parents[1]
# Each training-mode forward pass of a counted activation writes one byte to steps.log,
# unbuffered (os.write), so the count survives SIGKILL: the work every process did.
COUNTED = """
import os
import torch
from torch import nn

class Counted(nn.Module):
    def __init__(self, k: float = 1.0):
        super().__init__()
        self.k = k

    def forward(self, x):
        if self.training:
            fd = os.open("steps.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
            os.write(fd, b".")
            os.close(fd)
        return x * torch.sigmoid(self.k * x)
"""
ACTS = "countedacts:Counted(k=1.0),countedacts:Counted(k=2.0)"  # two activations, both counted
SPECS, SEEDS, EPOCHS = 2, 3, 6
STEPS_PER_EPOCH = 79  # mnist-mini: 5000 images in batches of 64, the last one partial
# Counted calls per training step of one unit: a trial calls act1 and act2; a population
# calls each layer's module once per activation group, for all its members together.
CALLS_PER_STEP = {"sequential": 2, "population": 2 * SPECS}
PROBES = SPECS  # each process probes each activation once, in training mode, before training


def run_args(engine: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "actbench",
        "run",
        "--task",
        "mnist-mini",
        "--acts",
        ACTS,
        "--repeats",
        str(SEEDS),
        "--epochs",
        str(EPOCHS),
        "--engine",
        engine,
        "--results-dir",
        "results",
        "-q",
    ]


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(TESTS), "OMP_NUM_THREADS": "1"}


def workdir(path: Path) -> Path:
    path.mkdir()
    (path / "countedacts.py").write_text(COUNTED)
    return path


def counted(folder: Path) -> int:
    path = folder / "steps.log"
    return path.stat().st_size if path.exists() else 0


def exported(folder: Path) -> pd.DataFrame:
    done = subprocess.run(
        [sys.executable, "-m", "actbench", "export"], cwd=folder, capture_output=True, text=True, env=env(), check=True
    )
    rows = pd.read_csv(io.StringIO(done.stdout))
    columns = ["activation", "seed", "epoch", "train_loss", "test_loss", "test_acc", "activation_params", "status"]
    return rows[columns].sort_values(["activation", "seed", "epoch"]).reset_index(drop=True)


@pytest.mark.parametrize("killer_seed", [0, 1, 2])
@pytest.mark.parametrize("engine", ["sequential", "population"])
def test_killed_again_and_again_it_finishes_with_the_numbers_of_a_clean_run(tmp_path, engine, killer_seed):
    clean = workdir(tmp_path / "clean")
    subprocess.run(run_args(engine), cwd=clean, env=env(), check=True, capture_output=True)
    clean_calls = counted(clean) - PROBES

    folder = workdir(tmp_path / "killed")
    # Each process is killed once it has trained 1.2 to 1.8 epochs of one unit: without
    # resuming from checkpoints every kill would lose more than an epoch of work.
    epoch_calls = STEPS_PER_EPOCH * CALLS_PER_STEP[engine]
    rng = random.Random(killer_seed)
    kills = [rng.uniform(1.2, 1.8) * epoch_calls for _ in range(3)]
    for progress in kills:
        start = counted(folder)
        process = subprocess.Popen(
            run_args(engine), cwd=folder, env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 300
        while counted(folder) < start + PROBES + progress and process.poll() is None:
            assert time.monotonic() < deadline, "the run made no progress"
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
    final = subprocess.run(run_args(engine), cwd=folder, env=env(), capture_output=True, text=True)
    assert final.returncode == 0, final.stderr

    results = folder / "results"
    with sqlite3.connect(results / DB_NAME) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        keys = conn.execute("SELECT task, activation, seed, config_hash FROM trials").fetchall()
        assert conn.execute("SELECT COUNT(*) FROM claims").fetchone() == (0,)
    assert len(keys) == len(set(keys)) == SPECS * SEEDS  # every trial, once
    pd.testing.assert_frame_equal(exported(folder), exported(clean))  # bit for bit: == on every float
    assert not list(results.glob("checkpoints/*"))  # stored trials keep no checkpoint
    # Work trained again: at most the epoch in flight of the one unit training at each kill.
    redone = counted(folder) - PROBES * (len(kills) + 1) - clean_calls
    assert 0 <= redone <= len(kills) * epoch_calls
