"""Epoch checkpoints: atomic files, unreadable ones ignored with a warning, names every
process agrees on, and engines that resume a killed unit to the same numbers."""

from __future__ import annotations

import dataclasses
import json
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from actbench.api import TrainContext, Trial, WorkUnit
from actbench.run.checkpoints import (
    NO_CHECKPOINT,
    CheckpointWarning,
    FileCheckpoint,
    remove_unit_checkpoint,
    unit_checkpoint,
    unit_checkpoint_path,
    unit_name,
)
from actbench.run.engines.population import run_population
from actbench.run.engines.sequential import run_trial
from actbench.tasks import get_task

HP = get_task("mnist-mini").resolve_hparams({"epochs": 2, "hidden": [32], "batch_size": 500})  # 10 steps an epoch


def mini(act: str = "relu", seed: int = 0) -> Trial:
    return Trial("mnist-mini", act, seed, HP)


def ctx_in(folder: Path | None) -> TrainContext:
    return TrainContext(torch.device("cpu"), None, checkpoint_dir=folder)


def bits(result):
    """A result's numbers as exact, comparable data (NaN equal to NaN); the seconds at each
    epoch are timing, not results, and are left out."""
    return json.dumps([dataclasses.asdict(m) | {"elapsed_s": None} for m in result.epochs], default=str, sort_keys=True)


STATE = {
    "weights": torch.arange(6.0).view(2, 3),
    "gen": torch.Generator().manual_seed(1).get_state(),
    "step": 7,
    "epochs": [{"epoch": 1, "train_loss": 0.5, "extra": {}}],
    "slow": None,
}


# --- the file ------------------------------------------------------------------------


def test_a_saved_state_loads_back_and_no_temporary_file_stays(tmp_path):
    checkpoint = FileCheckpoint(tmp_path / "sub" / "unit.pt")
    assert checkpoint.load() is None  # missing: start from scratch, no warning
    checkpoint.save(STATE)
    checkpoint.save({**STATE, "step": 8})  # replaced, not appended
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["unit.pt"]
    loaded = checkpoint.load()
    assert loaded["step"] == 8 and loaded["slow"] is None and loaded["epochs"] == STATE["epochs"]
    assert torch.equal(loaded["weights"], STATE["weights"]) and torch.equal(loaded["gen"], STATE["gen"])
    # Plain data and tensors only: the file opens with torch's safe loader.
    assert torch.load(checkpoint.path, weights_only=True)["state"]["step"] == 8


def test_a_failed_save_keeps_the_previous_checkpoint_and_leaves_no_temporary_file(tmp_path):
    checkpoint = FileCheckpoint(tmp_path / "unit.pt")
    checkpoint.save(STATE)
    with pytest.raises((pickle.PicklingError, AttributeError)):  # which one depends on where the lambda lives
        checkpoint.save({"unpicklable": lambda: None})
    assert [p.name for p in tmp_path.iterdir()] == ["unit.pt"]
    assert checkpoint.load()["step"] == 7


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty", "other data"])
def test_an_unreadable_checkpoint_is_ignored_with_a_warning_naming_it(tmp_path, damage):
    path = tmp_path / "unit.pt"
    FileCheckpoint(path).save(STATE)
    whole = path.read_bytes()
    if damage == "other data":
        torch.save({"weights": torch.zeros(2)}, path)  # a torch file, but not our envelope
    else:
        path.write_bytes(
            {"truncated": whole[: len(whole) // 2], "garbage": b"\x00not a checkpoint" * 9, "empty": b""}[damage]
        )
    with pytest.warns(CheckpointWarning) as caught:
        assert FileCheckpoint(path).load() is None
    (message,) = [str(w.message) for w in caught]
    assert message.startswith(f"ignoring checkpoint {path}: ") and message.endswith("; starting the unit over")
    assert "\n" not in message


def test_a_checkpoint_of_other_code_is_ignored(tmp_path):
    FileCheckpoint(tmp_path / "unit.pt", revision="git:aaa").save(STATE)
    assert FileCheckpoint(tmp_path / "unit.pt", revision="git:aaa").load()["step"] == 7
    with pytest.warns(CheckpointWarning, match="written by code git:aaa, this is git:bbb"):
        assert FileCheckpoint(tmp_path / "unit.pt", revision="git:bbb").load() is None


def test_no_checkpoint_saves_nothing(tmp_path):
    NO_CHECKPOINT.save(STATE)
    assert NO_CHECKPOINT.load() is None
    assert unit_checkpoint(ctx_in(None), WorkUnit("sequential", (mini(),))) is NO_CHECKPOINT


# --- a unit's checkpoint -------------------------------------------------------------

NAME_IN_ANOTHER_PROCESS = """
import json, sys
from actbench.api import Trial, WorkUnit
from actbench.run.checkpoints import unit_name
hp, acts = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(unit_name(WorkUnit("population", tuple(Trial("mnist-mini", a, s, hp) for s in (0, 1) for a in acts))))
"""


def test_a_unit_has_the_same_checkpoint_name_in_every_process():
    acts = ["relu", "ralu(alpha=1.0, learnable=true)"]
    unit = WorkUnit("population", tuple(mini(a, s) for s in (0, 1) for a in acts))
    done = subprocess.run(
        [sys.executable, "-c", NAME_IN_ANOTHER_PROCESS, json.dumps(HP), json.dumps(acts)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == unit_name(unit)
    assert unit_name(unit).startswith("population-") and unit_name(unit).endswith(".pt")
    # Other trials, another order, another engine or other hyperparameters: another name.
    others = [
        WorkUnit("population", unit.trials[::-1]),
        WorkUnit("population", unit.trials[:-1]),
        WorkUnit("sequential", unit.trials[:1]),
        WorkUnit("population", tuple(dataclasses.replace(t, hparams={**HP, "lr": 0.01}) for t in unit.trials)),
    ]
    assert len({unit_name(u) for u in [unit, *others]}) == 5


def test_removing_a_units_checkpoint_removes_what_a_killed_save_left(tmp_path):
    unit = WorkUnit("sequential", (mini(),))
    checkpoint = unit_checkpoint(ctx_in(tmp_path), unit)
    checkpoint.save(STATE)
    (tmp_path / f".{unit_name(unit)}.x1y2z3.tmp").write_bytes(b"half")  # a save killed mid-write
    other = FileCheckpoint(tmp_path / "other.pt")
    other.save(STATE)
    remove_unit_checkpoint(tmp_path, unit)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.pt"]
    remove_unit_checkpoint(tmp_path, unit)  # missing is fine
    remove_unit_checkpoint(None, unit)  # so is no checkpoint folder


# --- the engines resume ----------------------------------------------------------------


class Killed(Exception):
    pass


def kill_after(epoch: int):
    def on_epoch(trial, metrics):
        if metrics.epoch == epoch:
            raise Killed  # after the checkpoint of that epoch was written

    return on_epoch


def test_the_sequential_engine_resumes_a_killed_trial(tmp_path):
    trial = mini("ralu(alpha=1.0, learnable=true)")
    reference = run_trial(trial, ctx_in(None))
    with pytest.raises(Killed):
        run_trial(trial, ctx_in(tmp_path), kill_after(1))
    path = unit_checkpoint_path(tmp_path, WorkUnit("sequential", (trial,)))
    saved = FileCheckpoint(path).load()
    assert len(saved["task"]["epochs"]) == 1 and saved["seconds"] > 0
    seen = []
    resumed = run_trial(trial, ctx_in(tmp_path), lambda t, m: seen.append(m.epoch))
    assert seen == [1, 2]  # the epoch done is reported again: the record is complete
    assert bits(resumed) == bits(reference)
    assert resumed.wall_time_s > saved["seconds"]  # the training time before the kill counts
    # The epoch trained before the kill: the seconds it was saved at, plus the restore; the
    # next epoch counts on from there.
    first, second = (m.elapsed_s for m in resumed.epochs)
    assert saved["seconds"] <= first < saved["seconds"] + 1.0 and first < second <= resumed.wall_time_s


def test_a_corrupt_checkpoint_starts_the_trial_over(tmp_path):
    trial = dataclasses.replace(mini(), hparams={**HP, "epochs": 1})
    path = unit_checkpoint_path(tmp_path, WorkUnit("sequential", (trial,)))
    path.write_bytes(b"PK\x03\x04 cut short")
    with pytest.warns(CheckpointWarning, match="ignoring checkpoint .* cannot be read"):
        result = run_trial(trial, ctx_in(tmp_path))
    assert bits(result) == bits(run_trial(trial, ctx_in(None)))


def test_the_population_engine_resumes_a_killed_chunk(tmp_path):
    trials = [mini(a, s) for s in (0, 1) for a in ("relu", "ralu(alpha=1.0, learnable=true)")]
    reference = {r.trial.key: bits(r) for r in run_population(trials, ctx_in(None))}
    with pytest.raises(Killed):
        list(run_population(trials, ctx_in(tmp_path), kill_after(1)))
    assert len(list(tmp_path.glob("population-*.pt"))) == 1  # one checkpoint for the chunk
    results = list(run_population(trials, ctx_in(tmp_path)))
    assert {r.trial.key: bits(r) for r in results} == reference
    for result in results:  # each member's share of the population's seconds, at each epoch's end
        elapsed = [m.elapsed_s for m in result.epochs]
        assert 0 < elapsed[0] < elapsed[1] <= result.wall_time_s
