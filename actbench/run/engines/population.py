"""The population engine: the trials of a chunk trained as one batched model, for tasks
with a population trainer (actbench.api.PopulationTrainer). Each member is its
sequential trial, not an approximation of it; tests hold the two engines to the same
numbers. With ``ctx.checkpoint_dir`` set, a chunk saves its state after every epoch, as
one population, and a killed chunk resumes from it (actbench.run.checkpoints).

A member's seconds are not an equal share of its population's, which would make every
activation cost the same: the trainer measures what each activation adds and the rest is
shared equally (``member_seconds``; actbench.tasks.costs says how).
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from collections.abc import Iterable, Iterator

import torch

from actbench.api import EpochMetrics, TrainContext, Trial, TrialResult, WorkUnit
from actbench.run.checkpoints import EngineCheckpoint, unit_checkpoint
from actbench.run.engines import EpochCallback, StartCallback
from actbench.run.engines.results import elapsed, make_result
from actbench.tasks import get_task
from actbench.tasks.costs import OWN_SECONDS, SET_ASIDE_SECONDS


def default_memory_budget(device: torch.device) -> int:
    """Bytes a population may use: half the free memory of a GPU, a quarter of the RAM otherwise
    (room for the dataset, the allocator's slack and whatever else the machine runs)."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return free // 2
    return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 4


def plan_chunks(trials: list[Trial], memory_budget: int, workers: int = 1) -> list[list[Trial]]:
    """Trials grouped by (task, hyperparameters), each group cut into populations that fit the budget.

    Cuts are contiguous in the given (seed-major) order and as equal as possible: 41
    members with room for 40 run as 21 + 20, not 40 + 1. With ``workers`` above 1, a
    group is cut into at least that many chunks (as it has trials), one per worker:
    a chunk's members are the same experiments whichever population they train in.
    """
    groups: dict[tuple[str, str], list[Trial]] = {}
    for trial in trials:
        groups.setdefault((trial.task, trial.config_hash), []).append(trial)
    chunks = []
    for group in groups.values():
        per_member = _trainer(group[0].task).member_bytes(group[0].hparams)
        count = max(math.ceil(len(group) / max(1, memory_budget // per_member)), min(workers, len(group)))
        size, extra = divmod(len(group), count)
        start = 0
        for i in range(count):
            stop = start + size + (i < extra)
            chunks.append(group[start:stop])
            start = stop
    return chunks


def member_seconds(metrics: EpochMetrics, members: int) -> EpochMetrics:
    """``metrics`` stamped with the population's seconds (``elapsed_s``), as the member's:
    the seconds the trainer set aside (its activations' measured seconds and the measuring's)
    taken out, the rest shared equally among the ``members`` trained together, plus the
    member's own measured seconds; the trainer's cost keys taken out of ``extra``. From a
    trainer that measures nothing: an equal share."""
    extra = dict(metrics.extra)
    own, set_aside = extra.pop(OWN_SECONDS, 0.0), extra.pop(SET_ASIDE_SECONDS, 0.0)
    # Never below zero: measured apart from the step, an activation could come out dearer
    # than the whole epoch's remainder.
    shared = max(metrics.elapsed_s - set_aside, 0.0)
    return dataclasses.replace(metrics, extra=extra, elapsed_s=shared / members + own)


def _trainer(task_name: str):
    trainer = get_task(task_name).population
    if trainer is None:
        raise ValueError(f"task {task_name} has no population trainer")  # config checks this first
    return trainer


class PopulationEngine:
    def plan(
        self, trials: list[Trial], ctx: TrainContext, memory_budget: int | None, workers: int = 1
    ) -> list[WorkUnit]:
        budget = memory_budget or default_memory_budget(ctx.device)
        return [WorkUnit("population", tuple(chunk)) for chunk in plan_chunks(trials, budget, workers)]

    def run(
        self, unit: WorkUnit, ctx: TrainContext, on_start: StartCallback | None, on_epoch: EpochCallback | None
    ) -> Iterator[TrialResult]:
        """Train the unit's trials together; yield each trial when it ends. A member's wall
        time is its ``member_seconds`` when it ended: its activation's measured seconds and
        an equal share of the rest of the population's time until then (over every member
        trained with it). The chunk resumes from its checkpoint (``unit_checkpoint(ctx, unit)``)
        if it has one, every epoch done yielded again."""
        chunk = unit.trials
        by_member = {(t.activation, t.seed): t for t in chunk}
        epochs: dict[tuple[str, int], list[EpochMetrics]] = {key: [] for key in by_member}
        last_epoch = chunk[0].hparams["epochs"]
        for trial in chunk:
            if on_start:
                on_start(trial)
        start = time.perf_counter()
        timed = EngineCheckpoint(unit_checkpoint(ctx, unit), lambda: elapsed(start, ctx))
        for key, metrics in _trainer(chunk[0].task).train(list(by_member), chunk[0].hparams, ctx, timed):
            trial = by_member[key]
            metrics = member_seconds(timed.stamp(trial, metrics), len(chunk))
            epochs[key].append(metrics)
            if on_epoch:
                on_epoch(trial, metrics)
            if metrics.epoch == last_epoch or not metrics.finite:  # its wall time: its last epoch's end
                yield make_result(trial, epochs[key], metrics.elapsed_s, "population", ctx)


ENGINE = PopulationEngine()


def run_population(
    trials: Iterable[Trial],
    ctx: TrainContext,
    on_epoch: EpochCallback | None = None,
    on_start: StartCallback | None = None,
    memory_budget: int | None = None,
) -> Iterator[TrialResult]:
    """Every trial in this process, as populations that fit ``memory_budget`` bytes."""
    for unit in ENGINE.plan(list(trials), ctx, memory_budget):
        yield from ENGINE.run(unit, ctx, on_start, on_epoch)
