"""Summaries of stored trials, and comparisons of activations against a baseline.

Conventions, stated once here and in every table: accuracy is in percent; std is the
sample standard deviation across seeds (ddof=1); diverged trials are counted apart and
excluded from the accuracy statistics, so n is the number of trials that finished.

Comparisons use the paired design: every activation is trained with the same seeds, a
seed fixing initialisation and data order, so the per-seed differences to the baseline
carry the signal and the seed-to-seed spread cancels. Tests come from SciPy; only Holm's
step-down, a few lines of arithmetic, is written here.
"""

from __future__ import annotations

import math
import warnings
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
        extra = pd.DataFrame({"task": key["task"], "config_hash": key["config_hash"], "activation": missing,
                              "n": 0, "diverged": 0, "epochs": 0})  # fmt: skip
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
        rows.append({
            **dict(zip(GROUP, key)),
            "curve_mean_all_epochs": curve["mean"].mean(),
            "curve_mean_late_epochs": late.mean(),
            "curve_var_late_epochs": late.var(ddof=0),
        })  # fmt: skip
    return pd.DataFrame(rows, columns=[*GROUP, "curve_mean_all_epochs", "curve_mean_late_epochs", "curve_var_late_epochs"])


def mean_curves(epochs: pd.DataFrame) -> pd.DataFrame:
    """Test accuracy per (task, config_hash, activation, epoch) across finished trials:
    columns mean, std (ddof=1) and n."""
    ok = epochs[epochs["status"] == "ok"]
    curves = ok.groupby([*GROUP, "epoch"], sort=False)["test_acc"].agg(["mean", "std", "count"])
    return curves.rename(columns={"count": "n"}).reset_index()


# --- comparisons against a baseline -------------------------------------------------

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
    ci_low: float = math.nan  # 95% bootstrap interval of delta_mean
    ci_high: float = math.nan
    p_ttest: float = math.nan  # paired t-test, or Welch's t-test when unpaired
    p_wilcoxon: float = math.nan  # Wilcoxon signed-rank on the paired differences
    p_holm: float = math.nan  # p_ttest after Holm's step-down over the table
    significant: bool = False  # p_holm < alpha
    test: str = ""  # "paired", "welch", "baseline" or "none"
    note: str = ""  # why a test is missing or what it fell back to
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


def _bootstrap_ci(samples: tuple[np.ndarray, ...], statistic) -> tuple[float, float]:
    """95% BCa bootstrap interval (SciPy), BOOTSTRAP_RESAMPLES resamples, fixed seed."""
    with warnings.catch_warnings():
        # Degenerate data (all differences equal) gives NaN bounds with a warning; the
        # caller reports those cases itself.
        warnings.simplefilter("ignore")
        result = scipy_stats.bootstrap(
            samples, statistic, n_resamples=BOOTSTRAP_RESAMPLES, method="BCa",
            rng=np.random.default_rng(BOOTSTRAP_SEED), vectorized=True, axis=-1,
        )  # fmt: skip
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def tost_p(diff: np.ndarray, margin: float) -> float:
    """TOST on paired differences: the larger p of the one-sided t-tests of mean > −margin
    and mean < +margin (Schuirmann 1987); below alpha, the mean is shown within ±margin."""
    n = len(diff)
    se = diff.std(ddof=1) / math.sqrt(n)
    above = scipy_stats.t.sf((diff.mean() + margin) / se, n - 1)
    below = scipy_stats.t.cdf((diff.mean() - margin) / se, n - 1)
    return float(max(above, below))


def compare_pair(baseline: pd.Series, other: pd.Series, margin: float | None = None) -> dict:
    """Test ``other`` against ``baseline``, both indexed by seed (finished trials only).

    Same seed sets: paired t-test and Wilcoxon signed-rank on the per-seed differences,
    bootstrap interval of their mean. Different seed sets: Welch's t-test and a bootstrap
    of the difference of means, said so in ``note``. Values are taken in seed order, so
    the bootstrap's resamples, hence its interval, depend on the seeds' values alone, not
    on the order the store returned them in. With ``margin``, paired differences also get
    TOST's p-value against ±margin (unpaired ones do not: the note says so).
    """
    baseline, other = baseline.sort_index(), other.sort_index()
    n = min(len(baseline), len(other))
    if n < MIN_N:
        return {"test": "none", "note": f"n < {MIN_N}: no test"}
    if set(baseline.index) == set(other.index):
        diff = (other - baseline.reindex(other.index)).to_numpy(dtype=float)
        out = {"test": "paired", "delta_mean": float(diff.mean())}
        if np.ptp(diff) == 0:  # every seed moved by the same amount: no spread to test
            return {**out, "ci_low": out["delta_mean"], "ci_high": out["delta_mean"],
                    "note": "identical differences on every seed: no test"}  # fmt: skip
        out["ci_low"], out["ci_high"] = _bootstrap_ci((diff,), lambda d, axis: d.mean(axis=axis))
        out["p_ttest"] = float(scipy_stats.ttest_1samp(diff, 0.0).pvalue)
        if margin is not None:
            out["p_tost"] = tost_p(diff, margin)
        if np.any(diff != 0):
            out["p_wilcoxon"] = float(scipy_stats.wilcoxon(diff).pvalue)
        return out
    a, b = other.to_numpy(dtype=float), baseline.to_numpy(dtype=float)
    note = "seed sets differ: unpaired, Welch's t-test" + ("; no TOST" if margin is not None else "")
    out = {"test": "welch", "delta_mean": float(a.mean() - b.mean()), "note": note}
    out["ci_low"], out["ci_high"] = _bootstrap_ci(
        (a, b), lambda x, y, axis: x.mean(axis=axis) - y.mean(axis=axis)
    )
    out["p_ttest"] = float(scipy_stats.ttest_ind(a, b, equal_var=False).pvalue)
    return out


def compare_to_baseline(
    values: pd.DataFrame, baseline: str, alpha: float, margin: float | None = None
) -> list[Comparison]:
    """``values``: columns activation, seed, value (finished trials of one task and config).

    One Comparison per activation, in the order given, the baseline first among equals;
    p_holm adjusts the t-test p-values of all the comparisons together, p_tost_holm the
    TOST p-values (with ``margin``).
    """
    by_act = {act: group.set_index("seed")["value"] for act, group in values.groupby("activation", sort=False)}
    base = by_act[baseline]
    rows = []
    for act, series in by_act.items():
        spread = {"activation": act, "n": len(series), "mean": float(series.mean()),
                  "std": float(series.std(ddof=1)) if len(series) > 1 else math.nan}  # fmt: skip
        tested = {"test": "baseline"} if act == baseline else compare_pair(base, series, margin)
        rows.append({**spread, **tested})
    adjusted = holm([row.get("p_ttest", math.nan) for row in rows])
    equivalence = holm([row.get("p_tost", math.nan) for row in rows])
    return [
        Comparison(**row, p_holm=p, significant=bool(p < alpha),  # NaN < alpha is False
                   margin=margin, p_tost_holm=q, equivalent=bool(q < alpha))  # fmt: skip
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
    ci_low: float = math.nan
    ci_high: float = math.nan
    p_ttest: float = math.nan
    p_wilcoxon: float = math.nan
    p_holm: float = math.nan  # Holm's step-down over the t-tests of all pairs
    significant: bool = False
    test: str = ""
    note: str = ""


def compare_all_pairs(values: pd.DataFrame, alpha: float) -> list[PairComparison]:
    """Every unordered pair of activations, a before b in the order given."""
    by_act = {act: group.set_index("seed")["value"] for act, group in values.groupby("activation", sort=False)}
    acts = list(by_act)
    rows = []
    for i, a in enumerate(acts):
        for b in acts[i + 1 :]:
            tested = compare_pair(by_act[b], by_act[a])
            rows.append({"a": a, "b": b, "n_a": len(by_act[a]), "n_b": len(by_act[b]), **tested})
    adjusted = holm([row.get("p_ttest", math.nan) for row in rows])
    return [PairComparison(**row, p_holm=p, significant=bool(p < alpha)) for row, p in zip(rows, adjusted)]


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
