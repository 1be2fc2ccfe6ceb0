"""A killed airbench trial resumes from its epoch checkpoint to the same bits as one that
never stopped: lr schedule, lookahead, whitening-bias freeze, augmentation and order
streams, BatchNorm statistics, learnable activations; the timed seconds continue."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch
from cifar_files import write_synthetic_cifar10

from actbench.api import TrainContext
from actbench.run.checkpoints import FileCheckpoint
from actbench.tasks import get_task

# 6 steps of 50 an epoch; the lookahead acts every 5 steps.
TINY = {"batch_size": 50, "widths": [4, 8, 8], "whiten_images": 300, "tta_level": 1}
CASES = {
    # airbench94's lookahead (slow copy from the start, synced at the end), 2.5 epochs (the
    # last one partial), the whitening bias frozen after epoch 2, a learnable activation.
    "94": ("cifar10-airbench94", "ralu(alpha=1.0, learnable=true)", {"epochs": 2.5, "whiten_bias_epochs": 2}),
    # airbench96's: residual groups, cutout, the slow copy taken in epoch 3 (step 15, after
    # the checkpoint) and synced every epoch from then on.
    "96": ("cifar10-airbench96", "prelu", {"epochs": 3.0, "lookahead_start_epoch": 2}),
}


@pytest.fixture(scope="module")
def cifar_ctx(tmp_path_factory) -> TrainContext:
    folder = tmp_path_factory.mktemp("cifar")
    write_synthetic_cifar10(folder / "cifar-10-batches-py", n_train=300, n_test=100)
    return TrainContext(torch.device("cpu"), folder, verify=False)


def exact(metrics) -> str:
    """Every number of an EpochMetrics, exactly, the wall clock (timed_s) left out."""
    record = dataclasses.asdict(metrics)
    record["extra"].pop("timed_s")
    return json.dumps(record, sort_keys=True)


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_resumed_airbench_trial_is_the_uninterrupted_one_exactly(tmp_path, cifar_ctx, case):
    task_name, act, overrides = CASES[case]
    task = get_task(task_name)
    hp = task.resolve_hparams({**TINY, **overrides})
    reference = list(task.train(act, 0, hp, cifar_ctx))
    assert len(reference) == 3 and "tta_acc" in reference[-1].extra

    run = task.train(act, 0, hp, cifar_ctx, FileCheckpoint(tmp_path / "trial.pt"))
    first = next(run)
    run.close()  # killed after epoch 1's checkpoint was written
    saved = FileCheckpoint(tmp_path / "trial.pt").load()
    assert saved["step"] == 6 and (saved["lookahead"]["slow"] is None) == (case == "96")

    resumed = list(task.train(act, 0, hp, cifar_ctx, FileCheckpoint(tmp_path / "trial.pt")))
    assert [exact(m) for m in resumed] == [exact(m) for m in reference]
    assert resumed[0].extra["timed_s"] == first.extra["timed_s"]  # yielded again as saved
    assert resumed[1].extra["timed_s"] > first.extra["timed_s"]  # and counted on from there
    assert [p.name for p in Path(tmp_path).iterdir()] == ["trial.pt"]
