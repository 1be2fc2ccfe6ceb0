"""The report as text: markdown, LaTeX (booktabs) and rich tables of summaries,
comparisons against a baseline, all pairs and rankings. Rendering only: the numbers
come from ``actbench.report.stats``, the files are written by ``actbench.report.writers``."""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING

import pandas as pd
from rich.markup import escape
from rich.table import Table

from actbench.report import cost, stats

if TYPE_CHECKING:
    from actbench.report.build import TaskReport
    from actbench.report.design import PlanRow, PlanSettings

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
    """The table as text cells, shared by markdown and the terminal: the task's own scores
    after n, its costs at the end, each only where this report has values for it."""
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


def markdown_table(rows: list[dict[str, str]], left: tuple[int, ...] = (0,)) -> list[str]:
    """Lines of a markdown table from rows of equal keys; columns in ``left`` left-aligned,
    the others right-aligned (numbers)."""
    header = list(rows[0])
    align = ["---" if i in left or i - len(header) in left else "---:" for i in range(len(header))]
    return [
        "| " + " | ".join(header) + " |",
        "| " + " | ".join(align) + " |",
        *("| " + " | ".join(r.values()) + " |" for r in rows),
    ]


def to_markdown(report: TaskReport) -> str:
    lines = [
        f"## {report.task}",
        "",
        *_bold_lines(headline(report)),
        protocol_line(report),
        "",
        *markdown_table(display_rows(report)),
        "",
        *(line for note in table_notes(report) for line in (note, "")),
    ]
    if report.time_to_target is not None:
        lines += [
            "### Cost",
            "",
            *markdown_table(target_rows(report)),
            "",
            *(line for n in cost_notes(report) for line in (n, "")),
        ]
    return "\n".join(lines)


def target_rows(report: TaskReport) -> list[dict[str, str]]:
    return cost.target_rows(report.time_to_target, report.spec.target(report.task))


def pareto_line(report: TaskReport) -> str:
    points = cost.cost_points(report.values, report.compared.higher_is_better)
    front = ", ".join(points.loc[points["on_front"], "activation"]) or "none (no finished trials)"
    return f"On the {report.compared.label} / seconds-per-trial Pareto front: {front}."


def cost_notes(report: TaskReport) -> list[str]:
    """The sentences under the cost table: the Pareto front, then how both are defined."""
    return [pareto_line(report), cost.target_note(report.spec.target(report.task)), cost.PARETO_NOTE]


def cost_rich(report: TaskReport) -> Table:
    title = _rich_title(f"{report.title}: cost", headline(report))
    return rich_table(target_rows(report), title, caption="\n".join(cost_notes(report)))


LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "_": r"\_",
    "%": r"\%",
    "&": r"\&",
    "#": r"\#",
    "$": r"\$",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\^{}",
}


def _latex(text: str) -> str:
    return "".join(LATEX_SPECIAL.get(ch, ch) for ch in text).replace("±", r"$\pm$").replace("–", "--")


def _strip_marks(text: str) -> str:
    return text.replace(" †", "").replace(" ‡", "").replace(" ◊", "")


def _latex_note(note: str) -> str:
    """A table note in LaTeX: its leading mark as a superscript, markdown emphasis dropped."""
    for mark, tex in (("† ", r"$^\dagger$"), ("‡ ", r"$^\ddagger$"), ("◊ ", r"$^\diamond$")):
        if note.startswith(mark):
            return tex + _latex(note[len(mark) :].replace("*", ""))
    return _latex(note.replace("*", ""))


def to_latex(report: TaskReport) -> str:
    """The summary as a booktabs table (\\usepackage{booktabs}), with its notes as a caption."""
    rows = display_rows(report)
    marks = {" †": r"$^\dagger$", " ‡": r"$^\ddagger$", " ◊": r"$^\diamond$"}
    header = [_latex(_strip_marks(h)) + "".join(m for k, m in marks.items() if k in h) for h in rows[0]]
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
        r"\caption{" + _latex(f"{report.task}: ") + " ".join(_latex_note(n) for n in table_notes(report)) + "}",
        r"\end{table}",
        "",
    ]
    return "\n".join(lines)


PLAN_POWER = 0.8  # the power the comparison table's "seeds to decide" plans for (actbench plan's default)
# Verdicts of a comparison, by their first word ("equivalent (±0.1)" is "equivalent").
ROW_STYLES = {"better": "bold green", "worse": "bold red", "equivalent": "cyan", "inconclusive": "dim"}


def rich_table(
    rows: list[dict[str, str]],
    title: str,
    caption: str | None = None,
    left: tuple[int, ...] = (0,),
    style_by: str | None = None,
) -> Table:
    """The rich twin of markdown_table: columns in ``left`` left-aligned, the rest right;
    with ``style_by``, each row styled by its value in that column (see ROW_STYLES)."""
    # Titles and cells are text, not rich markup: a config hash like [e1b2c3d4] is not a style.
    table = Table(title=escape(title), caption=escape(caption) if caption else None)
    count = len(rows[0])
    for i, column in enumerate(rows[0]):
        table.add_column(escape(column), justify="left" if i in left or i - count in left else "right")
    for row in rows:
        style = ROW_STYLES.get(row[style_by].split(" ")[0]) if style_by else None
        table.add_row(*map(escape, row.values()), style=style)
    return table


def to_rich(report: TaskReport) -> Table:
    title = _rich_title(f"{report.title}  {hparams_line(report.hparams)}", headline(report))
    return rich_table(
        display_rows(report),
        title,
        caption="\n".join([*table_notes(report), *([protocol_line(report)] if report.tuned else [])]),
    )


# --- the comparison table ---------------------------------------------------------------


STEP_DOWN_NOTE = "‡ Holm's step-down rejects; the simultaneous interval, which is more conservative, touches 0."


def _percent(level: float) -> str:
    return f"{100 * level:.4g}%"


def family(report: TaskReport, rows: list | None = None) -> tuple[int, float]:
    """(m, level): the comparisons Holm adjusts over (those with a t-test) and the level of
    each of their intervals, 1 − alpha/m (stats.simultaneous_intervals); of the comparisons
    against the baseline, or of ``rows`` (report.pairs)."""
    m = sum(not math.isnan(row.p_ttest) for row in (report.comparisons if rows is None else rows))
    return m, stats.interval_level(report.spec.alpha, m)


def interval_name(report: TaskReport) -> str:
    """The comparison intervals' short name: "simultaneous 98.33%", or "95%" for one comparison."""
    m, level = family(report)
    return f"simultaneous {_percent(level)}" if m > 1 else _percent(level)


def method_text(report: TaskReport) -> str:
    m, level = family(report)
    alpha, base = report.spec.alpha, report.baseline
    if m > 1:
        interval = (
            f"its paired t-interval at 1 − {alpha:g}/{m} = {_percent(level)}, simultaneous: by Bonferroni's "
            f"inequality all {m} intervals cover their true differences together with probability at least "
            f"{_percent(1 - alpha)}, however they depend on each other"
        )
    else:
        interval = f"its paired t-interval at {_percent(level)}"
    own = f"{alpha:g}/{m}" if m > 1 else f"{alpha:g}"  # the level of the row's own test, Holm's first step
    return (
        f"Metric: {report.compared.label}. Against {base}, paired by seed (same initialisation and "
        f"data order): Δ = mean per-seed difference (activation − {base}) with {interval}; t-based, so "
        f"assuming the per-seed differences independent and near normal. p-values of the paired t-test and "
        f"the Wilcoxon signed-rank test; p (Holm) = Holm's step-down over the t-test p-values of this table; "
        f"better/worse = p (Holm) < {alpha:g}{_equivalence_rule(report)}; inconclusive otherwise: "
        f"neither shown, which is not evidence of no difference (actbench plan says how many seeds would "
        f"decide it). An interval that excludes 0 always comes with better or worse (its own p is below "
        f"{own}, which Holm rejects); ‡ marks a row Holm's step-down rejects while its interval touches 0. "
        f"{_guarantee(report)} Activations whose seeds differ from the baseline's are "
        f"compared unpaired (Welch's t-test and t-interval), marked §."
    )


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


def _p(value: float) -> str:
    return "–" if math.isnan(value) else ("< 0.0001" if value < 1e-4 else f"{value:.4f}")


def _digits(report: TaskReport) -> int:
    return 4 if report.metric == "final_loss" else 2


def verdict_cell(c: stats.Comparison, higher_is_better: bool) -> str:
    """The verdict with its marks: ‡ Holm's step-down alone rejects, § compared unpaired."""
    marks = (" ‡" if c.step_down_only else "") + (" (unpaired §)" if c.test == "welch" else "")
    return stats.verdict(c, higher_is_better) + marks


def comparison_rows(report: TaskReport) -> list[dict[str, str]]:
    higher = report.compared.higher_is_better
    digits = _digits(report)
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
                "p (t-test)": _p(c.p_ttest),
                "p (Wilcoxon)": _p(c.p_wilcoxon),
                "p (Holm)": _p(c.p_holm),
                **(
                    {"p (TOST, Holm)": _p(c.p_tost_holm), "seeds to decide": _seeds_to_decide(c, plans, higher)}
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


def headline(report: TaskReport, warning: str = "") -> list[str]:
    """The sentences shown under every table's title: the report's notices, then ``warning``."""
    return [*report.notices, *([warning] if warning else [])]


def _bold_lines(sentences: list[str]) -> list[str]:
    """Markdown lines of bold sentences, each followed by a blank line."""
    return [line for sentence in sentences for line in (f"**{sentence}**", "")]


def _rich_title(title: str, sentences: list[str]) -> str:
    return "\n".join([title, *sentences])


def answer_lines(report: TaskReport) -> list[str]:
    """One line per activation against the baseline: verdict, Δ with its interval, n; e.g.
    "gelu: better than relu, Δ +0.31 [+0.12, +0.50] (simultaneous 98.33%), n = 10 paired seeds"."""
    higher, base, digits = report.compared.higher_is_better, report.baseline, _digits(report)
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
    from actbench.report.design import PlanSettings, plan_from_values

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
    return f"{_seeds(plan.seeds)} / {_seeds(plan.seeds_equivalent)}"


def comparison_markdown(report: TaskReport) -> str:
    return "\n".join(
        [
            f"## {report.task}: activations against {report.baseline}",
            "",
            *_bold_lines(headline(report, n_warning(report))),
            *markdown_table(comparison_rows(report), left=(0, -1)),  # the verdict too
            "",
            *(line for note in comparison_notes(report) for line in (note, "")),
            method_text(report),
            "",
        ]
    )


def comparison_rich(report: TaskReport) -> Table:
    title = _rich_title(f"{report.title}: against {report.baseline}", headline(report, n_warning(report)))
    caption = "\n".join([*comparison_notes(report), method_text(report)])
    return rich_table(comparison_rows(report), title, caption=caption, left=(0, -1), style_by="verdict")


# --- all pairs: a matrix of corrected p-values and a ranking -----------------------------


def ranking(report: TaskReport) -> list[tuple[str, int, bool]]:
    """(activation, rank, tied) in rank order; see stats.rank_activations."""
    higher = report.compared.higher_is_better
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
    return [{"activation": f"{a} (n={ns[a]})", **{b: "" if a == b else cell[a, b] for b in acts}} for a in acts]


def pairs_method(report: TaskReport) -> str:
    return (
        f"Metric: {report.compared.label}. Cell (row a, column b): p (Holm) of a against b and, in parentheses, "
        f"Δ = a − b, paired by seed (Welch's t-test where seed sets differ); Holm's step-down "
        f"over the t-tests of all {len(report.pairs)} pairs. Rank = 1 + the number of "
        f"activations significantly better (p (Holm) < {report.spec.alpha:g}); equal ranks are "
        f"tied: no test separates them. Intervals (pairs.csv, pairs.json): {_pairs_intervals(report)}."
    )


def _pairs_intervals(report: TaskReport) -> str:
    """The pairs' intervals in words, as stats.simultaneous_intervals makes them."""
    m, level = family(report, report.pairs)
    return stats.interval_method(level, m) + " of Δ over the pairs tested"


def pairs_markdown(report: TaskReport) -> str:
    ranks = [{"rank": f"{rank}{' (tied)' if tied else ''}", "activation": act} for act, rank, tied in ranking(report)]
    return "\n".join(
        [
            f"## {report.task}: every pair",
            "",
            *_bold_lines(headline(report)),
            *markdown_table(pairs_matrix(report)),
            "",
            *markdown_table(ranks, left=(1,)),
            "",
            pairs_method(report),
            "",
        ]
    )


def pairs_rich(report: TaskReport) -> Table:
    title = _rich_title(f"{report.title}: every pair, p (Holm) (Δ row − column)", headline(report))
    return rich_table(pairs_matrix(report), title, caption=pairs_method(report))


def ranking_rich(report: TaskReport) -> Table:
    table = Table(title=escape(f"{report.title}: ranking"))
    table.add_column("rank", justify="right")
    table.add_column("activation")
    for act, rank, tied in ranking(report):
        table.add_row(f"{rank}{' (tied)' if tied else ''}", escape(act), style="dim" if tied else None)
    return table


# --- seed planning (actbench plan) -------------------------------------------------------


def _seeds(count: int | None) -> str:
    from actbench.report.design import MAX_SEEDS

    return f"> {MAX_SEEDS:,}" if count is None else str(count)


def plan_rows(rows: list[PlanRow], settings: PlanSettings) -> list[dict[str, str]]:
    """One row per activation: the pilot's SD of the paired differences with its interval,
    the seeds to detect ±delta (and at the interval's ends), the pilot's detectable
    difference, with a margin the seeds to show equivalence, and with a --look-every the
    budget of run --until-decided."""
    from actbench.report.sequential import MOST_LOOKS

    table = []
    for row in rows:
        cells = {"activation": row.activation, "pilot pairs": str(row.pilot_pairs) if row.pilot_pairs else "–"}
        if math.isnan(row.sd):
            cells.update({"SD of differences": "–", f"seeds for ±{settings.delta:g}": "–"})
        else:
            interval = "" if math.isnan(row.sd_low) else f" [{row.sd_low:.3f}, {row.sd_high:.3f}]"
            cells["SD of differences"] = f"{row.sd:.3f}{interval}"
            ends = f" [{_seeds(row.seeds_low)}, {_seeds(row.seeds_high)}]" if row.pilot_pairs else ""
            cells[f"seeds for ±{settings.delta:g}"] = "–" if row.sd == 0 else f"{_seeds(row.seeds)}{ends}"
        cells["detectable with the pilot"] = "–" if math.isnan(row.detectable) else f"±{row.detectable:.3f}"
        if settings.margin is not None:
            equivalent = "–" if math.isnan(row.sd) or row.sd == 0 else _seeds(row.seeds_equivalent)
            cells[f"seeds for equivalence ±{settings.margin:g}"] = equivalent
        if settings.look_every is not None:  # --max-repeats for --until-decided
            if math.isnan(row.sd) or row.sd == 0:
                budget = "–"
            elif row.seeds_until_decided is not None:
                budget = str(row.seeds_until_decided)
            elif row.seeds is None:
                budget = _seeds(None)
            else:  # not reached by the designs searched: more than their most pairs
                budget = f"> {max(MOST_LOOKS * settings.look_every, row.seeds)}"
            cells[f"until-decided budget (look every {settings.look_every})"] = budget
        cells["note"] = row.note
        table.append(cells)
    return table


def plan_method(settings: PlanSettings, label: str) -> str:
    holm = (
        f"α = {settings.alpha:g} / {settings.comparisons} = {settings.level:.4g} (Holm's first step over "
        f"{settings.comparisons} comparisons)"
        if settings.comparisons > 1
        else f"α = {settings.alpha:g}"
    )
    text = (
        f"Metric: {label}. Seeds: pairs (the activation and the baseline each trained on them) for the "
        f"two-sided paired t-test at {holm} to detect a true difference of ±{settings.delta:g} with power "
        f"{settings.power:g}, exact (noncentral t). In brackets: the 95% interval of the pilot's SD (chi²) and "
        f"the seeds at its ends. Detectable: the smallest difference the pilot's own pairs detect with that power."
    )
    if settings.margin is not None:
        text += (
            f" Equivalence: seeds for TOST (two one-sided t-tests, each at the α above) to show the difference "
            f"lies within ±{settings.margin:g} when it is 0, exact (integral over the SD's chi² law)."
        )
    if settings.look_every is not None:
        from actbench.report.sequential import MOST_LOOKS, POWER_RUNS

        text += (
            f" Until-decided budget: the --max-repeats with which run --until-decided --look-every "
            f"{settings.look_every} (no --margin) decides better against a true +{settings.delta:g} with power "
            f"{settings.power:g}, at the α above (Bonferroni there), by simulating its group-sequential design "
            f"({POWER_RUNS:,} runs, seeded); usually more than the seeds above, as the looks spend α. Designs of "
            f'more than {MOST_LOOKS} looks are not searched ("> N": a larger --look-every).'
        )
    return text
