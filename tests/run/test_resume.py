"""A rerun resumes the units a stopped run left checkpoints of, re-formed from their
manifests: a population whose diverged member was stored before the stop resumes as
the same population, and its results are those of a run never stopped. The rerun says
what it takes up, and from which epoch."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest
from cli_runner import cli

from actbench.activations import canonical_spec
from actbench.run.checkpoints import saved_units
from actbench.run.engines.population import PopulationEngine
from actbench.run.executors import EXECUTORS
from actbench.run.executors.local import LocalExecutor, run_unit
from actbench.run.progress import describe_resumption
from actbench.run.runner import Resumption

# fakes:NanAfter diverges in its first epoch: the population stores it, then trains on.
ARGS = [
    "run",
    "--task",
    "mnist-mini",
    "--acts",
    "relu,fakes:NanAfter(calls=20),gelu",
    "--repeats",
    "2",
    "--epochs",
    "3",
    "--engine",
    "population",
    "-q",
]


class StopsAtEpoch2(LocalExecutor):
    """The local executor, stopped (as by Ctrl-C) when the unit reports its epoch 2, whose
    checkpoint is already written by then."""

    def run_unit(self, unit):
        def stop_at_2(trial, metrics):
            if metrics.epoch == 2:
                raise KeyboardInterrupt
            self.on_epoch(trial, metrics)

        return run_unit(unit, self.ctx, self.on_start, stop_at_2)


@pytest.fixture
def stopping(monkeypatch):
    monkeypatch.setattr(EXECUTORS, "_entries", dict(EXECUTORS._entries))
    monkeypatch.setattr(EXECUTORS, "_lookup", dict(EXECUTORS._lookup))
    EXECUTORS.add("stops", StopsAtEpoch2)


def exported(folder: str) -> pd.DataFrame:
    rows = pd.read_csv(io.StringIO(cli("export", "--results-dir", folder).stdout))
    columns = ["activation", "seed", "epoch", "train_loss", "test_loss", "test_acc", "status", "diverged_epoch"]
    return rows[columns].sort_values(["activation", "seed", "epoch"]).reset_index(drop=True)


def test_a_population_stopped_after_storing_a_diverged_member_resumes_as_itself(stopping, monkeypatch):
    assert cli(*ARGS, "--results-dir", "clean").exit_code == 0
    stopped = cli(*ARGS, "--results-dir", "resumed", "--executor", "stops")
    assert stopped.exit_code == 130
    diverged = canonical_spec("fakes:NanAfter(calls=20)")  # with the version of fakes.py's source
    assert sorted(exported("resumed")["activation"]) == [diverged] * 2  # the diverged ones
    (unit,) = saved_units(Path("resumed/checkpoints"))
    assert len(unit.trials) == 6  # the whole population, its stored members too

    def no_planning(self, trials, ctx, budget, workers=1):
        raise AssertionError("the saved unit must be resumed, not planned afresh")

    monkeypatch.setattr(PopulationEngine, "plan", no_planning)
    resumed = cli(*ARGS, "--results-dir", "resumed")
    assert resumed.exit_code == 0, resumed.output
    pd.testing.assert_frame_equal(exported("resumed"), exported("clean"))
    assert not Path("resumed/checkpoints").exists()  # every trial stored: nothing left to resume


@pytest.mark.slow  # three runs; the resume itself is covered above
def test_checkpoints_go_where_checkpoint_dir_says_and_resume_from_there(stopping, monkeypatch):
    assert cli(*ARGS, "--results-dir", "clean").exit_code == 0
    args = [*ARGS, "--results-dir", "resumed", "--checkpoint-dir", "shared/ckpt"]
    assert cli(*args, "--executor", "stops").exit_code == 130
    assert len(saved_units(Path("shared/ckpt"))) == 1 and not Path("resumed/checkpoints").exists()

    def no_planning(self, trials, ctx, budget, workers=1):
        raise AssertionError("the saved unit must be resumed, not planned afresh")

    monkeypatch.setattr(PopulationEngine, "plan", no_planning)
    assert cli(*args).exit_code == 0
    pd.testing.assert_frame_equal(exported("resumed"), exported("clean"))
    assert not Path("shared/ckpt").exists()  # every unit stored: nothing left to resume


def test_a_rerun_says_what_it_resumes_and_from_which_epoch(stopping):
    assert cli(*ARGS, "--executor", "stops").exit_code == 130
    args = [arg for arg in ARGS if arg != "-q"]
    resumed = cli(*args)
    assert resumed.exit_code == 0, resumed.output
    # The diverged members were stored before the stop; the others' checkpoint holds epoch 2.
    assert "resuming: 2 stored trial(s) skipped, 4 trial(s) in flight resume after epoch 2 of 3" in (
        resumed.stderr.splitlines()
    )
    more = cli(*args, "--repeats", "3")  # stored trials alone: nothing is resumed
    assert more.exit_code == 0, more.output
    assert "6 already stored (skipped), 3 to run" in more.stderr and "resuming" not in more.stderr


class StopsAtStart(LocalExecutor):
    """The local executor, stopped (as by Ctrl-C) as its unit starts: its manifest is
    written, no epoch of it is checkpointed."""

    def run_unit(self, unit):
        def stop(trial):
            raise KeyboardInterrupt

        return run_unit(unit, self.ctx, stop, self.on_epoch)


def test_trials_stopped_before_their_first_checkpoint_are_said_to_start_over(monkeypatch):
    monkeypatch.setattr(EXECUTORS, "_entries", dict(EXECUTORS._entries))
    monkeypatch.setattr(EXECUTORS, "_lookup", dict(EXECUTORS._lookup))
    EXECUTORS.add("stops-at-start", StopsAtStart)
    args = ["run", "--task", "mnist-mini", "--acts", "relu,gelu", "--epochs", "1"]
    assert cli(*args, "--executor", "stops-at-start").exit_code == 130
    resumed = cli(*args)
    assert resumed.exit_code == 0, resumed.output
    assert "resuming: 2 trial(s) in flight start over (no epoch of theirs was checkpointed)" in (
        resumed.stderr.splitlines()
    )


def test_units_at_different_epochs_are_said_as_a_range():
    resumption = Resumption(skipped=5, at_epoch={3: 2, 1: 4}, restarted=1)
    assert describe_resumption(resumption, 9.9) == (
        "resuming: 5 stored trial(s) skipped, 6 trial(s) in flight resume after epochs 1-3 of 9.9, "
        "1 trial(s) in flight start over (no epoch of theirs was checkpointed)"
    )
