"""The report's figures, PNG and SVG: accuracy curves, every seed, paired differences,
cost against benefit. Deterministic (fixed jitter seed, fixed SVG salt, no dates),
colour-blind-safe, sized for a paper column, with units on every axis."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib
import numpy as np

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from actbench.report.cost import cost_points  # noqa: E402
from actbench.report.formats import FORMATS  # noqa: E402
from actbench.report.stats import verdict  # noqa: E402

if TYPE_CHECKING:
    from actbench.report.across import AcrossResult
    from actbench.report.build import TaskReport

# Okabe & Ito (2008): distinguishable with the common colour-vision deficiencies.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
LINESTYLES = ["-", "--", "-.", ":"]

VERDICT_COLOURS = {"better": PALETTE[0], "worse": PALETTE[3]}  # blue, vermillion; the rest grey
GREY = "#777777"


@dataclass(frozen=True)
class FigureFormat:
    """A figure file format of the report (actbench.report.formats): a matplotlib extension
    and the metadata that would make two saves of one figure differ (dates, versions)."""

    extension: str
    metadata: dict = field(default_factory=dict)


PNG = FigureFormat("png", {"Software": None})
SVG = FigureFormat("svg", {"Date": None})


def save_figure(fig, stem: Path, formats: frozenset[str]) -> list[Path]:
    """The figure in each figure format among ``formats`` (names in FORMATS; table formats
    are skipped), with fixed metadata, so that the same results give byte-identical files."""
    chosen = [f for f in map(FORMATS.get, sorted(formats)) if isinstance(f, FigureFormat)]
    paths = []
    with plt.rc_context({"svg.hashsalt": "actbench"}):  # SVG element ids from a fixed salt, not random
        for figure_format in chosen:
            paths.append(stem.with_suffix(f".{figure_format.extension}"))
            fig.savefig(paths[-1], metadata=figure_format.metadata)
    plt.close(fig)
    return paths


def plot_seeds(report: TaskReport, stem: Path) -> list[Path]:
    """Every seed's metric per activation (a strip plot), the mean as a bar, the baseline's mean dashed."""
    label = report.compared.label
    acts = [c.activation for c in report.comparisons]
    fig, ax = plt.subplots(figsize=(6.4, 0.5 * len(acts) + 1.6), dpi=150)
    jitter = np.random.default_rng(0)  # fixed: the same results give the same figure
    for row, c in enumerate(acts):
        points = report.values.loc[report.values["activation"] == c, "value"].to_numpy()
        colour = "black" if c == report.baseline else PALETTE[0]
        ax.scatter(points, row + jitter.uniform(-0.15, 0.15, len(points)), s=14, color=colour, alpha=0.7, lw=0)
        ax.plot([points.mean()] * 2, [row - 0.3, row + 0.3], color=colour, lw=2)
    base_mean = report.values.loc[report.values["activation"] == report.baseline, "value"].mean()
    ax.axvline(base_mean, color="black", ls="--", lw=0.8, label=f"{report.baseline} mean (baseline)")
    ax.set_yticks(range(len(acts)), [f"{c.activation} (n={c.n})" for c in report.comparisons])
    ax.invert_yaxis()
    ax.set_xlabel(label)
    ax.set_title(f"{report.task}: every seed, bar = mean")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=8, frameon=False, loc="best")
    fig.tight_layout()
    return save_figure(fig, stem, report.spec.formats)


def plot_differences(report: TaskReport, stem: Path) -> list[Path]:
    """Forest plot: each activation's mean difference to the baseline with its 95% interval."""
    label, higher = report.compared.label, report.compared.higher_is_better
    rows = [c for c in report.comparisons if c.test != "baseline"]
    fig, ax = plt.subplots(figsize=(6.4, 0.5 * len(rows) + 1.6), dpi=150)
    for row, c in enumerate(rows):
        if math.isnan(c.delta_mean):
            continue
        colour = VERDICT_COLOURS.get(verdict(c, higher).split(" ")[0], GREY)
        ax.errorbar(c.delta_mean, row, xerr=[[c.delta_mean - c.ci_low], [c.ci_high - c.delta_mean]],
                    fmt="o", color=colour, capsize=3, ms=5)  # fmt: skip
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(range(len(rows)), [f"{c.activation} (n={c.n}): {verdict(c, higher)}" for c in rows])
    ax.invert_yaxis()
    ax.set_xlabel(f"difference to {report.baseline}: {label}")
    ax.set_title(f"{report.task}: paired difference to {report.baseline}, 95% bootstrap CI")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return save_figure(fig, stem, report.spec.formats)


def plot_curves(report: TaskReport, stem: Path) -> list[Path]:
    """Mean test-accuracy curve per activation with a ±1 std band, and the late epochs zoomed."""
    fig, (ax, zoom) = plt.subplots(1, 2, figsize=(10, 4.2), dpi=150, gridspec_kw={"width_ratios": [3, 2]})
    ns = report.summary.set_index("activation")["n"]
    last = int(report.curves["epoch"].max())
    for i, (activation, curve) in enumerate(report.curves.groupby("activation", sort=False)):
        style = {"color": PALETTE[i % len(PALETTE)], "linestyle": LINESTYLES[i // len(PALETTE) % 4]}
        curve = curve.sort_values("epoch")
        low, high = curve["mean"] - curve["std"].fillna(0.0), curve["mean"] + curve["std"].fillna(0.0)
        late = curve["epoch"] > last // 2
        for axis, rows in ((ax, curve["epoch"] > 0), (zoom, late)):
            axis.plot(curve["epoch"][rows], curve["mean"][rows], marker="o", markersize=3, **style,
                      label=f"{activation} (n={ns[activation]})")  # fmt: skip
            axis.fill_between(curve["epoch"][rows], low[rows], high[rows], color=style["color"], alpha=0.18, lw=0)
    n_values = sorted(set(ns))
    n_text = f"n={n_values[0]}" if len(n_values) == 1 else f"n={n_values[0]}–{n_values[-1]}"
    ax.set_title(f"{report.task}: test accuracy, mean ± 1 std over seeds ({n_text})", fontsize=10)
    zoom.set_title(f"epochs {last // 2 + 1}–{last}, zoomed", fontsize=10)
    for axis in (ax, zoom):
        axis.set_xlabel("epoch")
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.grid(alpha=0.3)
    ax.set_ylabel("test accuracy (%)")
    ax.legend(fontsize=8, frameon=False)
    fig.tight_layout()
    return save_figure(fig, stem, report.spec.formats)


def _draw_front(ax, points) -> None:
    """The Pareto front of ``points`` (cost.cost_points rows) as a step line through its
    means, fastest first: read left to right, the best mean metric a budget of that many
    seconds per trial buys; each front point ringed."""
    front = points[points["on_front"]].sort_values(["seconds_mean", "value_mean"], kind="stable")
    ax.plot(front["seconds_mean"], front["value_mean"], drawstyle="steps-post", color="black", lw=1, zorder=1,
            marker="o", ms=12, mfc="none", mec="black", mew=1.2, label="Pareto front (not dominated)")  # fmt: skip


def plot_cost(report: TaskReport, stem: Path) -> list[Path]:
    """Each finished trial's metric against its seconds (training + evaluation), each
    activation's mean, and the Pareto front of those means: what an activation costs for what it gives."""
    label = report.compared.label
    points = cost_points(report.values, report.compared.higher_is_better)
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=150)
    for i, mean in enumerate(points.itertuples()):
        colour = PALETTE[i % len(PALETTE)]
        trials = report.values[report.values["activation"] == mean.activation]
        ax.scatter(trials["wall_time_s"], trials["value"], s=14, color=colour, alpha=0.6, lw=0)
        ax.scatter(mean.seconds_mean, mean.value_mean, s=60, color=colour, marker="D", edgecolor="black",
                   lw=0.6, zorder=2, label=f"{mean.activation} (n={mean.n}), mean")  # fmt: skip
    _draw_front(ax, points)
    # From zero: equal costs look equal, not spread out by an offset axis.
    ax.set_xlim(0, 1.15 * report.values["wall_time_s"].max())
    ax.ticklabel_format(axis="x", useOffset=False)
    ax.set_xlabel("seconds per trial (training + evaluation)")
    ax.set_ylabel(label)
    title = f"{report.task}: {label} against seconds per trial\n"
    title += "one point per trial; diamonds: the means; ringed: the Pareto front of the means"
    if (report.values["engine"] == "population").any():
        # A population's members finish together: each gets an equal share of its time.
        title += "\n(population members: an equal share of their population's time)"
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, frameon=False)
    fig.tight_layout()
    return save_figure(fig, stem, report.spec.formats)


def plot_across(result: AcrossResult, stem: Path, formats: frozenset[str]) -> list[Path]:
    """Forest plot across tasks: each activation's P(beats the baseline on a random task and
    seed) with its 95% stratified-bootstrap interval, 0.5 (no better, no worse) dashed."""
    rows = [row for row in result.rows if row.activation != result.baseline]
    fig, ax = plt.subplots(figsize=(6.4, 0.5 * len(rows) + 1.6), dpi=150)
    for y, row in enumerate(rows):
        if not math.isnan(row.p_improve):
            ax.errorbar(row.p_improve, y, xerr=[[row.p_improve - row.low], [row.high - row.p_improve]],
                        fmt="o", color=PALETTE[0], capsize=3, ms=5)  # fmt: skip
    ax.axvline(0.5, color="black", ls="--", lw=0.8)
    total = len(result.strata)
    labels = [
        f"{row.activation} (" + ("not ranked" if row.rank is None else f"rank {row.rank_low}–{row.rank_high}")
        + ("" if row.tasks == total else f"; {row.tasks} of {total} tasks") + ")"
        for row in rows
    ]  # fmt: skip
    ax.set_yticks(range(len(rows)), labels)
    ax.invert_yaxis()
    ax.set_xlim(-0.02, 1.02)  # 0..1, with room for a point or a cap at either end
    ax.set_xticks(np.linspace(0, 1, 6))
    ax.set_xlabel(f"P(A beats {result.baseline} on a random task and seed)")
    ax.set_title(f"across {total} tasks: P(beats {result.baseline}) and rank, 95% stratified bootstrap CIs",
                 fontsize=10)  # fmt: skip
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return save_figure(fig, stem, formats)
