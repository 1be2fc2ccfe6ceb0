"""The reference engine: one model at a time, each trial its own unit of work.

A trial is a pure function of a serialisable ``Trial`` (task, activation, seed,
hyperparameters) and a ``TrainContext`` (device, data folder); every other engine is
held to the numbers this one gives. With ``ctx.checkpoint_dir`` set, a trial saves its
state after every epoch and a killed trial resumes from it (actbench.run.checkpoints).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator

from actbench.api import Checkpoint, EpochMetrics, TrainContext, Trial, TrialResult, WorkUnit
from actbench.run.checkpoints import EngineCheckpoint, unit_checkpoint
from actbench.run.engines import EpochCallback, StartCallback
from actbench.run.engines.results import elapsed, make_result
from actbench.tasks import get_task


def run_trial(
    trial: Trial, ctx: TrainContext, on_epoch: EpochCallback | None = None, checkpoint: Checkpoint | None = None
) -> TrialResult:
    """Train one trial to its last epoch, or until its training loss stops being finite.

    ``checkpoint``: where the trial's state is kept between epochs; by default its unit's
    (``unit_checkpoint``: none unless ``ctx.checkpoint_dir`` is set). A resumed trial's
    record has every epoch, and its wall time adds the seconds trained before."""
    task = get_task(trial.task)
    epochs: list[EpochMetrics] = []
    start = time.perf_counter()
    if checkpoint is None:
        checkpoint = unit_checkpoint(ctx, WorkUnit("sequential", (trial,)))
    timed = EngineCheckpoint(checkpoint, lambda: elapsed(start, ctx))
    for metrics in task.train(trial.activation, trial.seed, trial.hparams, ctx, timed):
        metrics = timed.stamp(trial, metrics)
        epochs.append(metrics)
        if on_epoch:
            on_epoch(trial, metrics)
        if not metrics.finite:
            break  # closing the generator stops training; the rest of the run goes on
    return make_result(trial, epochs, timed.seconds(), "sequential", ctx)


class SequentialEngine:
    def plan(
        self, trials: list[Trial], ctx: TrainContext, memory_budget: int | None, workers: int = 1
    ) -> list[WorkUnit]:
        return [WorkUnit("sequential", (trial,)) for trial in trials]

    def run(
        self, unit: WorkUnit, ctx: TrainContext, on_start: StartCallback | None, on_epoch: EpochCallback | None
    ) -> Iterator[TrialResult]:
        for trial in unit.trials:  # one, as planned; each trial has its own unit's checkpoint
            if on_start:
                on_start(trial)
            yield run_trial(trial, ctx, on_epoch, unit_checkpoint(ctx, WorkUnit(unit.engine, (trial,))))


ENGINE = SequentialEngine()


def run_sequential(
    trials: Iterable[Trial],
    ctx: TrainContext,
    on_epoch: EpochCallback | None = None,
    on_start: StartCallback | None = None,
) -> Iterator[TrialResult]:
    """Every trial in this process, one after another, each yielded as soon as it finishes."""
    for unit in ENGINE.plan(list(trials), ctx, None):
        yield from ENGINE.run(unit, ctx, on_start, on_epoch)
