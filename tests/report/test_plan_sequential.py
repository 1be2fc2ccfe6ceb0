"""actbench plan's until-decided budget: the --max-repeats with which run --until-decided
reaches the planned power, checked by simulating the run it plans (full paths of paired
differences, a seed of their own) at the printed budget and at the fixed design's seeds."""

from __future__ import annotations

import math

import numpy as np
import pytest
from cli_runner import cli

from actbench.report.design import PlanRow, PlanSettings, plan_row, seeds_for_difference
from actbench.report.plan import plan_method, plan_rows
from actbench.report.sequential import MOST_LOOKS, Design, budget_until_decided, look_schedule, rates, simulate

RUNS = 100_000
ERROR = 4 * math.sqrt(0.8 * 0.2 / RUNS)  # 4 Monte Carlo SEs of a power near 0.8


def sequential_power(most: int, every: int, delta: float, seed: int) -> float:
    """The run --until-decided --max-repeats MOST --look-every EVERY plans, on simulated pairs."""
    design = Design(0.05, tuple(look_schedule(every, most)))
    decisions, _ = simulate(np.random.default_rng(seed).normal(delta, 1.0, (RUNS, most)), design)
    return float(np.mean(decisions == "better"))


def test_the_budget_plan_prints_reaches_the_power_where_the_fixed_design_seeds_do_not():
    result = cli("plan", "--delta", "1", "--sd", "1", "--look-every", "3")
    assert result.exit_code == 0, result.output
    header = next(line for line in result.stdout.splitlines() if "activation" in line)
    assert "until-decided budget (look every 3)" in header
    row = next(line for line in result.stdout.splitlines() if "(given SD)" in line)
    cells = [c.strip() for c in row.strip("│ ").split("│")]
    fixed, budget = int(cells[3]), int(cells[5])
    assert (fixed, budget) == (seeds_for_difference(1.0, 1.0, 0.05, 0.8), 11)
    assert sequential_power(budget, 3, 1.0, seed=21) >= 0.8 - ERROR
    assert sequential_power(fixed, 3, 1.0, seed=22) < 0.8 - ERROR  # about 0.76: the looks spend alpha
    # The smallest such budget: one pair fewer falls short (the same seeded simulation plan uses).
    assert rates(Design(0.05, tuple(look_schedule(3, budget - 1))), 1.0, 1.0)["better"] < 0.8


def test_the_budget_is_at_the_level_of_each_comparison():
    settings = PlanSettings(0.6, 0.05, 0.9, comparisons=3, look_every=4)
    row = plan_row("(given SD)", 0.5, settings)
    assert row.seeds == seeds_for_difference(0.6, 0.5, 0.05 / 3, 0.9)
    assert row.seeds_until_decided > row.seeds

    def power(most: int) -> float:  # plan's own seeded simulation, at alpha / 3
        return rates(Design(0.05 / 3, tuple(look_schedule(4, most))), 0.6, 0.5)["better"]

    assert power(row.seeds_until_decided) >= 0.9 > power(row.seeds_until_decided - 1)


def test_budget_cells_and_the_method_text():
    settings = PlanSettings(0.1, 0.05, 0.8, comparisons=1, look_every=5)
    rows = [
        PlanRow("a", 0, 0.2, seeds=34, seeds_until_decided=38),
        PlanRow("b", 0, 0.2, seeds=34),  # not reached within MOST_LOOKS looks
        PlanRow("c", 0, 0.2, seeds=400),
        PlanRow("d", 0, 0.2),  # more than MAX_SEEDS even without looks
        PlanRow("e", 2, math.nan, note="2 pair(s) with the baseline: no SD estimate"),
    ]
    cells = [row["until-decided budget (look every 5)"] for row in plan_rows(rows, settings)]
    assert cells == ["38", f"> {5 * MOST_LOOKS}", "> 400", "> 100,000", "–"]
    assert plan_method(settings, "as given").endswith(
        "Until-decided budget: the --max-repeats with which run --until-decided --look-every 5 (no --margin) "
        "decides better against a true +0.1 with power 0.8, at the α above (Bonferroni there), by simulating its "
        "group-sequential design (200,000 runs, seeded); usually more than the seeds above, as the looks spend α. "
        f'Designs of more than {MOST_LOOKS} looks are not searched ("> N": a larger --look-every).'
    )
    assert "budget" not in "".join(plan_rows([PlanRow("a", 0, 0.2, seeds=34)], PlanSettings(0.1, 0.05, 0.8, 1))[0])


def test_a_budget_beyond_the_searched_looks_is_none():
    assert budget_until_decided(0.01, 1.0, 0.05, 0.8, 1, MOST_LOOKS + 1) is None  # no design is calibrated


@pytest.mark.parametrize("value", ["0", "-2"])
def test_look_every_must_be_positive(value):
    result = cli("plan", "--delta", "1", "--sd", "1", "--look-every", value)
    assert (result.exit_code, result.stderr.strip()) == (2, f"error: --look-every must be at least 1, got {value}")
