"""A report's cost table (with a --target): each activation's time to the target (cost.py's
rows) and the Pareto front of seconds against the compared metric, with the notes under it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table

from actbench.report import cost
from actbench.report.render import markdown_table, paragraphs, rich_table, rich_title

if TYPE_CHECKING:
    from actbench.report.build import TaskReport


def cost_rows(report: TaskReport) -> list[dict[str, str]]:
    """cost.target_rows at the report's target (report.time_to_target set)."""
    return cost.target_rows(report.time_to_target, report.spec.target(report.task), report.series, report.axis)


def pareto_line(report: TaskReport) -> str:
    points = cost.cost_points(report.values, report.compared.higher_is_better)
    front = ", ".join(points.loc[points["on_front"], "activation"]) or "none (no finished trials)"
    return f"On the {report.compared.label} / seconds-per-trial Pareto front: {front}."


def cost_notes(report: TaskReport) -> list[str]:
    """The sentences under the cost table: the Pareto front, then how both are defined."""
    target_note = cost.target_note(report.spec.target(report.task), report.series, report.axis)
    return [pareto_line(report), target_note, cost.PARETO_NOTE]


def cost_markdown(report: TaskReport) -> list[str]:
    """The cost section of summary.md: its table, then its notes."""
    return ["### Cost", "", *markdown_table(cost_rows(report)), "", *paragraphs(cost_notes(report))]


def cost_rich(report: TaskReport) -> Table:
    title = rich_title(f"{report.title}: cost", report.headline())
    return rich_table(cost_rows(report), title, caption="\n".join(cost_notes(report)))
