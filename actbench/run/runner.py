"""The driver of a run: the one place that connects training to the results store.

It skips trials already stored, has the executor load the data before any training (so
a missing file fails in a second, not after an hour), then repeatedly: has the engine
batch the trials nobody has claimed into units of work, claims units in the store until
the executor has as many as it can run at once (one locally, one per worker slot on a
Ray cluster), and commits each result the moment it comes back. Several runs on one
results folder thus split the work; a run that finds everything left claimed by live
runs waits for them, and takes over what a dead one leaves (its lease lapses).

Each stored trial records what defined its activation (actbench.activations.identity),
computed here on the CPU before anything trains. A plug-in's version is in its spec, so an
edited plug-in is new trials; a built-in's is not, so a run whose built-in computes
something other than what made its stored trials (another actbench release changed it)
stops before training: resuming would pool the two under one name.

A run that finds units a stopped run left in flight says so (``Reporter.resuming``): how
many stored trials it skips, and after which epoch their checkpoints let the others go
on. With ``config.threads`` set, torch trains here with that many intra-op threads, and
gets its own number back after.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import pandas as pd
import torch

from actbench.activations import parse_activation
from actbench.activations.identity import VERSION_DIGITS, definition
from actbench.api import EpochMetrics, TrainContext, Trial, TrialResult, WorkUnit
from actbench.errors import ActbenchError
from actbench.results.store import Owner, ResultStore, network_filesystem
from actbench.run.checkpoints import (
    CheckpointWarning,
    EngineCheckpoint,
    remove_unit_checkpoint,
    saved_units,
    unit_checkpoint,
    write_manifest,
)
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


@dataclass
class Resumption:
    """What a run takes up from one that stopped: the checkpoints of its units in flight."""

    skipped: int  # trials already stored
    at_epoch: dict[int, int] = field(default_factory=dict)  # last checkpointed epoch -> trials resuming after it
    restarted: int = 0  # trials in flight whose unit saved no usable checkpoint: they start over


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

    def resuming(self, config: RunConfig, resumption: Resumption) -> None:
        """Said after ``started`` when a stopped run left units in flight."""

    def trial_started(self, trial: Trial) -> None: ...
    def epoch_done(self, trial: Trial, metrics: EpochMetrics) -> None: ...
    def trial_done(self, result: TrialResult, stored: bool) -> None: ...
    def waiting(self, claims: pd.DataFrame) -> None: ...


def execute(config: RunConfig, reporter: Reporter) -> RunOutcome:
    """Run every trial of ``config`` not yet in its results store."""
    trials = config.trials()
    definitions = {act: definition(parse_activation(act)) for act in config.activations}
    with ResultStore(config.results_dir) as store:
        if kind := network_filesystem(config.results_dir):
            warnings.warn(
                f"{config.results_dir} is on {kind}: SQLite's locking is not reliable on network filesystems, "
                "so runs sharing this folder may corrupt it; keep the results folder on a local disk",
                stacklevel=2,
            )
        _check_definitions(config, store, trials, definitions)
        done = store.stored_keys(trials)
        pending = [t for t in trials if t.key not in done]
        outcome = RunOutcome(total=len(trials), skipped=len(trials) - len(pending))
        if not pending:
            reporter.started(config, pending, outcome, None)
            return outcome
        checkpoints = config.checkpoints
        ctx = TrainContext(config.device, config.data_dir, config.verify, config.compile, checkpoints)
        saved = _saved_units(checkpoints, store, pending)
        owner = Owner.this_process()
        executor = None
        try:
            setup = ExecutorSetup(ctx, config.executor_options, config.activations, config.memory_budget)
            executor = EXECUTORS.get(config.executor)(setup, reporter.trial_started, reporter.epoch_done)
            reporter.started(config, pending, outcome, executor.description)
            resumption = _resumption(ctx, store, pending, saved, outcome.skipped)
            if resumption is not None:
                reporter.resuming(config, resumption)
            with torch_threads(config.threads):
                executor.prepare(get_task(config.task), pending[0].hparams)  # data-related settings are shared by all
                with LeaseKeeper(config.results_dir, owner):
                    _train_pending(config, store, pending, executor, owner, reporter, outcome, definitions, saved)
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


@contextlib.contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """torch's intra-op threads set to ``threads`` inside, and restored after (the library is
    used from notebooks too); None: left as they are."""
    if threads is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _saved_units(checkpoints: Path | None, store: ResultStore, pending: list[Trial]) -> list[WorkUnit]:
    """The units a stopped run left manifests of that are made of this run's trials (stored
    ones too: diverged population members), oldest first."""
    wanted = {t.key for t in pending}
    return [
        unit
        for unit in saved_units(checkpoints)
        if {t.key for t in unit.trials} <= wanted | store.stored_keys(unit.trials)
    ]


def _resumption(
    ctx: TrainContext, store: ResultStore, pending: list[Trial], saved: list[WorkUnit], skipped: int
) -> Resumption | None:
    """Where the trials of ``saved`` that no live run has claimed take up: after the last
    epoch their unit's checkpoint holds, or from scratch without one; None: none to take up."""
    if not saved:
        return None
    resumption = Resumption(skipped)
    free = {t.key for t in store.unclaimed(pending)}
    for unit in saved:
        in_flight = [t for t in unit.trials if t.key in free]
        if not in_flight:
            continue
        timed = EngineCheckpoint(unit_checkpoint(ctx, unit), clock=lambda: 0.0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CheckpointWarning)  # said once, when the unit itself loads it
            usable = timed.load() is not None
        if not usable:
            resumption.restarted += len(in_flight)
            continue
        # A task saves its state after an epoch, then yields the epoch's metrics, which the
        # engine stamps (actbench.api.Checkpoint): the saved stamps end one epoch before the state.
        members = {(t.activation, t.seed) for t in in_flight}
        last = max((n for act, seed, n in timed.at_epoch if (act, seed) in members), default=0) + 1
        resumption.at_epoch[last] = resumption.at_epoch.get(last, 0) + len(in_flight)
    return resumption if resumption.at_epoch or resumption.restarted else None


def _check_definitions(config: RunConfig, store: ResultStore, trials: list[Trial], definitions: dict[str, str]) -> None:
    """ActbenchError if trials of this run's (task, activation, hyperparameters) are stored
    with a recorded definition other than the activation's now: this run would skip them,
    or add seeds to them, as if they were the same activation."""
    for (task, activation, _), found in store.stored_definitions(trials).items():
        current = definitions[activation]
        other = sorted(d for d in found if d is not None and d != current)
        if other:
            count = sum(found[d] for d in other)
            raise ActbenchError(
                f"{activation}: {count} trial(s) of {task} stored in {config.results_dir} were made by definition "
                f"{', '.join(d[:VERSION_DIGITS] for d in other)}, this actbench's {activation} is "
                f"{current[:VERSION_DIGITS]}; a run cannot resume over another definition: "
                "pass a new --results-dir to run this one"
            )


def _train_pending(
    config: RunConfig,
    store: ResultStore,
    pending: list[Trial],
    executor: Executor,
    owner: Owner,
    reporter: Reporter,
    outcome: RunOutcome,
    definitions: dict[str, str],
    saved: list[WorkUnit],
) -> None:
    """Keep the executor's capacity filled with claimed units and commit each result as it
    comes back, until every pending trial is stored, each with its activation's definition
    (``definitions``). The units that a stopped run left checkpoints of (``saved``) come
    first, re-formed as they were."""
    ctx, engine = executor.ctx, ENGINES.get(config.engine)
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
            item = dataclasses.replace(item, definition=definitions[item.trial.activation])
            stored = store.add(item)
            if stored:
                outcome.stored += 1
                outcome.diverged += item.status == "diverged"
                outcome.failed += item.status == "failed"
            else:
                outcome.stored_elsewhere += 1
            reporter.trial_done(item, stored)


def _claim_unit(
    store: ResultStore,
    pending: list[Trial],
    running: dict[WorkUnit, set[tuple]],
    saved: list[WorkUnit],
    engine: Engine,
    executor: Executor,
    owner: Owner,
) -> tuple[WorkUnit, set[tuple]] | None:
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
