"""Reports from the results store: summaries, comparisons and figures, per task.

Reporting never trains. It reads the store, computes with ``actbench.stats``, renders
with ``actbench.tables`` and ``actbench.figures``, and writes into ``<results>/<task>/``
(or ``--out``): summary.*, compare.* (every activation against a baseline), pairs.*
(with --pairs all) and the figures. A task stored under several hyperparameter sets gets
one set of files per set, named by its config hash, so that different protocols are
never averaged together.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from actbench import stats
from actbench.errors import UsageError
from actbench.figures import plot_cost, plot_curves, plot_differences, plot_seeds
from actbench.store import ResultStore
from actbench.tables import comparison_markdown, pairs_markdown, ranking, to_latex, to_markdown, verdict

FORMATS = frozenset({"md", "csv", "tex", "json", "png", "svg"})


@dataclass(frozen=True)
class CompareSpec:
    """What the comparison table compares: a metric, against a baseline, at a level alpha."""

    metric: str | None = None  # a key of stats.METRICS; None: tta_acc where the task has it, else final_acc
    baseline: str | None = None  # canonical spec; None: relu when stored, else the first activation
    alpha: float = 0.05
    pairs: str = "baseline"  # "baseline": each against the baseline; "all": also every pair, and a ranking
    formats: frozenset[str] = FORMATS  # which files to write

    def __post_init__(self) -> None:
        unknown = sorted(set(self.formats) - FORMATS)
        if unknown or not self.formats:
            raise UsageError(f"unknown format {', '.join(map(repr, unknown)) or '(none)'}; choose from: {', '.join(sorted(FORMATS))}")
        if self.metric is not None and self.metric not in stats.METRICS:
            raise UsageError(f"unknown metric {self.metric!r}; choose from: {', '.join(stats.METRICS)}")
        if self.pairs not in ("baseline", "all"):
            raise UsageError(f"unknown --pairs {self.pairs!r}; choose from: baseline, all")
        if not 0 < self.alpha < 1:
            raise UsageError(f"alpha must be between 0 and 1, got {self.alpha!r}")


@dataclass
class TaskReport:
    """The report of one task under one hyperparameter set."""

    task: str
    config_hash: str
    hparams: dict
    summary: pd.DataFrame  # stats.summarise rows of this task and config
    curves: pd.DataFrame  # stats.mean_curves rows of this task and config
    spec: CompareSpec
    metric: str  # the metric compared: spec.metric, or the task's headline
    baseline: str
    values: pd.DataFrame  # per finished trial: activation, seed, value (the metric), wall_time_s, engine
    comparisons: list[stats.Comparison]
    pairs: list[stats.PairComparison]  # every pair, with --pairs all; else empty
    files: list[Path]

    @property
    def title(self) -> str:
        return f"{self.task} [{self.config_hash[:8]}]"


def write_comparison(report: TaskReport, stem: Path) -> list[Path]:
    """compare.md (the table and its method), compare.csv and compare.json (every number)."""
    _, higher = stats.METRICS[report.metric]
    frame = stats.comparisons_frame(report.comparisons)
    frame["verdict"] = [verdict(c, higher) for c in report.comparisons]
    meta = {
        "task": report.task, "config_hash": report.config_hash, "metric": report.metric,
        "metric_label": stats.METRICS[report.metric][0], "baseline": report.baseline,
        "alpha": report.spec.alpha, "bootstrap": {"method": "BCa", "resamples": stats.BOOTSTRAP_RESAMPLES,
        "seed": stats.BOOTSTRAP_SEED, "confidence": 0.95}, "holm_over": "p_ttest",
    }  # fmt: skip
    records = json.loads(frame.to_json(orient="records"))  # NaN -> null
    texts = {
        "md": lambda: comparison_markdown(report),
        "csv": lambda: frame.to_csv(index=False, float_format="%.6g"),
        "json": lambda: json.dumps({**meta, "rows": records}, indent=2) + "\n",
    }
    return _write_texts(stem, texts, report.spec.formats)


def write_pairs(report: TaskReport, stem: Path) -> list[Path]:
    """pairs.md (matrix and ranking), pairs.csv (every pair's numbers) and pairs.json (both)."""
    ranks = ranking(report)
    frame = pd.DataFrame([asdict(p) for p in report.pairs])
    saved = {
        "task": report.task, "config_hash": report.config_hash, "metric": report.metric,
        "alpha": report.spec.alpha, "holm_over": "p_ttest of all pairs",
        "ranking": [{"activation": a, "rank": r, "tied": t} for a, r, t in ranks],
        "pairs": json.loads(frame.to_json(orient="records")),
    }  # fmt: skip
    texts = {
        "md": lambda: pairs_markdown(report),
        "csv": lambda: frame.to_csv(index=False, float_format="%.6g"),
        "json": lambda: json.dumps(saved, indent=2) + "\n",
    }
    return _write_texts(stem, texts, report.spec.formats)


def _baseline(spec: CompareSpec, available: list[str], where: str) -> str:
    if spec.baseline is None:
        return "relu" if "relu" in available else available[0]
    if spec.baseline not in available:
        raise UsageError(
            f"baseline {spec.baseline} has no finished trials in {where}; it has: {', '.join(available)}"
        )
    return spec.baseline


def _metric(spec: CompareSpec, finished: pd.DataFrame, task: str) -> str:
    """The metric to compare: the one asked for, else the task's headline (the accuracy with
    test-time augmentation where the task has it, as airbench reports, else the final one)."""
    has_tta = finished["tta_acc"].notna().any()
    if spec.metric == "tta_acc" and not finished.empty and not has_tta:
        raise UsageError(f"task {task} has no test-time augmentation: compare final_acc instead of tta_acc")
    return spec.metric or ("tta_acc" if has_tta else "final_acc")


def build_reports(
    store: ResultStore, task: str | None, activations: list[str] | None, spec: CompareSpec
) -> list[TaskReport]:
    """Summaries and comparisons of the stored trials, one per (task, config), filtered by
    task and activations."""
    trials, epochs = store.trials(), store.epochs()
    if task is not None:
        trials, epochs = trials[trials["task"] == task], epochs[epochs["task"] == task]
    if activations is not None:
        trials = trials[trials["activation"].isin(activations)]
        epochs = epochs[epochs["activation"].isin(activations)]
    if trials.empty:
        what = " and ".join(filter(None, [task and f"task {task}", activations and "those activations"]))
        raise UsageError(f"no stored trials{' for ' + what if what else ''} in {store.path}")
    # Per-trial metrics and mean curves once, for the summary and the comparisons alike.
    metrics = stats.per_trial(epochs).merge(trials[["id", "wall_time_s", "engine"]], left_on="trial_id", right_on="id")
    curves = stats.mean_curves(epochs)
    summary = stats.summarise(metrics, curves)
    finished = metrics[metrics["status"] == "ok"]
    reports = []
    for (task_name, config_hash), group in summary.groupby(["task", "config_hash"], sort=False):
        hparams = json.loads(trials.loc[trials["config_hash"] == config_hash, "hparams"].iloc[0])
        rows = finished[(finished["task"] == task_name) & (finished["config_hash"] == config_hash)]
        metric = _metric(spec, rows, task_name)
        values = rows.rename(columns={metric: "value"})[["activation", "seed", "value", "wall_time_s", "engine"]]
        order = {act: i for i, act in enumerate(group["activation"])}  # the summary's order
        values = values.sort_values("activation", key=lambda a: a.map(order), kind="stable")
        available = list(dict.fromkeys(values["activation"]))
        baseline = _baseline(spec, available, f"{task_name} [{config_hash[:8]}]") if available else ""
        reports.append(
            TaskReport(
                task=task_name,
                config_hash=config_hash,
                hparams=hparams,
                summary=group.reset_index(drop=True),
                curves=curves[(curves["task"] == task_name) & (curves["config_hash"] == config_hash)],
                spec=spec,
                metric=metric,
                baseline=baseline,
                values=values,
                comparisons=stats.compare_to_baseline(values, baseline, spec.alpha) if available else [],
                pairs=stats.compare_all_pairs(values, spec.alpha) if available and spec.pairs == "all" else [],
                files=[],
            )
        )
    return reports


def write_report(report: TaskReport, folder: Path, several_configs: bool) -> None:
    """Write the requested formats of summary, compare, pairs and the figures into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    formats = report.spec.formats
    suffix = f"-{report.config_hash[:8]}" if several_configs else ""
    summary = json.loads(report.summary.to_json(orient="records"))  # NaN -> null
    texts = {
        "md": lambda: to_markdown(report),
        "csv": lambda: report.summary.to_csv(index=False, float_format="%.6g"),
        "tex": lambda: to_latex(report),
        "json": lambda: json.dumps({"task": report.task, "config_hash": report.config_hash,
                                    "hparams": report.hparams, "rows": summary}, indent=2) + "\n",  # fmt: skip
    }
    report.files = _write_texts(folder / f"summary{suffix}", texts, formats)
    if formats & {"png", "svg"}:
        report.files += plot_curves(report, folder / f"curves{suffix}")
    if report.comparisons:
        report.files += write_comparison(report, folder / f"compare{suffix}")
        if formats & {"png", "svg"}:
            report.files += plot_seeds(report, folder / f"seeds{suffix}")
            report.files += plot_cost(report, folder / f"cost{suffix}")
            if len(report.comparisons) > 1:
                report.files += plot_differences(report, folder / f"differences{suffix}")
    if report.pairs:
        report.files += write_pairs(report, folder / f"pairs{suffix}")


def _write_texts(stem: Path, texts: dict, formats: frozenset[str]) -> list[Path]:
    """Write ``stem.EXT`` for each requested EXT of ``texts`` (EXT -> a function giving the text)."""
    paths = []
    for ext, text in texts.items():
        if ext in formats:
            path = stem.with_suffix(f".{ext}")
            path.write_text(text())
            paths.append(path)
    return paths


def make_reports(
    results_dir: Path, task: str | None, activations: list[str] | None, spec: CompareSpec, out: Path | None = None
) -> list[TaskReport]:
    """Build and write the reports: into ``out/<task>/`` when given, else ``results_dir/<task>/``."""
    with ResultStore(results_dir, create=False) as store:
        reports = build_reports(store, task, activations, spec)
    for report in reports:
        several = sum(r.task == report.task for r in reports) > 1
        write_report(report, (out or results_dir) / report.task, several)
    return reports
