"""From the results store to report data: summaries and comparisons, per task.

Reporting never trains. This module reads the store and computes with
``actbench.report.stats``; ``tables`` and ``figures`` render what it builds, ``writers``
writes the files. A task stored under several hyperparameter sets gets one report per
set, named by its protocol hash, so that different protocols are never averaged together;
a tuned run (each activation at its own chosen settings) is one protocol. Trials measured
on the validation split are actbench tune's, reported by it, and left out here.

Nor are two definitions of one activation pooled (trials.definition, see
actbench.activations.identity): an activation whose trials of one protocol were made by
several recorded definitions becomes one row per definition, ``gelu [def 1a2b3c4d]``
(and ``gelu [def unknown]`` for its trials stored before schema 6); trials stored before
schema 6 beside a single recorded definition are pooled with it, and a notice says so. A
plug-in's versions are apart already, by the @version in their names. A report whose trials come from several
actbench code revisions says so in its notices.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import pandas as pd

from actbench.activations.identity import DEFINITION_LABEL, VERSION_DIGITS, definition_label
from actbench.activations.registry import default_baseline, names_stored
from actbench.api import TUNED_KEY, EvaluationAxis, Metric, protocol_hash
from actbench.bounds import require_positive
from actbench.errors import UsageError
from actbench.report import cost, stats
from actbench.report.formats import FORMATS, ON_REQUEST
from actbench.report.metrics import (
    TEST_ACC,
    check_target,
    comparable_metrics,
    evaluation_axis,
    known_metrics,
    per_epoch,
)
from actbench.results.store import ResultStore
from actbench.tasks import TASKS

PAIRS = ("baseline", "all")


@dataclass(frozen=True)
class CompareSpec:
    """What the comparison table compares: a metric, against a baseline, at a level alpha."""

    metric: str | None = None  # a comparable metric's name; None: the task's headline
    baseline: str | None = None  # canonical spec; None: relu when stored, else the first activation
    alpha: float = 0.05
    margin: float | None = None  # equivalence margin (TOST), in the metric's unit; None: no equivalence test
    pairs: str = "baseline"  # "baseline": each against the baseline; "all": also every pair, and a ranking
    formats: frozenset[str] = frozenset(FORMATS.names()) - ON_REQUEST  # which files to write; html, pdf when asked
    # The value of the compared metric's per-epoch series to reach, by task ("*": every task
    # without its own): a test accuracy (%) to reach, or where lower is better (a loss) one to
    # get down to; the epochs and seconds each trial took to get there (actbench.report.cost);
    # None: not asked for.
    targets: dict[str, float] | None = None

    def target(self, task: str) -> float | None:
        if not self.targets:
            return None
        return self.targets.get(task, self.targets.get("*"))

    def __post_init__(self) -> None:
        if not self.formats:
            raise UsageError(f"no format given; choose from: {', '.join(FORMATS.names())}")
        object.__setattr__(self, "formats", frozenset(FORMATS.primary(f) for f in sorted(self.formats)))
        if self.metric is not None and self.metric not in known_metrics():
            raise UsageError(f"unknown metric {self.metric!r}; choose from: {', '.join(known_metrics())}")
        if self.pairs not in PAIRS:
            raise UsageError(f"unknown --pairs {self.pairs!r}; choose from: {', '.join(PAIRS)}")
        if not 0 < self.alpha < 1:
            raise UsageError(f"alpha must be between 0 and 1, got {self.alpha!r}")
        require_positive("--margin", self.margin)


@dataclass(frozen=True)
class Tuned:
    """A tuned run's settings: what actbench tune chose per activation, on its validation split."""

    by: str  # the tuning's id (RESULTS/TASK/tune-ID.md)
    keys: tuple[str, ...]  # the hyperparameters chosen per activation
    settings: dict[str, dict]  # activation -> {key: value}


@dataclass
class TaskReport:
    """The report of one task under one protocol: a hyperparameter set, or a tuned run."""

    task: str
    config_hash: str  # the protocol's hash (actbench.api.protocol_hash): the config hash unless tuned
    hparams: dict  # shared by every activation (a tuned run's per-activation settings are in ``tuned``)
    task_metrics: tuple[Metric, ...]  # what the task records beyond loss and accuracy
    summary: pd.DataFrame  # stats.summarise rows of this task and config
    curves: pd.DataFrame  # stats.mean_curves rows of this task and config, of the compared metric's series
    spec: CompareSpec
    compared: Metric  # the metric compared: spec.metric, or the task's headline
    baseline: str
    values: pd.DataFrame  # per finished trial: activation, seed, value (the metric), wall_time_s, engine
    comparisons: list[stats.Comparison]
    pairs: list[stats.PairComparison]  # every pair, with --pairs all; else empty
    trial_ids: list[int]  # the store's trials this report shows
    tuned: Tuned | None = None
    # cost.summarise_time_to_target per activation, when spec.target(task) is set
    time_to_target: pd.DataFrame | None = None
    axis: EvaluationAxis = EvaluationAxis("epoch")  # where the evaluation points (the store's epochs) lie
    # Sentences a reader must see before trusting the tables (e.g. rows whose trials come from
    # different code), shown under every table's title in every format.
    notices: list[str] = field(default_factory=list)

    @property
    def title(self) -> str:
        label = f", tuned: {'/'.join(self.tuned.keys)} per activation" if self.tuned else ""
        return f"{self.task} [{self.config_hash[:8]}{label}]"

    @property
    def metric(self) -> str:
        return self.compared.name

    @property
    def series(self) -> Metric:
        """The per-epoch metric behind the compared one: what the curves plot and --target is reached on."""
        return per_epoch(self.compared)

    def headline(self, warning: str = "") -> list[str]:
        """The sentences shown under every table's title: the notices, then ``warning``."""
        return [*self.notices, *([warning] if warning else [])]


def _baseline(spec: CompareSpec, available: list[str], where: str) -> str:
    if spec.baseline is None:
        return default_baseline(available)
    if spec.baseline in available:
        return spec.baseline
    named = [act for act in available if _names(spec.baseline, act)]
    if len(named) > 1:
        raise UsageError(
            f"baseline {spec.baseline} names {len(named)} activations in {where}: {', '.join(named)}; give one of them"
        )
    if not named:
        raise UsageError(f"baseline {spec.baseline} has no finished trials in {where}; it has: {', '.join(available)}")
    return named[0]


def _names(item: str, label: str) -> bool:
    """Whether a --acts or --baseline item (actbench.activations.stored_spec) names the report
    row ``label``: exactly, every definition of it, or a plug-in's versions and settings as
    names_stored matches them (``myact:X`` names every stored version)."""
    activation = DEFINITION_LABEL.sub("", label)
    return item in (label, activation) or names_stored(item, activation)


def _label_definitions(trials: pd.DataFrame) -> pd.DataFrame:
    """``trials`` with each activation relabelled by definition where one (task, protocol)
    holds its trials from several recorded definitions (then an unrecorded one is a row of
    its own too); the name stored stays in ``stored_as``. Trials stored before definitions
    were recorded (schema < 6) beside trials of one recorded definition are not split off:
    an upgrade would otherwise unpair every study it continues. They are pooled, and the
    report says so (_definitions_notices)."""
    keys = [trials["task"], trials["protocol"], trials["activation"]]
    mixed = trials["definition"].groupby(keys).transform("nunique") > 1  # nunique leaves NULL out
    labels = [
        definition_label(act, recorded if isinstance(recorded, str) else None) if split else act
        for act, recorded, split in zip(trials["activation"], trials["definition"], mixed)
    ]
    return trials.assign(stored_as=trials["activation"], activation=labels)


def _definitions_notices(group: pd.DataFrame) -> list[str]:
    """A sentence on each activation of one report whose trials come from several definitions,
    and on each whose trials of one recorded definition are pooled with unrecorded ones."""
    notices = []
    for act, mine in group[group["activation"] == group["stored_as"]].groupby("activation", sort=False):
        unrecorded, recorded = int(mine["definition"].isna().sum()), mine["definition"].dropna()
        if unrecorded and len(recorded):
            notices.append(
                f"{act}: {unrecorded} trial{'s' * (unrecorded != 1)} stored before actbench recorded definitions "
                f"are pooled with {len(recorded)} of definition {recorded.iloc[0][:VERSION_DIGITS]}, on the "
                f"assumption that it did not change."
            )
    for stored_as, mine in group[group["activation"] != group["stored_as"]].groupby("stored_as", sort=False):
        counts = mine.groupby("activation", sort=False).size()
        rows = ", ".join(f"{label} ({n} trial{'s' * (n != 1)})" for label, n in counts.items())
        unrecorded = mine["definition"].isna().any()
        unknown = " ('def unknown': stored before actbench recorded definitions)" if unrecorded else ""
        notices.append(
            f"{stored_as} was trained under {len(counts)} definitions, shown as separate rows, "
            f"never pooled: {rows}{unknown}."
        )
    return notices


def _revisions_notice(group: pd.DataFrame) -> str | None:
    """The sentence on a report whose trials come from several code revisions, or None:
    each revision (shortened), the activations it made and its number of trials."""
    revisions = group["code_revision"].where(group["code_revision"].notna(), "unknown")
    if revisions.nunique() < 2:
        return None
    parts = []
    for revision, made in group.groupby(revisions, sort=False):
        acts = ", ".join(dict.fromkeys(made["activation"]))
        parts.append(f"{_short_revision(revision)} ({acts}: {len(made)} trial{'s' * (len(made) != 1)})")
    return f"Trials from {len(parts)} code revisions: {', '.join(parts)}."


def _short_revision(revision: str) -> str:
    """A code revision (actbench.run.provenance) with each hash cut to VERSION_DIGITS hex digits."""
    return re.sub(r"[0-9a-f]{9,}", lambda m: m[0][:VERSION_DIGITS], revision)


def _task_declaration(task: str) -> tuple[tuple[Metric, ...], str]:
    """(metrics, headline) of a stored task; a task this release no longer has keeps its
    loss and accuracy, compared by final accuracy."""
    if task not in TASKS:
        return (), "final_acc"
    declared = TASKS.get(task)
    return declared.metrics, declared.headline


def _compared(spec: CompareSpec, task: str, task_metrics: tuple[Metric, ...], headline: str) -> Metric:
    comparable = comparable_metrics(task_metrics)
    name = spec.metric or headline
    if name not in comparable:
        raise UsageError(f"task {task} records no metric {name!r}; compare one of: {', '.join(comparable)}")
    return comparable[name]


def _tuned(group: pd.DataFrame) -> tuple[dict, Tuned | None]:
    """(the shared hyperparameters, the tuned settings or None) of one protocol's trials
    (their ``settings`` column: the parsed hyperparameters)."""
    per_activation = dict(zip(group["activation"], group["settings"]))
    first = next(iter(per_activation.values()))
    if TUNED_KEY not in first:
        return first, None
    keys = tuple(first[TUNED_KEY]["keys"])
    shared = {k: v for k, v in first.items() if k not in keys and k != TUNED_KEY}
    settings = {act: {k: hp[k] for k in keys if k in hp} for act, hp in per_activation.items()}
    return shared, Tuned(first[TUNED_KEY]["by"], keys, settings)


def _nothing_to_report(
    store: ResultStore, stored: pd.DataFrame, tuning: pd.Series, task: str | None, activations: list[str] | None
) -> str:
    """Why a report has no trials, and what the store does hold: the tasks of its compared
    trials, or that those asked for exist only as tuning trials."""
    what = " and ".join(filter(None, [task and f"task {task}", activations and "those activations"]))
    asked = stored["task"] == task if task is not None else pd.Series(True, index=stored.index)
    if (tuning & asked).any() and not (~tuning & asked).any():
        held = " (only tuning trials, measured on the validation split: see actbench tune's reports)"
    else:
        counts = stored[~tuning]["task"].value_counts(sort=False)
        held = "; it holds " + ", ".join(f"{name} ({n} trial{'s' * (n != 1)})" for name, n in counts.items())
        if not len(counts):
            tuned_tasks = ", ".join(dict.fromkeys(stored.loc[tuning, "task"]))
            held = (
                f"; it holds only tuning trials, of {tuned_tasks} (see actbench tune's reports)"
                if tuning.any()
                else " (it is empty)"
            )
    return f"no stored trials{' for ' + what if what else ''} in {store.path}{held}"


def build_reports(
    store: ResultStore, task: str | None, activations: list[str] | None, spec: CompareSpec
) -> list[TaskReport]:
    """Summaries and comparisons of the stored trials, one per (task, protocol), filtered by
    task and activations; the tuning trials, measured on the validation split, are left out."""
    trials, epochs = store.trials(), store.epochs()
    trials = trials.assign(settings=trials["hparams"].map(json.loads))  # parsed once, for all below
    tuning = trials["settings"].map(lambda hp: hp.get("split") == "validation")
    stored, trials = trials, trials[~tuning]
    if task is not None:
        trials, epochs = trials[trials["task"] == task], epochs[epochs["task"] == task]
    trials = trials.assign(protocol=[protocol_hash(t, hp) for t, hp in zip(trials["task"], trials["settings"])])
    trials = _label_definitions(trials)  # before the filter: a definition's row is the same whatever is shown
    labels = dict(zip(trials["id"], trials["activation"]))
    epochs = epochs.assign(activation=[labels.get(i, act) for i, act in zip(epochs["trial_id"], epochs["activation"])])
    if activations is not None:
        trials = trials[trials["activation"].map(lambda label: any(_names(item, label) for item in activations))]
        epochs = epochs[epochs["trial_id"].isin(trials["id"])]
    if trials.empty:
        raise UsageError(_nothing_to_report(store, stored, tuning, task, activations))
    reports = []
    for (task_name, protocol), group in trials.groupby(["task", "protocol"], sort=False):
        task_metrics, headline = _task_declaration(task_name)
        rows = epochs[epochs["trial_id"].isin(group["id"])]
        # Per-trial metrics and mean curves once, for the summary and the comparisons alike.
        metrics = stats.per_trial(rows, task_metrics).merge(
            group[["id", "wall_time_s", "engine"]], left_on="trial_id", right_on="id"
        )
        accuracy = stats.mean_curves(rows)
        summary = stats.count_failed(stats.summarise(metrics, accuracy, task_metrics), group)
        compared = _compared(spec, task_name, task_metrics, headline)
        series = per_epoch(compared)
        curves = accuracy if series is TEST_ACC else stats.mean_curves(rows, series.name)
        finished = metrics[metrics["status"] == "ok"]
        values = finished.rename(columns={compared.name: "value"})[
            ["activation", "seed", "value", "wall_time_s", "engine"]
        ]
        order = {act: i for i, act in enumerate(summary["activation"])}  # the summary's order
        values = values.sort_values("activation", key=lambda a: a.map(order), kind="stable")
        available = list(dict.fromkeys(values["activation"]))
        baseline = _baseline(spec, available, f"{task_name} [{protocol[:8]}]") if available else ""
        shared, tuned = _tuned(group)
        target = spec.target(task_name)
        to_target = None
        if target is not None:
            check_target(series, target)
            per_trial = cost.time_to_target(rows, group, target, series.name, series.higher_is_better)
            to_target = cost.summarise_time_to_target(per_trial, list(summary["activation"]))
        reports.append(
            TaskReport(
                task=task_name,
                config_hash=protocol,
                hparams=shared,
                task_metrics=task_metrics,
                summary=summary,
                curves=curves,
                spec=spec,
                compared=compared,
                baseline=baseline,
                values=values,
                comparisons=stats.compare_to_baseline(values, baseline, spec.alpha, spec.margin) if available else [],
                pairs=stats.compare_all_pairs(values, spec.alpha) if available and spec.pairs == "all" else [],
                trial_ids=group["id"].tolist(),
                tuned=tuned,
                time_to_target=to_target,
                axis=evaluation_axis(task_name, shared),
                notices=_definitions_notices(group) + list(filter(None, [_revisions_notice(group)])),
            )
        )
    return reports
