"""The driver of a run: the one place that connects training to the results store.

It skips trials already stored, has the executor load the data before any training (so
a missing file fails in a second, not after an hour), then repeatedly: has the engine
batch the trials nobody has claimed into units of work, claims units in the store until
the executor has as many as it can run at once (one locally, one per worker slot on a
Ray cluster), and commits each result the moment it comes back. Several runs on one
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
from actbench.run.engines import ENGINES, Engine
from actbench.run.executors import EXECUTORS, Executor, ExecutorSetup, UnitDone
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

    def started(self, config: RunConfig, pending: list[Trial], outcome: RunOutcome, where: str | None) -> None:
        """``where``: the executor's description; None when nothing is left to run."""
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
        if not pending:
            reporter.started(config, pending, outcome, None)
            return outcome
        checkpoints = config.checkpoints
        ctx = TrainContext(config.device, config.data_dir, config.verify, config.compile, checkpoints)
        owner = Owner.this_process()
        executor = None
        try:
            setup = ExecutorSetup(ctx, config.executor_options, config.activations, config.memory_budget)
            executor = EXECUTORS.get(config.executor)(setup, reporter.trial_started, reporter.epoch_done)
            reporter.started(config, pending, outcome, executor.description)
            executor.prepare(get_task(config.task), pending[0].hparams)  # data-related settings are shared by all
            with LeaseKeeper(config.results_dir, owner):
                _train_pending(config, store, pending, executor, owner, reporter, outcome)
        except KeyboardInterrupt:
            raise RunInterrupted(outcome) from None
        except OSError as exc:  # a checkpoint the disk refused: stop, keep what is stored
            raise ActbenchError(
                f"cannot write {exc.filename or 'a checkpoint'}: {exc.strerror or exc}; {outcome.stored} trial(s) "
                "stored by this run are kept. Free space (or pass --no-checkpoint) and rerun to go on"
            ) from None
        finally:
            if executor is not None:
                executor.close()
            store.release(owner)
            if checkpoints is not None and checkpoints.is_dir() and not any(checkpoints.iterdir()):
                checkpoints.rmdir()  # nothing left to resume
        outcome.by_others = len(store.stored_keys(pending)) - outcome.stored - outcome.stored_elsewhere
    return outcome


def _train_pending(
    config: RunConfig, store: ResultStore, pending: list[Trial], executor: Executor, owner: Owner,
    reporter: Reporter, outcome: RunOutcome,
) -> None:  # fmt: skip
    """Keep the executor's capacity filled with claimed units and commit each result as it
    comes back, until every pending trial is stored. Units that a stopped run left
    checkpoints of come first, re-formed as they were."""
    ctx, engine = executor.ctx, ENGINES.get(config.engine)
    wanted = {t.key for t in pending}
    # The saved units made of this run's trials (stored ones too: diverged population members).
    saved = [
        unit for unit in saved_units(ctx.checkpoint_dir)
        if {t.key for t in unit.trials} <= wanted | store.stored_keys(unit.trials)
    ]  # fmt: skip
    # Submitted units -> the keys of their trials stored before they started (a resumed
    # unit yields those again: they are not committed twice).
    running: dict[WorkUnit, set[tuple]] = {}
    while True:
        while len(running) < executor.capacity():
            claimed = _claim_unit(store, pending, running, saved, engine, executor, owner)
            if claimed is None:
                break
            unit, stored_before = claimed
            running[unit] = stored_before
            executor.submit(unit)
        if not running:
            if not [t for t in pending if t.key not in store.stored_keys(pending)]:
                return
            reporter.waiting(store.claims())  # everything left is being trained by other live runs
            time.sleep(WAIT_S)
            continue
        for item in executor.collect():
            if isinstance(item, UnitDone):
                _remove_checkpoints(ctx, item.unit)
                running.pop(item.unit, None)
                continue
            if any(item.trial.key in before for before in running.values()):
                continue  # a resumed unit yields again what was stored before it stopped
            stored = store.add(item)
            if stored:
                outcome.stored += 1
                outcome.diverged += item.status == "diverged"
                outcome.failed += item.status == "failed"
            else:
                outcome.stored_elsewhere += 1
            reporter.trial_done(item, stored)


def _claim_unit(
    store: ResultStore, pending: list[Trial], running: dict[WorkUnit, set[tuple]], saved: list[WorkUnit],
    engine: Engine, executor: Executor, owner: Owner,
) -> tuple[WorkUnit, set[tuple]] | None:  # fmt: skip
    """The next unit to submit, claimed in the store with the keys of its trials already
    stored; None when every trial left is stored, running here or claimed by another run."""
    ctx = executor.ctx
    while True:
        free = store.unclaimed(pending)  # the units running here are claimed: not among them
        if not free:
            return None
        free_keys = {t.key for t in free}
        resumable = [u for u in saved if {t.key for t in u.trials} & free_keys]
        if resumable:
            unit = resumable[0]
        else:
            idle = executor.capacity() - len(running)
            unit = engine.plan(free, ctx, executor.memory_budget(), workers=idle)[0]
        stored_before = store.stored_keys(unit.trials)
        if not store.claim([t for t in unit.trials if t.key not in stored_before], owner, LEASE_S):
            continue  # another run claimed part of it first: plan again
        if resumable:
            saved.remove(unit)
        elif ctx.checkpoint_dir is not None:
            write_manifest(ctx.checkpoint_dir, unit)
        return unit, stored_before


def _remove_checkpoints(ctx: TrainContext, unit: WorkUnit) -> None:
    """A finished unit's checkpoint and manifest, and those of the one-trial units a
    failing population was retrained as (see actbench.run.executors.local)."""
    remove_unit_checkpoint(ctx.checkpoint_dir, unit)
    if len(unit.trials) > 1:
        for trial in unit.trials:
            remove_unit_checkpoint(ctx.checkpoint_dir, WorkUnit("sequential", (trial,)))
