#!/usr/bin/env python3
"""Coverage of the across-tasks intervals (actbench.report.across): exact for P, simulated for the ranks.

P(improvement) and its stratified Wilson interval: on a seed, A beats the baseline with
probability win, ties with probability tie, else loses, independently over seeds and
tasks. A task's sum of scores (1, ½, 0) in half-units is then the n-fold convolution of
(lose, tie, win), so every outcome of T tasks of n seeds is enumerated with its
probability: the coverage printed is exact, with no Monte Carlo error. It is shown for
typical cases and summarised over a grid of task-level P (no ties).

Ranks: K activations whose mean on every task is k·gap (k = 0..K-1; per-seed noise
N(0, 1), so gap is in seed standard deviations), T tasks of n seeds, simulated datasets
through the report's own bootstrap (across._ranking). The truth is what the report
estimates: each task's activations ranked by their true means, the ranks averaged over the
tasks (mean rank), and the position in that order (rank); equal true means share the
average rank and the better position, as the report's ties do.

    python scripts/across_coverage.py                      # about 40 s of CPU
    python scripts/across_coverage.py --datasets 200 --resamples 1000   # a quick look
"""

from __future__ import annotations

import argparse
import itertools

import numpy as np
import pandas as pd
from scipy import stats

from actbench.report.across import Z, _positions, _ranking, _ranks, stratified_wilson

# (name, per-task P(A beats the baseline on a seed), per-task P(tie)): 10 seeds a task.
# Phi(mu): per-seed differences N(mu, 1), the model of the audit (issue 30, item 5).
P_CASES = [
    ("3 tasks, Phi(0), Phi(0.4), Phi(0.8)", stats.norm.cdf([0.0, 0.4, 0.8]), 0.0),
    ("2 tasks, Phi(0), Phi(0.8)", stats.norm.cdf([0.0, 0.8]), 0.0),
    ("3 tasks, Phi(2) each (P = 0.977)", stats.norm.cdf([2.0] * 3), 0.0),
    ("2 tasks, Phi(2) each (P = 0.977)", stats.norm.cdf([2.0] * 2), 0.0),
    ("3 tasks, 0.95, 0.98, 1 (P = 0.977)", np.array([0.95, 0.98, 1.0]), 0.0),
    ("3 tasks, 0.5 each", np.array([0.5] * 3), 0.0),
    ("2 tasks, 0.5 each", np.array([0.5] * 2), 0.0),
    ("3 tasks, 0.7 each", np.array([0.7] * 3), 0.0),
    ("3 tasks, 0.3, 0.6, 0.9", np.array([0.3, 0.6, 0.9]), 0.0),
    ("3 tasks, win 0.5, tie 0.2 each (P = 0.6)", np.array([0.5] * 3), 0.2),
]
GRID = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99, 1.0)
INNER = tuple(p for p in GRID if 0.1 <= p <= 0.9)  # away from the Wilson interval's dips at 0 and 1
EQUAL = np.round(np.arange(1, 100) / 100, 2)
GAPS = (0.0, 0.1, 0.25, 0.5, 1.0, 2.0)


def exact_coverage(win: np.ndarray, tie: np.ndarray | float, n: int, z: float = Z) -> tuple[float, float]:
    """Exact coverage and mean width of the stratified Wilson interval of P = mean(win + tie/2)
    for tasks of ``n`` seeds with per-seed probabilities ``win``, ``tie`` (one per task)."""
    win = np.asarray(win, dtype=float)
    tie = np.broadcast_to(np.asarray(tie, dtype=float), win.shape)
    supports, pmfs = [], []
    for w, t in zip(win, tie):
        pmf = np.array([1.0])
        for _ in range(n):  # the sum of n seeds' scores in half-units: 0..2n
            pmf = np.convolve(pmf, [1 - w - t, t, w])
        halves = np.flatnonzero(pmf > 0)  # (S,): the reachable sums only, so the grid stays small
        supports.append(halves / (2 * n))
        pmfs.append(pmf[halves])
    shares = np.array(list(itertools.product(*supports)))  # (M, T): every outcome
    probability = np.prod(np.array(list(itertools.product(*pmfs))), axis=1)  # (M,)
    low, high = stratified_wilson(shares, np.full(len(win), n), z)
    truth = np.mean(win + tie / 2)
    covered = (low <= truth) & (truth <= high)
    return float(probability @ covered), float(probability @ (high - low))


def grid_coverage(tasks: int, grid: tuple[float, ...] = GRID, n: int = 10) -> np.ndarray:
    """Exact coverage at every combination (with repetition) of ``tasks`` task-level P from ``grid``."""
    return np.array(
        [exact_coverage(np.array(p), 0.0, n)[0] for p in itertools.combinations_with_replacement(grid, tasks)]
    )


def rank_coverage(
    gap: float, datasets: int, resamples: int, acts: int = 4, tasks: int = 3, n: int = 10, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Per activation, the share of ``datasets`` simulated datasets whose mean-rank interval,
    and whose rank (position) interval, holds the true one: two (acts,) arrays."""
    rng = np.random.default_rng(seed)
    means = gap * np.arange(acts)  # (K,): the same order on every task
    true_mean_rank = _ranks(means[None, :])[0]  # (K,): ties averaged, as the report does
    true_rank = _positions(true_mean_rank[None, :])[0]
    mean_rank_hit, rank_hit = np.zeros(acts), np.zeros(acts)
    for _ in range(datasets):
        tables = [pd.DataFrame(means + rng.normal(size=(n, acts))) for _ in range(tasks)]  # (n, K) each
        fields, _ = _ranking(tables, resamples)
        for k, field in enumerate(fields):
            mean_rank_hit[k] += field["mean_rank_low"] <= true_mean_rank[k] <= field["mean_rank_high"]
            rank_hit[k] += field["rank_low"] <= true_rank[k] <= field["rank_high"]
    return mean_rank_hit / datasets, rank_hit / datasets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", type=int, default=1000, help="simulated datasets per rank scenario")
    parser.add_argument("--resamples", type=int, default=2000, help="bootstrap resamples per dataset")
    args = parser.parse_args()

    print("P(improvement), 95% stratified Wilson interval, 10 seeds a task: exact coverage, mean width")
    for name, win, tie in P_CASES:
        coverage, width = exact_coverage(win, tie, 10)
        print(f"  {name:45s} P = {np.mean(win + tie / 2):.3f}  coverage {coverage:.2%}  width {width:.3f}")
    print(f"  task P on the grid {GRID}, every combination:")
    for tasks in (2, 3):
        grid = grid_coverage(tasks)
        inner = grid_coverage(tasks, INNER)
        print(
            f"    {tasks} tasks ({len(grid)} cases): median {np.median(grid):.2%}, lowest {grid.min():.2%}, "
            f"at or above 94% in {(grid >= 0.94).mean():.0%}; lowest with every task P in 0.1-0.9: "
            f"{inner.min():.2%}"
        )
    print("  every task at the same P, 0.01 to 0.99 by 0.01:")
    for tasks in (2, 3):
        coverage = np.array([exact_coverage(np.full(tasks, p), 0.0, 10)[0] for p in EQUAL])
        print(
            f"    {tasks} tasks: median {np.median(coverage):.2%}, lowest {coverage.min():.2%} at P = "
            f"{EQUAL[np.argmin(coverage)]:.2f}, at or above 94% at {(coverage >= 0.94).mean():.0%} of the P"
        )

    mcse = 0.5 / np.sqrt(args.datasets)  # the largest binomial standard error of a share
    print(
        f"\nRanks: 4 activations, means k * gap (seed SD 1), 10 seeds a task, {args.datasets} datasets, "
        f"{args.resamples} resamples; coverage per activation, worst to best (MCSE <= {mcse:.1%})"
    )
    for tasks in (2, 3):
        for gap in GAPS:
            mean_rank, rank = rank_coverage(gap, args.datasets, args.resamples, tasks=tasks)
            print(
                f"  {tasks} tasks, gap {gap:4.2f}: mean rank {np.min(mean_rank):6.1%} to {np.max(mean_rank):6.1%}; "
                f"rank {np.min(rank):6.1%} to {np.max(rank):6.1%}"
            )


if __name__ == "__main__":
    main()
