"""A killed MLP trial or population resumes from its epoch checkpoint to the same bits
as one that never stopped: in this process, and (the sequential trial) in another one."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import pytest
import torch
from fakes import NanAfter

from actbench.api import TrainContext
from actbench.run.checkpoints import FileCheckpoint
from actbench.tasks import get_task
from actbench.tasks.costs import OWN_SECONDS, SET_ASIDE_SECONDS
from actbench.tasks.mlp.model import DeviceData, train_trial
from actbench.tasks.mlp.population import Member
from actbench.tasks.mlp.population.seed_blocks import block_order
from actbench.tasks.mlp.population.train import train_population

CPU = TrainContext(device=torch.device("cpu"), data_dir=None)
HP = {**get_task("mnist-mini").hyperparams, "epochs": 3, "hidden": [32, 32]}
SIZES = [784, 32, 32, 10]
RALU = "ralu(alpha=1.0, learnable=true)"
NAN_CALLS = 20  # NaN from an activation module's 21st call: 16 steps and 1 evaluation an epoch, so in epoch 2


@lru_cache(maxsize=1)
def small_data() -> DeviceData:
    """The first 1024 training and 500 test images of mnist-mini: 16 steps of 64 an epoch."""
    data = get_task("mnist-mini").data(CPU, "test")
    return DeviceData(data.train_x[:1024], data.train_y[:1024], data.test_x[:500], data.test_y[:500])


def train(act: str, seed: int, hp=HP, checkpoint=None):
    return train_trial(small_data(), SIZES, act, seed, hp, CPU, checkpoint)


def train_members(members: list[tuple[str, int]], checkpoint=None):
    for member, metrics in train_population(
        small_data(), SIZES, [Member(*m) for m in members], HP, CPU, 500, checkpoint
    ):
        yield (member.activation, member.seed), metrics


class CountingNanAfter(NanAfter):
    """NanAfter with its call count in its state dict (``get_extra_state``), as a plug-in
    with state of its own must keep it for a checkpoint to carry it."""

    def get_extra_state(self) -> dict[str, int]:
        return {"count": self.count}

    def set_extra_state(self, state: dict[str, int]) -> None:
        self.count = state["count"]


def exact(metrics) -> str:
    """Every number of an EpochMetrics, exactly (NaN equal to NaN), the wall clock left out
    (a task's timed_s, a population's measured seconds)."""
    record = dataclasses.asdict(metrics)
    for clock in ("timed_s", OWN_SECONDS, SET_ASIDE_SECONDS):
        record["extra"].pop(clock, None)
    return json.dumps(record, sort_keys=True)


def stopped_after(iterator, epoch: int, epoch_of=lambda item: item):
    """Consume ``iterator`` up to its first finite record of ``epoch`` and close it there: a
    process killed once that epoch's checkpoint was written."""
    seen = []
    for item in iterator:
        seen.append(item)
        metrics = epoch_of(item)
        if metrics.epoch == epoch and metrics.finite:
            break
    iterator.close()
    return seen


def test_a_resumed_trial_is_the_uninterrupted_one_exactly(tmp_path):
    reference = [exact(m) for m in train(RALU, 3)]
    first = stopped_after(train(RALU, 3, checkpoint=FileCheckpoint(tmp_path / "trial.pt")), 2)
    assert [m.epoch for m in first] == [1, 2]
    resumed = [exact(m) for m in train(RALU, 3, checkpoint=FileCheckpoint(tmp_path / "trial.pt"))]
    assert resumed == reference  # epochs 1-2 from the checkpoint, 3 trained on from it
    assert [p.name for p in tmp_path.iterdir()] == ["trial.pt"]  # no temporary file left


RESUME_IN_ANOTHER_PROCESS = """
import dataclasses, json, sys
sys.path[:0] = json.loads(sys.argv[2])
from test_mlp_checkpoints import RALU, train
from actbench.run.checkpoints import FileCheckpoint
print(json.dumps([dataclasses.asdict(m) for m in train(RALU, 3, checkpoint=FileCheckpoint(sys.argv[1]))]))
"""


def test_a_trial_resumes_exactly_in_another_process(tmp_path):
    reference = [dataclasses.asdict(m) for m in train(RALU, 3)]
    stopped_after(train(RALU, 3, checkpoint=FileCheckpoint(tmp_path / "trial.pt")), 1)
    paths = [str(Path(__file__).parent), str(Path(__file__).parents[2])]  # this module, fakes
    done = subprocess.run(
        [sys.executable, "-c", RESUME_IN_ANOTHER_PROCESS, str(tmp_path / "trial.pt"), json.dumps(paths)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(done.stdout) == reference


@pytest.mark.parametrize(
    "diverging, stop",
    [
        (f"fakes:NanAfter(calls={NAN_CALLS})", 2),  # NaN in epoch 2: dropped before the checkpoint, stays dropped
        (f"test_mlp_checkpoints:CountingNanAfter(calls={NAN_CALLS})", 1),  # still in at the checkpoint, NaN after it
    ],
)
def test_a_resumed_population_is_the_uninterrupted_one_exactly(tmp_path, diverging, stop):
    members = [(act, seed) for seed in (0, 1) for act in ("relu", diverging, RALU)]
    reference = list(train_members(members))
    assert {key: m.epoch for key, m in reference if not m.finite} == {(diverging, 0): 2, (diverging, 1): 2}
    assert sum(m.epoch == 3 for _, m in reference) == 4  # the others train on to the end

    first = stopped_after(train_members(members, FileCheckpoint(tmp_path / "chunk.pt")), stop, lambda item: item[1])
    assert first[-1][1].epoch == stop
    saved = FileCheckpoint(tmp_path / "chunk.pt").load()
    assert saved["epoch"] == stop and len(saved["members"]) == (6 if stop == 1 else 4)
    assert sorted(saved["data_order"]) == [0, 1]  # a generator per seed

    resumed = list(train_members(members, FileCheckpoint(tmp_path / "chunk.pt")))
    assert [(key, exact(m)) for key, m in resumed] == [(key, exact(m)) for key, m in reference]  # same order too


def in_member_order(saved: dict, order: list[int]) -> dict:
    """A population checkpoint with its members in another order (as one written before the
    seed blocks, in training order by activation, has them), everything else rearranged to match."""
    stacked = len(saved["weights"]) + len(saved["biases"])
    # Activation parameters by member: a member's count is its modules' state entries (RaLU: alpha, PReLU: weight).
    counts = [sum(len(state) for state in states) for states in saved["activations"]]
    offsets = [stacked + sum(counts[:i]) for i in range(len(counts))]
    state = saved["optimizer"]["state"]
    reordered = {
        i: {key: value[order] if value.dim() > 0 else value for key, value in state[i].items()} for i in range(stacked)
    }
    act_entries = [offsets[i] + c for i in order for c in range(counts[i])]
    reordered.update({stacked + j: state[old] for j, old in enumerate(act_entries)})
    return {
        **saved,
        "members": [saved["members"][i] for i in order],
        "weights": [w[order] for w in saved["weights"]],
        "biases": [b[order] for b in saved["biases"]],
        "activations": [saved["activations"][i] for i in order],
        "optimizer": {**saved["optimizer"], "state": reordered},
    }


def test_a_population_resumes_exactly_from_a_checkpoint_in_another_member_order(tmp_path):
    # Seeds 0 and 1 with three members, seed 2 with one: two seed blocks. The checkpoint is
    # rewritten with its members seed-major, not a population order: restored, they are
    # matched by member.
    prelu = "prelu(init=0.25, num_parameters=32)"  # learnable too: two kinds of activation parameters to match
    members = [(act, seed) for seed in (0, 1) for act in ("relu", prelu, RALU)] + [(RALU, 2)]
    reference = list(train_members(members))
    stopped_after(train_members(members, FileCheckpoint(tmp_path / "chunk.pt")), 1, lambda item: item[1])
    saved = FileCheckpoint(tmp_path / "chunk.pt").load()
    seed_major = sorted(range(len(saved["members"])), key=lambda i: (saved["members"][i][1], i))
    rewritten = in_member_order(saved, seed_major)
    in_order = [Member(*m) for m in rewritten["members"]]
    assert block_order(in_order)[0] != in_order
    FileCheckpoint(tmp_path / "chunk.pt").save(rewritten)
    resumed = list(train_members(members, FileCheckpoint(tmp_path / "chunk.pt")))
    assert {key: exact(m) for key, m in resumed if m.epoch > 1} == {
        key: exact(m) for key, m in reference if m.epoch > 1
    }
