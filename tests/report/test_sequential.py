"""The group-sequential design behind --until-decided, by Monte Carlo on simulated paired
differences (no training): its false decisions under no difference stay within alpha,
the naive look-after-every-block procedure's do not, and its power is what plan says."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from actbench.report.design import detectable_difference, t_test_power
from actbench.report.sequential import Design, look_schedule, simulate, spent, verdicts

RUNS = 40_000
ERROR = 4 * math.sqrt(0.05 * 0.95 / RUNS) + 0.0005  # 4 Monte Carlo SEs, plus the design's own calibration error


def wrong(decisions) -> float:
    return float(np.mean((decisions == "better") | (decisions == "worse")))


@pytest.mark.parametrize("every, most", [(5, 30), (3, 15), (10, 40)])
def test_no_difference_gives_at_most_alpha_false_decisions(every, most):
    design = Design(0.05, tuple(look_schedule(every, most)))
    decisions, _ = simulate(np.random.default_rng(11).normal(0.0, 2.5, (RUNS, most)), design)
    assert wrong(decisions) <= 0.05 + ERROR


def test_testing_at_the_nominal_level_after_every_block_inflates_the_error():
    """The same simulation, the naive procedure: it must fail the bound the design meets."""
    looks = look_schedule(5, 30)
    diffs = np.random.default_rng(11).normal(0.0, 1.0, (RUNS, 30))
    rejected = np.zeros(RUNS, dtype=bool)
    for n in looks:
        part = diffs[:, :n]
        t = part.mean(axis=1) / (part.std(axis=1, ddof=1) / math.sqrt(n))
        rejected |= np.abs(t) > scipy_stats.t.ppf(0.975, n - 1)
    assert rejected.mean() > 0.05 + 5 * ERROR  # about 0.14


def test_with_a_real_difference_the_power_is_close_to_the_fixed_design_plan_gives():
    most, sd = 30, 1.0
    delta = detectable_difference(most, sd, 0.05, 0.8)  # plan: 30 pairs detect it with power 0.8
    assert t_test_power(most, delta, sd, 0.05) == pytest.approx(0.8)
    decisions, looks = simulate(np.random.default_rng(3).normal(delta, sd, (RUNS, most)), Design(0.05, tuple(look_schedule(5, most))))
    power = np.mean(decisions == "better")
    assert 0.75 <= power <= 0.8 + ERROR  # spending costs a little power, never gains it
    assert np.mean(looks[decisions == "better"]) < 5  # and decides before the last look on average


def test_equivalence_is_shown_when_true_and_rarely_claimed_at_the_margin():
    design = Design(0.05, tuple(look_schedule(10, 60)), margin=0.5)
    shown, _ = simulate(np.random.default_rng(5).normal(0.0, 1.0, (RUNS, 60)), design)
    assert np.mean(shown == "equivalent") > 0.5
    assert wrong(shown) <= 0.05 + ERROR
    at_margin, _ = simulate(np.random.default_rng(6).normal(0.5, 1.0, (RUNS, 60)), design)
    assert np.mean(at_margin == "equivalent") <= 0.05 + ERROR  # a difference of ±M is not equivalence


def test_the_spending_function_spends_alpha_by_the_last_look_and_almost_nothing_early():
    assert spent(1.0, 0.05) == pytest.approx(0.05)
    values = [spent(t, 0.05) for t in np.linspace(0.05, 1, 20)]
    assert all(b > a for a, b in zip(values, values[1:]))
    assert spent(0.2, 0.05) < 2e-5


def test_a_design_is_the_same_every_time_and_its_boundaries_fall():
    first, second = Design(0.05, (5, 10, 15, 20)), Design(0.05, (5, 10, 15, 20))
    assert first.boundaries == second.boundaries
    assert all(b < a for a, b in zip(first.boundaries, first.boundaries[1:]))
    assert look_schedule(5, 22) == [5, 10, 15, 20, 22] and look_schedule(2, 6) == [4, 6]


def test_verdicts_by_hand():
    low, high, decision = verdicts(np.array([0.5, -0.5, 0.05, 0.05]), np.array([0.2, 0.2, 0.2, 0.2]),
                                   np.array([4, 4, 4, 4]), np.array([2.0] * 4), margin=0.3)  # fmt: skip
    # half-width 2.0 * 0.2 / sqrt(4) = 0.2
    assert low.tolist() == pytest.approx([0.3, -0.7, -0.15, -0.15])
    assert decision.tolist() == ["better", "worse", "equivalent", "equivalent"]
    _, _, lower_is_better = verdicts(np.array([0.5]), np.array([0.2]), np.array([4]), np.array([2.0]), None, False)
    assert lower_is_better.tolist() == ["worse"]
