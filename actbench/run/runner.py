"""The driver of a run: the one place that connects training to the results store.

It skips trials already stored, loads the data before any training (so a missing file
fails in a second, not after an hour), then repeatedly: has the engine batch the trials
nobody has claimed into units of work, claims the first unit in the store, hands it to
the executor and commits each result the moment it comes back. Several runs on one
results folder thus split the work; a run that finds everything left claimed by live
runs waits for them, and takes over what a dead one leaves (its lease lapses).
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from typing import Protocol

import pandas as pd

from actbench.api import EpochMetrics, Trial, TrainContext, TrialResult, WorkUnit
from actbench.errors import ActbenchError
from actbench.results.store import Owner, ResultStore, network_filesystem
from actbench.run.checkpoints import remove_unit_checkpoint, saved_units, write_manifest
from actbench.run.config import RunConfig
from actbench.run.engines import ENGINES
from actbench.run.executors import EXECUTORS
from actbench.run.leases import LEASE_S, LeaseKeeper
from actbench.tasks import get_task

WAIT_S = 2.0  # how often a run waiting on others' claims looks again


@dataclass
class RunOutcome:
    total: int  # trials the config asks for
    skipped: int  # already stored before this run started
    stored: int = 0  # finished and committed by this run
    diverged: int = 0  # of those stored, how many diverged
    failed: int = 0  # of those stored, how many failed (training raised)
    stored_elsewhere: int = 0  # finished here, but another process had stored them first
    by_others: int = 0  # pending when this run started, trained and stored by other runs meanwhile


class RunInterrupted(ActbenchError):
    exit_code = 130  # the shell's convention for Ctrl-C

    def __init__(self, outcome: RunOutcome):
        remaining = outcome.total - outcome.skipped - outcome.stored - outcome.stored_elsewhere - outcome.by_others
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
    def waiting(self, claims: pd.DataFrame) -> None: ...


def execute(config: RunConfig, reporter: Reporter) -> RunOutcome:
    """Run every trial of ``config`` not yet in its results store."""
    trials = config.trials()
    with ResultStore(config.results_dir) as store:
        if kind := network_filesystem(config.results_dir):
            warnings.warn(
                f"{config.results_dir} is on {kind}: SQLite's locking is not reliable on network filesystems, "
                "so runs sharing this folder may corrupt it; keep the results folder on a local disk",
                stacklevel=2,
            )
        done = store.stored_keys(trials)
        pending = [t for t in trials if t.key not in done]
        outcome = RunOutcome(total=len(trials), skipped=len(trials) - len(pending))
        reporter.started(config, pending, outcome)
        if not pending:
            return outcome
        checkpoints = config.results_dir / "checkpoints" if config.checkpoint else None
        ctx = TrainContext(config.device, config.data_dir, config.verify, config.compile, checkpoints)
        get_task(config.task).prepare(ctx)
        owner = Owner.this_process()
        try:
            with LeaseKeeper(config.results_dir, owner):
                _train_pending(config, store, pending, ctx, owner, reporter, outcome)
        except KeyboardInterrupt:
            raise RunInterrupted(outcome) from None
        except OSError as exc:  # a checkpoint the disk refused: stop, keep what is stored
            raise ActbenchError(
                f"cannot write {exc.filename or 'a checkpoint'}: {exc.strerror or exc}; {outcome.stored} trial(s) "
                "stored by this run are kept. Free space (or pass --no-checkpoint) and rerun to go on"
            ) from None
        finally:
            store.release(owner)
            if checkpoints is not None and checkpoints.is_dir() and not any(checkpoints.iterdir()):
                checkpoints.rmdir()  # nothing left to resume
        outcome.by_others = len(store.stored_keys(pending)) - outcome.stored - outcome.stored_elsewhere
    return outcome


def _train_pending(
    config: RunConfig, store: ResultStore, pending: list[Trial], ctx: TrainContext, owner: Owner,
    reporter: Reporter, outcome: RunOutcome,
) -> None:  # fmt: skip
    """Claim a unit, train it, commit its results; until every pending trial is stored.
    Units that a stopped run left checkpoints of come first, re-formed as they were."""
    engine, executor = ENGINES.get(config.engine), EXECUTORS.get(config.executor)()
    wanted = {t.key for t in pending}
    # The saved units made of this run's trials (stored ones too: diverged population members).
    saved = [
        unit for unit in saved_units(ctx.checkpoint_dir)
        if {t.key for t in unit.trials} <= wanted | store.stored_keys(unit.trials)
    ]  # fmt: skip
    while True:
        left = [t for t in pending if t.key not in store.stored_keys(pending)]
        if not left:
            return
        free = store.unclaimed(left)
        if not free:  # everything left is being trained by other live runs
            reporter.waiting(store.claims())
            time.sleep(WAIT_S)
            continue
        free_keys = {t.key for t in free}
        resumable = [u for u in saved if {t.key for t in u.trials} & free_keys]
        unit = resumable[0] if resumable else engine.plan(free, ctx, config.memory_budget)[0]
        stored_before = store.stored_keys(unit.trials)
        if not store.claim([t for t in unit.trials if t.key not in stored_before], owner, LEASE_S):
            continue  # another run claimed part of it first: plan again
        if resumable:
            saved.remove(unit)
        elif ctx.checkpoint_dir is not None:
            write_manifest(ctx.checkpoint_dir, unit)
        for result in executor.run([unit], ctx, reporter.trial_started, reporter.epoch_done):
            if result.trial.key in stored_before:
                continue  # a resumed unit yields again what was stored before it stopped
            stored = store.add(result)
            if stored:
                outcome.stored += 1
                outcome.diverged += result.status == "diverged"
                outcome.failed += result.status == "failed"
            else:
                outcome.stored_elsewhere += 1
            reporter.trial_done(result, stored)
        store.release(owner)
        _remove_checkpoints(ctx, unit)


def _remove_checkpoints(ctx: TrainContext, unit: WorkUnit) -> None:
    """A finished unit's checkpoint and manifest, and those of the one-trial units a
    failing population was retrained as (see actbench.run.executors.local)."""
    remove_unit_checkpoint(ctx.checkpoint_dir, unit)
    if len(unit.trials) > 1:
        for trial in unit.trials:
            remove_unit_checkpoint(ctx.checkpoint_dir, WorkUnit("sequential", (trial,)))
