"""Every pair of activations (--pairs all): the matrix of Holm-corrected p-values, the
ranking it gives, and the method paragraph, as pairs.md, .csv, .json and in the terminal."""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import TYPE_CHECKING

import pandas as pd
from rich.table import Table

from actbench.report import stats
from actbench.report.comparison import family, intervals_json, p_text
from actbench.report.metrics import digits, direction
from actbench.report.render import bold_lines, json_rows, json_text, markdown_table, rich_table, rich_title

if TYPE_CHECKING:
    from actbench.report.build import TaskReport


def ranking(report: TaskReport) -> list[tuple[str, int, bool]]:
    """(activation, rank, tied) in rank order; see stats.rank_activations."""
    higher = report.compared.higher_is_better
    ranks = stats.rank_activations({c.activation: c.mean for c in report.comparisons}, report.pairs, higher)
    counts = pd.Series(ranks).value_counts()
    return [(act, rank, bool(counts[rank] > 1)) for act, rank in ranks.items()]


def ranking_rows(report: TaskReport) -> list[dict[str, str]]:
    """The ranking as text cells: "2 (tied)" where no test separates a rank's activations."""
    return [{"rank": f"{rank}{' (tied)' if tied else ''}", "activation": act} for act, rank, tied in ranking(report)]


def pairs_matrix(report: TaskReport) -> list[dict[str, str]]:
    """Row a, column b: p (Holm) of a against b, with Δ = a − b; the diagonal empty."""
    cell, places = {}, digits(report.compared)
    for p in report.pairs:
        text = "–" if math.isnan(p.p_holm) else f"{p_text(p.p_holm)} ({p.delta_mean:+.{places}f})"
        cell[p.a, p.b] = text
        back = "–" if math.isnan(p.p_holm) else f"{p_text(p.p_holm)} ({-p.delta_mean:+.{places}f})"
        cell[p.b, p.a] = back
    acts = [c.activation for c in report.comparisons]
    ns = {c.activation: c.n for c in report.comparisons}
    return [{"activation": f"{a} (n={ns[a]})", **{b: "" if a == b else cell[a, b] for b in acts}} for a in acts]


def pairs_method(report: TaskReport) -> str:
    return (
        f"Metric: {report.compared.label}{direction(report.compared)}. Cell (row a, column b): p (Holm) of a "
        f"against b and, in parentheses, "
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
    return "\n".join(
        [
            f"## {report.task}: every pair",
            "",
            *bold_lines(report.headline()),
            *markdown_table(pairs_matrix(report)),
            "",
            *markdown_table(ranking_rows(report), left=(1,)),
            "",
            pairs_method(report),
            "",
        ]
    )


def pairs_rich(report: TaskReport) -> Table:
    title = rich_title(f"{report.title}: every pair, p (Holm) (Δ row − column)", report.headline())
    return rich_table(pairs_matrix(report), title, caption=pairs_method(report))


def ranking_rich(report: TaskReport) -> Table:
    def tied_dim(row: dict[str, str]) -> str | None:
        return "dim" if row["rank"].endswith(" (tied)") else None

    return rich_table(ranking_rows(report), f"{report.title}: ranking", left=(1,), row_style=tied_dim)


def pairs_frame(report: TaskReport) -> pd.DataFrame:
    """pairs.csv's rows (and pairs.json's): every PairComparison field."""
    return pd.DataFrame([asdict(p) for p in report.pairs])


def pairs_json(report: TaskReport) -> str:
    m, level = family(report, report.pairs)
    saved = {
        "task": report.task,
        "config_hash": report.config_hash,
        "metric": report.metric,
        "alpha": report.spec.alpha,
        "intervals": intervals_json(level, m),
        "holm_over": "p_ttest of all pairs",
        "ranking": [{"activation": a, "rank": r, "tied": t} for a, r, t in ranking(report)],
        "pairs": json_rows(pairs_frame(report)),
    }
    return json_text(saved)
