"""Across tasks: hand-computed probabilities of improvement and mean ranks, the stratified
Wilson interval against statsmodels' Wilson interval and its exact coverage, the rank
bootstrap against a loop-by-loop reimplementation and its simulated coverage, and the messages."""

import importlib.util
import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as scipy_stats
from statsmodels.stats.proportion import proportion_confint

from actbench.api import Metric
from actbench.errors import UsageError
from actbench.report import stats
from actbench.report.across import (
    Stratum,
    Z,
    across_frame,
    across_from_reports,
    across_json,
    across_markdown,
    across_method,
    compare_across,
    strata_from_reports,
    stratified_wilson,
)
from actbench.report.build import CompareSpec, TaskReport

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "across_coverage.py"
spec = importlib.util.spec_from_file_location("across_coverage", SCRIPT)
across_coverage = importlib.util.module_from_spec(spec)
spec.loader.exec_module(across_coverage)

ACC = Metric("final_acc", "final test accuracy (%)", "final test acc (%)", "score")
LOSS = Metric("final_loss", "final test loss", "final test loss", "score", higher_is_better=False)


def values(table: dict[str, dict[int, float]]) -> pd.DataFrame:
    """{activation: {seed: value}} as the rows of finished trials."""
    return pd.DataFrame(
        [(act, seed, v) for act, by_seed in table.items() for seed, v in by_seed.items()],
        columns=["activation", "seed", "value"],
    )


def stratum(name: str, table: dict[str, dict[int, float]], higher: bool = True) -> Stratum:
    return Stratum(name, values(table), higher, "final test accuracy (%)" if higher else "final test loss")


def row(result, act):
    return next(r for r in result.rows if r.activation == act)


# Task one, 3 seeds: A − B = +1, 0, −2: wins 1, ½, 0, share ½. Task two, 2 seeds: A wins both, share 1.
ONE = {"relu": {0: 1.0, 1: 2.0, 2: 3.0}, "gelu": {0: 2.0, 1: 2.0, 2: 1.0}}
TWO = {"relu": {0: 5.0, 1: 5.0}, "gelu": {0: 6.0, 1: 7.0}}


def test_probability_of_improvement_weighs_tasks_equally_and_ties_half():
    result = compare_across([stratum("one", ONE), stratum("two", TWO)], "relu", resamples=200)
    gelu = row(result, "gelu")
    # (½ + 1) / 2, not the pooled 3.5 / 5 = 0.7 that would weigh task one's extra seed.
    assert gelu.p_improve == 0.75
    assert (gelu.tasks, gelu.seeds) == (2, 5)
    # The interval counts the tie ½ too: task one is 1.5 wins of 3. Task two, all wins, has no
    # estimated variance, so z* = z and the interval is the mean of the two tasks' Wilson intervals.
    one, two = proportion_confint(1.5, 3, 0.05, "wilson"), proportion_confint(2, 2, 0.05, "wilson")
    assert (gelu.low, gelu.high) == pytest.approx(((one[0] + two[0]) / 2, (one[1] + two[1]) / 2), abs=1e-12)
    assert gelu.note == ""
    base = row(result, "relu")
    assert math.isnan(base.p_improve) and (base.tasks, base.seeds) == (2, 5)
    assert [(s.name, s.seeds, s.ranked_seeds) for s in result.strata] == [("one", 3, 3), ("two", 2, 2)]


def test_lower_is_better_flips_every_win():
    result = compare_across([stratum("one", ONE, higher=False), stratum("two", TWO, higher=False)], "relu", 200)
    # Task one: wins 0, ½, 1 (share ½); task two: none.
    assert row(result, "gelu").p_improve == 0.25
    assert not result.higher_is_better


def test_unpaired_seeds_are_dropped():
    one = {"relu": {**ONE["relu"], 8: 0.0}, "gelu": {**ONE["gelu"], 9: 99.0}}  # seed 8 lacks gelu, 9 relu
    gelu = row(compare_across([stratum("one", one), stratum("two", TWO)], "relu", 200), "gelu")
    assert (gelu.p_improve, gelu.tasks, gelu.seeds) == (0.75, 2, 5)


def test_an_activation_missing_on_a_task_is_left_out_there_and_unranked():
    two = {**TWO, "silu": {0: 9.0, 1: 9.0}}  # silu only on task two: wins both
    result = compare_across([stratum("one", ONE), stratum("two", two)], "relu", 200)
    silu = row(result, "silu")
    assert (silu.p_improve, silu.tasks, silu.seeds) == (1.0, 1, 2)
    assert (silu.low, silu.high) == pytest.approx(proportion_confint(2, 2, 0.05, "wilson"), abs=1e-12)  # one task
    assert silu.rank is None and math.isnan(silu.mean_rank)
    assert silu.note == "no seed paired with relu on one; not ranked: no finished trial on one"
    # relu and gelu tie at mean rank 1.5 (relu best on task one's means, gelu on task two's):
    # both rank 1, in the order given; the unranked come last.
    assert [(r.activation, r.mean_rank, r.rank) for r in result.rows[:2]] == [("relu", 1.5, 1), ("gelu", 1.5, 1)]
    assert result.rows[2].activation == "silu"


def test_a_task_without_the_baseline_is_left_out_and_said_so():
    three = {"gelu": {0: 1.0}}
    result = compare_across([stratum("one", ONE), stratum("two", TWO), stratum("three", three)], "relu", 200)
    assert result.left_out == ("three",)
    assert [s.name for s in result.strata] == ["one", "two"]
    assert row(result, "gelu").p_improve == 0.75
    assert "Left out, no finished trial of relu: three." in across_markdown(result)


def test_no_common_seed_anywhere_leaves_p_and_the_ranking_empty():
    apart = {"relu": {0: 1.0}, "gelu": {1: 2.0}}  # never on the same seed
    result = compare_across([stratum("one", apart), stratum("two", apart)], "relu", 100)
    gelu = row(result, "gelu")
    assert (gelu.tasks, gelu.seeds, gelu.note) == (0, 0, "no seed paired with relu on any task")
    assert math.isnan(gelu.p_improve) and all(r.rank is None for r in result.rows)
    text = across_markdown(result)
    assert "| gelu | 0 | 0 | – | – | – | no seed paired with relu on any task |" in text
    assert "one (1 seed of relu; left out of the ranking: no seed finished by every ranked activation)" in text


# --- the interval of P ------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 7, 10, 25])
def test_one_task_gives_statsmodels_wilson_interval(n):
    wins = np.arange(n + 1)  # every count: 0 and n, where the estimated variance is 0, too
    low, high = stratified_wilson((wins / n)[:, None], np.array([n]))
    reference = np.array([proportion_confint(x, n, 0.05, "wilson") for x in wins])  # (n + 1, 2)
    assert np.column_stack([low, high]) == pytest.approx(reference, abs=1e-12)


@pytest.mark.parametrize("tasks", [2, 3, 5])
def test_equal_tasks_give_the_wilson_interval_of_their_pooled_seeds(tasks):
    """Equal shares of n seeds on T tasks have equal variances, so z* = z/√T; and the Wilson
    interval of a share at z/√T over n trials is the one at z over Tn trials (the same centre
    and half-width). All wins and all losses, where every variance is 0, give it too."""
    n = 10
    wins = np.arange(n + 1)
    low, high = stratified_wilson(np.repeat((wins / n)[:, None], tasks, axis=1), np.full(tasks, n))
    reference = np.array([proportion_confint(tasks * x, tasks * n, 0.05, "wilson") for x in wins])
    assert np.column_stack([low, high]) == pytest.approx(reference, abs=1e-12)


def test_unequal_tasks_average_their_wilson_intervals_at_yan_and_sus_critical_value():
    """z* = z √(Σ w_i² V_i) / Σ w_i √V_i with V_i = p̂_i(1 - p̂_i)/n_i (equal weights cancel);
    the bounds are the means of the tasks' Wilson bounds at z*, here statsmodels' at the level
    whose critical value is z*. A share of 7.5 of 10 is a task with a tie."""
    wins, n = np.array([3.0, 7.5, 11.0]), np.array([5, 10, 12])
    shares = wins / n
    sd = np.sqrt(shares * (1 - shares) / n)
    z_star = Z * np.sqrt(np.sum(sd**2)) / np.sum(sd)
    assert Z / np.sqrt(3) < z_star < Z  # Cauchy-Schwarz; strictly, as the variances differ
    level = 2 * scipy_stats.norm.sf(z_star)
    bounds = np.array([proportion_confint(x, m, level, "wilson") for x, m in zip(wins, n)])  # (3, 2)
    assert stratified_wilson(shares, n) == pytest.approx(tuple(bounds.mean(axis=0)), abs=1e-12)


def test_all_wins_on_every_task_is_not_a_zero_width_interval():
    """The case that sank the bootstrap: P near 1 gives all wins on 3 tasks of 10 seeds half
    the time, and every resample of all wins is 1, so it showed [1.00, 1.00]. Equal tasks:
    the Wilson interval of 30 wins in 30, [30 / (30 + z²), 1]."""
    wins = {"relu": dict(enumerate(np.zeros(10))), "srelu": dict(enumerate(np.ones(10)))}
    result = compare_across([stratum(name, wins) for name in ("one", "two", "three")], "relu", 100)
    srelu = row(result, "srelu")
    assert (srelu.p_improve, srelu.high) == (1.0, 1.0) and srelu.low == pytest.approx(30 / (30 + Z**2), abs=1e-12)
    assert "| srelu | 3 | 30 | 1.00 [0.89, 1.00] |" in across_markdown(result)


# (win, tie): per task, the probability that A beats the baseline on a seed, and of a tie.
# Phi(mu): per-seed differences N(mu, 1); P = mean(win + tie / 2).
TYPICAL = {
    "3 tasks, P 0.648 (the bootstrap: 92%)": (scipy_stats.norm.cdf([0.0, 0.4, 0.8]), 0.0),
    "2 tasks, P 0.644 (the bootstrap: 88.5%)": (scipy_stats.norm.cdf([0.0, 0.8]), 0.0),
    "3 tasks, P 0.977 (the bootstrap: 49%)": (scipy_stats.norm.cdf([2.0] * 3), 0.0),
    "3 tasks, P 0.977, one always wins": (np.array([0.95, 0.98, 1.0]), 0.0),
    "3 tasks, P 0.5": (np.full(3, 0.5), 0.0),
    "2 tasks, P 0.5": (np.full(2, 0.5), 0.0),
    "3 tasks, P 0.7": (np.full(3, 0.7), 0.0),
    "3 tasks, P 0.6, 20% ties": (np.full(3, 0.5), 0.2),
}


@pytest.mark.parametrize("case", TYPICAL)
def test_exact_coverage_is_at_least_94_percent_in_typical_cases(case):
    """Every outcome of 10 seeds a task enumerated (no Monte Carlo error): 94.2-97.2% measured.
    At most 98%, so that an interval too wide to be of use fails as well as one too short."""
    win, tie = TYPICAL[case]
    coverage, _ = across_coverage.exact_coverage(win, tie, 10)
    assert 0.94 <= coverage <= 0.98


def test_exact_coverage_dips_like_the_wilson_interval_and_no_further():
    """What can be defended, and the method text states: the Wilson interval's coverage
    oscillates with P and dips below 95% near 0 and 1 (Brown, Cai & DasGupta 2001). With every
    task at one P from 0.01 to 0.99 it stays at or above 92.4% (2 tasks) and 93.1% (3), with a
    median of 95.3% or more; at P = 0.977 with 2 tasks it is 92.5%."""
    equal = np.round(np.arange(1, 100) / 100, 2)
    for tasks, lowest in ((2, 0.924), (3, 0.931)):
        coverage = np.array([across_coverage.exact_coverage(np.full(tasks, p), 0.0, 10)[0] for p in equal])
        assert coverage.min() >= lowest and np.median(coverage) >= 0.953
    two_near_one, _ = across_coverage.exact_coverage(scipy_stats.norm.cdf([2.0] * 2), 0.0, 10)
    assert two_near_one == pytest.approx(0.925, abs=5e-4)


def test_exact_coverage_agrees_with_a_simulation_with_ties():
    """The enumeration (the tie convolution included) against 40,000 simulated datasets of 3
    tasks, 10 seeds each, scores 0, ½ or 1 drawn with probabilities (0.2, 0.3, 0.5), (0.1, 0.2,
    0.7) and (0.4, 0.2, 0.4): within 4 standard errors (about 0.4%)."""
    win, tie = np.array([0.5, 0.7, 0.4]), np.array([0.3, 0.2, 0.2])
    exact, _ = across_coverage.exact_coverage(win, tie, 10)
    rng = np.random.default_rng(7)
    u = rng.random((40_000, 3, 10))  # (datasets, tasks, seeds)
    scores = np.where(u < win[:, None], 1.0, np.where(u < (win + tie)[:, None], 0.5, 0.0))
    low, high = stratified_wilson(scores.mean(axis=2), np.full(3, 10))
    truth = np.mean(win + tie / 2)
    simulated = np.mean((low <= truth) & (truth <= high))
    assert simulated == pytest.approx(exact, abs=4 * math.sqrt(exact * (1 - exact) / 40_000))


# --- ranks ----------------------------------------------------------------------------------


def test_mean_ranks_hand_computed_with_ties_on_the_common_seeds():
    # Task one's means over seeds 0, 1 (c lacks seed 2, so seed 2 is not used for anyone):
    # a 3, b 3, c 1 -> ranks 1.5, 1.5, 3 (over all its seeds a would be (2 + 4 + 100) / 3, first).
    one = {"a": {0: 2.0, 1: 4.0, 2: 100.0}, "b": {0: 3.0, 1: 3.0, 2: 0.0}, "c": {0: 1.0, 1: 1.0}}
    # Task two: a 1, b 2, c 3 -> ranks 3, 2, 1.
    two = {"a": {0: 1.0}, "b": {0: 2.0}, "c": {0: 3.0}}
    result = compare_across([stratum("one", one), stratum("two", two)], "a", 200)
    assert {r.activation: r.mean_rank for r in result.rows} == {"b": 1.75, "c": 2.0, "a": 2.25}
    assert [(r.activation, r.rank) for r in result.rows] == [("b", 1), ("c", 2), ("a", 3)]
    assert [s.ranked_seeds for s in result.strata] == [2, 1]
    # P pairs all of a task's seeds, not only the ranking's: b beats a on seed 0 of 0-2 and on task two.
    assert row(result, "b").p_improve == pytest.approx((1 / 3 + 1) / 2)


def test_lower_is_better_ranks_the_smallest_mean_first():
    one = {"a": {0: 1.0}, "b": {0: 2.0}}
    result = compare_across([stratum("one", one, False), stratum("two", one, False)], "b", 100)
    assert [(r.activation, r.mean_rank, r.rank) for r in result.rows] == [("a", 1.0, 1), ("b", 2.0, 2)]


def test_clearly_best_everywhere_ranks_one_to_one():
    rng = np.random.default_rng(3)
    strata = []
    for name in ("one", "two", "three"):
        base = rng.normal(90, 1, 8)
        table = {"relu": base, "gelu": base + rng.normal(0, 1, 8), "srelu": base + 10 + rng.normal(0, 1, 8)}
        strata.append(stratum(name, {act: dict(enumerate(v)) for act, v in table.items()}))
    best = row(compare_across(strata, "relu", 1000), "srelu")
    assert (best.rank, best.rank_low, best.rank_high) == (1, 1, 1)
    assert (best.mean_rank, best.mean_rank_low, best.mean_rank_high) == (1.0, 1.0, 1.0)
    # 24 wins in 24 pairs: the Wilson interval of 24 of 24, [24 / (24 + z²), 1], not the bootstrap's [1, 1].
    assert (best.p_improve, best.high) == (1.0, 1.0) and best.low == pytest.approx(24 / (24 + Z**2), abs=1e-12)


# --- the bootstrap against a plain reimplementation ----------------------------------------


def naive_bootstrap(tasks: list[dict[str, dict[int, float]]], ranked: list[str], resamples: int):
    """Every ranked activation's mean rank and position, per resample, with explicit loops.
    The draws: from default_rng(BOOTSTRAP_SEED), per task in order, an (R, n) matrix of seed
    indices, seeds ascending."""
    rng = np.random.default_rng(stats.BOOTSTRAP_SEED)
    draws = []
    for task in tasks:
        seeds = sorted(set.intersection(*(set(task[a]) for a in ranked)))
        draws.append((seeds, rng.integers(0, len(seeds), size=(resamples, len(seeds)))))
    mean_ranks, positions = [], []
    for r in range(resamples):
        total = {a: 0.0 for a in ranked}
        for task, (seeds, idx) in zip(tasks, draws):
            means = {a: sum(task[a][seeds[i]] for i in idx[r]) / len(idx[r]) for a in ranked}
            for a in ranked:  # 1 + those better + half of those tied (the average of the tied ranks)
                better = sum(means[b] > means[a] for b in ranked)
                tied = sum(means[b] == means[a] for b in ranked if b != a)
                total[a] += 1 + better + tied / 2
        mean_ranks.append([total[a] / len(tasks) for a in ranked])
        positions.append([1 + sum(total[b] < total[a] for b in ranked) for a in ranked])
    return np.array(mean_ranks), np.array(positions)


def test_rank_bootstrap_matches_a_loop_by_loop_reimplementation():
    rng = np.random.default_rng(11)
    tasks = []
    for n in (6, 4, 5):
        table = {
            act: dict(enumerate(np.round(rng.normal(shift, 1, n), 1)))
            for act, shift in (("relu", 0), ("gelu", 0.3), ("silu", 0.1))
        }
        tasks.append(table)
    del tasks[0]["gelu"][5]  # unpaired seed: out of every activation's ranking on task one
    tasks[1]["silu"][1] = tasks[1]["relu"][1]  # a tie
    resamples = 300
    result = compare_across([stratum(f"t{i}", t) for i, t in enumerate(tasks)], "relu", resamples)
    ranked = ["relu", "gelu", "silu"]
    mean_ranks, positions = naive_bootstrap(tasks, ranked, resamples)
    for k, act in enumerate(ranked):
        got = row(result, act)
        assert (got.mean_rank_low, got.mean_rank_high) == pytest.approx(
            tuple(np.percentile(mean_ranks[:, k], [2.5, 97.5])), abs=1e-12
        )
        ordered = np.sort(positions[:, k])  # the empirical quantiles: ordered[ceil(qR) - 1]
        assert (got.rank_low, got.rank_high) == (
            ordered[math.ceil(0.025 * resamples) - 1],
            ordered[math.ceil(0.975 * resamples) - 1],
        )


def test_ten_thousand_resamples_are_the_default_and_reproducible():
    rng = np.random.default_rng(5)
    strata = [
        stratum(f"t{t}", {f"a{k}": dict(enumerate(rng.normal(k * 0.1, 1, 10))) for k in range(5)}) for t in range(3)
    ]
    first, second = compare_across(strata, "a0"), compare_across(strata, "a0")
    assert first.resamples == stats.BOOTSTRAP_RESAMPLES == 10_000
    assert across_json(first) == across_json(second)  # every number, NaN (null) included


@pytest.mark.parametrize("tasks, close_at_most", [(2, 0.8), (3, 0.6)])
def test_rank_intervals_cover_when_means_are_apart_and_not_when_close(tasks, close_at_most):
    """What the method text says of the rank intervals, by simulation (4 activations, 10 seeds a
    task, 200 datasets: a coverage's standard error is at most 3.5%). Means a seed standard
    deviation apart: both intervals cover nearly always (99.9-100% measured on 1,000). A tenth
    of one apart: the mean-rank interval of the worst-covered activation covers 66% (2 tasks)
    and 40% (3 tasks) measured, far below 95%, while the rank interval, [1-4] or near it,
    still covers 92% or more (Hall & Miller 2009). Bounds at 4 standard errors or more."""
    mean_rank, rank = across_coverage.rank_coverage(1.0, 200, 500, tasks=tasks)
    assert mean_rank.min() >= 0.95 and rank.min() >= 0.95
    mean_rank, rank = across_coverage.rank_coverage(0.1, 200, 500, tasks=tasks)
    assert mean_rank.min() <= close_at_most and rank.min() >= 0.8


# --- properties -------------------------------------------------------------------------------

# A task: values of a and b on seeds 0..5 from few levels, so that ties are common; both on
# seed 0 (each is the other's baseline, which must be on every task), either missing after.
level = st.sampled_from([0.0, 1.0, 2.0])
cell = st.one_of(st.none(), level)
task = st.tuples(st.tuples(level, level), st.lists(st.tuples(cell, cell), max_size=5)).map(lambda t: [t[0], *t[1]])


def two_activation_stratum(name: str, cells: list) -> Stratum:
    table = {"a": {}, "b": {}, "c": {0: 1.0}}  # c has a seed on every task: the baseline of the ranking check
    for seed, (a, b) in enumerate(cells):
        for act, v in (("a", a), ("b", b)):
            if v is not None:
                table[act][seed] = v
    return stratum(name, table)


@settings(max_examples=25, deadline=None)
@given(st.lists(task, min_size=2, max_size=3))
def test_improvement_of_a_over_b_and_of_b_over_a_sum_to_one(tasks):
    strata = [two_activation_stratum(f"t{i}", cells) for i, cells in enumerate(tasks)]
    ab, ba = row(compare_across(strata, "b", 50), "a"), row(compare_across(strata, "a", 50), "b")
    assert ab.p_improve + ba.p_improve == pytest.approx(1.0)
    # The Wilson interval of 1 - p̂ is 1 minus that of p̂, and z* depends on the p̂_i(1 - p̂_i) only.
    assert (ab.low, ab.high) == pytest.approx((1 - ba.high, 1 - ba.low))
    assert 0 <= ab.low <= ab.high <= 1


@settings(max_examples=25, deadline=None)
@given(st.lists(st.lists(st.sampled_from([0.0, 1.0, 2.0]), min_size=3, max_size=3), min_size=2, max_size=4))
def test_mean_ranks_sum_to_the_ranks_of_k_activations(tasks):
    strata = [stratum(f"t{i}", {act: {0: v} for act, v in zip("xyz", means)}) for i, means in enumerate(tasks)]
    result = compare_across(strata, "x", 20)
    assert sum(r.mean_rank for r in result.rows) == pytest.approx(1 + 2 + 3)
    assert all(1 <= r.rank_low <= r.rank <= r.rank_high <= 3 for r in result.rows)  # one seed: no spread


# --- from reports, and the messages ------------------------------------------------------------


def report(
    task: str, config_hash: str, table: dict[str, dict[int, float]], metric: Metric = ACC, baseline: str = "relu"
) -> TaskReport:
    empty = pd.DataFrame()
    return TaskReport(
        task, config_hash, {}, (), empty, empty, CompareSpec(), metric, baseline, values(table), [], [], []
    )


def test_reports_become_strata_named_by_task_or_by_protocol():
    reports = [report("mnist", "abcd1234ef", ONE), report("mnist", "99990000ff", TWO), report("cifar10", "1234", TWO)]
    strata = strata_from_reports(reports)
    assert [s.name for s in strata] == ["mnist [abcd1234]", "mnist [99990000]", "cifar10"]
    assert [s.metric for s in strata] == ["final test accuracy (%)"] * 3
    result = across_from_reports(reports, resamples=100)
    assert result.baseline == "relu" and row(result, "gelu").p_improve == pytest.approx((0.5 + 1 + 1) / 3)


def test_a_report_without_finished_trials_is_left_out():
    nothing = report("fashion", "c", {}, baseline="")  # every trial failed: no baseline either
    result = across_from_reports([report("mnist", "a", ONE), report("cifar10", "b", TWO), nothing], resamples=100)
    assert result.left_out == ("fashion",) and row(result, "gelu").p_improve == 0.75


def test_fewer_than_two_tasks_is_a_usage_error():
    with pytest.raises(UsageError) as caught:
        strata_from_reports([report("mnist", "abcd1234", ONE)])
    assert str(caught.value) == "--across-tasks needs at least two tasks, got 1: mnist"
    with pytest.raises(UsageError) as caught:
        compare_across([stratum("one", ONE), stratum("two", {"gelu": {0: 1.0}})], "relu")
    assert str(caught.value) == "--across-tasks needs at least two tasks with finished trials of relu, got 1: one"
    with pytest.raises(UsageError) as caught:
        across_from_reports([report("mnist", "a", {}, baseline=""), report("cifar10", "b", {}, baseline="")])
    assert str(caught.value) == "--across-tasks needs finished trials; no task has any"


def test_an_accuracy_task_and_a_loss_task_each_beat_in_their_own_direction():
    # gelu: the higher accuracy on mnist (6, 7 against 5, 5) and the lower loss on shakespeare at every seed.
    losses = {"relu": {0: 1.62, 1: 1.70}, "gelu": {0: 1.51, 1: 1.55}}
    reports = [report("mnist", "a", TWO), report("shakespeare", "b", losses, LOSS)]
    result = across_from_reports(reports, resamples=100)
    gelu = row(result, "gelu")
    assert (gelu.p_improve, gelu.rank, gelu.mean_rank) == (1.0, 1, 1.0)
    assert (result.metric, result.higher_is_better) == (None, None)
    assert across_method(result).startswith(
        "Metrics, each task's own: mnist: final test accuracy (%) (higher is better); shakespeare: final test loss "
        "(lower is better); on each task an activation beats another, and ranks above it, when better in that "
        "task's direction. Tasks, each weighted equally: mnist (2 seeds of relu;"
    )
    saved = json.loads(across_json(result))
    assert (saved["metric_label"], saved["higher_is_better"]) == (None, None)
    assert saved["metrics"] == [
        {"task": "mnist", "metric_label": "final test accuracy (%)", "higher_is_better": True},
        {"task": "shakespeare", "metric_label": "final test loss", "higher_is_better": False},
    ]
    one_metric = across_from_reports([report("mnist", "a", TWO), report("cifar10", "b", ONE)], resamples=100)
    assert "metrics" not in json.loads(across_json(one_metric))  # one metric: said once, as before
    assert across_method(one_metric).startswith("Metric: final test accuracy (%) (higher is better). Tasks,")


def test_tasks_defaulting_to_different_baselines_are_a_usage_error():
    gelu_only = {"gelu": {0: 1.0}, "silu": {0: 2.0}}
    with pytest.raises(UsageError) as caught:
        across_from_reports([report("mnist", "a", ONE), report("cifar10", "b", gelu_only, baseline="gelu")])
    assert str(caught.value) == (
        "the tasks' default baselines differ (relu on mnist; gelu on cifar10): choose one with --baseline"
    )


# --- rendering -----------------------------------------------------------------------------------


def test_markdown_csv_frame_and_json_say_the_same():
    two = {**TWO, "silu": {0: 9.0, 1: 9.0}}
    result = compare_across([stratum("one", ONE), stratum("two", two)], "relu", 200)
    text = across_markdown(result)
    assert text.startswith("## Across 2 tasks: activations against relu\n")
    assert "| activation | tasks | seeds | P(beats relu) [95% CI] | mean rank [95% CI] | rank [95% CI] | note |" in text
    gelu = row(result, "gelu")
    assert f"| gelu | 2 | 5 | 0.75 [{gelu.low:.2f}, {gelu.high:.2f}] |" in text
    assert "| relu | 2 | 5 | baseline |" in text
    assert "one (3 seeds of relu; 3 finished by every ranked activation), two (2 seeds of relu; 2" in text
    assert "Interval of P: 95% stratified Wilson score (Yan & Su 2010), tasks weighted equally" in text
    assert "Intervals of the mean rank and rank: 95% percentile, stratified bootstrap (200 resamples, seed 0)" in text
    assert "unreliable when means are close" in text
    frame = across_frame(result)
    assert list(frame["activation"]) == ["relu", "gelu", "silu"]
    assert str(frame["rank"].dtype) == "Int64" and frame["rank"].isna().tolist() == [False, False, True]
    saved = json.loads(across_json(result))
    assert saved["baseline"] == "relu" and saved["bootstrap"]["resamples"] == 200
    assert saved["p_improve_interval"] == {
        "method": "stratified Wilson score (Yan & Su 2010), tasks weighted equally, a tie counted 1/2",
        "confidence": 0.95,
    }
    assert saved["bootstrap"]["of"] == "mean_rank and rank"
    assert saved["tasks"] == [
        {"name": "one", "seeds": 3, "ranked_seeds": 3},
        {"name": "two", "seeds": 2, "ranked_seeds": 2},
    ]
    assert saved["rows"][1]["p_improve"] == 0.75 and saved["rows"][2]["rank"] is None
    assert saved["rows"][0]["p_improve"] is None  # the baseline: NaN -> null


def test_forest_plot_labels_each_activation_with_its_rank_interval(tmp_path):
    from actbench.report.figures import plot_across

    two = {**TWO, "silu": {0: 9.0, 1: 9.0}}
    result = compare_across([stratum("one", ONE), stratum("two", two)], "relu", 200)
    paths = plot_across(result, tmp_path / "across", frozenset({"svg", "md"}))
    assert paths == [tmp_path / "across.svg"]  # md is a table format: not drawn
    # matplotlib's SVG names each line of text drawn in a comment: joined, so that a wrapped label reads whole.
    drawn = " ".join(re.findall(r"<!-- (.*?) -->", paths[0].read_text()))
    assert "gelu (rank 1–1)" in drawn and "silu (not ranked; 1 of 2 tasks)" in drawn
    assert "relu (rank 1–1)" not in drawn  # the baseline has no P to draw
    assert "P(A beats relu on a random task and seed)" in drawn
    assert "across 2 tasks: P(beats relu), 95% stratified Wilson CIs; rank, 95% bootstrap" in drawn
