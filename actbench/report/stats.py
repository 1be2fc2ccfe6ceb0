"""Summaries of stored trials, and comparisons of activations against a baseline.

Conventions, stated once here and in every table: accuracy is in percent; std is the
sample standard deviation across seeds (ddof=1); diverged trials are counted apart and
excluded from the accuracy statistics, so n is the number of trials that finished.

Comparisons use the paired design: every activation is trained with the same seeds, a
seed fixing initialisation and data order, so the per-seed differences to the baseline
carry the signal and the seed-to-seed spread cancels. Tests come from SciPy; only Holm's
step-down, a few lines of arithmetic, is written here.

The interval beside a verdict is the one the verdict rests on: the t-interval (paired, or
Welch's where seed sets differ) at level 1 − alpha/m, m the comparisons Holm adjusts over
in that table. By Bonferroni all m intervals cover together with probability >= 1 − alpha
under any dependence between them, and one that excludes 0 always comes with a better or
worse verdict (see simultaneous_intervals for the proof).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from actbench.api import Metric

GROUP = ["task", "config_hash", "activation"]


def per_trial(epochs: pd.DataFrame, task_metrics: tuple[Metric, ...] = ()) -> pd.DataFrame:
    """One row per trial: final and best-epoch test accuracy, final test loss, and the last
    value of each of the task's own metrics (NaN where a trial has none).

    ``best_acc`` is the maximum over epochs of the *test* accuracy: selected on the test
    set, hence optimistic. It is reported as such, never as the headline.
    """
    grouped = epochs.sort_values(["trial_id", "epoch"], kind="stable").groupby("trial_id", sort=False)
    last = grouped.tail(1).set_index("trial_id")
    out = last[[*GROUP, "seed", "status", "epoch"]].rename(columns={"epoch": "epochs_run"})
    out["final_acc"] = last["test_acc"]
    out["final_loss"] = last["test_loss"]
    out["best_acc"] = grouped["test_acc"].max()
    for metric in task_metrics:
        out[metric.name] = last[metric.name] if metric.name in last else math.nan
    # Last half: epochs e > E // 2 of the E run (E = 20: epochs 11-20; E = 5: epochs 3-5).
    late = epochs[epochs["epoch"] > epochs["trial_id"].map(grouped["epoch"].max()) // 2]
    out["late_mean"] = late.groupby("trial_id")["test_acc"].mean()
    return out.reset_index()


def summarise(metrics: pd.DataFrame, curves: pd.DataFrame, task_metrics: tuple[Metric, ...] = ()) -> pd.DataFrame:
    """One row per (task, config_hash, activation), activations in the order first stored.

    ``metrics``: per_trial rows with each trial's wall_time_s; ``curves``: mean_curves.
    A task's scores get NAME_mean and NAME_std (across seeds), its costs NAME_mean.
    """
    scores = [m.name for m in task_metrics if m.kind == "score"]
    costs = [m.name for m in task_metrics if m.kind == "cost"]
    rows = []
    for key, group in metrics.groupby(GROUP, sort=False):
        ok = group[group["status"] == "ok"]
        row = {
            **dict(zip(GROUP, key)),
            "n": len(ok),
            "trials": len(group),
            "diverged": int((group["status"] == "diverged").sum()),
            "epochs": int(ok["epochs_run"].max()) if len(ok) else int(group["epochs_run"].max()),
            "final_acc_mean": ok["final_acc"].mean(),
            "final_acc_std": ok["final_acc"].std(ddof=1),
            "best_acc_mean": ok["best_acc"].mean(),
            "best_acc_std": ok["best_acc"].std(ddof=1),
        }
        for name in scores:
            row[f"{name}_mean"], row[f"{name}_std"] = ok[name].mean(), ok[name].std(ddof=1)
        row["final_loss_mean"] = ok["final_loss"].mean()
        row["time_mean_s"] = group["wall_time_s"].mean()
        for name in costs:
            row[f"{name}_mean"] = ok[name].mean()
        rows.append({**row, "first_id": group["trial_id"].min()})
    table = pd.DataFrame(rows).sort_values("first_id", kind="stable")
    table = table.drop(columns="first_id").reset_index(drop=True)
    return table.merge(curve_columns(curves), on=GROUP, how="left")


def count_failed(summary: pd.DataFrame, trials: pd.DataFrame) -> pd.DataFrame:
    """``summary`` with ``failed`` (trials whose training raised) and ``trials`` counted from
    the store's trials of one task and config: a trial that failed before its first epoch
    has no epochs, and an activation whose every trial did so gets a row of its own."""
    counts = trials.groupby("activation", sort=False)["status"].agg(
        trials="size", failed=lambda status: int((status == "failed").sum())
    )
    missing = [act for act in counts.index if act not in set(summary["activation"])]
    if missing:
        key = trials.iloc[0]
        extra = pd.DataFrame(
            {
                "task": key["task"],
                "config_hash": key["config_hash"],
                "activation": missing,
                "n": 0,
                "diverged": 0,
                "epochs": 0,
            }
        )
        summary = pd.concat([summary, extra], ignore_index=True)
    summary = summary.drop(columns="trials").merge(counts.reset_index(), on="activation", how="left")
    columns = list(summary.columns)
    columns.insert(columns.index("n") + 1, columns.pop(columns.index("trials")))
    columns.insert(columns.index("diverged") + 1, columns.pop(columns.index("failed")))
    return summary[columns]


def curve_columns(curves: pd.DataFrame) -> pd.DataFrame:
    """The columns published activation tables use, computed from the seed-averaged curve
    and named for exactly that: its mean over all epochs, its mean over the epochs after
    the midpoint (e > E // 2), and its variance over those epochs (ddof=0). They measure
    a curve's level and wiggle, not the spread across seeds."""
    rows = []
    for key, curve in curves.groupby(GROUP, sort=False):
        late = curve.loc[curve["epoch"] > curve["epoch"].max() // 2, "mean"]
        rows.append(
            {
                **dict(zip(GROUP, key)),
                "curve_mean_all_epochs": curve["mean"].mean(),
                "curve_mean_late_epochs": late.mean(),
                "curve_var_late_epochs": late.var(ddof=0),
            }
        )
    return pd.DataFrame(
        rows, columns=[*GROUP, "curve_mean_all_epochs", "curve_mean_late_epochs", "curve_var_late_epochs"]
    )


def mean_curves(epochs: pd.DataFrame, column: str = "test_acc") -> pd.DataFrame:
    """A per-epoch metric (the store's ``column``: test accuracy by default) per (task,
    config_hash, activation, epoch) across finished trials: columns mean, std (ddof=1) and
    n; NaN where no trial stored that metric."""
    ok = epochs[epochs["status"] == "ok"]
    if column not in ok:
        ok = ok.assign(**{column: math.nan})
    curves = ok.groupby([*GROUP, "epoch"], sort=False)[column].agg(["mean", "std", "count"])
    return curves.rename(columns={"count": "n"}).reset_index()


# --- comparisons against a baseline -------------------------------------------------

# Resampling settings of the across-tasks bootstrap (actbench.report.across); the tables
# here resample nothing: their intervals are t-intervals.
BOOTSTRAP_RESAMPLES = 10_000
BOOTSTRAP_SEED = 0  # fixed: the same store gives the same intervals
MIN_N = 3  # below this no test is run: a t-test on 2 pairs has 1 degree of freedom


@dataclass(frozen=True)
class Comparison:
    """One activation against the baseline on one metric. Deltas are activation − baseline."""

    activation: str
    n: int
    mean: float
    std: float
    delta_mean: float = math.nan
    ci_low: float = math.nan  # the decision's interval of delta_mean: see simultaneous_intervals
    ci_high: float = math.nan
    ci_level: float = math.nan  # its confidence level, 1 − alpha/m (m: the tests Holm adjusts over)
    ci_method: str = ""  # what the table's intervals are, e.g. "simultaneous 98.33% t-intervals (Bonferroni over 3)"
    p_ttest: float = math.nan  # paired t-test, or Welch's t-test when unpaired
    p_wilcoxon: float = math.nan  # Wilcoxon signed-rank on the paired differences
    p_holm: float = math.nan  # p_ttest after Holm's step-down over the table
    significant: bool = False  # p_holm < alpha
    step_down_only: bool = False  # significant, yet the interval touches 0 (Holm's later steps are laxer)
    test: str = ""  # "paired", "welch", "baseline" or "none"
    note: str = ""  # why a test is missing or what it fell back to (for "welch": the seed sets)
    margin: float | None = None  # the equivalence margin asked for (--margin), in the metric's unit
    p_tost: float = math.nan  # TOST: the larger p of the two one-sided paired t-tests against ±margin
    p_tost_holm: float = math.nan  # p_tost after Holm's step-down over the table
    equivalent: bool = False  # p_tost_holm < alpha: the difference is shown to lie within ±margin


def holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjustment: the i-th smallest of m p-values is multiplied by m − i
    (i from 0), made non-decreasing, capped at 1. NaN entries are left out and stay NaN."""
    finite = [(p, i) for i, p in enumerate(p_values) if not math.isnan(p)]
    adjusted = [math.nan] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(sorted(finite)):
        running = max(running, min(1.0, (len(finite) - rank) * p))
        adjusted[i] = running
    return adjusted


def interval_level(alpha: float, m: int) -> float:
    """The level of each of m simultaneous intervals: 1 − alpha/m (1 − alpha for m <= 1)."""
    return 1 - alpha / max(m, 1)


def percent(level: float) -> str:
    """A level as the tables write it: 0.98333 as "98.33%"."""
    return f"{100 * level:.4g}%"


def interval_method(level: float, m: int) -> str:
    """How a table's intervals are described: "simultaneous 98.33% t-intervals (Bonferroni
    over 3)", or "95% t-intervals" when there is one comparison (nothing to adjust)."""
    if m <= 1:
        return f"{percent(level)} t-intervals"
    return f"simultaneous {percent(level)} t-intervals (Bonferroni over {m})"


def simultaneous_intervals(rows: list[dict], alpha: float) -> None:
    """Give each row that carries a SciPy t-test result (key "t", removed here) its t-interval
    at 1 − alpha/m, m = the number of such rows: the p-values Holm adjusts over. Every row
    with an interval gets its level, every row but the baseline the table's description, in place.

    Coverage: each interval covers its true difference with probability 1 − alpha/m (exact
    for normal paired differences, Welch's approximation when unpaired), so all m together
    with probability >= 1 − alpha by Bonferroni's inequality, under any dependence (they
    share the baseline's seeds).

    Agreement with the verdict: the interval excludes 0 exactly when the row's own p < alpha/m
    (the t-test and its interval share their statistic, degrees of freedom and quantile). Holm
    then rejects it: if it is the r-th smallest of the m p-values, every p_(j) with j <= r is
    <= p < alpha/m, so each adjusted (m − j + 1)·p_(j) <= m·p < alpha, hence p_holm < alpha.
    The converse fails: Holm's later steps test at alpha/(m − j + 1) > alpha/m, so a row can be
    significant while its interval touches 0; compare_to_baseline flags it (step_down_only).
    (Up to floating-point rounding exactly at the boundary, an event of probability 0.)
    """
    m = sum("t" in row for row in rows)
    level = interval_level(alpha, m)
    for row in rows:
        result = row.pop("t", None)
        if result is not None:
            # NumPy floats, or arrays where the test was vectorised over many tables (the
            # coverage simulations in tests/report/test_intervals.py).
            interval = result.confidence_interval(confidence_level=level)
            row["ci_low"], row["ci_high"] = interval.low, interval.high
        if "ci_low" in row:
            row["ci_level"] = level
        if row.get("test") != "baseline":  # the table's intervals, named on every row compared
            row["ci_method"] = interval_method(level, m)


def seed_ranges(seeds) -> str:
    """Seeds as runs: [0, 1, 2, 3, 5, 7, 8] -> "0–3, 5, 7–8"."""
    ordered = sorted(int(s) for s in seeds)
    runs: list[list[int]] = []
    for seed in ordered:
        if runs and seed == runs[-1][-1] + 1:
            runs[-1].append(seed)
        else:
            runs.append([seed])
    return ", ".join(str(run[0]) if len(run) == 1 else f"{run[0]}–{run[-1]}" for run in runs)


def tost_p(diff: np.ndarray, margin: float) -> float:
    """TOST on paired differences: the larger p of the one-sided t-tests of mean > −margin
    and mean < +margin (Schuirmann 1987); below alpha, the mean is shown within ±margin."""
    n = len(diff)
    se = diff.std(ddof=1) / math.sqrt(n)
    above = scipy_stats.t.sf((diff.mean() + margin) / se, n - 1)
    below = scipy_stats.t.cdf((diff.mean() - margin) / se, n - 1)
    return float(max(above, below))


def compare_pair(baseline: pd.Series, other: pd.Series, margin: float | None = None) -> dict:
    """Test ``other`` against ``baseline``, both indexed by seed (finished trials only) and
    named by their activation.

    Same seed sets: paired t-test and Wilcoxon signed-rank on the per-seed differences. Different
    seed sets: Welch's t-test on the difference of means, said so in ``note`` with both seed
    sets. Key "t" holds SciPy's t-test result, for simultaneous_intervals to take the interval
    at the table's level from. With ``margin``, paired differences also get TOST's p-value
    against ±margin (unpaired ones do not: the note says so).
    """
    baseline, other = baseline.sort_index(), other.sort_index()
    n = min(len(baseline), len(other))
    if n < MIN_N:
        return {"test": "none", "note": f"n < {MIN_N}: no test"}
    if set(baseline.index) == set(other.index):
        diff = (other - baseline.reindex(other.index)).to_numpy(dtype=float)
        out = {"test": "paired", "delta_mean": float(diff.mean())}
        if np.ptp(diff) == 0:  # every seed moved by the same amount: no spread to test
            return {
                **out,
                "ci_low": out["delta_mean"],
                "ci_high": out["delta_mean"],
                "note": "identical differences on every seed: no test",
            }
        out["t"] = scipy_stats.ttest_1samp(diff, 0.0)
        out["p_ttest"] = float(out["t"].pvalue)
        if margin is not None:
            out["p_tost"] = tost_p(diff, margin)
        if np.any(diff != 0):
            out["p_wilcoxon"] = float(scipy_stats.wilcoxon(diff).pvalue)
        return out
    a, b = other.to_numpy(dtype=float), baseline.to_numpy(dtype=float)
    seeds = f"{other.name}: seeds {seed_ranges(other.index)}; {baseline.name}: {seed_ranges(baseline.index)}"
    note = f"seed sets differ ({seeds}): Welch's t-test, unpaired" + ("; no TOST" if margin is not None else "")
    out = {"test": "welch", "delta_mean": float(a.mean() - b.mean()), "note": note}
    if np.ptp(a) == 0 and np.ptp(b) == 0:  # no spread on either side: SciPy would say p = 0 (or NaN)
        return {**out, "note": f"{note}; neither seed set varies: no test"}
    result = scipy_stats.ttest_ind(a, b, equal_var=False)
    out["p_ttest"], out["t"] = float(result.pvalue), result
    return out


def _by_activation(values: pd.DataFrame) -> dict[str, pd.Series]:
    """activation -> its values indexed by seed, named by the activation."""
    groups = values.groupby("activation", sort=False)
    return {act: group.set_index("seed")["value"].rename(act) for act, group in groups}


def _step_down_only(row: dict, significant: bool) -> bool:
    """Significant after Holm while the row's interval touches 0."""
    return bool(significant and row.get("ci_low", math.nan) <= 0 <= row.get("ci_high", math.nan))


def compare_to_baseline(
    values: pd.DataFrame, baseline: str, alpha: float, margin: float | None = None
) -> list[Comparison]:
    """``values``: columns activation, seed, value (finished trials of one task and config).

    One Comparison per activation, in the order given, the baseline first among equals;
    p_holm adjusts the t-test p-values of all the comparisons together, p_tost_holm the
    TOST p-values (with ``margin``): two families, each at alpha. Intervals: see
    simultaneous_intervals.
    """
    by_act = _by_activation(values)
    base = by_act[baseline]
    rows = []
    for act, series in by_act.items():
        spread = {
            "activation": act,
            "n": len(series),
            "mean": float(series.mean()),
            "std": float(series.std(ddof=1)) if len(series) > 1 else math.nan,
        }
        tested = {"test": "baseline"} if act == baseline else compare_pair(base, series, margin)
        rows.append({**spread, **tested})
    simultaneous_intervals(rows, alpha)
    adjusted = holm([row.get("p_ttest", math.nan) for row in rows])
    equivalence = holm([row.get("p_tost", math.nan) for row in rows])
    return [
        Comparison(
            **row,
            p_holm=p,
            significant=bool(p < alpha),  # NaN < alpha is False
            step_down_only=_step_down_only(row, bool(p < alpha)),
            margin=margin,
            p_tost_holm=q,
            equivalent=bool(q < alpha),
        )
        for row, p, q in zip(rows, adjusted, equivalence)
    ]


def verdict(c: Comparison, higher_is_better: bool) -> str:
    """better / worse (significant after Holm); equivalent (±margin) (TOST significant after
    Holm, with a margin); inconclusive (tested, neither shown: absence of evidence, not
    evidence of no difference); or why untested."""
    if c.test == "baseline":
        return "baseline"
    if c.test == "none" or math.isnan(c.p_holm):
        return c.note or "no test"
    if c.significant:
        return "better" if (c.delta_mean > 0) == higher_is_better else "worse"
    if c.equivalent:
        return f"equivalent (±{c.margin:g})"
    return "inconclusive"


def comparisons_frame(comparisons: list[Comparison]) -> pd.DataFrame:
    return pd.DataFrame([asdict(c) for c in comparisons])


# --- all pairs -----------------------------------------------------------------------


@dataclass(frozen=True)
class PairComparison:
    """Activation a against activation b (delta = a − b), tested as compare_pair does."""

    a: str
    b: str
    n_a: int
    n_b: int
    delta_mean: float = math.nan
    ci_low: float = math.nan  # t-interval at 1 − alpha/m, m = the pairs tested (simultaneous_intervals)
    ci_high: float = math.nan
    ci_level: float = math.nan
    ci_method: str = ""
    p_ttest: float = math.nan
    p_wilcoxon: float = math.nan
    p_holm: float = math.nan  # Holm's step-down over the t-tests of all pairs
    significant: bool = False
    step_down_only: bool = False  # significant, yet the interval touches 0
    test: str = ""
    note: str = ""


def compare_all_pairs(values: pd.DataFrame, alpha: float) -> list[PairComparison]:
    """Every unordered pair of activations, a before b in the order given."""
    by_act = _by_activation(values)
    acts = list(by_act)
    rows = []
    for i, a in enumerate(acts):
        for b in acts[i + 1 :]:
            tested = compare_pair(by_act[b], by_act[a])
            rows.append({"a": a, "b": b, "n_a": len(by_act[a]), "n_b": len(by_act[b]), **tested})
    simultaneous_intervals(rows, alpha)
    adjusted = holm([row.get("p_ttest", math.nan) for row in rows])
    return [
        PairComparison(
            **row,
            p_holm=p,
            significant=bool(p < alpha),  # NaN < alpha is False
            step_down_only=_step_down_only(row, bool(p < alpha)),
        )
        for row, p in zip(rows, adjusted)
    ]


def rank_activations(means: dict[str, float], pairs: list[PairComparison], higher_is_better: bool) -> dict[str, int]:
    """Rank = 1 + the number of activations significantly better than this one.

    Activations that no test separates share a rank (shown as tied): a ranking of means
    alone would order noise. Returned in order of rank, then of mean.
    """
    better_than = {act: 0 for act in means}
    for pair in pairs:
        if pair.significant:
            a_wins = (pair.delta_mean > 0) == higher_is_better
            better_than[pair.b if a_wins else pair.a] += 1
    sign = -1 if higher_is_better else 1
    order = sorted(means, key=lambda act: (better_than[act], sign * means[act]))
    return {act: 1 + better_than[act] for act in order}
