"""Tables and figures from the results store: markdown, CSV, JSON, rich tables, PNG and SVG curves.

Reporting never trains. It reads the store, summarises and compares with
``actbench.stats`` and writes into ``<results>/<task>/``: summary.* (means and spreads),
compare.* (every activation against a baseline) and curves.*. A task stored under several hyperparameter sets gets one
table and one figure per set, named by its config hash, so that different protocols are
never averaged together.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402
import pandas as pd  # noqa: E402
from rich.markup import escape  # noqa: E402
from rich.table import Table  # noqa: E402

from actbench import stats  # noqa: E402
from actbench.errors import UsageError  # noqa: E402
from actbench.store import ResultStore  # noqa: E402

# Okabe & Ito (2008): distinguishable with the common colour-vision deficiencies.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
LINESTYLES = ["-", "--", "-.", ":"]

BEST_NOTE = (
    "best epoch = the epoch with the highest *test* accuracy: selected on the test set, "
    "so optimistic; the final-epoch accuracy is the honest headline."
)
SPREAD_NOTE = "mean ± std across seeds (sample std, ddof=1); n = trials that finished without diverging."


FORMATS = frozenset({"md", "csv", "tex", "json", "png", "svg"})


@dataclass(frozen=True)
class CompareSpec:
    """What the comparison table compares: a metric, against a baseline, at a level alpha."""

    metric: str = "final_acc"  # a key of stats.METRICS
    baseline: str | None = None  # canonical spec; None: relu when stored, else the first activation
    alpha: float = 0.05
    pairs: str = "baseline"  # "baseline": each against the baseline; "all": also every pair, and a ranking
    formats: frozenset[str] = FORMATS  # which files to write

    def __post_init__(self) -> None:
        unknown = sorted(set(self.formats) - FORMATS)
        if unknown or not self.formats:
            raise UsageError(f"unknown format {', '.join(map(repr, unknown)) or '(none)'}; choose from: {', '.join(sorted(FORMATS))}")
        if self.metric not in stats.METRICS:
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
    baseline: str
    values: pd.DataFrame  # per finished trial: activation, seed, value (the metric), wall_time_s, engine
    comparisons: list[stats.Comparison]
    pairs: list[stats.PairComparison]  # every pair, with --pairs all; else empty
    files: list[Path]

    @property
    def title(self) -> str:
        return f"{self.task} [{self.config_hash[:8]}]"


def _fmt(mean: float, std: float, n: int) -> str:
    if pd.isna(mean):
        return "–"
    return f"{mean:.2f} ± {std:.2f}" if n >= 2 else f"{mean:.2f} (n=1, no std)"


def display_rows(summary: pd.DataFrame) -> list[dict[str, str]]:
    """The table as text cells, shared by markdown and the terminal."""
    return [
        {
            "activation": row.activation,
            "n": str(row.n),
            "final test acc (%)": _fmt(row.final_acc_mean, row.final_acc_std, row.n),
            "best-epoch test acc (%) †": _fmt(row.best_acc_mean, row.best_acc_std, row.n),
            "diverged": f"{row.diverged}/{row.trials}",
            "time / trial (s)": f"{row.time_mean_s:.1f}",
        }
        for row in summary.itertuples()
    ]


def hparams_line(hparams: dict) -> str:
    return ", ".join(f"{k}={json.dumps(v)}" for k, v in hparams.items())


def to_markdown(report: TaskReport) -> str:
    rows = display_rows(report.summary)
    header = list(rows[0])
    align = ["---"] + ["---:"] * (len(header) - 1)
    lines = [
        f"## {report.task}",
        "",
        f"Hyperparameters: {hparams_line(report.hparams)} (config {report.config_hash}).",
        "",
        "| " + " | ".join(header) + " |",
        "| " + " | ".join(align) + " |",
        *("| " + " | ".join(r.values()) + " |" for r in rows),
        "",
        SPREAD_NOTE,
        "",
        f"† {BEST_NOTE}",
        "",
    ]
    return "\n".join(lines)


LATEX_SPECIAL = {"\\": r"\textbackslash{}", "_": r"\_", "%": r"\%", "&": r"\&", "#": r"\#",
                 "$": r"\$", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\^{}"}  # fmt: skip


def _latex(text: str) -> str:
    return "".join(LATEX_SPECIAL.get(ch, ch) for ch in text).replace("±", r"$\pm$").replace("–", "--")


def to_latex(report: TaskReport) -> str:
    """The summary as a booktabs table (\\usepackage{booktabs}), with its notes as a caption."""
    rows = display_rows(report.summary)
    header = [_latex(h.replace(" †", "")) + (r"$^\dagger$" if "†" in h else "") for h in rows[0]]
    lines = [
        r"\begin{table}[t]",
        r"\centering",
        r"\begin{tabular}{l" + "r" * (len(header) - 1) + "}",
        r"\toprule",
        " & ".join(header) + r" \\",
        r"\midrule",
        *(" & ".join(_latex(v) for v in r.values()) + r" \\" for r in rows),
        r"\bottomrule",
        r"\end{tabular}",
        r"\caption{" + _latex(f"{report.task}: {SPREAD_NOTE}") + r" $^\dagger$" + _latex(BEST_NOTE.replace("*", "")) + "}",
        r"\end{table}",
        "",
    ]
    return "\n".join(lines)


def to_rich(report: TaskReport) -> Table:
    rows = display_rows(report.summary)
    # Titles and cells are text, not rich markup: a config hash like [e1b2c3d4] is not a style.
    table = Table(title=escape(f"{report.title}  {hparams_line(report.hparams)}"), caption=f"{SPREAD_NOTE}\n† {BEST_NOTE}")
    for i, column in enumerate(rows[0]):
        table.add_column(column, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*map(escape, row.values()))
    return table


# --- the comparison table ---------------------------------------------------------------


def verdict(c: stats.Comparison, higher_is_better: bool) -> str:
    """better / worse (significant after Holm), tied (tested, not significant), or why untested."""
    if c.test == "baseline":
        return "baseline"
    if c.test == "none" or math.isnan(c.p_holm):
        return c.note or "no test"
    if not c.significant:
        return "tied"
    return "better" if (c.delta_mean > 0) == higher_is_better else "worse"


def method_text(report: TaskReport) -> str:
    label, _ = stats.METRICS[report.spec.metric]
    return (
        f"Metric: {label}. Against {report.baseline}, paired by seed (same initialisation and "
        f"data order): Δ = mean per-seed difference (activation − {report.baseline}) with a 95% "
        f"BCa bootstrap interval ({stats.BOOTSTRAP_RESAMPLES:,} resamples over seeds, seed "
        f"{stats.BOOTSTRAP_SEED}); p-values of the paired t-test and the Wilcoxon signed-rank "
        f"test; p (Holm) = Holm's step-down over the t-test p-values of this table; "
        f"better/worse = p (Holm) < {report.spec.alpha:g}, tied otherwise. Activations whose "
        f"seeds differ from the baseline's are compared unpaired (Welch's t-test), as noted."
    )


def n_warning(report: TaskReport) -> str:
    """A line naming the n of each activation when they are not all equal, else ''."""
    ns = {c.activation: c.n for c in report.comparisons}
    if len(set(ns.values())) <= 1:
        return ""
    return "n differs between activations: " + ", ".join(f"{a} {n}" for a, n in ns.items()) + "."


def _p(value: float) -> str:
    return "–" if math.isnan(value) else ("< 0.0001" if value < 1e-4 else f"{value:.4f}")


def comparison_rows(report: TaskReport) -> list[dict[str, str]]:
    _, higher = stats.METRICS[report.spec.metric]
    digits = 4 if report.spec.metric == "final_loss" else 2
    rows = []
    for c in report.comparisons:
        spread = f"{c.mean:.{digits}f}" + ("" if math.isnan(c.std) else f" ± {c.std:.{digits}f}")
        delta = (
            "–" if math.isnan(c.delta_mean)
            else f"{c.delta_mean:+.{digits}f} [{c.ci_low:+.{digits}f}, {c.ci_high:+.{digits}f}]"
        )  # fmt: skip
        rows.append({
            "activation": c.activation, "n": str(c.n), "mean ± std": spread,
            f"Δ vs {report.baseline} [95% CI]": delta, "p (t-test)": _p(c.p_ttest),
            "p (Wilcoxon)": _p(c.p_wilcoxon), "p (Holm)": _p(c.p_holm), "verdict": verdict(c, higher),
        })  # fmt: skip
    return rows


def comparison_markdown(report: TaskReport) -> str:
    rows = comparison_rows(report)
    header = list(rows[0])
    warning = n_warning(report)
    return "\n".join([
        f"## {report.task}: activations against {report.baseline}",
        "",
        *([f"**{warning}**", ""] if warning else []),
        "| " + " | ".join(header) + " |",
        "| " + " | ".join(["---"] + ["---:"] * (len(header) - 2) + ["---"]) + " |",
        *("| " + " | ".join(r.values()) + " |" for r in rows),
        "",
        method_text(report),
        "",
    ])  # fmt: skip


def comparison_rich(report: TaskReport) -> Table:
    rows = comparison_rows(report)
    styles = {"better": "bold green", "worse": "bold red", "tied": "dim"}
    warning = n_warning(report)
    table = Table(title=escape(f"{report.title}: against {report.baseline}" + (f"\n{warning}" if warning else "")),
                  caption=method_text(report))  # fmt: skip
    for i, column in enumerate(rows[0]):
        table.add_column(column, justify="left" if i in (0, len(rows[0]) - 1) else "right")
    for row in rows:
        table.add_row(*map(escape, row.values()), style=styles.get(row["verdict"]))
    return table


def write_comparison(report: TaskReport, stem: Path) -> list[Path]:
    """compare.md (the table and its method), compare.csv and compare.json (every number)."""
    _, higher = stats.METRICS[report.spec.metric]
    frame = stats.comparisons_frame(report.comparisons)
    frame["verdict"] = [verdict(c, higher) for c in report.comparisons]
    meta = {
        "task": report.task, "config_hash": report.config_hash, "metric": report.spec.metric,
        "metric_label": stats.METRICS[report.spec.metric][0], "baseline": report.baseline,
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


# --- all pairs: a matrix of corrected p-values and a ranking -----------------------------


def ranking(report: TaskReport) -> list[tuple[str, int, bool]]:
    """(activation, rank, tied) in rank order; see stats.rank_activations."""
    _, higher = stats.METRICS[report.spec.metric]
    ranks = stats.rank_activations({c.activation: c.mean for c in report.comparisons}, report.pairs, higher)
    counts = pd.Series(ranks).value_counts()
    return [(act, rank, bool(counts[rank] > 1)) for act, rank in ranks.items()]


def pairs_matrix(report: TaskReport) -> list[dict[str, str]]:
    """Row a, column b: p (Holm) of a against b, with Δ = a − b; the diagonal empty."""
    cell = {}
    for p in report.pairs:
        text = "–" if math.isnan(p.p_holm) else f"{_p(p.p_holm)} ({p.delta_mean:+.2f})"
        cell[p.a, p.b] = text
        back = "–" if math.isnan(p.p_holm) else f"{_p(p.p_holm)} ({-p.delta_mean:+.2f})"
        cell[p.b, p.a] = back
    acts = [c.activation for c in report.comparisons]
    ns = {c.activation: c.n for c in report.comparisons}
    return [
        {"activation": f"{a} (n={ns[a]})", **{b: "" if a == b else cell[a, b] for b in acts}}
        for a in acts
    ]


def pairs_method(report: TaskReport) -> str:
    label, _ = stats.METRICS[report.spec.metric]
    return (
        f"Metric: {label}. Cell (row a, column b): p (Holm) of a against b and, in parentheses, "
        f"Δ = a − b, paired by seed (Welch's t-test where seed sets differ); Holm's step-down "
        f"over the t-tests of all {len(report.pairs)} pairs. Rank = 1 + the number of "
        f"activations significantly better (p (Holm) < {report.spec.alpha:g}); equal ranks are "
        f"tied: no test separates them."
    )


def write_pairs(report: TaskReport, stem: Path) -> list[Path]:
    matrix = pairs_matrix(report)
    header = list(matrix[0])
    ranks = ranking(report)
    markdown = "\n".join([
        f"## {report.task}: every pair",
        "",
        "| " + " | ".join(header) + " |",
        "| " + " | ".join(["---"] + ["---:"] * (len(header) - 1)) + " |",
        *("| " + " | ".join(r.values()) + " |" for r in matrix),
        "",
        "| rank | activation |",
        "| ---: | --- |",
        *(f"| {rank}{' (tied)' if tied else ''} | {act} |" for act, rank, tied in ranks),
        "",
        pairs_method(report),
        "",
    ])  # fmt: skip
    frame = pd.DataFrame([asdict(p) for p in report.pairs])
    saved = {
        "task": report.task, "config_hash": report.config_hash, "metric": report.spec.metric,
        "alpha": report.spec.alpha, "holm_over": "p_ttest of all pairs",
        "ranking": [{"activation": a, "rank": r, "tied": t} for a, r, t in ranks],
        "pairs": json.loads(frame.to_json(orient="records")),
    }  # fmt: skip
    texts = {
        "md": lambda: markdown,
        "csv": lambda: frame.to_csv(index=False, float_format="%.6g"),
        "json": lambda: json.dumps(saved, indent=2) + "\n",
    }
    return _write_texts(stem, texts, report.spec.formats)


def pairs_rich(report: TaskReport) -> Table:
    matrix = pairs_matrix(report)
    table = Table(title=escape(f"{report.title}: every pair, p (Holm) (Δ row − column)"), caption=pairs_method(report))
    for i, column in enumerate(matrix[0]):
        table.add_column(escape(column), justify="left" if i == 0 else "right")
    for row in matrix:
        table.add_row(*map(escape, row.values()))
    return table


def ranking_rich(report: TaskReport) -> Table:
    table = Table(title=escape(f"{report.title}: ranking"))
    table.add_column("rank", justify="right")
    table.add_column("activation")
    for act, rank, tied in ranking(report):
        table.add_row(f"{rank}{' (tied)' if tied else ''}", escape(act), style="dim" if tied else None)
    return table


VERDICT_COLOURS = {"better": PALETTE[0], "worse": PALETTE[3]}  # blue, vermillion; the rest grey
GREY = "#777777"


def _save(fig, stem: Path, formats: frozenset[str]) -> list[Path]:
    """PNG and/or SVG with fixed metadata, so that the same results give byte-identical files."""
    paths = [stem.with_suffix(f".{ext}") for ext in ("png", "svg") if ext in formats]
    with plt.rc_context({"svg.hashsalt": "actbench"}):  # SVG element ids from a fixed salt, not random
        for path in paths:
            fig.savefig(path, metadata={"Date": None} if path.suffix == ".svg" else {"Software": None})
    plt.close(fig)
    return paths


def plot_seeds(report: TaskReport, stem: Path) -> list[Path]:
    """Every seed's metric per activation (a strip plot), the mean as a bar, the baseline's mean dashed."""
    label, _ = stats.METRICS[report.spec.metric]
    acts = [c.activation for c in report.comparisons]
    fig, ax = plt.subplots(figsize=(6.4, 0.5 * len(acts) + 1.6), dpi=150)
    jitter = np.random.default_rng(0)  # fixed: the same results give the same figure
    for row, c in enumerate(acts):
        points = report.values.loc[report.values["activation"] == c, "value"].to_numpy()
        colour = "black" if c == report.baseline else PALETTE[0]
        ax.scatter(points, row + jitter.uniform(-0.15, 0.15, len(points)), s=14, color=colour, alpha=0.7, lw=0)
        ax.plot([points.mean()] * 2, [row - 0.3, row + 0.3], color=colour, lw=2)
    base_mean = report.values.loc[report.values["activation"] == report.baseline, "value"].mean()
    ax.axvline(base_mean, color="black", ls="--", lw=0.8, label=f"{report.baseline} mean (baseline)")
    ax.set_yticks(range(len(acts)), [f"{c.activation} (n={c.n})" for c in report.comparisons])
    ax.invert_yaxis()
    ax.set_xlabel(label)
    ax.set_title(f"{report.task}: every seed, bar = mean")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=8, frameon=False, loc="best")
    fig.tight_layout()
    return _save(fig, stem, report.spec.formats)


def plot_differences(report: TaskReport, stem: Path) -> list[Path]:
    """Forest plot: each activation's mean difference to the baseline with its 95% interval."""
    label, higher = stats.METRICS[report.spec.metric]
    rows = [c for c in report.comparisons if c.test != "baseline"]
    fig, ax = plt.subplots(figsize=(6.4, 0.5 * len(rows) + 1.6), dpi=150)
    for row, c in enumerate(rows):
        if math.isnan(c.delta_mean):
            continue
        colour = VERDICT_COLOURS.get(verdict(c, higher), GREY)
        ax.errorbar(c.delta_mean, row, xerr=[[c.delta_mean - c.ci_low], [c.ci_high - c.delta_mean]],
                    fmt="o", color=colour, capsize=3, ms=5)  # fmt: skip
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(range(len(rows)), [f"{c.activation} (n={c.n}): {verdict(c, higher)}" for c in rows])
    ax.invert_yaxis()
    ax.set_xlabel(f"difference to {report.baseline}: {label}")
    ax.set_title(f"{report.task}: paired difference to {report.baseline}, 95% bootstrap CI")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return _save(fig, stem, report.spec.formats)


def plot_curves(report: TaskReport, stem: Path) -> list[Path]:
    """Mean test-accuracy curve per activation with a ±1 std band, and the late epochs zoomed."""
    fig, (ax, zoom) = plt.subplots(1, 2, figsize=(10, 4.2), dpi=150, gridspec_kw={"width_ratios": [3, 2]})
    ns = report.summary.set_index("activation")["n"]
    last = int(report.curves["epoch"].max())
    for i, (activation, curve) in enumerate(report.curves.groupby("activation", sort=False)):
        style = {"color": PALETTE[i % len(PALETTE)], "linestyle": LINESTYLES[i // len(PALETTE) % 4]}
        curve = curve.sort_values("epoch")
        low, high = curve["mean"] - curve["std"].fillna(0.0), curve["mean"] + curve["std"].fillna(0.0)
        late = curve["epoch"] > last // 2
        for axis, rows in ((ax, curve["epoch"] > 0), (zoom, late)):
            axis.plot(curve["epoch"][rows], curve["mean"][rows], marker="o", markersize=3, **style,
                      label=f"{activation} (n={ns[activation]})")  # fmt: skip
            axis.fill_between(curve["epoch"][rows], low[rows], high[rows], color=style["color"], alpha=0.18, lw=0)
    n_values = sorted(set(ns))
    n_text = f"n={n_values[0]}" if len(n_values) == 1 else f"n={n_values[0]}–{n_values[-1]}"
    ax.set_title(f"{report.task}: test accuracy, mean ± 1 std over seeds ({n_text})", fontsize=10)
    zoom.set_title(f"epochs {last // 2 + 1}–{last}, zoomed", fontsize=10)
    for axis in (ax, zoom):
        axis.set_xlabel("epoch")
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.grid(alpha=0.3)
    ax.set_ylabel("test accuracy (%)")
    ax.legend(fontsize=8, frameon=False)
    fig.tight_layout()
    return _save(fig, stem, report.spec.formats)


def plot_cost(report: TaskReport, stem: Path) -> list[Path]:
    """Each finished trial's metric against its wall time: what an activation costs for what it gives."""
    label, _ = stats.METRICS[report.spec.metric]
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=150)
    for i, (activation, trials) in enumerate(report.values.groupby("activation", sort=False)):
        colour = PALETTE[i % len(PALETTE)]
        ax.scatter(trials["wall_time_s"], trials["value"], s=14, color=colour, alpha=0.6, lw=0)
        ax.scatter(trials["wall_time_s"].mean(), trials["value"].mean(), s=60, color=colour, marker="D",
                   edgecolor="black", lw=0.6, label=f"{activation} (n={len(trials)}), mean")  # fmt: skip
    # From zero: equal costs look equal, not spread out by an offset axis.
    ax.set_xlim(0, 1.15 * report.values["wall_time_s"].max())
    ax.ticklabel_format(axis="x", useOffset=False)
    ax.set_xlabel("wall time per trial (s)")
    ax.set_ylabel(label)
    title = f"{report.task}: benefit against cost, one point per trial"
    if (report.values["engine"] == "population").any():
        # A population's members finish together: each gets an equal share of its time.
        title += "\n(population members: an equal share of their population's time)"
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, frameon=False)
    fig.tight_layout()
    return _save(fig, stem, report.spec.formats)


def _baseline(spec: CompareSpec, available: list[str], where: str) -> str:
    if spec.baseline is None:
        return "relu" if "relu" in available else available[0]
    if spec.baseline not in available:
        raise UsageError(
            f"baseline {spec.baseline} has no finished trials in {where}; it has: {', '.join(available)}"
        )
    return spec.baseline


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
    summary, curves = stats.summarise(trials, epochs), stats.mean_curves(epochs)
    finished = stats.per_trial(epochs).merge(trials[["id", "wall_time_s", "engine"]], left_on="trial_id", right_on="id")
    finished = finished[finished["status"] == "ok"].rename(columns={spec.metric: "value"})
    reports = []
    for (task_name, config_hash), group in summary.groupby(["task", "config_hash"], sort=False):
        hparams = json.loads(trials.loc[trials["config_hash"] == config_hash, "hparams"].iloc[0])
        values = finished.loc[
            (finished["task"] == task_name) & (finished["config_hash"] == config_hash),
            ["activation", "seed", "value", "wall_time_s", "engine"],
        ]
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
