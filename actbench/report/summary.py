"""A report's summary table: each activation's n, scores, divergences, failures and costs,
the notes under it and the protocol line, as summary.md, .tex, .json and in the terminal."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pandas as pd
from rich.table import Table

from actbench.report.cost_table import cost_markdown
from actbench.report.render import (
    bold_lines,
    json_rows,
    json_text,
    latex_table,
    markdown_table,
    paragraphs,
    rich_table,
    rich_title,
)

if TYPE_CHECKING:
    from actbench.report.build import TaskReport

BEST_NOTE = (
    "best epoch = the epoch with the highest *test* accuracy: selected on the test set, "
    "so optimistic; the final-epoch accuracy is the honest headline."
)
SPREAD_NOTE = "mean ± std across seeds (sample std, ddof=1); n = trials that finished without diverging."
FAILED_NOTE = (
    "◊ failed = training raised an error (stored with it: actbench export shows each one's); "
    "left out of n and of every statistic, as diverged trials are."
)


def _fmt(mean: float, std: float, n: int) -> str:
    if pd.isna(mean):
        return "–"
    return f"{mean:.2f} ± {std:.2f}" if n >= 2 else f"{mean:.2f} (n=1, no std)"


def _shown(report: TaskReport, kind: str) -> list:
    """The task's metrics of ``kind`` that have a value in this report's summary."""
    return [m for m in report.task_metrics if m.kind == kind and report.summary[f"{m.name}_mean"].notna().any()]


def display_rows(report: TaskReport) -> list[dict[str, str]]:
    """The table as text cells, shared by every format: the task's own scores after n, its
    costs at the end, each only where this report has values for it."""
    scores, costs = _shown(report, "score"), _shown(report, "cost")
    any_failed = bool(report.summary["failed"].sum())
    rows = []
    for row in report.summary.to_dict(orient="records"):
        cells = {"activation": row["activation"], "n": str(row["n"])}
        for metric in scores:
            cells[metric.column] = _fmt(row[f"{metric.name}_mean"], row[f"{metric.name}_std"], row["n"])
        cells["final test acc (%)"] = _fmt(row["final_acc_mean"], row["final_acc_std"], row["n"])
        cells["best-epoch test acc (%) †"] = _fmt(row["best_acc_mean"], row["best_acc_std"], row["n"])
        cells["diverged"] = f"{row['diverged']}/{row['trials']}"
        if any_failed:
            cells["failed ◊"] = f"{row['failed']}/{row['trials']}"
        cells["time / trial (s)"] = "–" if pd.isna(row["time_mean_s"]) else f"{row['time_mean_s']:.1f}"
        for metric in costs:
            mean = row[f"{metric.name}_mean"]
            cells[metric.column] = "–" if pd.isna(mean) else f"{mean:.2f}"
        rows.append(cells)
    return rows


def table_notes(report: TaskReport) -> list[str]:
    """The notes under a summary table, each a sentence, in the order of their columns."""
    return [
        SPREAD_NOTE,
        *(m.note for m in _shown(report, "score") if m.note),
        f"† {BEST_NOTE}",
        *([FAILED_NOTE] if report.summary["failed"].sum() else []),
        *(m.note for m in _shown(report, "cost") if m.note),
    ]


def hparams_line(hparams: dict) -> str:
    return ", ".join(f"{k}={json.dumps(v)}" for k, v in hparams.items())


def protocol_line(report: TaskReport) -> str:
    """The hyperparameters a report's trials share and, for a tuned run, each activation's own."""
    line = f"Hyperparameters: {hparams_line(report.hparams)} (config {report.config_hash})."
    if report.tuned is None:
        return line
    chosen = "; ".join(f"{act} {hparams_line(values)}" for act, values in report.tuned.settings.items())
    return (
        f"{line} Tuned per activation by actbench tune ({report.tuned.by}), chosen on its validation split: {chosen}."
    )


def summary_markdown(report: TaskReport) -> str:
    """summary.md: the table with its notes, then the cost table where the report has a target."""
    lines = [
        f"## {report.task}",
        "",
        *bold_lines(report.headline()),
        protocol_line(report),
        "",
        *markdown_table(display_rows(report)),
        "",
        *paragraphs(table_notes(report)),
    ]
    if report.time_to_target is not None:
        lines += cost_markdown(report)
    return "\n".join(lines)


def summary_latex(report: TaskReport) -> str:
    """The summary as a booktabs table, with its notes as a caption."""
    return latex_table(display_rows(report), report.task, table_notes(report))


def summary_json(report: TaskReport) -> str:
    rows = json_rows(report.summary)
    saved = {"task": report.task, "config_hash": report.config_hash, "hparams": report.hparams, "rows": rows}
    return json_text(saved)


def summary_rich(report: TaskReport) -> Table:
    title = rich_title(f"{report.title}  {hparams_line(report.hparams)}", report.headline())
    return rich_table(
        display_rows(report),
        title,
        caption="\n".join([*table_notes(report), *([protocol_line(report)] if report.tuned else [])]),
    )
