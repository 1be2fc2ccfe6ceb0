"""Every activation against the baseline: the comparison table (compare.md, .csv, .json and
the terminal's), its verdicts, marks and method paragraph, and the one-line answers."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import pandas as pd
from rich.table import Table

from actbench.report import stats
from actbench.report.design import PlanRow, PlanSettings, plan_from_values
from actbench.report.metrics import digits as metric_digits
from actbench.report.metrics import direction
from actbench.report.plan import seeds_text
from actbench.report.render import bold_lines, json_rows, json_text, markdown_table, paragraphs, rich_table, rich_title

if TYPE_CHECKING:
    from actbench.report.build import TaskReport

PLAN_POWER = 0.8  # the power the comparison table's "seeds to decide" plans for (actbench plan's default)
# Verdicts of a comparison, by their first word ("equivalent (±0.1)" is "equivalent").
ROW_STYLES = {"better": "bold green", "worse": "bold red", "equivalent": "cyan", "inconclusive": "dim"}
STEP_DOWN_NOTE = "‡ Holm's step-down rejects; the simultaneous interval, which is more conservative, touches 0."


def family(report: TaskReport, rows: list | None = None) -> tuple[int, float]:
    """(m, level): the comparisons Holm adjusts over (those with a t-test) and the level of
    each of their intervals, 1 − alpha/m (stats.simultaneous_intervals); of the comparisons
    against the baseline, or of ``rows`` (report.pairs)."""
    m = sum(not math.isnan(row.p_ttest) for row in (report.comparisons if rows is None else rows))
    return m, stats.interval_level(report.spec.alpha, m)


def intervals_json(level: float, m: int) -> dict:
    """What ci_low/ci_high are (stats.simultaneous_intervals), for the json files."""
    return {
        "method": "t-interval (paired; Welch's where seed sets differ)",
        "level": level,
        "simultaneous_over": m,
        "adjustment": "Bonferroni" if m > 1 else "none",
    }


def interval_name(report: TaskReport) -> str:
    """The comparison intervals' short name: "simultaneous 98.33%", or "95%" for one comparison."""
    m, level = family(report)
    return f"simultaneous {stats.percent(level)}" if m > 1 else stats.percent(level)


def method_text(report: TaskReport) -> str:
    m, level = family(report)
    alpha, base = report.spec.alpha, report.baseline
    if m > 1:
        interval = (
            f"its paired t-interval at 1 − {alpha:g}/{m} = {stats.percent(level)}, simultaneous: by Bonferroni's "
            f"inequality all {m} intervals cover their true differences together with probability at least "
            f"{stats.percent(1 - alpha)}, however they depend on each other"
        )
    else:
        interval = f"its paired t-interval at {stats.percent(level)}"
    own = f"{alpha:g}/{m}" if m > 1 else f"{alpha:g}"  # the level of the row's own test, Holm's first step
    return (
        f"Metric: {report.compared.label}{direction(report.compared)}. Against {base}, paired by seed (same "
        f"initialisation and data order): Δ = mean per-seed difference (activation − {base}){_better_sign(report)} "
        f"with {interval}; t-based, so "
        f"assuming the per-seed differences independent and near normal. p-values of the paired t-test and "
        f"the Wilcoxon signed-rank test; p (Holm) = Holm's step-down over the t-test p-values of this table; "
        f"better/worse = p (Holm) < {alpha:g}{_equivalence_rule(report)}; inconclusive otherwise: "
        f"neither shown, which is not evidence of no difference (actbench plan says how many seeds would "
        f"decide it). An interval that excludes 0 always comes with better or worse (its own p is below "
        f"{own}, which Holm rejects); ‡ marks a row Holm's step-down rejects while its interval touches 0. "
        f"{_guarantee(report)} Activations whose seeds differ from the baseline's are "
        f"compared unpaired (Welch's t-test and t-interval), marked §."
    )


def _better_sign(report: TaskReport) -> str:
    """Where lower is better, that a better activation's Δ is negative; nothing where higher is."""
    return "" if report.compared.higher_is_better else ", negative where the activation is better,"


def _guarantee(report: TaskReport) -> str:
    """What the verdicts together guarantee: one family (differences) at alpha, or, with a
    margin, two families (differences, equivalences) at alpha each."""
    alpha = report.spec.alpha
    if report.spec.margin is None:
        return (
            f"Holm controls the familywise error: the probability that any better or worse verdict is false "
            f"(a difference declared where there is none) is at most {alpha:g}."
        )
    return (
        f"Two families, each Holm-corrected at {alpha:g}: the probability that any better or worse verdict is "
        f"false is at most {alpha:g}, and the same holds for the equivalent verdicts; all verdicts together "
        f"can err with probability up to {2 * alpha:g} (--alpha {alpha / 2:g} holds them to {alpha:g})."
    )


def _equivalence_rule(report: TaskReport) -> str:
    margin = report.spec.margin
    if margin is None:
        return ""
    return (
        f"; equivalent (±{margin:g}) = TOST (two one-sided paired t-tests against ±{margin:g}, Schuirmann 1987), "
        f"Holm's step-down over the table, p (TOST, Holm) < {report.spec.alpha:g}; seeds to decide (inconclusive "
        f"rows) = paired seeds to detect ±{margin:g} / to show equivalence within ±{margin:g}, with power "
        f"{PLAN_POWER:g} at Holm's first step, from the row's own differences (actbench plan)"
    )


def n_warning(report: TaskReport) -> str:
    """A line naming the n of each activation when they are not all equal, else ''."""
    ns = {c.activation: c.n for c in report.comparisons}
    if len(set(ns.values())) <= 1:
        return ""
    return "n differs between activations: " + ", ".join(f"{a} {n}" for a, n in ns.items()) + "."


def p_text(value: float) -> str:
    """A p-value cell: 4 decimals, "< 0.0001" below them, "–" where untested."""
    return "–" if math.isnan(value) else ("< 0.0001" if value < 1e-4 else f"{value:.4f}")


def verdict_cell(c: stats.Comparison, higher_is_better: bool) -> str:
    """The verdict with its marks: ‡ Holm's step-down alone rejects, § compared unpaired."""
    marks = (" ‡" if c.step_down_only else "") + (" (unpaired §)" if c.test == "welch" else "")
    return stats.verdict(c, higher_is_better) + marks


def verdict_style(row: dict[str, str]) -> str | None:
    """A comparison row's style in the terminal, by its verdict (ROW_STYLES)."""
    return ROW_STYLES.get(row["verdict"].split(" ")[0])


def comparison_rows(report: TaskReport) -> list[dict[str, str]]:
    higher = report.compared.higher_is_better
    digits = metric_digits(report.compared)
    plans = _plans(report)
    rows = []
    for c in report.comparisons:
        spread = f"{c.mean:.{digits}f}" + ("" if math.isnan(c.std) else f" ± {c.std:.{digits}f}")
        interval = "" if math.isnan(c.ci_low) else f" [{c.ci_low:+.{digits}f}, {c.ci_high:+.{digits}f}]"
        delta = "–" if math.isnan(c.delta_mean) else f"{c.delta_mean:+.{digits}f}{interval}"  # untested: no interval
        rows.append(
            {
                "activation": c.activation,
                "n": str(c.n),
                "mean ± std": spread,
                f"Δ vs {report.baseline} [{interval_name(report)} CI]": delta,
                "p (t-test)": p_text(c.p_ttest),
                "p (Wilcoxon)": p_text(c.p_wilcoxon),
                "p (Holm)": p_text(c.p_holm),
                **(
                    {"p (TOST, Holm)": p_text(c.p_tost_holm), "seeds to decide": _seeds_to_decide(c, plans, higher)}
                    if report.spec.margin is not None
                    else {}
                ),
                "verdict": verdict_cell(c, higher),
            }
        )
    return rows


def comparison_notes(report: TaskReport) -> list[str]:
    """The notes under a comparison table for its marks: ‡ once, § once per unpaired row."""
    step_down = any(c.step_down_only for c in report.comparisons)
    unpaired = [f"§ {c.note}." for c in report.comparisons if c.test == "welch"]
    return [*([STEP_DOWN_NOTE] if step_down else []), *unpaired]


def answer_lines(report: TaskReport) -> list[str]:
    """One line per activation against the baseline: verdict, Δ with its interval, n; e.g.
    "gelu: better than relu, Δ +0.31 [+0.12, +0.50] (simultaneous 98.33%), n = 10 paired seeds"."""
    higher, base, digits = report.compared.higher_is_better, report.baseline, metric_digits(report.compared)
    base_n = next((c.n for c in report.comparisons if c.test == "baseline"), 0)
    lines = []
    for c in report.comparisons:
        if c.test == "baseline":
            continue
        said = stats.verdict(c, higher)
        first = said.split(" ")[0]
        what = {
            "better": f"better than {base}",
            "worse": f"worse than {base}",
            "equivalent": f"equivalent to {base} {said.removeprefix('equivalent ')}",
            "inconclusive": f"inconclusive against {base}",
        }.get(first, f"not tested against {base} ({said})")
        if c.step_down_only:
            what += " (by Holm's step-down; its simultaneous interval touches 0)"
        parts = [f"{c.activation}: {what}"]
        if not math.isnan(c.delta_mean):
            tested = not math.isnan(c.p_ttest)  # an untested row's interval is no interval
            interval = f" [{c.ci_low:+.{digits}f}, {c.ci_high:+.{digits}f}] ({interval_name(report)})" if tested else ""
            parts.append(f"Δ {c.delta_mean:+.{digits}f}{interval}")
        seeds = {
            "paired": f"n = {c.n} paired seeds",
            "welch": f"n = {c.n} and {base_n} seeds, unpaired (seed sets differ)",
        }
        parts.append(seeds.get(c.test, f"n = {c.n}"))
        lines.append(", ".join(parts))
    return lines


def _plans(report: TaskReport) -> dict[str, PlanRow]:
    """With --margin: actbench plan's rows for this table, by activation: the paired seeds
    to detect ±margin and to show equivalence within ±margin, at Holm's first step with
    power PLAN_POWER, from each activation's own differences. Empty without a margin."""
    margin = report.spec.margin
    if margin is None or len(report.comparisons) < 2:
        return {}
    settings = PlanSettings(margin, report.spec.alpha, PLAN_POWER, len(report.comparisons) - 1, margin)
    return {row.activation: row for row in plan_from_values(report.values, report.baseline, settings)}


def _seeds_to_decide(c: stats.Comparison, plans: dict[str, PlanRow], higher_is_better: bool) -> str:
    """For an inconclusive paired row: "detect / equivalence" seeds from its plan."""
    plan = plans.get(c.activation)
    if (
        plan is None
        or c.test != "paired"
        or stats.verdict(c, higher_is_better) != "inconclusive"
        or math.isnan(plan.sd)
    ):
        return ""
    return f"{seeds_text(plan.seeds)} / {seeds_text(plan.seeds_equivalent)}"


def comparison_markdown(report: TaskReport) -> str:
    return "\n".join(
        [
            f"## {report.task}: activations against {report.baseline}",
            "",
            *bold_lines(report.headline(n_warning(report))),
            *markdown_table(comparison_rows(report), left=(0, -1)),  # the verdict too
            "",
            *paragraphs(comparison_notes(report)),
            method_text(report),
            "",
        ]
    )


def comparison_rich(report: TaskReport) -> Table:
    title = rich_title(f"{report.title}: against {report.baseline}", report.headline(n_warning(report)))
    caption = "\n".join([*comparison_notes(report), method_text(report)])
    return rich_table(comparison_rows(report), title, caption=caption, left=(0, -1), row_style=verdict_style)


def comparison_frame(report: TaskReport) -> pd.DataFrame:
    """compare.csv's rows (and compare.json's, and actbench.study's): every Comparison field,
    the verdict without its marks (step_down_only and test say them)."""
    frame = stats.comparisons_frame(report.comparisons)
    if report.spec.margin is None:  # no equivalence test asked for: its columns would be empty
        frame = frame.drop(columns=["margin", "p_tost", "p_tost_holm", "equivalent"])
    frame["verdict"] = [stats.verdict(c, report.compared.higher_is_better) for c in report.comparisons]
    return frame


def comparison_json(report: TaskReport) -> str:
    m, level = family(report)
    saved = {
        "task": report.task,
        "config_hash": report.config_hash,
        "metric": report.metric,
        "metric_label": report.compared.label,
        "baseline": report.baseline,
        "alpha": report.spec.alpha,
        "intervals": intervals_json(level, m),
        "holm_over": "p_ttest",
        "notices": report.notices,
        "method": method_text(report),
        "rows": json_rows(comparison_frame(report)),
    }
    return json_text(saved)
