"""The default comparison and the tuned one of a task, side by side: each activation's
metric and verdict at the task's shared settings, then at the settings actbench tune
chose for it. Two protocols, never pooled: each column pair is its own paired comparison."""

from __future__ import annotations

from typing import TYPE_CHECKING

from actbench.report import stats
from actbench.report.metrics import digits, direction
from actbench.report.render import markdown_table
from actbench.report.summary import hparams_line

if TYPE_CHECKING:
    from actbench.report.build import TaskReport


def default_and_tuned(reports: list[TaskReport]) -> list[tuple[TaskReport, TaskReport]]:
    """(default, tuned) pairs of one task whose hyperparameters agree but for the tuned ones."""
    pairs = []
    for tuned in (r for r in reports if r.tuned is not None):
        for default in (r for r in reports if r.tuned is None and r.task == tuned.task):
            shared = {k: v for k, v in default.hparams.items() if k not in tuned.tuned.keys}
            if shared == tuned.hparams:
                pairs.append((default, tuned))
    return pairs


def _column(report: TaskReport) -> dict[str, tuple[str, str]]:
    """activation -> (mean ± sd (n), verdict against the report's baseline)."""
    verdicts = {c.activation: stats.verdict(c, report.compared.higher_is_better) for c in report.comparisons}
    cells, places = {}, digits(report.compared)
    for act, values in report.values.groupby("activation", sort=False)["value"]:
        spread = f" ± {values.std(ddof=1):.{places}f}" if len(values) > 1 else ""
        cells[act] = (f"{values.mean():.{places}f}{spread} (n={len(values)})", verdicts.get(act, ""))
    return cells


def side_by_side_rows(default: TaskReport, tuned: TaskReport) -> list[dict[str, str]]:
    at_default = hparams_line({k: default.hparams[k] for k in tuned.tuned.keys if k in default.hparams})
    before, after = _column(default), _column(tuned)
    rows = []
    for act in dict.fromkeys([*before, *after]):
        rows.append(
            {
                "activation": act,
                f"default ({at_default})": before.get(act, ("–", ""))[0],
                f"vs {default.baseline}": before.get(act, ("", "not run"))[1],
                "tuned setting": hparams_line(tuned.tuned.settings.get(act, {})),
                "tuned": after.get(act, ("–", ""))[0],
                f"vs {tuned.baseline} (tuned)": after.get(act, ("", "not run"))[1],
            }
        )
    return rows


def side_by_side_note(default: TaskReport, tuned: TaskReport) -> str:
    return (
        f"{default.compared.label}{direction(default.compared)}, mean ± sd over seeds. Default: {default.title}, "
        "every activation at the same "
        f"settings. Tuned: {tuned.title}, each activation at the settings actbench tune ({tuned.tuned.by}) chose "
        "for it on the validation split; both measured on the test set. Verdicts are each table's own (paired "
        "by seed, Holm over its comparisons): the two are separate experiments, not pooled."
    )


def side_by_side_markdown(default: TaskReport, tuned: TaskReport) -> str:
    table = "\n".join(markdown_table(side_by_side_rows(default, tuned), left=(0, 2, 3, 5)))
    return f"## {tuned.task}: default and tuned\n\n{table}\n\n{side_by_side_note(default, tuned)}\n"
