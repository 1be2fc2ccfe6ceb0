"""The driver of a run: the one place that connects training to the results store.

It skips trials already stored, loads the data before any training (so a missing file
fails in a second, not after an hour), has the engine batch the rest into units of work,
hands those to the executor and commits each result the moment it comes back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from actbench.api import EpochMetrics, Trial, TrainContext, TrialResult
from actbench.errors import ActbenchError
from actbench.results.store import ResultStore
from actbench.run.config import RunConfig
from actbench.run.engines import ENGINES
from actbench.run.executors import EXECUTORS
from actbench.tasks import get_task


@dataclass
class RunOutcome:
    total: int  # trials the config asks for
    skipped: int  # already stored before this run started
    stored: int = 0  # finished and committed by this run
    diverged: int = 0  # of those stored, how many diverged
    stored_elsewhere: int = 0  # finished here, but another process had stored them first


class RunInterrupted(ActbenchError):
    exit_code = 130  # the shell's convention for Ctrl-C

    def __init__(self, outcome: RunOutcome):
        remaining = outcome.total - outcome.skipped - outcome.stored - outcome.stored_elsewhere
        super().__init__(
            f"interrupted: {outcome.stored} trial(s) stored by this run, {remaining} not run; "
            f"rerun the same command to finish them (stored trials are skipped)"
        )
        self.outcome = outcome


class Reporter(Protocol):
    """What the driver tells about a run as it goes (the CLI draws a progress display)."""

    def started(self, config: RunConfig, pending: list[Trial], outcome: RunOutcome) -> None: ...
    def trial_started(self, trial: Trial) -> None: ...
    def epoch_done(self, trial: Trial, metrics: EpochMetrics) -> None: ...
    def trial_done(self, result: TrialResult, stored: bool) -> None: ...


def execute(config: RunConfig, reporter: Reporter) -> RunOutcome:
    """Run every trial of ``config`` not yet in its results store."""
    trials = config.trials()
    with ResultStore(config.results_dir) as store:
        done = store.stored_keys(trials)
        pending = [t for t in trials if t.key not in done]
        outcome = RunOutcome(total=len(trials), skipped=len(trials) - len(pending))
        reporter.started(config, pending, outcome)
        if not pending:
            return outcome
        ctx = TrainContext(config.device, config.data_dir, verify=config.verify, compile=config.compile)
        get_task(config.task).prepare(ctx)
        units = ENGINES.get(config.engine).plan(pending, ctx, config.memory_budget)
        executor = EXECUTORS.get(config.executor)()
        results = executor.run(units, ctx, reporter.trial_started, reporter.epoch_done)
        try:
            for result in results:
                stored = store.add(result)
                if stored:
                    outcome.stored += 1
                    outcome.diverged += result.status == "diverged"
                else:
                    outcome.stored_elsewhere += 1
                reporter.trial_done(result, stored)
        except KeyboardInterrupt:
            raise RunInterrupted(outcome) from None
    return outcome
