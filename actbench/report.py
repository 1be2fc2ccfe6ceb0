"""Tables and figures from the results store: markdown, CSV, a rich table, PNG and SVG curves.

Reporting never trains. It reads the store, summarises with ``actbench.stats`` and writes
into ``<results>/<task>/``. A task stored under several hyperparameter sets gets one
table and one figure per set, named by its config hash, so that different protocols are
never averaged together.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402
import pandas as pd  # noqa: E402
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


@dataclass
class TaskReport:
    """The report of one task under one hyperparameter set."""

    task: str
    config_hash: str
    hparams: dict
    summary: pd.DataFrame  # stats.summarise rows of this task and config
    curves: pd.DataFrame  # stats.mean_curves rows of this task and config
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


def to_rich(report: TaskReport) -> Table:
    rows = display_rows(report.summary)
    table = Table(title=f"{report.title}  {hparams_line(report.hparams)}", caption=f"{SPREAD_NOTE}\n† {BEST_NOTE}")
    for i, column in enumerate(rows[0]):
        table.add_column(column, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*row.values())
    return table


def plot_curves(report: TaskReport, stem: Path) -> list[Path]:
    """Mean test-accuracy curve per activation with a ±1 std band; PNG and SVG."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=150)
    ns = report.summary.set_index("activation")["n"]
    for i, (activation, curve) in enumerate(report.curves.groupby("activation", sort=False)):
        color = PALETTE[i % len(PALETTE)]
        curve = curve.sort_values("epoch")
        std = curve["std"].fillna(0.0)
        ax.plot(curve["epoch"], curve["mean"], color=color, linestyle=LINESTYLES[i // len(PALETTE) % 4],
                marker="o", markersize=3, label=f"{activation} (n={ns[activation]})")  # fmt: skip
        ax.fill_between(curve["epoch"], curve["mean"] - std, curve["mean"] + std, color=color, alpha=0.18, lw=0)
    n_values = sorted(set(ns))
    n_text = f"n={n_values[0]}" if len(n_values) == 1 else f"n={n_values[0]}–{n_values[-1]}"
    ax.set_title(f"{report.task}: test accuracy, mean ± 1 std over seeds ({n_text})")
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("test accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, frameon=False)
    fig.tight_layout()
    paths = [stem.with_suffix(".png"), stem.with_suffix(".svg")]
    for path in paths:
        # Fixed metadata so that the same results give byte-identical figures.
        fig.savefig(path, metadata={"Date": None} if path.suffix == ".svg" else {"Software": None})
    plt.close(fig)
    return paths


def build_reports(store: ResultStore, task: str | None, activations: list[str] | None) -> list[TaskReport]:
    """Summaries of the stored trials, one per (task, config), filtered by task and activations."""
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
    reports = []
    for (task_name, config_hash), group in summary.groupby(["task", "config_hash"], sort=False):
        hparams = json.loads(trials.loc[trials["config_hash"] == config_hash, "hparams"].iloc[0])
        reports.append(
            TaskReport(
                task=task_name,
                config_hash=config_hash,
                hparams=hparams,
                summary=group.reset_index(drop=True),
                curves=curves[(curves["task"] == task_name) & (curves["config_hash"] == config_hash)],
                files=[],
            )
        )
    return reports


def write_report(report: TaskReport, results_dir: Path, several_configs: bool) -> None:
    """Write summary.md, summary.csv and curves.png/.svg into ``results_dir/<task>/``."""
    folder = results_dir / report.task
    folder.mkdir(parents=True, exist_ok=True)
    suffix = f"-{report.config_hash[:8]}" if several_configs else ""
    md, csv = folder / f"summary{suffix}.md", folder / f"summary{suffix}.csv"
    md.write_text(to_markdown(report))
    report.summary.to_csv(csv, index=False, float_format="%.6g")
    report.files = [md, csv, *plot_curves(report, folder / f"curves{suffix}")]


def make_reports(results_dir: Path, task: str | None, activations: list[str] | None) -> list[TaskReport]:
    with ResultStore(results_dir, create=False) as store:
        reports = build_reports(store, task, activations)
    for report in reports:
        several = sum(r.task == report.task for r in reports) > 1
        write_report(report, results_dir, several)
    return reports
