"""Every bad input is one line and an exit code, with nothing written; an activation that
fails mid-training is stored as failed and the run goes on; a write the disk refuses
damages nothing already stored."""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path

import pandas as pd
import pytest
from cli_runner import cli
from fakes import fake_result

from actbench.activations import canonical_spec
from actbench.results.store import DB_NAME, ResultStore, StoreError

PLUGINS = """
import torch
from torch import nn

class Boom(nn.Module):
    def forward(self, x):
        raise RuntimeError("boom")

class Halves(nn.Module):
    def forward(self, x):
        return x[:, : x.shape[1] // 2]

class Doubles(nn.Module):
    def forward(self, x):
        return x.double()

class Detached(nn.Module):
    def forward(self, x):
        return torch.relu(x).detach()

class Infinite(nn.Module):
    def forward(self, x):
        return x / 0.0

class LaterBoom(nn.Module):
    '''Fine for the probe and the first steps, then raises: a failure mid-training.'''

    def __init__(self):
        super().__init__()
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        if self.calls > 30:
            raise ValueError("went wrong at step 30\\nsecond line")
        return torch.relu(x)
"""


@pytest.fixture
def plugins():
    Path("badacts.py").write_text(PLUGINS)


def run(*args: str):
    return cli("run", "--task", "mnist-mini", "--epochs", "1", *args)


@pytest.mark.parametrize(
    "spec, message",
    [
        ("badacts:Boom", "activation badacts:Boom fails on a float32 batch of shape (8, 16): RuntimeError: boom"),
        (
            "badacts:Halves",
            "activation badacts:Halves maps a float32 batch of shape (8, 16) to float32 of shape (8, 8); "
            "an activation must keep its input's shape and dtype",
        ),
        (
            "badacts:Doubles",
            "activation badacts:Doubles maps a float32 batch of shape (8, 16) to float64 of shape (8, 16); "
            "an activation must keep its input's shape and dtype",
        ),
        (
            "badacts:Detached",
            "activation badacts:Detached passes no gradient back to its input (is its output detached?)",
        ),
        ("badacts:Infinite", "activation badacts:Infinite gives non-finite values on a standard normal batch (x 2)"),
    ],
)
def test_a_broken_plugin_fails_before_anything_is_written(plugins, spec, message):
    result = run("--acts", f"relu,{spec}")
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: {message}"
    assert not Path("results").exists()


def test_a_results_dir_that_is_a_file_is_one_line_and_the_file_is_kept():
    Path("notes.txt").write_text("mine")
    result = run("--acts", "relu", "--results-dir", "notes.txt")
    assert result.exit_code == 1
    assert result.stderr.strip() == "error: --results-dir notes.txt: a file is in the way, not a folder"
    assert Path("notes.txt").read_text() == "mine"


@pytest.mark.parametrize("engine", ["sequential", "population"])
def test_an_activation_failing_mid_training_is_stored_as_failed_and_the_run_goes_on(plugins, engine):
    result = run("--acts", "relu,badacts:LaterBoom,gelu", "--repeats", "2", "--engine", engine)
    assert result.exit_code == 0, result.output
    assert "2 failed" in result.stderr
    later = canonical_spec("badacts:LaterBoom")  # with its source's version: badacts:LaterBoom@...
    with ResultStore(Path("results"), create=False) as store:
        trials = store.trials().set_index(["activation", "seed"])
    assert len(trials) == 6
    assert (trials.loc[later, "status"] == "failed").all()
    assert (trials.drop(index=later, level="activation")["status"] == "ok").all()
    assert set(trials.loc[later, "error"]) == {"ValueError: went wrong at step 30"}
    # The report counts them, and leaves them out of every statistic.
    report = cli("report", "--format", "md,csv")
    assert report.exit_code == 0, report.output
    summary = pd.read_csv("results/mnist-mini/summary.csv").set_index("activation")
    assert summary.loc[later, ["n", "trials", "failed"]].tolist() == [0, 2, 2]
    assert summary.loc["relu", ["n", "trials", "failed"]].tolist() == [2, 2, 0]
    assert f"| {later} | 0 | – | – | 0/2 | 2/2 |" in Path("results/mnist-mini/summary.md").read_text()
    exported = pd.read_csv(io.StringIO(cli("export").stdout))
    assert set(exported.loc[exported["status"] == "failed", "error"]) == {"ValueError: went wrong at step 30"}


@pytest.mark.parametrize(
    "refuse, reason",
    [
        ("PRAGMA max_page_count = 1", "database or disk is full"),
        ("PRAGMA query_only = 1", "attempt to write a readonly database"),
    ],
    ids=["disk-full", "read-only"],
)
def test_a_refused_write_is_one_error_and_damages_nothing_stored(tmp_path, refuse, reason):
    with ResultStore(tmp_path) as store:
        for seed in range(3):
            assert store.add(fake_result("relu", seed, [90.0, 91.0]))
        before = store.epochs()
        # SQLite's own refusals: a page limit at the current size (the disk is full) and
        # a read-only connection (a read-only file or folder).
        pages = store._conn.execute("PRAGMA page_count").fetchone()[0]
        store._conn.execute(refuse.replace("= 1", f"= {pages}") if "max_page" in refuse else refuse)
        with pytest.raises(StoreError) as info:
            for seed in range(3, 40):  # enough rows to need a new page
                store.add(fake_result("gelu", seed, [90.0] * 20, last_extra={"m": 1.0}))
    assert str(info.value) == (
        f"cannot write to {tmp_path / DB_NAME}: {reason}; nothing stored before was changed. "
        "Free space or make the folder writable, then rerun: stored trials are kept"
    )
    with sqlite3.connect(tmp_path / DB_NAME) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    with ResultStore(tmp_path, create=False) as store:
        after = store.epochs()
    relu = after[after["activation"] == "relu"].reset_index(drop=True)
    pd.testing.assert_frame_equal(relu[before.columns], before)
    # The trials stored before the disk filled are whole: one transaction each.
    assert (after[after["activation"] == "gelu"].groupby("seed").size() == 20).all()


def test_a_checkpoint_the_disk_refuses_stops_the_run_in_one_line_and_keeps_the_stored(monkeypatch):
    import errno

    from actbench.run.checkpoints import FileCheckpoint

    saves = []

    def full_after_two(self, state):
        saves.append(self.path)
        if len(saves) > 2:  # the first trial's two epochs fit, then the disk is full
            raise OSError(errno.ENOSPC, "No space left on device", str(self.path))
        real_save(self, state)

    real_save = FileCheckpoint.save
    monkeypatch.setattr(FileCheckpoint, "save", full_after_two)
    result = run("--acts", "relu,gelu", "--epochs", "2", "--engine", "sequential", "-q")
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"error: cannot write {saves[-1]}: No space left on device; 1 trial(s) stored by this run are kept. "
        "Free space (or pass --no-checkpoint) and rerun to go on"
    )
    with ResultStore(Path("results"), create=False) as store:
        assert store.trials()[["activation", "status"]].values.tolist() == [["relu", "ok"]]
        assert store.claims().empty
