"""How many paired seeds a comparison needs, computed exactly (no normal approximation).

The comparison is the report's: the paired t-test on the per-seed differences
activation − baseline, two-sided, at Holm's level. Planning uses Holm's first (most
demanding) step, alpha / m for m comparisons, so the planned seed count suffices for
every comparison of the table.

- Power of the paired t-test with n pairs, true difference delta and SD sigma of the
  differences: the statistic is noncentral t with n − 1 degrees of freedom and
  noncentrality delta·sqrt(n)/sigma, so power = P(|T| > t_{1−a/2, n−1}) from SciPy's
  ``nct``.
- Equivalence within ±margin (TOST: two one-sided t-tests at level a): both reject when
  |mean| < margin − t_{1−a, n−1}·s/sqrt(n). With the mean normal and s² a scaled chi²
  independent of it, the power is one integral over the chi² density, done numerically.
- The SD of the differences is estimated from a pilot; its confidence interval (from
  the chi² distribution of s²) gives the seed counts at its ends, the plan's own
  uncertainty.
- run --until-decided looks at the pairs as they come and spends alpha over the looks,
  which costs power: with --look-every K (PlanSettings.look_every) the plan also gives
  the --max-repeats with which that design reaches the power, by simulating it under
  the alternative (actbench.report.sequential.budget_until_decided).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import integrate, optimize
from scipy import stats as scipy_stats

from actbench.report.sequential import budget_until_decided

MAX_SEEDS = 100_000  # beyond this a plan says "more than"
MIN_PAIRS = 3  # a pilot SD from fewer pairs has under 2 degrees of freedom: none is given


def t_test_power(n: int, delta: float, sd: float, alpha: float) -> float:
    """Power of the two-sided paired t-test at level ``alpha`` with ``n`` pairs."""
    df = n - 1
    critical = scipy_stats.t.ppf(1 - alpha / 2, df)
    shift = delta * math.sqrt(n) / sd
    # P(T < -c | shift) = P(T > c | -shift): SciPy's nct.cdf is NaN far in that tail, nct.sf is not.
    return float(scipy_stats.nct.sf(critical, df, shift) + scipy_stats.nct.sf(critical, df, -shift))


def tost_power(n: int, margin: float, sd: float, alpha: float, delta: float = 0.0) -> float:
    """Power of TOST at level ``alpha`` (each one-sided test) to show |true difference| <
    ``margin`` with ``n`` pairs, when the true difference is ``delta``."""
    df = n - 1
    critical = scipy_stats.t.ppf(1 - alpha, df)
    se = sd / math.sqrt(n)
    # Both tests reject iff |mean - 0| < margin - critical * s / sqrt(n); s = sd * sqrt(x / df), x ~ chi2(df).
    x_max = df * (margin / (critical * se)) ** 2  # above it the acceptance band is empty

    def accepted(x: float) -> float:
        half_width = margin - critical * se * math.sqrt(x / df)
        inside = scipy_stats.norm.cdf((half_width - delta) / se) - scipy_stats.norm.cdf((-half_width - delta) / se)
        return inside * scipy_stats.chi2.pdf(x, df)

    value, _ = integrate.quad(accepted, 0, x_max, limit=200)
    return float(min(max(value, 0.0), 1.0))


def smallest_n(power_at: Callable[[int], float], target: float) -> int | None:
    """The smallest n >= 2 whose power reaches ``target`` (power increases with n), or None
    above MAX_SEEDS: doubling up to MAX_SEEDS, then bisection."""
    if power_at(2) >= target:
        return 2
    low, high = 2, 4
    while power_at(high) < target:
        if high == MAX_SEEDS:
            return None
        low, high = high, min(high * 2, MAX_SEEDS)
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if power_at(middle) >= target else (middle, high)
    return high


def seeds_for_difference(delta: float, sd: float, alpha: float, power: float) -> int | None:
    return smallest_n(lambda n: t_test_power(n, delta, sd, alpha), power)


def seeds_for_equivalence(margin: float, sd: float, alpha: float, power: float) -> int | None:
    return smallest_n(lambda n: tost_power(n, margin, sd, alpha), power)


def detectable_difference(n: int, sd: float, alpha: float, power: float) -> float:
    """The smallest true difference the paired t-test with ``n`` pairs detects with ``power``."""
    high = sd
    while t_test_power(n, high, sd, alpha) < power:
        high *= 2
    return float(optimize.brentq(lambda d: t_test_power(n, d, sd, alpha) - power, 0.0, high, xtol=1e-10 * sd))


def sd_interval(sd: float, n: int, level: float = 0.95) -> tuple[float, float]:
    """Confidence interval of the SD from ``n`` values: (n − 1)s²/σ² is chi² with n − 1 df."""
    df = n - 1
    tail = (1 - level) / 2
    return sd * math.sqrt(df / scipy_stats.chi2.ppf(1 - tail, df)), sd * math.sqrt(df / scipy_stats.chi2.ppf(tail, df))


@dataclass(frozen=True)
class PlanRow:
    """The plan for one activation against the baseline. Seed counts are pairs (each
    activation and the baseline trained on them); None: more than MAX_SEEDS."""

    activation: str
    pilot_pairs: int  # 0 when the SD was given by hand
    sd: float  # of the paired differences, in the metric's unit
    sd_low: float = math.nan  # its 95% interval (pilot only)
    sd_high: float = math.nan
    seeds: int | None = None  # to detect ±delta
    seeds_low: int | None = None  # ... if the SD is at the low end of its interval
    seeds_high: int | None = None  # ... at the high end
    detectable: float = math.nan  # smallest difference the pilot's pair count detects
    seeds_equivalent: int | None = None  # to show equivalence within ±margin when the truth is 0
    seeds_until_decided: int | None = None  # --max-repeats for --until-decided (with PlanSettings.look_every)
    note: str = ""


@dataclass(frozen=True)
class PlanSettings:
    delta: float
    alpha: float  # the table's level: each comparison is planned at alpha / comparisons
    power: float
    comparisons: int
    margin: float | None = None
    look_every: int | None = None  # also the budget of run --until-decided with this --look-every

    @property
    def level(self) -> float:
        return self.alpha / self.comparisons


def plan_row(activation: str, sd: float, settings: PlanSettings, pilot_pairs: int = 0) -> PlanRow:
    level, power = settings.level, settings.power
    row = {"activation": activation, "pilot_pairs": pilot_pairs, "sd": sd}
    row["seeds"] = seeds_for_difference(settings.delta, sd, level, power)
    if pilot_pairs:
        low, high = sd_interval(sd, pilot_pairs)
        row.update(sd_low=low, sd_high=high, detectable=detectable_difference(pilot_pairs, sd, level, power))
        row["seeds_low"] = seeds_for_difference(settings.delta, low, level, power)
        row["seeds_high"] = seeds_for_difference(settings.delta, high, level, power)
    if settings.margin is not None:
        row["seeds_equivalent"] = seeds_for_equivalence(settings.margin, sd, level, power)
    if settings.look_every is not None and row["seeds"] is not None:
        # The run's design: Bonferroni's alpha / m per comparison, Holm's first step here too.
        row["seeds_until_decided"] = budget_until_decided(
            settings.delta, sd, level, power, settings.look_every, row["seeds"]
        )
    return PlanRow(**row)


def plan_from_values(values: pd.DataFrame, baseline: str, settings: PlanSettings) -> list[PlanRow]:
    """``values``: activation, seed, value of finished trials (a TaskReport's). One row per
    activation other than the baseline, from its paired differences on the seeds both have."""
    by_act = {act: group.set_index("seed")["value"] for act, group in values.groupby("activation", sort=False)}
    base = by_act[baseline]
    rows = []
    for act, series in by_act.items():
        if act == baseline:
            continue
        common = series.index.intersection(base.index)
        diff = (series[common] - base[common]).to_numpy(dtype=float)
        if len(diff) < MIN_PAIRS:
            rows.append(
                PlanRow(act, len(diff), math.nan, note=f"{len(diff)} pair(s) with the baseline: no SD estimate")
            )
        elif np.ptp(diff) == 0:
            rows.append(PlanRow(act, len(diff), 0.0, note="identical differences on every seed: SD 0"))
        else:
            rows.append(plan_row(act, float(np.std(diff, ddof=1)), settings, len(diff)))
    return rows
