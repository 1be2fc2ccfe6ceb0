#!/usr/bin/env python3
"""Coverage of the comparison table's intervals (actbench.report.stats.simultaneous_intervals).

Tables of m activations against a baseline, n paired seeds: value = activation's mean +
seed effect + N(0, 1) noise, so the m paired differences share the baseline's noise
(correlation 0.5). True differences: 0 and effects a paired test half detects. Printed per
n: each row's coverage (stated: 1 − alpha/m), all m rows' together (promised: >= 1 − alpha),
and Welch's interval for 8 seeds against 12 with SDs 1 and 2. The interval is SciPy's
t-interval at the level the report uses, on vectorised tests over all runs at once.

    python scripts/interval_coverage.py                  # 200,000 tables per n, about 10 s
    python scripts/interval_coverage.py --runs 20000     # a quick look
"""

from __future__ import annotations

import argparse
import math

import numpy as np
from scipy import stats as scipy_stats

from actbench.report import stats


def paired(rng: np.random.Generator, runs: int, n: int, m: int, alpha: float) -> tuple[np.ndarray, float]:
    """(each row's coverage (m,), all rows' together) over ``runs`` simulated tables."""
    deltas = np.linspace(0.0, 4.5, m) * math.sqrt(2 / n)  # 0 up to 4.5 SDs of a mean difference
    values = rng.normal(0, 3, (runs, 1, n)) + rng.normal(0, 1, (runs, m + 1, n))
    values[:, 1:, :] += deltas[None, :, None]
    diffs = values[:, 1:, :] - values[:, :1, :]  # (runs, m, n)
    rows = [{"test": "paired", "t": scipy_stats.ttest_1samp(diffs[:, i], 0.0, axis=-1)} for i in range(m)]
    stats.simultaneous_intervals(rows, alpha)
    covered = np.stack([(row["ci_low"] <= d) & (d <= row["ci_high"]) for row, d in zip(rows, deltas)])
    return covered.mean(axis=1), float(covered.all(axis=0).mean())


def welch(rng: np.random.Generator, runs: int, m: int, alpha: float) -> float:
    other, base = rng.normal(0.5, 1.0, (runs, 8)), rng.normal(0.0, 2.0, (runs, 12))
    rows = [{"test": "welch", "t": scipy_stats.ttest_ind(other, base, equal_var=False, axis=-1)}]
    rows += [{"test": "paired", "t": scipy_stats.ttest_1samp(rng.normal(0, 1, (runs, 5)), 0.0, axis=-1)}] * (m - 1)
    stats.simultaneous_intervals(rows, alpha)
    return float(((rows[0]["ci_low"] <= 0.5) & (0.5 <= rows[0]["ci_high"])).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=200_000, help="simulated tables per setting")
    parser.add_argument("--comparisons", type=int, default=3, help="m: activations against the baseline")
    parser.add_argument("--alpha", type=float, default=0.05)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    m, alpha, runs = args.comparisons, args.alpha, args.runs
    level = stats.interval_level(alpha, m)
    mcse = math.sqrt(level * (1 - level) / runs)
    print(
        f"m = {m}, alpha = {alpha:g}: each interval stated at {level:.4f} (MCSE {mcse:.4f}), "
        f"all together promised >= {1 - alpha:.4f}; {runs:,} tables each"
    )
    for n in (3, 5, 10):
        rows, together = paired(rng, runs, n, m, alpha)
        print(f"n = {n:2d} paired: per row {', '.join(f'{c:.4f}' for c in rows)}; all together {together:.4f}")
    print(f"Welch, 8 seeds (SD 1) against 12 (SD 2): {welch(rng, runs, m, alpha):.4f}")


if __name__ == "__main__":
    main()
