"""Across tasks: hand-computed probabilities of improvement and mean ranks, the bootstrap
against a loop-by-loop reimplementation, its coverage in simulation, and the messages."""

import json
import math
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as scipy_stats

from actbench.api import Metric
from actbench.errors import UsageError
from actbench.report import stats
from actbench.report.across import (
    Stratum,
    across_frame,
    across_from_reports,
    across_json,
    across_markdown,
    compare_across,
    strata_from_reports,
)
from actbench.report.build import CompareSpec, TaskReport

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
    assert gelu.low <= 0.75 <= gelu.high and gelu.high == 1.0  # task two is 1 on every resample
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
    assert (best.p_improve, best.low, best.high) == (1.0, 1.0, 1.0)


# --- the bootstrap against a plain reimplementation ----------------------------------------


def naive_bootstrap(tasks: list[dict[str, dict[int, float]]], act: str, base: str, ranked: list[str], resamples: int):
    """P(act beats base) and every ranked activation's mean rank and position, per resample,
    with explicit loops. The draws: a fresh default_rng(BOOTSTRAP_SEED) for each P and one
    for the ranks; per task in order, an (R, n) matrix of seed indices, seeds ascending."""
    rng = np.random.default_rng(stats.BOOTSTRAP_SEED)
    draws = []
    for task in tasks:
        seeds = sorted(set(task[act]) & set(task[base]))
        draws.append((seeds, rng.integers(0, len(seeds), size=(resamples, len(seeds)))))
    p = []
    for r in range(resamples):
        shares = []
        for task, (seeds, idx) in zip(tasks, draws):
            wins = [1.0 if task[act][seeds[i]] > task[base][seeds[i]] else
                    0.5 if task[act][seeds[i]] == task[base][seeds[i]] else 0.0 for i in idx[r]]  # fmt: skip
            shares.append(sum(wins) / len(wins))
        p.append(sum(shares) / len(shares))
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
    return np.array(p), np.array(mean_ranks), np.array(positions)


def test_bootstrap_matches_a_loop_by_loop_reimplementation():
    rng = np.random.default_rng(11)
    tasks = []
    for n in (6, 4, 5):
        table = {act: dict(enumerate(np.round(rng.normal(shift, 1, n), 1))) for act, shift in
                 (("relu", 0), ("gelu", 0.3), ("silu", 0.1))}  # fmt: skip
        tasks.append(table)
    del tasks[0]["gelu"][5]  # unpaired seed: out of gelu's P, and out of every activation's ranking on task one
    tasks[1]["silu"][1] = tasks[1]["relu"][1]  # a tie
    resamples = 300
    result = compare_across([stratum(f"t{i}", t) for i, t in enumerate(tasks)], "relu", resamples)
    ranked = ["relu", "gelu", "silu"]
    for act in ("gelu", "silu"):
        p, mean_ranks, positions = naive_bootstrap(tasks, act, "relu", ranked, resamples)
        got = row(result, act)
        assert (got.low, got.high) == pytest.approx(tuple(np.percentile(p, [2.5, 97.5])), abs=1e-12)
    for k, act in enumerate(ranked):
        got = row(result, act)
        assert (got.mean_rank_low, got.mean_rank_high) == pytest.approx(
            tuple(np.percentile(mean_ranks[:, k], [2.5, 97.5])), abs=1e-12)  # fmt: skip
        ordered = np.sort(positions[:, k])  # the empirical quantiles: ordered[ceil(qR) - 1]
        assert (got.rank_low, got.rank_high) == (ordered[math.ceil(0.025 * resamples) - 1],
                                                 ordered[math.ceil(0.975 * resamples) - 1])  # fmt: skip


def test_ten_thousand_resamples_are_the_default_and_reproducible():
    rng = np.random.default_rng(5)
    strata = [stratum(f"t{t}", {f"a{k}": dict(enumerate(rng.normal(k * 0.1, 1, 10))) for k in range(5)})
              for t in range(3)]  # fmt: skip
    first, second = compare_across(strata, "a0"), compare_across(strata, "a0")
    assert first.resamples == stats.BOOTSTRAP_RESAMPLES == 10_000
    assert across_json(first) == across_json(second)  # every number, NaN (null) included


@pytest.mark.slow
def test_percentile_interval_covers_a_known_probability():
    """Per-seed differences N(mu_t, 1) on three tasks of 10 seeds: the true P is the mean of
    Phi(mu_t). A percentile bootstrap of 30 wins runs a little short of 95%: 91% measured
    over 400 datasets; 200 here, between 86% and 97% (about ±2.5 binomial SDs), so that
    an interval too wide to be of use fails as well as one too narrow."""
    mu = np.array([0.0, 0.4, 0.8])
    truth = scipy_stats.norm.cdf(mu).mean()
    rng = np.random.default_rng(2024)
    covered = 0
    for _ in range(200):
        strata = []
        for t, m in enumerate(mu):
            base = rng.normal(0, 1, 10)
            strata.append(stratum(f"t{t}", {"b": dict(enumerate(base)),
                                            "a": dict(enumerate(base + rng.normal(m, 1, 10)))}))  # fmt: skip
        a = row(compare_across(strata, "b", 1000), "a")
        covered += a.low <= truth <= a.high
    assert 0.86 <= covered / 200 <= 0.97


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
    # The same seeds are drawn for both, so every resample's P mirrors too, and so does the interval.
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


def report(task: str, config_hash: str, table: dict[str, dict[int, float]], metric: Metric = ACC,
           baseline: str = "relu") -> TaskReport:
    empty = pd.DataFrame()
    return TaskReport(task, config_hash, {}, (), empty, empty, CompareSpec(), metric, baseline, values(table), [], [], [])


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


def test_different_metrics_or_directions_are_usage_errors():
    reports = [report("mnist", "a", ONE), report("cifar10", "b", TWO, LOSS), report("fashion", "c", TWO)]
    with pytest.raises(UsageError) as caught:
        strata_from_reports(reports)
    assert str(caught.value) == (
        "--across-tasks needs one metric on every task, got: final test accuracy (%) on mnist, fashion; "
        "final test loss on cifar10"
    )
    with pytest.raises(UsageError) as caught:
        compare_across([Stratum("one", values(ONE), True, "m"), Stratum("two", values(TWO), False, "m")], "relu")
    assert str(caught.value) == (
        "--across-tasks needs one direction on every task, got: higher is better on one; lower is better on two"
    )


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
    assert "(200 resamples, seed 0)" in text
    frame = across_frame(result)
    assert list(frame["activation"]) == ["relu", "gelu", "silu"]
    assert str(frame["rank"].dtype) == "Int64" and frame["rank"].isna().tolist() == [False, False, True]
    saved = json.loads(across_json(result))
    assert saved["baseline"] == "relu" and saved["bootstrap"]["resamples"] == 200
    assert saved["tasks"] == [{"name": "one", "seeds": 3, "ranked_seeds": 3}, {"name": "two", "seeds": 2, "ranked_seeds": 2}]
    assert saved["rows"][1]["p_improve"] == 0.75 and saved["rows"][2]["rank"] is None
    assert saved["rows"][0]["p_improve"] is None  # the baseline: NaN -> null


def test_forest_plot_labels_each_activation_with_its_rank_interval(tmp_path):
    from actbench.report.figures import plot_across

    two = {**TWO, "silu": {0: 9.0, 1: 9.0}}
    result = compare_across([stratum("one", ONE), stratum("two", two)], "relu", 200)
    paths = plot_across(result, tmp_path / "across", frozenset({"svg", "md"}))
    assert paths == [tmp_path / "across.svg"]  # md is a table format: not drawn
    texts = re.findall(r"<!-- (.*?) -->", paths[0].read_text())  # matplotlib's SVG names each text drawn
    assert "gelu (rank 1–1)" in texts and "silu (not ranked; 1 of 2 tasks)" in texts
    assert "relu (rank 1–1)" not in texts  # the baseline has no P to draw
    assert "P(A beats relu on a random task and seed)" in texts
