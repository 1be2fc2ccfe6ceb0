"""Across tasks: does an activation beat the baseline over all the tasks, and where does it rank?

Each task is a stratum (a task stored under several hyperparameter sets gives one per set,
named "mnist [abcd1234]"), and every stratum weighs the same, however many seeds it has.
Each compares its own metric in its own direction (an accuracy on one task, a loss on
another): "beats" and "best" are per task, so the tasks' metrics need not agree.

- **Probability of improvement** of A over the baseline B: the probability that A beats B
  on a random (task, seed) pair. Per task, the share of the seeds where both finished on
  which A does better (a tie counts ½; the sign flips where lower is better); then the
  mean over the tasks where A has such a seed. Unlike a mean difference it is unit-free,
  so tasks on different scales can be averaged, and 0.5 means "no better, no worse".
- **Mean rank**: per task, the activations ranked by their mean over the seeds every one
  of them finished (1 = best, ties averaged), then averaged over tasks. Only activations
  with finished trials on every task are ranked: a rank over fewer tasks is another scale.
- **Interval of P**: the 95% stratified Wilson score interval (Yan & Su 2010, Statistics in
  Biopharmaceutical Research 2:329), no resampling; see stratified_wilson. A tie counts ½
  there too (a share of (wins + ties/2) / n), which can only widen it: a score of 0, ½ or 1
  with mean p varies less than a win or a loss, E[X²] - p² <= p - p² = p(1 - p), the
  binomial variance the interval assumes. Its exact coverage at 10 seeds a task (every
  outcome enumerated, scripts/across_coverage.py): 94.2-97.2% in nine typical cases of 2
  and 3 tasks (P from 0.5 to 0.977, one with ties), median 96.5% over a grid of task-level
  P; but, as with any Wilson interval, it oscillates with P and dips below 95% at some:
  92.5% with 2 tasks at P = 0.977, 92.4% with 2 at P = 0.05 or 0.95, 93.2% with 3 at 0.12
  or 0.88, 89% where one task's P is within 0.02 of 0 or 1 and another's far from it
  (Brown, Cai & DasGupta 2001 show the same dips for one proportion). The percentile
  bootstrap it replaces covered 92% with 3 tasks, 88.5% with 2, and 49% at P = 0.977,
  where half the datasets are all wins and gave [1.00, 1.00].
- **Intervals of the ranks**: 95% percentile intervals of a stratified bootstrap. Each
  resample draws every task's seeds with replacement, as many as it has, keeping a seed's
  values together (the pairing), and recomputes the mean ranks; the rank interval is that
  of the activation's position in the order of the resample's mean ranks. Simulated
  coverage (scripts/across_coverage.py; 4 activations whose means are 0, g, 2g, 3g on each
  of 2 or 3 tasks of 10 seeds, g in seed standard deviations, 1,000 datasets): the rank
  interval 92% or more at every g; the mean-rank interval 96% or more at g = 0 and
  g >= 0.5, but down to 89% (2 tasks) and 77% (3) at g = 0.25, 66% and 40% at g = 0.1.
  Bootstrap rank intervals fail when means are close but not equal (Hall & Miller 2009):
  read them as unreliable there.

Every interval holds the tasks fixed: it measures the seeds' noise on *these* tasks, not
how a new task would go.

The bootstrap is vectorised: a resample of n seeds is a row of counts (how often each
seed was drawn), so resampled means are one matrix product, (R, n) @ (n, K).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from actbench.errors import UsageError
from actbench.report import stats
from actbench.report.render import json_rows, json_text, markdown_table

if TYPE_CHECKING:
    from actbench.report.build import TaskReport

CONFIDENCE = 0.95
TAILS = (100 * (1 - CONFIDENCE) / 2, 100 * (1 + CONFIDENCE) / 2)  # percentiles: 2.5, 97.5
Z = float(scipy_stats.norm.isf((1 - CONFIDENCE) / 2))  # 1.95996...: the two-sided normal critical value
P_METHOD = "stratified Wilson score (Yan & Su 2010), tasks weighted equally, a tie counted 1/2"


@dataclass(frozen=True)
class Stratum:
    """One task's finished trials: a stratum of the comparison across tasks."""

    name: str  # "mnist", or "mnist [abcd1234]" where the task has several protocols
    values: pd.DataFrame  # activation, seed, value: one row per finished trial
    higher_is_better: bool = True
    metric: str = ""  # the compared metric's label, as the tables name it


@dataclass(frozen=True)
class StratumSeeds:
    """What one task contributed: its seeds of the baseline and those of the ranking."""

    name: str
    seeds: int  # seeds on which the baseline finished
    ranked_seeds: int  # seeds on which every ranked activation finished; 0: left out of the ranking


@dataclass(frozen=True)
class AcrossRow:
    """One activation over the tasks. P and its interval are NaN for the baseline and for
    an activation with no seed paired with it; the rank fields are NaN/None when unranked."""

    activation: str
    tasks: int  # tasks in P: those with a seed where the activation and the baseline both finished
    seeds: int  # those paired seeds, summed over the tasks
    p_improve: float = math.nan  # P(beats the baseline on a random task and seed)
    low: float = math.nan  # its 95% stratified Wilson score interval
    high: float = math.nan
    mean_rank: float = math.nan  # mean over tasks of the within-task rank, 1 = best
    mean_rank_low: float = math.nan
    mean_rank_high: float = math.nan
    rank: int | None = None  # position in the order of mean ranks, 1 = best; ties share the better
    rank_low: int | None = None  # 2.5-97.5 percentile of that position over the resamples
    rank_high: int | None = None
    note: str = ""  # what was left out, and why


@dataclass(frozen=True)
class AcrossResult:
    metrics: tuple[tuple[str, str, bool], ...]  # per stratum given: (name, its metric's label, higher_is_better)
    baseline: str
    strata: tuple[StratumSeeds, ...]  # the tasks that went in, in the order given
    left_out: tuple[str, ...]  # tasks without a finished trial of the baseline
    rows: tuple[AcrossRow, ...]  # ranked activations by mean rank, then the unranked
    resamples: int

    @property
    def metric(self) -> str | None:
        """The compared metric's label where every task compares the same one, else None."""
        labels = {label for _, label, _ in self.metrics}
        return labels.pop() if len(labels) == 1 else None

    @property
    def higher_is_better(self) -> bool | None:
        """The direction where every task's metric has the same one, else None."""
        directions = {higher for _, _, higher in self.metrics}
        return directions.pop() if len(directions) == 1 else None


# --- from reports ------------------------------------------------------------------------


def check_strata(strata: list[Stratum]) -> None:
    """At least two strata (each may compare its own metric, in its own direction)."""
    if len(strata) < 2:
        got = f": {strata[0].name}" if strata else ""
        raise UsageError(f"--across-tasks needs at least two tasks, got {len(strata)}{got}")


def strata_from_reports(reports: list[TaskReport]) -> list[Stratum]:
    """One stratum per report, named by its task, or by its title where that task has
    several reports (protocols); checked by check_strata."""
    counts = Counter(report.task for report in reports)
    strata = [
        Stratum(
            report.title if counts[report.task] > 1 else report.task,
            report.values[["activation", "seed", "value"]],
            report.compared.higher_is_better,
            report.compared.label,
        )
        for report in reports
    ]
    check_strata(strata)
    return strata


def across_from_reports(reports: list[TaskReport], resamples: int = stats.BOOTSTRAP_RESAMPLES) -> AcrossResult:
    """The comparison across the reports' tasks against their common baseline (a report
    with no finished trial has none and does not vote; compare_across leaves it out)."""
    strata = strata_from_reports(reports)
    baselines: dict[str, list[str]] = {}
    for report, stratum in zip(reports, strata):
        if report.baseline:
            baselines.setdefault(report.baseline, []).append(stratum.name)
    if len(baselines) > 1:  # only without --baseline: each task then defaults to relu, else its first
        found = "; ".join(f"{base} on {', '.join(names)}" for base, names in baselines.items())
        raise UsageError(f"the tasks' default baselines differ ({found}): choose one with --baseline")
    if not baselines:
        raise UsageError("--across-tasks needs finished trials; no task has any")
    return compare_across(strata, next(iter(baselines)), resamples)


# --- the statistics ------------------------------------------------------------------------


def _table(stratum: Stratum) -> pd.DataFrame:
    """(seeds, activations) of values signed so that higher is better, seeds ascending (so a
    resample depends on the seeds' values, not on the store's order), activations in the
    order first given; NaN where an activation has no finished trial on a seed."""
    values = stratum.values[stratum.values["value"].notna()]
    table = values.pivot(index="seed", columns="activation", values="value").sort_index()
    table = table[list(dict.fromkeys(values["activation"]))]
    return table if stratum.higher_is_better else -table


def _resampled_means(rng: np.random.Generator, x: np.ndarray, resamples: int) -> np.ndarray:
    """Means of ``x`` (n seeds, K columns) over ``resamples`` draws of n seeds with
    replacement, rows of a seed kept together: (resamples, K). Draw r is the row
    rng.integers(0, n, (resamples, n))[r], turned into counts per seed."""
    n = len(x)
    draws = rng.integers(0, n, size=(resamples, n))  # (R, n) seed indices
    counts = np.bincount((draws + n * np.arange(resamples)[:, None]).ravel(), minlength=resamples * n)
    return counts.reshape(resamples, n) @ x / n  # (R, n) @ (n, K)


def wilson(share: np.ndarray, n: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The Wilson score interval of a proportion ``share`` of ``n`` trials at critical value
    ``z`` (arrays that broadcast): the p with (share - p)² = z² p(1 - p) / n."""
    shrink = 1 + z**2 / n
    centre = (share + z**2 / (2 * n)) / shrink
    half = z * np.sqrt(share * (1 - share) / n + z**2 / (4 * n**2)) / shrink
    # At share 0 (or 1) the lower (upper) bound is exactly 0 (1): say so, rather than 1e-17 (1 - 1e-16).
    return np.where(share == 0, 0.0, centre - half), np.where(share == 1, 1.0, centre + half)


def stratified_wilson(shares: np.ndarray, n: np.ndarray, z: float = Z) -> tuple[np.ndarray, np.ndarray]:
    """Yan & Su's stratified Wilson interval of the mean of T strata's proportions, weighted
    equally (w_i = 1/T): ``shares`` (..., T) of ``n`` (T,) trials each; bounds of shape (...).

    The estimate p̂ = Σ w_i p̂_i has variance Σ w_i² p_i(1 - p_i)/n_i, so a score interval is
    the set of p = Σ w_i p_i with (p̂ - p)² <= z² Σ w_i² p_i(1 - p_i)/n_i. Many (p_i) share a
    mean; Yan & Su take, for each bound, the one that puts every stratum at the same score
    distance z*: p̂_i - p_i = ±z* √(p_i(1 - p_i)/n_i), i.e. p_i is stratum i's Wilson bound at
    z*. Then p̂ - p = Σ w_i (p̂_i - p_i) = z* Σ w_i √V_i, and the equation gives
    z* = z √(Σ w_i² V_i) / Σ w_i √V_i, with V_i estimated by p̂_i(1 - p̂_i)/n_i; the bounds
    are Σ w_i L_i(z*) and Σ w_i U_i(z*). By Cauchy-Schwarz z/√T <= z* <= z. One stratum:
    z* = z, the ordinary Wilson interval. Where every stratum's p̂_i is 0 or 1 the V_i are
    all 0 and the ratio is 0/0: z* = z/√T then, its value wherever the V_i are equal, so
    that T strata of n trials all won give the Wilson interval of Tn wins in Tn trials.
    """
    shares, n = np.asarray(shares, dtype=float), np.asarray(n, dtype=float)
    sd = np.sqrt(shares * (1 - shares) / n)  # (..., T): √V_i; the weights 1/T cancel in z*
    total = sd.sum(axis=-1)
    spread = np.sqrt((sd**2).sum(axis=-1))
    degenerate = total == 0
    # Divided by 1 where degenerate, only so that no 0/0 is computed for the branch np.where drops.
    z_star = np.where(degenerate, z / math.sqrt(shares.shape[-1]), z * spread / np.where(degenerate, 1, total))
    low, high = wilson(shares, n, z_star[..., None])  # (..., T) each
    return low.mean(axis=-1), high.mean(axis=-1)


def _improvement(names: list[str], tables: list[pd.DataFrame], act: str, baseline: str) -> dict:
    """P(act beats the baseline) over the tasks where they share a seed, with its interval."""
    shares, pairs, missing = [], [], []
    for name, table in zip(names, tables):
        a, b = (table[act].to_numpy(), table[baseline].to_numpy()) if act in table else (np.empty(0),) * 2
        both = ~np.isnan(a) & ~np.isnan(b)  # (seeds,): the pairs
        if not both.any():
            missing.append(name)
            continue
        a, b = a[both], b[both]
        wins = (a > b) + 0.5 * (a == b)  # (n_t,): 1, ½ or 0 per paired seed
        shares.append(wins.mean())
        pairs.append(len(wins))
    row = {"tasks": len(shares), "seeds": sum(pairs)}
    if shares:
        row["p_improve"] = float(np.mean(shares))
        row["low"], row["high"] = map(float, stratified_wilson(np.array(shares), np.array(pairs)))
    if missing:
        row["note"] = (
            f"no seed paired with {baseline} on {', '.join(missing)}"
            if shares
            else f"no seed paired with {baseline} on any task"
        )
    return row


def _ranks(means: np.ndarray) -> np.ndarray:
    """Rank of each column in each row of (R, K) means, higher is better: 1 = best, ties averaged."""
    return scipy_stats.rankdata(-means, axis=1)


def _positions(mean_ranks: np.ndarray) -> np.ndarray:
    """(R, K): 1 + how many activations have a strictly lower (better) mean rank in that row."""
    return 1 + (mean_ranks[:, None, :] < mean_ranks[:, :, None]).sum(axis=2)


def _ranking(tables: list[pd.DataFrame], resamples: int) -> tuple[list[dict], list[int]]:
    """Rank fields of the K activations of ``tables`` (each (seeds, K)), in their order, and
    the seeds each task ranked on (0: none common to all K, the task left out)."""
    rng = np.random.default_rng(stats.BOOTSTRAP_SEED)
    ranks, resampled, common = [], [], []
    for table in tables:
        x = table.to_numpy()
        x = x[~np.isnan(x).any(axis=1)]  # (n_t, K): the seeds every ranked activation finished
        common.append(len(x))
        if len(x):
            ranks.append(_ranks(x.mean(axis=0)[None, :])[0])  # (K,)
            resampled.append(_ranks(_resampled_means(rng, x, resamples)))  # (R, K)
    if not ranks:
        return [{} for _ in tables[0].columns], common
    mean_rank, boot = np.mean(ranks, axis=0), np.mean(resampled, axis=0)  # (K,), (R, K)
    rank = _positions(mean_rank[None, :])[0]
    low, high = np.percentile(boot, TAILS, axis=0)  # (K,) each
    # Positions are integers: the interval's ends are positions some resample had.
    rank_low, rank_high = np.percentile(_positions(boot), TAILS, axis=0, method="inverted_cdf")
    fields = [
        {
            "mean_rank": float(mean_rank[k]),
            "mean_rank_low": float(low[k]),
            "mean_rank_high": float(high[k]),
            "rank": int(rank[k]),
            "rank_low": int(rank_low[k]),
            "rank_high": int(rank_high[k]),
        }
        for k in range(len(mean_rank))
    ]
    return fields, common


def compare_across(strata: list[Stratum], baseline: str, resamples: int = stats.BOOTSTRAP_RESAMPLES) -> AcrossResult:
    """Every activation against ``baseline`` over the strata, and their ranking; see the
    module's docstring. Strata without a finished trial of the baseline are left out."""
    check_strata(strata)
    tables = [_table(s) for s in strata]
    kept = [(s.name, t) for s, t in zip(strata, tables) if baseline in t]
    left_out = tuple(s.name for s, t in zip(strata, tables) if baseline not in t)
    if len(kept) < 2:
        got = f": {kept[0][0]}" if kept else ""
        raise UsageError(
            f"--across-tasks needs at least two tasks with finished trials of {baseline}, got {len(kept)}{got}"
        )
    names, tables = [name for name, _ in kept], [table for _, table in kept]
    acts = list(dict.fromkeys(act for table in tables for act in table.columns))
    ranked = [act for act in acts if all(act in table for table in tables)]
    rank_fields, common = _ranking([table[ranked] for table in tables], resamples)
    by_act = dict(zip(ranked, rank_fields))
    rows = []
    for act in acts:
        if act == baseline:
            fields = {"tasks": len(tables), "seeds": sum(int(t[baseline].notna().sum()) for t in tables)}
        else:
            fields = _improvement(names, tables, act, baseline)
        notes = [fields.pop("note", "")]
        if act not in by_act:
            absent = [name for name, table in zip(names, tables) if act not in table]
            notes.append(f"not ranked: no finished trial on {', '.join(absent)}")
        rows.append(AcrossRow(act, **fields, **by_act.get(act, {}), note="; ".join(filter(None, notes))))
    # The ranked by mean rank (a stable sort keeps ties in the order given), then the unranked.
    rows.sort(key=lambda row: (math.isnan(row.mean_rank), 0.0 if math.isnan(row.mean_rank) else row.mean_rank))
    seeds = [StratumSeeds(name, int(t[baseline].notna().sum()), n) for name, t, n in zip(names, tables, common)]
    metrics = tuple((s.name, s.metric, s.higher_is_better) for s in strata)
    return AcrossResult(metrics, baseline, tuple(seeds), left_out, tuple(rows), resamples)


# --- rendering ------------------------------------------------------------------------------


def rank_text(row: AcrossRow) -> str:
    """ "2 [1–3]": the position and its interval; "–" when unranked."""
    return "–" if row.rank is None else f"{row.rank} [{row.rank_low}–{row.rank_high}]"


def across_rows(result: AcrossResult) -> list[dict[str, str]]:
    """The table as text cells, for every format (render.py)."""
    rows = []
    for row in result.rows:
        if row.activation == result.baseline:
            p = "baseline"
        else:
            p = "–" if math.isnan(row.p_improve) else f"{row.p_improve:.2f} [{row.low:.2f}, {row.high:.2f}]"
        mean_rank = (
            "–"
            if math.isnan(row.mean_rank)
            else (f"{row.mean_rank:.2f} [{row.mean_rank_low:.2f}, {row.mean_rank_high:.2f}]")
        )
        rows.append(
            {
                "activation": row.activation,
                "tasks": str(row.tasks),
                "seeds": str(row.seeds),
                f"P(beats {result.baseline}) [95% CI]": p,
                "mean rank [95% CI]": mean_rank,
                "rank [95% CI]": rank_text(row),
                "note": row.note,
            }
        )
    return rows


def across_method(result: AcrossResult) -> str:
    """The method paragraph: the definitions, the intervals and their measured coverage, and
    which tasks and seeds went in."""
    tasks = ", ".join(
        f"{s.name} ({s.seeds} seed{'' if s.seeds == 1 else 's'} of {result.baseline}; "
        + (
            f"{s.ranked_seeds} finished by every ranked activation)"
            if s.ranked_seeds
            else "left out of the ranking: no seed finished by every ranked activation)"
        )
        for s in result.strata
    )
    left_out = (
        f" Left out, no finished trial of {result.baseline}: {', '.join(result.left_out)}." if result.left_out else ""
    )
    return (
        f"{_metrics_text(result)} Tasks, each weighted equally: {tasks}.{left_out} "
        f"P(beats {result.baseline}) = the probability that the activation beats {result.baseline} on a random task "
        f"and seed: per task, the share of the seeds where both finished on which it does better (a tie counts ½), "
        f"averaged over the tasks with such a seed (tasks and seeds: how many went in). Mean rank = per task, the "
        f"activations ranked by their mean over the seeds every ranked activation finished (1 = best, ties "
        f"averaged), averaged over tasks; only activations with finished trials on every task are ranked; rank = "
        f"the position in the order of mean ranks (ties share the better). Interval of P: 95% stratified Wilson "
        f"score (Yan & Su 2010), tasks weighted equally, a tie counted ½ (the binomial variance it assumes then "
        f"overstates the spread: ties err on the wide side), no resampling; its exact coverage with 10 seeds a "
        f"task is 94-97% in typical cases but, as with any Wilson interval, lower at some P: 92.5% with 2 tasks "
        f"at P = 0.977, 89% where one task's P is within 0.02 of 0 or 1 and another's far from it. Intervals of "
        f"the mean rank and rank: 95% percentile, stratified bootstrap ({result.resamples:,} resamples, seed "
        f"{stats.BOOTSTRAP_SEED}): each task's seeds drawn with replacement, a seed's values kept together. Their "
        f"coverage, simulated with 4 activations on 2 or 3 tasks of 10 seeds: the rank interval's 92% or more "
        f"whatever the means, the mean rank interval's 96% or more where the means are equal or at least half a "
        f"seed standard deviation apart, but as low as 77-89% at a quarter and 40-66% at a tenth of one: "
        f"unreliable when means are close. The tasks are held fixed: the intervals cover the seeds' noise on "
        f"these tasks, not the choice of tasks."
    )


def _direction(higher: bool) -> str:
    return "higher is better" if higher else "lower is better"


def _metrics_text(result: AcrossResult) -> str:
    """The compared metric and its direction, or where the tasks differ in either, each task's."""
    if result.metric is not None and result.higher_is_better is not None:
        return f"Metric: {result.metric or 'the compared metric'} ({_direction(result.higher_is_better)})."
    each = "; ".join(
        f"{name}: {label or 'the compared metric'} ({_direction(higher)})" for name, label, higher in result.metrics
    )
    return (
        f"Metrics, each task's own: {each}; on each task an activation beats another, and ranks above it, "
        f"when better in that task's direction."
    )


def across_markdown(result: AcrossResult) -> str:
    return "\n".join(
        [
            f"## Across {len(result.strata)} tasks: activations against {result.baseline}",
            "",
            *markdown_table(across_rows(result), left=(0, -1)),  # the note too
            "",
            across_method(result),
            "",
        ]
    )


def across_frame(result: AcrossResult) -> pd.DataFrame:
    frame = pd.DataFrame([asdict(row) for row in result.rows])
    for column in ("rank", "rank_low", "rank_high"):  # integers, empty where unranked
        frame[column] = frame[column].astype("Int64")
    return frame


def across_json(result: AcrossResult) -> str:
    mixed = {"metrics": [{"task": n, "metric_label": m, "higher_is_better": h} for n, m, h in result.metrics]}
    saved = {
        "metric_label": result.metric,
        "higher_is_better": result.higher_is_better,
        **(mixed if result.metric is None or result.higher_is_better is None else {}),
        "baseline": result.baseline,
        "p_improve_interval": {"method": P_METHOD, "confidence": CONFIDENCE},
        "bootstrap": {
            "method": "percentile, seeds resampled within each task",
            "of": "mean_rank and rank",
            "resamples": result.resamples,
            "seed": stats.BOOTSTRAP_SEED,
            "confidence": CONFIDENCE,
        },
        "tasks": [asdict(s) for s in result.strata],
        "left_out": list(result.left_out),
        "rows": json_rows(across_frame(result)),
    }
    return json_text(saved)
