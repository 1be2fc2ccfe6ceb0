"""The terminal view of a run: a rich progress display on stderr, or silence with -q."""

from __future__ import annotations

import time

import pandas as pd
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from actbench.api import EpochMetrics, Trial, TrialResult
from actbench.run.config import RunConfig
from actbench.run.runner import Resumption, RunOutcome


class QuietReporter:
    def started(self, config: RunConfig, pending: list[Trial], outcome: RunOutcome, where: str | None) -> None:
        pass

    def resuming(self, config: RunConfig, resumption: Resumption) -> None:
        pass

    def trial_started(self, trial: Trial) -> None:
        pass

    def epoch_done(self, trial: Trial, metrics: EpochMetrics) -> None:
        pass

    def trial_done(self, result: TrialResult, stored: bool) -> None:
        pass

    def waiting(self, claims: pd.DataFrame) -> None:
        pass

    def close(self) -> None:
        pass


def describe_resumption(resumption: Resumption, epochs: float) -> str:
    """'resuming: 2 stored trial(s) skipped, 4 trial(s) in flight resume after epoch 2 of 3'."""
    parts = [f"{resumption.skipped} stored trial(s) skipped"] if resumption.skipped else []
    if resumption.at_epoch:
        first, last = min(resumption.at_epoch), max(resumption.at_epoch)
        after = f"epoch {first}" if first == last else f"epochs {first}-{last}"
        parts.append(f"{sum(resumption.at_epoch.values())} trial(s) in flight resume after {after} of {epochs:g}")
    if resumption.restarted:
        parts.append(f"{resumption.restarted} trial(s) in flight start over (no epoch of theirs was checkpointed)")
    return "resuming: " + ", ".join(parts)


def describe_claims(claims: pd.DataFrame) -> str:
    """'3 trial(s) claimed by vm:4242:1a2b3c4d (lease renewed 4 s ago)', one part per owner."""
    now = time.time()
    parts = []
    for owner, rows in claims.groupby("owner", sort=False):
        renewed = now - rows["renewed_at"].max()
        parts.append(f"{len(rows)} trial(s) claimed by {owner} (lease renewed {max(renewed, 0):.0f} s ago)")
    return "; ".join(parts)


class RichReporter(QuietReporter):
    """Trials done/total, the trial(s) in flight and their epoch, and an ETA counted in
    trial-epochs (finer than trials, so it settles after the first few epochs)."""

    def __init__(self, console: Console):
        self.console = console
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[trials]}"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        )
        self.bar: TaskID | None = None
        self.done = 0
        self.pending = 0
        self.epochs = 1
        self.in_flight: dict[Trial, int] = {}  # trial -> epochs it has finished
        self._waited_on: tuple[str, ...] = ()  # the owners of the claims last waited on

    def started(self, config: RunConfig, pending: list[Trial], outcome: RunOutcome, where: str | None) -> None:
        on = f" on {where}" if where else ""
        self.console.print(
            f"{config.task}: {len(config.activations)} activation(s) x {len(config.seeds)} seed(s) "
            f"= {outcome.total} trials; {outcome.skipped} already stored (skipped), "
            f"{len(pending)} to run{on} ({config.engine} engine); results in {config.results_dir}",
            markup=False,
            highlight=False,
        )
        if pending:
            self.pending, self.epochs = len(pending), config.hparams["epochs"]
            self.progress.start()
            self.bar = self.progress.add_task("", total=len(pending) * self.epochs, trials="")

    def resuming(self, config: RunConfig, resumption: Resumption) -> None:
        self.progress.console.print(
            describe_resumption(resumption, config.hparams["epochs"]), markup=False, highlight=False
        )

    def _update(self) -> None:
        if len(self.in_flight) == 1:
            trial, epoch = next(iter(self.in_flight.items()))
            doing = f"{escape(trial.activation)} seed {trial.seed} epoch {epoch}/{self.epochs}"
        elif self.in_flight:
            doing = f"{len(self.in_flight)} trials at once, epoch {min(self.in_flight.values())}/{self.epochs}"
        else:
            doing = ""
        self.progress.update(
            self.bar,
            description=doing,
            trials=f"trials done {self.done}/{self.pending}",
            completed=self.done * self.epochs + sum(self.in_flight.values()),
        )

    def trial_started(self, trial: Trial) -> None:
        self.in_flight[trial] = 0
        self._update()

    def epoch_done(self, trial: Trial, metrics: EpochMetrics) -> None:
        self.in_flight[trial] = metrics.epoch
        self._update()

    def trial_done(self, result: TrialResult, stored: bool) -> None:
        self.done += 1
        self.in_flight.pop(result.trial, None)
        self._update()
        trial = result.trial
        if result.status == "failed":
            outcome = f"[red]failed after {len(result.epochs)} epoch(s): {escape(result.error or '')}[/red]"
        elif result.status == "diverged":
            outcome = f"[red]diverged at epoch {result.diverged_epoch}[/red]"
        else:
            measured_on = "validation" if trial.hparams.get("split") == "validation" else "test"
            outcome = f"{measured_on} acc {result.epochs[-1].test_acc:.2f}%"
        note = "" if stored else " (already stored by another process; kept that one)"
        self.progress.console.print(
            f"{escape(trial.activation)} seed {trial.seed}: {outcome} in {result.wall_time_s:.1f} s{note}",
            markup=True,
            highlight=False,
        )

    def waiting(self, claims: pd.DataFrame) -> None:
        """Said once per set of owners waited on, not at every look."""
        owners = tuple(sorted(set(claims["owner"])))
        if owners != self._waited_on:
            self._waited_on = owners
            self.progress.console.print(
                f"waiting: {describe_claims(claims)}; a run that stops has its trials taken over",
                markup=False,
                highlight=False,
            )

    def close(self) -> None:
        if self.bar is not None:  # a display that never started would print an empty line on stop
            self.progress.stop()
