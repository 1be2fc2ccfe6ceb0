"""Deciding as the seeds come in: a group-sequential design for the paired comparisons.

Seeds are added in blocks; after each block ("look") every undecided activation is
compared with the baseline on the pairs so far. Testing at the nominal alpha at every
look would inflate the false decisions (five looks at 0.05 reject a true null about 14%
of the time); instead the error is spent over the looks:

- **Spending.** The Lan-DeMets spending function of O'Brien-Fleming type,
  alpha(t) = 2 − 2·Phi(z_{1−a/2} / sqrt(t)), t = pairs so far / the most pairs allowed
  (Lan & DeMets 1983, Biometrika 70:659): almost nothing at the first looks, most of
  alpha at the last, so a run that goes the distance loses little power.
- **Boundaries on the t statistic itself.** The variance is unknown, and converting
  z boundaries to t at their nominal level (Jennison & Turnbull 2000, Group Sequential
  Methods, section 3.8) measures here 5-7% too many false decisions with 3-10 pairs at
  the first look. Instead the boundaries are quantiles of the t statistic's own path
  under no difference, which does not depend on the SD (t_boundaries): each look's
  boundary is crossed, by the paths still inside, with the probability spent since the
  last look.
- **Decisions from repeated confidence intervals** (Jennison & Turnbull 1989, JRSS B
  51:305): at look k the interval mean ± t-critical · s / sqrt(n). These intervals cover
  the true difference at every look at once with probability at least 1 − a, so an
  activation is *better* or *worse* when its interval excludes 0, and *equivalent*
  (within ±margin) when its interval lies inside (−margin, margin); an activation still
  undecided at the last look is *inconclusive*. A wrong decision needs an interval that
  misses the truth, so each comparison's error is at most a.
- **Several activations.** Each comparison runs at a = alpha / m for m compared
  activations (Bonferroni), so the family's error is at most alpha.

The Monte Carlo tests (tests/report/test_sequential.py) check the false decision rate
under no difference, the power against actbench plan's, and that the naive procedure
does inflate its error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy import stats as scipy_stats

MIN_PAIRS = 3  # the first look needs a t-test with at least 2 degrees of freedom
PATHS = 200_000  # simulated null paths the boundaries are quantiles of: alpha to about ±0.0005
DESIGN_SEED = 0


def look_schedule(every: int, most: int) -> list[int]:
    """Pairs at each look: every, 2·every, ... and ``most`` last (the first at MIN_PAIRS or more)."""
    looks = [n for n in range(every, most, every) if n >= MIN_PAIRS]
    return [*looks, most]


def spent(fraction: float, alpha: float) -> float:
    """The O'Brien-Fleming-type spending function: error spent by information ``fraction``."""
    return float(2 - 2 * scipy_stats.norm.cdf(scipy_stats.norm.ppf(1 - alpha / 2) / math.sqrt(fraction)))


def t_boundaries(looks: tuple[int, ...], alpha: float) -> tuple[float, ...]:
    """Two-sided boundaries on |t| at each look, spending ``alpha`` as ``spent`` says.

    Under no difference the path of t statistics (mean / (s / sqrt(n)) at each look) has
    one law whatever the SD, so the boundaries are its quantiles: PATHS paths of standard
    normal differences (seeded: a design is the same every time), and at each look the
    boundary that the paths not yet across cross with the probability spent since the
    last look."""
    rng = np.random.default_rng(DESIGN_SEED)
    total, squares = np.zeros(PATHS), np.zeros(PATHS)
    alive = np.ones(PATHS, dtype=bool)
    boundaries, drawn, spent_before = [], 0, 0.0
    for n in looks:
        block = rng.standard_normal((PATHS, n - drawn))
        total += block.sum(axis=1)
        squares += (block**2).sum(axis=1)
        drawn = n
        mean = total / n
        sd = np.sqrt(np.maximum(squares - n * mean**2, 0.0) / (n - 1))
        size = np.abs(mean) / (sd / math.sqrt(n))
        now = spent(n / looks[-1], alpha)
        crossing = int(round((now - spent_before) * PATHS))  # paths that may cross at this look
        spent_before = now
        inside = np.sort(size[alive])[::-1]
        c = float(inside[0]) * (1 + 1e-12) if crossing == 0 else float((inside[crossing - 1] + inside[crossing]) / 2)
        boundaries.append(c)
        alive &= size < c
    return tuple(boundaries)


@dataclass(frozen=True)
class Design:
    """A group-sequential design for one comparison at level ``alpha`` (already divided by
    the number of comparisons), looks at ``looks`` pairs, with an optional margin."""

    alpha: float
    looks: tuple[int, ...]
    margin: float | None = None

    @cached_property
    def boundaries(self) -> tuple[float, ...]:
        return t_boundaries(self.looks, self.alpha)


def verdicts(mean: np.ndarray, sd: np.ndarray, pairs: np.ndarray, critical: np.ndarray, margin: float | None,
             higher_is_better: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """Vectorised over comparisons: the repeated confidence interval (low, high) and the
    decision, "better" / "worse" / "equivalent" / "" (undecided at this look)."""
    half = critical * sd / np.sqrt(pairs)
    low, high = mean - half, mean + half
    up, down = ("better", "worse") if higher_is_better else ("worse", "better")
    decision = np.where(low > 0, up, np.where(high < 0, down, ""))
    if margin is not None:
        decision = np.where((decision == "") & (low > -margin) & (high < margin), "equivalent", decision)
    return low, high, decision


def simulate(diffs: np.ndarray, design: Design) -> tuple[np.ndarray, np.ndarray]:
    """Run the design on simulated paired differences, shape (runs, looks[-1]): each run's
    decision ("inconclusive" if none) and the look (0-based) it was made at (-1: none)."""
    runs = diffs.shape[0]
    decision = np.full(runs, "inconclusive", dtype=object)
    at = np.full(runs, -1)
    for look, n in enumerate(design.looks):
        part = diffs[:, :n]
        low, high, now = verdicts(part.mean(axis=1), part.std(axis=1, ddof=1), np.full(runs, n),
                                  np.full(runs, design.boundaries[look]), design.margin)  # fmt: skip
        fresh = (at < 0) & (now != "")
        decision[fresh], at[fresh] = now[fresh], look
    return decision, at
