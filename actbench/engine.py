"""Runs trials and yields one record per finished trial.

A trial is a pure function of a serialisable ``Trial`` (task, activation, seed,
hyperparameters) and a ``TrainContext`` (device, data folder). The engine never touches
the results store: it may run in a worker process or on another machine, and the driver
alone writes what it yields.
"""

from __future__ import annotations

import hashlib
import json
import platform
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Iterator

import torch

from actbench.tasks import EpochMetrics, TrainContext, get_task


@dataclass(frozen=True)
class Trial:
    """The identity of one experiment: stored results are keyed by (task, activation, seed, config_hash)."""

    task: str
    activation: str  # canonical spec, e.g. "ralu(alpha=1.0, learnable=true)"
    seed: int
    hparams: dict[str, Any] = field(hash=False)  # resolved: every hyperparameter, JSON data

    @property
    def config_hash(self) -> str:
        """16 hex digits naming the task's full hyperparameter set (seed and activation excluded)."""
        blob = json.dumps({"task": self.task, "hparams": self.hparams}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TrialResult:
    trial: Trial
    status: str  # "ok" or "diverged"
    diverged_epoch: int | None  # first epoch whose training loss was NaN/inf
    epochs: list[EpochMetrics]  # every epoch run; a diverged trial's last one holds the NaN
    wall_time_s: float  # training and per-epoch evaluation, data loading excluded
    device: str  # e.g. "cpu", "cuda (NVIDIA H100 80GB HBM3)"
    torch_version: str
    actbench_version: str
    host: str
    finished_at: str  # ISO 8601, UTC


# Callbacks a driver may pass to follow progress: on_epoch(trial, metrics).
EpochCallback = Callable[[Trial, EpochMetrics], None]


def describe_device(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return device.type


def run_trial(trial: Trial, ctx: TrainContext, on_epoch: EpochCallback | None = None) -> TrialResult:
    """Train one trial to its last epoch, or until its training loss stops being finite."""
    from actbench import __version__

    task = get_task(trial.task)
    epochs: list[EpochMetrics] = []
    diverged_epoch = None
    start = time.perf_counter()
    for metrics in task.train(trial.activation, trial.seed, trial.hparams, ctx):
        epochs.append(metrics)
        if on_epoch:
            on_epoch(trial, metrics)
        if not metrics.finite:
            diverged_epoch = metrics.epoch
            break  # closing the generator stops training; the rest of the run goes on
    if ctx.device.type == "cuda":
        torch.cuda.synchronize(ctx.device)
    return TrialResult(
        trial=trial,
        status="ok" if diverged_epoch is None else "diverged",
        diverged_epoch=diverged_epoch,
        epochs=epochs,
        wall_time_s=time.perf_counter() - start,
        device=describe_device(ctx.device),
        torch_version=torch.__version__,
        actbench_version=__version__,
        host=platform.node(),
        finished_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )


def run_sequential(
    trials: Iterable[Trial], ctx: TrainContext, on_epoch: EpochCallback | None = None
) -> Iterator[TrialResult]:
    """The reference engine: one trial after another, each yielded as soon as it finishes."""
    for trial in trials:
        yield run_trial(trial, ctx, on_epoch)
