"""actbench plan's arithmetic: exact power of the paired t-test against statsmodels (an
independent implementation), TOST's power against simulation, and the CLI's tables."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from cli_runner import cli
from scipy import stats as scipy_stats
from statsmodels.stats.power import TTestPower

from actbench.report.design import (
    MAX_SEEDS,
    PlanSettings,
    detectable_difference,
    plan_from_values,
    sd_interval,
    seeds_for_difference,
    seeds_for_equivalence,
    smallest_n,
    t_test_power,
    tost_power,
)
from actbench.results.store import ResultStore

POINTS = [  # (n, delta, sd, alpha)
    (3, 0.5, 0.3, 0.05),
    (10, 0.1, 0.15, 0.05 / 3),
    (25, 0.05, 0.2, 0.01),
    (60, 0.02, 0.1, 0.05),
    (8, 1.0, 0.5, 0.001),
]


@pytest.mark.parametrize("n, delta, sd, alpha", POINTS)
def test_the_paired_t_test_power_is_statsmodels_power(n, delta, sd, alpha):
    expected = TTestPower().power(effect_size=delta / sd, nobs=n, alpha=alpha, alternative="two-sided")
    assert t_test_power(n, delta, sd, alpha) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize(
    "delta, sd, alpha, power",
    [(0.1, 0.15, 0.05 / 3, 0.8), (0.2, 0.3, 0.05, 0.9), (0.05, 0.2, 0.01, 0.8), (1.0, 1.0, 0.05, 0.8)],
)
def test_the_seeds_are_the_smallest_count_with_the_power(delta, sd, alpha, power):
    n = seeds_for_difference(delta, sd, alpha, power)
    assert t_test_power(n, delta, sd, alpha) >= power > t_test_power(n - 1, delta, sd, alpha)
    solved = TTestPower().solve_power(effect_size=delta / sd, nobs=None, alpha=alpha, power=power)
    assert n == math.ceil(solved)


def test_hand_checked_seed_counts():
    assert seeds_for_difference(1.0, 1.0, 0.05, 0.8) == 10  # the textbook paired case: effect size 1
    assert seeds_for_difference(100.0, 1.0, 0.05, 0.8) == 2  # any pair separates a huge difference
    assert seeds_for_difference(1e-4, 1.0, 0.05, 0.8) is None  # beyond any budget: "> 100,000"


def test_no_count_above_max_seeds_is_returned():
    # 122,641 pairs would do: more than MAX_SEEDS, so "more than", not a count the docstring rules out.
    assert t_test_power(MAX_SEEDS, 0.008, 1.0, 0.05) < 0.8
    assert seeds_for_difference(0.008, 1.0, 0.05, 0.8) is None
    n = seeds_for_difference(0.009, 1.0, 0.05, 0.8)  # just inside: still the exact count
    assert n == math.ceil(TTestPower().solve_power(effect_size=0.009, nobs=None, alpha=0.05, power=0.8))
    assert 65_536 < n <= MAX_SEEDS
    assert smallest_n(lambda count: float(count >= MAX_SEEDS), 0.5) == MAX_SEEDS  # the bound itself is a count


@pytest.mark.parametrize("n, sd, alpha, power", [(5, 0.3, 0.05, 0.8), (10, 0.15, 0.05 / 3, 0.8), (40, 0.2, 0.01, 0.9)])
def test_the_detectable_difference_is_where_the_power_is_reached(n, sd, alpha, power):
    delta = detectable_difference(n, sd, alpha, power)
    assert t_test_power(n, delta, sd, alpha) == pytest.approx(power, abs=1e-8)
    assert seeds_for_difference(delta * 1.0001, sd, alpha, power) <= n


def simulated_tost_power(n, margin, sd, alpha, delta, runs=40_000, seed=0):
    """TOST by brute force: paired differences drawn, both one-sided t-tests applied."""
    rng = np.random.default_rng(seed)
    diffs = rng.normal(delta, sd, size=(runs, n))
    mean, se = diffs.mean(axis=1), diffs.std(axis=1, ddof=1) / math.sqrt(n)
    critical = scipy_stats.t.ppf(1 - alpha, n - 1)
    shown = ((mean + margin) / se > critical) & ((mean - margin) / se < -critical)
    return shown.mean(), math.sqrt(shown.mean() * (1 - shown.mean()) / runs)


@pytest.mark.parametrize(
    "n, margin, sd, alpha, delta",
    [(10, 0.2, 0.2, 0.05, 0.0), (20, 0.1, 0.15, 0.05 / 3, 0.0), (6, 0.5, 0.3, 0.05, 0.1), (15, 0.1, 0.2, 0.05, 0.0)],
)
def test_tost_power_is_what_simulation_finds(n, margin, sd, alpha, delta):
    simulated, error = simulated_tost_power(n, margin, sd, alpha, delta)
    assert tost_power(n, margin, sd, alpha, delta) == pytest.approx(simulated, abs=4 * error + 1e-3)


def test_equivalence_needs_the_smallest_count_with_the_power():
    n = seeds_for_equivalence(0.1, 0.15, 0.05, 0.8)
    assert tost_power(n, 0.1, 0.15, 0.05) >= 0.8 > tost_power(n - 1, 0.1, 0.15, 0.05)
    # A margin inside the noise of 2 pairs can never be shown with them.
    assert tost_power(2, 0.1, 1.0, 0.05) < 0.05


def test_the_sd_interval_covers_the_true_sd_95_percent_of_the_time():
    rng = np.random.default_rng(1)
    samples = rng.normal(0, 2.0, size=(20_000, 8))
    sds = samples.std(axis=1, ddof=1)
    low, high = sd_interval(1.0, 8)  # the interval scales with s
    covered = ((sds * low <= 2.0) & (2.0 <= sds * high)).mean()
    assert covered == pytest.approx(0.95, abs=0.006)  # 4 Monte Carlo standard errors


def test_a_pilot_pairs_seeds_both_activations_share():
    values = pd.DataFrame(
        {
            "activation": ["relu"] * 5 + ["gelu"] * 4 + ["silu"] * 2,
            "seed": [0, 1, 2, 3, 4, 0, 1, 2, 9, 0, 1],
            "value": [97.0, 97.2, 96.9, 97.1, 97.3, 97.1, 97.4, 97.0, 50.0, 97.0, 97.1],
        }
    )
    gelu, silu = plan_from_values(values, "relu", PlanSettings(0.1, 0.05, 0.8, comparisons=2))
    assert gelu.pilot_pairs == 3  # seed 9 has no relu partner
    assert gelu.sd == pytest.approx(np.std([0.1, 0.2, 0.1], ddof=1))
    assert gelu.seeds == seeds_for_difference(0.1, gelu.sd, 0.025, 0.8)
    assert (silu.pilot_pairs, silu.note) == (2, "2 pair(s) with the baseline: no SD estimate")


def test_plan_reads_the_pilot_from_the_store(tmp_path):
    from fakes import fake_result

    finals = {"relu": [97.0, 97.2, 96.9, 97.1], "gelu": [97.1, 97.4, 97.0, 97.3]}
    with ResultStore(tmp_path) as store:
        for act, accs in finals.items():
            for seed, acc in enumerate(accs):
                store.add(fake_result(act, seed, [90.0, acc]))
    result = cli("plan", "--delta", "0.1", "--margin", "0.2", "--results-dir", str(tmp_path))
    assert result.exit_code == 0, result.output
    sd = float(np.std(np.subtract(finals["gelu"], finals["relu"]), ddof=1))
    low, high = sd_interval(sd, 4)
    row = next(line for line in result.stdout.splitlines() if "gelu" in line)
    cells = [c.strip() for c in row.strip("│ ").split("│")]
    assert cells[:3] == ["gelu", "4", f"{sd:.3f} [{low:.3f}, {high:.3f}]"]
    seeds = [seeds_for_difference(0.1, s, 0.05, 0.8) for s in (sd, low, high)]
    assert cells[3] == f"{seeds[0]} [{seeds[1]}, {seeds[2]}]"
    assert cells[4] == f"±{detectable_difference(4, sd, 0.05, 0.8):.3f}"
    assert cells[5] == str(seeds_for_equivalence(0.2, sd, 0.05, 0.8))
    assert "α = 0.05" in result.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["--delta", "0", "--sd", "1"], "--delta must be a positive number, got 0"),
        (["--delta", "0.1", "--sd", "-1"], "--sd must be a positive number, got -1"),
        (["--delta", "0.1", "--sd", "1", "--power", "1"], "--power must be between 0 and 1, got 1"),
        (["--delta", "0.1", "--sd", "1", "--comparisons", "0"], "--comparisons must be at least 1, got 0"),
    ],
)
def test_bad_plan_values_are_one_line(args, message):
    result = cli("plan", *args)
    assert (result.exit_code, result.stderr.strip()) == (2, f"error: {message}")


def test_the_power_is_finite_and_rises_with_the_difference_across_its_range():
    for n in (2, 3, 5, 20):
        powers = [t_test_power(n, delta, 0.05, 0.0125) for delta in np.linspace(0, 2, 201)]
        assert all(math.isfinite(p) for p in powers)
        assert powers[0] == pytest.approx(0.0125)  # no difference: the test's own level
        if n >= 5:  # with 1 degree of freedom (n = 2) even 40 SDs leave the heavy tails a chance
            assert powers[-1] == pytest.approx(1.0, abs=1e-9)
        assert all(b >= a - 1e-12 for a, b in zip(powers, powers[1:]))
