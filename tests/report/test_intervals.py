"""The interval beside a verdict, by simulation: it covers at its stated level (each row at
1 − alpha/m, all m rows together at 1 − alpha), and it never contradicts the verdict.

Data: m = 3 activations against a baseline, value = activation's mean + seed effect + noise,
so the three paired differences share the baseline's noise (correlation 0.5): the
simultaneous claim must hold under that dependence, not only for independent rows. Monte
Carlo bounds sit 4 standard errors below the level (a flake has probability ~3e-5).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from actbench.report import stats
from actbench.report.comparison import verdict_cell

ALPHA, M = 0.05, 3
# True differences to the baseline, in standard errors of a mean paired difference (see
# _values): none, 3 and 4.5, so p-values fall on both sides of alpha/m and of alpha.
EFFECTS = np.array([0.0, 3.0, 4.5])


def _mc_floor(level: float, runs: int) -> float:
    """``level`` less 4 Monte Carlo standard errors of a coverage estimated from ``runs``."""
    return level - 4 * math.sqrt(level * (1 - level) / runs)


def _values(rng: np.random.Generator, runs: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(values (runs, M + 1, n): baseline first; true differences (M,)). Noise SD 1 per
    value, so a paired difference has SD √2 and its mean SD √2/√n."""
    deltas = EFFECTS * math.sqrt(2 / n)
    means = np.concatenate([[0.0], deltas])
    seed_effect = rng.normal(0, 3, (runs, 1, n))  # cancels in the pairs: what pairing buys
    return means[None, :, None] + seed_effect + rng.normal(0, 1, (runs, M + 1, n)), deltas


@pytest.mark.parametrize("n", [3, 5, 10])
def test_each_interval_covers_at_1_minus_alpha_over_m_and_all_together_at_1_minus_alpha(n):
    """stats.simultaneous_intervals, the function that sets every table's ci_low/ci_high,
    vectorised over 40,000 tables: SciPy's tests run on all of them at once."""
    runs = 40_000
    values, deltas = _values(np.random.default_rng(n), runs, n)
    diffs = values[:, 1:, :] - values[:, :1, :]  # (runs, M, n)
    rows = [{"test": "baseline"}] + [
        {"test": "paired", "t": scipy_stats.ttest_1samp(diffs[:, i], 0.0, axis=-1)} for i in range(M)
    ]
    stats.simultaneous_intervals(rows, ALPHA)
    level = 1 - ALPHA / M
    assert [row.get("ci_level") for row in rows] == [None, level, level, level]
    covered = np.stack([(row["ci_low"] <= d) & (d <= row["ci_high"]) for row, d in zip(rows[1:], deltas)])  # (M, runs)
    for per_row in covered.mean(axis=1):
        assert per_row >= _mc_floor(level, runs), (n, covered.mean(axis=1))
    assert covered.all(axis=0).mean() >= _mc_floor(1 - ALPHA, runs), n


def test_unpaired_rows_get_welchs_interval_at_the_same_level():
    """8 seeds against 12, unequal spreads (SD 1 and 2): Welch's interval holds its level."""
    runs, rng = 40_000, np.random.default_rng(1)
    other, base = rng.normal(0.5, 1.0, (runs, 8)), rng.normal(0.0, 2.0, (runs, 12))
    rows = [{"test": "welch", "t": scipy_stats.ttest_ind(other, base, equal_var=False, axis=-1)}]
    rows += [{"test": "paired", "t": scipy_stats.ttest_1samp(rng.normal(0, 1, (runs, 5)), 0.0, axis=-1)}] * 2
    stats.simultaneous_intervals(rows, ALPHA)
    coverage = ((rows[0]["ci_low"] <= 0.5) & (0.5 <= rows[0]["ci_high"])).mean()
    assert coverage >= _mc_floor(1 - ALPHA / M, runs)


@pytest.fixture(scope="module")
def tables() -> list[tuple[list[stats.Comparison], np.ndarray]]:
    """Tables made by compare_to_baseline itself (a few ms each): 80 at each of n = 3, 5, 10."""
    made = []
    for n in (3, 5, 10):
        values, deltas = _values(np.random.default_rng(100 + n), 80, n)
        acts, seeds = np.repeat(["relu", "gelu", "silu", "mish"], n), np.tile(np.arange(n), M + 1)
        for table in values:
            frame = pd.DataFrame({"activation": acts, "seed": seeds, "value": table.ravel()})
            made.append((stats.compare_to_baseline(frame, "relu", ALPHA), deltas))
    return made


def test_the_tables_intervals_cover_at_their_stated_level(tables):
    """The 95% BCa bootstrap interval shown before covered 73-91% at these n; every row's
    interval here is stated at 1 − alpha/m and covers at least that."""
    rows = [(c, d) for comparisons, deltas in tables for c, d in zip(comparisons[1:], deltas)]
    coverage = np.mean([c.ci_low <= d <= c.ci_high for c, d in rows])
    # Rows of one table are dependent: count tables, not rows, for the standard error.
    assert coverage >= _mc_floor(1 - ALPHA / M, len(tables))
    together = np.mean([all(c.ci_low <= d <= c.ci_high for c, d in zip(cs[1:], ds)) for cs, ds in tables])
    assert together >= _mc_floor(1 - ALPHA, len(tables))
    assert {c.ci_level for c, _ in rows} == {1 - ALPHA / M}


def test_an_interval_that_excludes_0_never_sits_beside_inconclusive(tables):
    """Exact logic on every simulated row: excludes 0 -> better (above 0) or worse (below);
    Holm significant while the interval touches 0 -> marked ‡, and only then."""
    rows = [c for comparisons, _ in tables for c in comparisons[1:]]
    excluding = [c for c in rows if c.ci_low > 0 or c.ci_high < 0]
    beside = [verdict_cell(c, higher_is_better=True) for c in excluding]
    assert beside == ["better" if c.ci_low > 0 else "worse" for c in excluding]
    touching = [c for c in rows if c.ci_low <= 0 <= c.ci_high]
    assert [c.step_down_only for c in touching] == [c.significant for c in touching]
    assert [verdict_cell(c, True).endswith(" ‡") for c in touching] == [c.significant for c in touching]
    # Both cases occur, so neither check above is vacuous.
    assert len(excluding) > 50 and sum(c.significant for c in touching) > 5
