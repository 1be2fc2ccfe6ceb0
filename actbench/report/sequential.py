"""Deciding as the seeds come in: a group-sequential design for the paired comparisons.

Seeds are added in blocks; after each block ("look") every undecided activation is
compared with the baseline on the pairs so far. Testing at the nominal alpha at every
look would inflate the false decisions (five looks at 0.05 reject a true null about 14%
of the time); instead the error is spent over the looks:

- **Spending.** The Lan-DeMets spending function of O'Brien-Fleming type,
  alpha(t) = 2 − 2·Phi(z_{1−a/2} / sqrt(t)), t = pairs so far / the most pairs allowed
  (Lan & DeMets 1983, Biometrika 70:659): almost nothing at the first looks, most of
  alpha at the last, so a run that goes the distance loses little power. The last
  planned look spends what is left (t = 1 there), whatever pairs it has.
- **The pairs actually observed.** A failed or diverged trial leaves its seed without a
  pair, so a look may have fewer pairs than planned. Spending by the information reached
  allows exactly this: the boundary at a look is computed for the pair counts that look
  and the earlier ones of that comparison actually had (Design.boundaries_at), spending
  alpha(pairs / most). The guarantee assumes a pair's absence does not depend on the
  differences (missing at random); a look with fewer than MIN_PAIRS pairs tests nothing
  and its share of alpha passes to the next.
- **Boundaries on the t statistic itself.** The variance is unknown, and converting
  z boundaries to t at their nominal level (Jennison & Turnbull 2000, Group Sequential
  Methods, section 3.8) measures here 5-7% too many false decisions with 3-10 pairs at
  the first look. Instead the boundaries are quantiles of the t statistic's own path
  under no difference, which does not depend on the SD (t_boundaries). The first look
  that tests is exact, the t quantile at the error spent by it. Each later look's
  boundary is the one the simulated paths still inside cross with the probability spent
  since the previous look: PATHS paths of sufficient statistics (per look, the new
  block's sum is normal and its sum of squares about its own mean chi², independent of
  it), so each look's crossing probability is within about sqrt(p / PATHS) of the p it
  is given, ±0.00016 in all at alpha 0.05.
- **Decisions from repeated confidence intervals** (Jennison & Turnbull 1989, JRSS B
  51:305): at look k the interval mean ± t-critical · s / sqrt(n). These intervals cover
  the true difference at every look at once with probability at least 1 − a, so an
  activation is *better* or *worse* when its interval excludes 0, and *equivalent*
  (within ±margin) when its interval lies inside (−margin, margin); an activation still
  undecided at the last look is *inconclusive*. A wrong decision needs an interval that
  misses the truth, so each comparison's error is at most a.
- **Several activations.** Each comparison runs at a = alpha / m for m compared
  activations (Bonferroni), so the family's error is at most alpha.
- **Budget.** Spending costs power: with as many pairs as the fixed design needs, the
  sequential run detects the planned difference 74-78% of the time instead of 80%.
  budget_until_decided finds the most pairs (--max-repeats) that reaches the planned
  power, by simulating the design under the alternative (actbench plan prints it).

The Monte Carlo tests (tests/report/test_sequential.py) check the false decision rate
under no difference, with pairs missing at random too, the power at the planned budget,
and that the naive procedure does inflate its error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy import stats as scipy_stats

MIN_PAIRS = 3  # the first look needs a t-test with at least 2 degrees of freedom
PATHS = 2_000_000  # simulated null paths the boundaries after the first test are quantiles of
DESIGN_SEED = 0
POWER_RUNS = 200_000  # simulated runs per power: its Monte Carlo SE at 0.8 is 0.0009
POWER_SEED = 1
MOST_LOOKS = 60  # budget_until_decided searches designs of at most this many looks (each about 0.2 s to calibrate)

_BOUNDARIES: dict[tuple, tuple[float, ...]] = {}  # (pairs, most, alpha, final, paths) -> boundaries, reused


def look_schedule(every: int, most: int) -> list[int]:
    """Pairs at each look: every, 2·every, ... and ``most`` last (the first at MIN_PAIRS or more)."""
    looks = [n for n in range(every, most, every) if n >= MIN_PAIRS]
    return [*looks, most]


def spent(fraction: float, alpha: float) -> float:
    """The O'Brien-Fleming-type spending function: error spent by information ``fraction``."""
    return float(2 - 2 * scipy_stats.norm.cdf(scipy_stats.norm.ppf(1 - alpha / 2) / math.sqrt(fraction)))


class _Paths:
    """Simulated paths of paired differences, kept as sufficient statistics: per path the
    pair count, the sum and the sum of squares about the mean, shape (runs,)."""

    def __init__(self, runs: int, seed: int, delta: float = 0.0, sd: float = 1.0):
        self.rng, self.delta, self.sd = np.random.default_rng(seed), delta, sd
        self.pairs, self.total, self.squares = 0, np.zeros(runs), np.zeros(runs)

    def add(self, block: int) -> None:
        """``block`` more pairs: their sum is normal, their squares about their own mean
        sd²·chi²(block − 1), independent of the sum."""
        if block == 0:
            return
        runs = self.total.shape[0]
        block_sum = self.rng.normal(block * self.delta, self.sd * math.sqrt(block), runs)
        block_squares = 2 * self.sd**2 * self.rng.standard_gamma((block - 1) / 2, runs)  # chi²(k) = 2·Gamma(k/2)
        before, self.pairs = self.pairs, self.pairs + block
        if before:  # merging two groups' squares: the within parts plus the between-means part
            block_squares += before * block / self.pairs * (self.total / before - block_sum / block) ** 2
        self.squares += block_squares
        self.total += block_sum

    def mean_sd(self) -> tuple[np.ndarray, np.ndarray]:
        return self.total / self.pairs, np.sqrt(self.squares / (self.pairs - 1))


def t_boundaries(
    pairs: tuple[int, ...], most: int, alpha: float, final: bool = True, paths: int = PATHS
) -> tuple[float, ...]:
    """Two-sided boundaries on |t| at looks that had ``pairs`` pairs (nondecreasing) in a
    design of at most ``most`` pairs, spending alpha(pairs / most) by each look; with
    ``final`` the last of them is the design's last look and spends what is left of alpha.

    Under no difference the path of t statistics (mean / (s / sqrt(n)) at each look) has
    one law whatever the SD. A look with fewer than MIN_PAIRS pairs has boundary inf. The
    first look that tests is exact (Student's t quantile); each later one is the boundary
    that the simulated paths not yet across (``paths`` of them, seeded: a design is the
    same every time) cross with the probability spent since the previous test. The draws
    of a look depend only on the pairs up to it, so a look's boundary does not depend on
    the looks after it: the boundaries for a prefix of ``pairs`` are a prefix of these."""
    key = (tuple(pairs), most, alpha, final, paths)
    if key not in _BOUNDARIES:
        if any(b < a for a, b in zip(pairs, pairs[1:])) or not 0 <= pairs[-1] <= most:
            raise ValueError(f"pair counts must rise and stay within {most}, got {pairs}")
        computed = _calibrate(key[0], most, alpha, final, paths)
        for k in range(1, len(pairs)):
            _BOUNDARIES.setdefault((key[0][:k], most, alpha, False, paths), computed[:k])
        _BOUNDARIES[key] = computed
    return _BOUNDARIES[key]


def _calibrate(pairs: tuple[int, ...], most: int, alpha: float, final: bool, count: int) -> tuple[float, ...]:
    paths = _Paths(count, DESIGN_SEED)
    alive = np.ones(count, dtype=bool)
    boundaries, spent_before, tested = [], 0.0, False
    for look, n in enumerate(pairs):
        paths.add(n - paths.pairs)
        if n < MIN_PAIRS:
            boundaries.append(math.inf)
            continue
        now = alpha if final and look == len(pairs) - 1 else spent(n / most, alpha)
        mean, sd = paths.mean_sd()
        size = np.abs(mean) / (sd / math.sqrt(n))  # (count,) |t|
        if not tested:  # nothing was tested before: |t| is |Student t(n − 1)|, the boundary exact
            c = float(scipy_stats.t.isf(now / 2, n - 1))
        else:
            inside = size[alive]
            crossing = int(round((now - spent_before) * count))  # paths that may cross at this look
            if crossing == 0:  # less than one path's worth to spend: just above every path still inside
                c = float(inside.max()) * (1 + 1e-12)
            else:
                top = np.partition(inside, (inside.size - crossing - 1, inside.size - crossing))
                c = float((top[inside.size - crossing - 1] + top[inside.size - crossing]) / 2)
        boundaries.append(c)
        alive &= size < c
        spent_before, tested = now, True
    return tuple(boundaries)


@dataclass(frozen=True)
class Design:
    """A group-sequential design for one comparison at level ``alpha`` (already divided by
    the number of comparisons), looks at ``looks`` pairs, with an optional margin."""

    alpha: float
    looks: tuple[int, ...]
    margin: float | None = None
    paths: int = PATHS  # the null paths the boundaries are calibrated on

    @cached_property
    def boundaries(self) -> tuple[float, ...]:
        """The boundaries when every look has its planned pairs."""
        return self.boundaries_at(self.looks)

    def boundaries_at(self, pairs: tuple[int, ...]) -> tuple[float, ...]:
        """The boundaries at looks 1..k when they had ``pairs`` pairs (k = len(pairs))."""
        if len(pairs) > len(self.looks) or any(p > n for p, n in zip(pairs, self.looks)):
            raise ValueError(f"pair counts {pairs} exceed the looks {self.looks}")
        if tuple(pairs) == self.looks[: len(pairs)] and len(pairs) < len(self.looks):
            return self.boundaries[: len(pairs)]  # every pair so far: the planned design's, calibrated once
        final = len(pairs) == len(self.looks)
        return t_boundaries(tuple(int(p) for p in pairs), self.looks[-1], self.alpha, final, self.paths)


def verdicts(
    mean: np.ndarray,
    sd: np.ndarray,
    pairs: np.ndarray,
    critical: np.ndarray,
    margin: float | None,
    higher_is_better: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vectorised over comparisons: the repeated confidence interval (low, high) and the
    decision, "better" / "worse" / "equivalent" / "" (undecided at this look)."""
    half = critical * sd / np.sqrt(pairs)
    low, high = mean - half, mean + half
    up, down = ("better", "worse") if higher_is_better else ("worse", "better")
    decision = np.where(low > 0, up, np.where(high < 0, down, ""))
    if margin is not None:
        decision = np.where((decision == "") & (low > -margin) & (high < margin), "equivalent", decision)
    return low, high, decision


def simulate(diffs: np.ndarray, design: Design, present: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Run the design on simulated paired differences, shape (runs, looks[-1]), of which
    only those where ``present`` (the same shape; default: all) were observed: each run's
    decision ("inconclusive" if none) and the look (0-based) it was made at (-1: none)."""
    runs = diffs.shape[0]
    present = np.ones(diffs.shape, dtype=bool) if present is None else present
    kept = np.where(present, diffs, 0.0)
    decision = np.full(runs, "inconclusive", dtype=object)
    at = np.full(runs, -1)
    history = np.cumsum(present, axis=1)[:, np.array(design.looks) - 1]  # (runs, looks): pairs at each look
    # A look's boundary depends on the pairs up to it only, so each history's full tuple serves every look.
    patterns, which = np.unique(history, axis=0, return_inverse=True)
    critical = np.array([design.boundaries_at(tuple(p)) for p in patterns])[which.ravel()]  # (runs, looks)
    for look, n in enumerate(design.looks):
        pairs = history[:, look]
        tested = np.flatnonzero((at < 0) & (pairs >= MIN_PAIRS))
        count = pairs[tested]
        mean = kept[tested, :n].sum(axis=1) / count
        sd = np.sqrt(np.maximum((kept[tested, :n] ** 2).sum(axis=1) - count * mean**2, 0.0) / (count - 1))
        _, _, now = verdicts(mean, sd, count, critical[tested, look], design.margin)
        fresh = tested[now != ""]
        decision[fresh], at[fresh] = now[now != ""], look
    return decision, at


def rates(design: Design, delta: float, sd: float, runs: int = POWER_RUNS, seed: int = POWER_SEED) -> dict[str, float]:
    """How often the design decides each way ("better", "worse", "equivalent", the rest
    "inconclusive") when the true difference is ``delta`` and its SD ``sd`` (higher is
    better), by ``runs`` simulated runs with every pair present (sufficient statistics)."""
    paths = _Paths(runs, seed, delta, sd)
    decision = np.full(runs, "", dtype=object)
    for n, c in zip(design.looks, design.boundaries):
        paths.add(n - paths.pairs)
        undecided = decision == ""
        mean, spread = paths.mean_sd()
        count = int(undecided.sum())
        _, _, now = verdicts(mean[undecided], spread[undecided], np.full(count, n), np.full(count, c), design.margin)
        decision[undecided] = now
    named = {"better": "better", "worse": "worse", "equivalent": "equivalent", "inconclusive": ""}
    return {name: float(np.mean(decision == key)) for name, key in named.items()}


def budget_until_decided(
    delta: float, sd: float, alpha: float, power: float, look_every: int, start: int
) -> int | None:
    """The smallest --max-repeats N >= ``start`` (the fixed design's pairs: spending only
    costs power) whose design, looks every ``look_every`` pairs up to N at level
    ``alpha`` and no margin, decides "better" with at least ``power`` against a true
    difference ``delta`` (rates, seeded: the same answer every time); None beyond
    MOST_LOOKS looks. Power rises with N: found on designs calibrated on a tenth of the
    paths (steps that double, then bisection), then settled on the run's own design, so
    N reaches the power there and N − 1 does not."""
    limit = MOST_LOOKS * look_every
    if start > limit:
        return None

    def enough(most: int, paths: int = PATHS) -> bool:
        design = Design(alpha, tuple(look_schedule(look_every, most)), paths=paths)
        return rates(design, delta, sd)["better"] >= power

    low, high, step = start - 1, max(start, MIN_PAIRS), max(1, start // 10)
    while not enough(high, PATHS // 10):
        if high >= limit:
            return None
        low, high, step = high, min(high + step, limit), 2 * step
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if enough(middle, PATHS // 10) else (middle, high)
    if enough(high):
        while high > start and enough(high - 1):
            high -= 1
        return high
    while not enough(high):
        if high >= limit:
            return None
        high += 1
    return high
