"""Test doubles: stored results made without training, plug-in activations that diverge,
dawdle or kill their worker, and plug-in modules imported anew as a new process would."""

from __future__ import annotations

import importlib
import math
import os
import signal
import sys
import time

import torch
from torch import nn

from actbench.api import EpochMetrics, Trial, TrialResult

HPARAMS = {"batch_size": 64, "epochs": 3, "hidden": [128, 64], "lr": 0.001, "weight_decay": 0.0001}


def fake_result(
    activation: str,
    seed: int,
    accs: list[float],
    *,
    task: str = "mnist-mini",
    diverged_at: int | None = None,
    wall: float = 1.0,
    hparams: dict | None = None,
    last_extra: dict[str, float] | None = None,
) -> TrialResult:
    """A TrialResult with the given per-epoch test accuracies (NaN from ``diverged_at`` on);
    ``last_extra``: the task metrics of the last epoch (e.g. {"tta_acc": 94.1})."""
    epochs = [
        EpochMetrics(
            i,
            math.nan if diverged_at and i >= diverged_at else 1.0 / i,
            0.5,
            acc,
            extra=dict(last_extra or {}) if i == len(accs) else {},
        )
        for i, acc in enumerate(accs, start=1)
    ]
    return TrialResult(
        trial=Trial(task, activation, seed, hparams or HPARAMS),
        status="diverged" if diverged_at else "ok",
        diverged_epoch=diverged_at,
        epochs=epochs,
        wall_time_s=wall,
        engine="sequential",
        device="cpu",
        torch_version=torch.__version__,
        actbench_version="test",
        host="test",
        finished_at="2026-01-01T00:00:00+00:00",
    )


def reimport(*modules: str) -> None:
    """What a new actbench process sees: these plug-in modules not imported yet, so the
    next import reads them anew from their files."""
    for name in modules:
        sys.modules.pop(name, None)
    importlib.invalidate_caches()


class NanAfter(nn.Module):
    """ReLU for its first ``calls`` forward passes, NaN after: a deterministic divergence."""

    def __init__(self, calls: int = 100):
        super().__init__()
        self.calls = calls
        self.count = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.count += 1
        return torch.relu(x) if self.count <= self.calls else x * math.nan


class Slow(nn.Module):
    """ReLU that sleeps ``ms`` milliseconds per forward pass: epochs long enough to act mid-trial."""

    def __init__(self, ms: float = 5.0):
        super().__init__()
        self.ms = ms

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        time.sleep(self.ms / 1000)
        return torch.relu(x)


class KillsWorker(nn.Module):
    """ReLU for its first ``calls`` forward passes, then SIGKILLs its own process: a worker
    that dies the same way on every attempt. Only for runs on Ray workers."""

    def __init__(self, calls: int = 50):
        super().__init__()
        self.calls = calls
        self.count = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.count += 1
        if self.count > self.calls:
            os.kill(os.getpid(), signal.SIGKILL)
        return torch.relu(x)
