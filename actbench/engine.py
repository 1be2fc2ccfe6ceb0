"""Runs trials and yields one record per finished trial.

A trial is a pure function of a serialisable ``Trial`` (task, activation, seed,
hyperparameters) and a ``TrainContext`` (device, data folder). Two engines compute it:
``run_sequential``, the reference (one model at a time), and ``run_population`` (every
trial of a chunk as one batched model, for tasks that offer ``train_population``); tests
hold them to the same numbers. Engines never touch the results store: the driver alone
writes what they yield.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
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
    wall_time_s: float  # training and per-epoch evaluation, data loading excluded; a population
    # member's is its share: the population's time until it ended / its number of members
    engine: str  # "sequential" or "population"
    device: str  # e.g. "cpu", "cuda (NVIDIA H100 80GB HBM3)"
    torch_version: str
    actbench_version: str
    host: str
    finished_at: str  # ISO 8601, UTC


# Callbacks a driver may pass to follow progress: on_start(trial) as a trial begins,
# on_epoch(trial, metrics) after each of its epochs.
StartCallback = Callable[[Trial], None]
EpochCallback = Callable[[Trial, EpochMetrics], None]


def describe_device(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return device.type


def _result(
    trial: Trial, epochs: list[EpochMetrics], wall_time_s: float, engine: str, ctx: TrainContext
) -> TrialResult:
    from actbench import __version__

    last = epochs[-1]
    return TrialResult(
        trial=trial,
        status="ok" if last.finite else "diverged",
        diverged_epoch=None if last.finite else last.epoch,
        epochs=epochs,
        wall_time_s=wall_time_s,
        engine=engine,
        device=describe_device(ctx.device),
        torch_version=torch.__version__,
        actbench_version=__version__,
        host=platform.node(),
        finished_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )


def _elapsed(start: float, ctx: TrainContext) -> float:
    if ctx.device.type == "cuda":
        torch.cuda.synchronize(ctx.device)
    return time.perf_counter() - start


def run_trial(trial: Trial, ctx: TrainContext, on_epoch: EpochCallback | None = None) -> TrialResult:
    """Train one trial to its last epoch, or until its training loss stops being finite."""
    task = get_task(trial.task)
    epochs: list[EpochMetrics] = []
    start = time.perf_counter()
    for metrics in task.train(trial.activation, trial.seed, trial.hparams, ctx):
        epochs.append(metrics)
        if on_epoch:
            on_epoch(trial, metrics)
        if not metrics.finite:
            break  # closing the generator stops training; the rest of the run goes on
    return _result(trial, epochs, _elapsed(start, ctx), "sequential", ctx)


def run_sequential(
    trials: Iterable[Trial],
    ctx: TrainContext,
    on_epoch: EpochCallback | None = None,
    on_start: StartCallback | None = None,
) -> Iterator[TrialResult]:
    """The reference engine: one trial after another, each yielded as soon as it finishes."""
    for trial in trials:
        if on_start:
            on_start(trial)
        yield run_trial(trial, ctx, on_epoch)


def supports_population(task_name: str) -> bool:
    return hasattr(get_task(task_name), "train_population")


def default_memory_budget(device: torch.device) -> int:
    """Bytes a population may use: half the free memory of a GPU, a quarter of the RAM otherwise
    (room for the dataset, the allocator's slack and whatever else the machine runs)."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return free // 2
    return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 4


def plan_chunks(trials: list[Trial], memory_budget: int) -> list[list[Trial]]:
    """Trials grouped by (task, hyperparameters), each group cut into populations that fit the budget.

    Cuts are contiguous in the given (seed-major) order and as equal as possible: 41
    members with room for 40 run as 21 + 20, not 40 + 1.
    """
    groups: dict[tuple[str, str], list[Trial]] = {}
    for trial in trials:
        groups.setdefault((trial.task, trial.config_hash), []).append(trial)
    chunks = []
    for group in groups.values():
        per_member = get_task(group[0].task).member_bytes(group[0].hparams)
        count = math.ceil(len(group) / max(1, memory_budget // per_member))
        size, extra = divmod(len(group), count)
        start = 0
        for i in range(count):
            stop = start + size + (i < extra)
            chunks.append(group[start:stop])
            start = stop
    return chunks


def run_population(
    trials: Iterable[Trial],
    ctx: TrainContext,
    on_epoch: EpochCallback | None = None,
    on_start: StartCallback | None = None,
    memory_budget: int | None = None,
) -> Iterator[TrialResult]:
    """Train trials as populations (one batched model per chunk); yield each trial when it ends.

    A member's wall time is its share of its population's: the time until it ended
    divided by the number of members trained with it.
    """
    budget = memory_budget or default_memory_budget(ctx.device)
    for chunk in plan_chunks(list(trials), budget):
        by_member = {(t.activation, t.seed): t for t in chunk}
        epochs: dict[tuple[str, int], list[EpochMetrics]] = {key: [] for key in by_member}
        last_epoch = chunk[0].hparams["epochs"]
        for trial in chunk:
            if on_start:
                on_start(trial)
        start = time.perf_counter()
        task = get_task(chunk[0].task)
        for key, metrics in task.train_population(list(by_member), chunk[0].hparams, ctx):
            trial = by_member[key]
            epochs[key].append(metrics)
            if on_epoch:
                on_epoch(trial, metrics)
            if metrics.epoch == last_epoch or not metrics.finite:
                yield _result(trial, epochs[key], _elapsed(start, ctx) / len(chunk), "population", ctx)
