"""The report's figures, PNG, SVG and PDF: accuracy curves, every seed, paired differences,
cost against benefit. Deterministic (fixed jitter seed, fixed SVG salt, no dates),
colour-blind-safe, sized for a paper column, with units on every axis.

Ready to paste: every text lies inside the figure at any name length (long names wrap,
``finish`` fits titles and legends), legends sit below the axes, off the data, and an
activation has one style in every figure (``activation_styles``): relu black, gelu
orange, silu green, the others blue, vermillion, sky blue, purple in the sorted order of
the names the report covers, then again dashed with other markers. The differences
figure colours verdicts instead: blue better, vermillion worse, grey otherwise."""

from __future__ import annotations

import math
import re
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
from actbench.report.metrics import direction  # noqa: E402
from actbench.report.stats import verdict  # noqa: E402

if TYPE_CHECKING:
    from collections.abc import Iterable

    from actbench.report.across import AcrossResult
    from actbench.report.build import TaskReport

# Okabe & Ito (2008): distinguishable with the common colour-vision deficiencies.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
LINESTYLES = ["-", "--", "-.", ":"]
MARKERS = ["o", "s", "^", "D"]  # one per round of colours: scatter plots have no line style

VERDICT_COLOURS = {"better": PALETTE[0], "worse": PALETTE[3]}  # blue, vermillion; the rest grey
GREY = "#777777"

# The activations most compared against keep their colour whatever else a figure draws.
FIXED_COLOURS = {"relu": PALETTE[7], "gelu": PALETTE[1], "silu": PALETTE[2]}
# The others' colours, in this order; yellow is left out: too faint a line on white.
FREE_COLOURS = [PALETTE[0], PALETTE[3], PALETTE[5], PALETTE[4]]

WRAP = 28  # characters per line of a tick label: the axes keep most of a paper column's width
LEGEND_WRAP = 40  # characters per line of a legend entry


@dataclass(frozen=True)
class Style:
    """How one activation is drawn in every figure: colour, line style, and marker for scatters."""

    colour: str
    linestyle: str = "-"
    marker: str = "o"

    @property
    def line(self) -> dict[str, str]:
        """Keyword arguments of ``Axes.plot`` and ``Axes.errorbar``."""
        return {"color": self.colour, "linestyle": self.linestyle}


def activation_styles(names: Iterable[str]) -> dict[str, Style]:
    """One style per distinct name, stable across figures: relu, gelu and silu their fixed
    colours; the others, in sorted order, the free colours, then the fixed colours none of
    the names took, then every colour again with the next line style and marker."""
    names = sorted(set(names))
    styles = {name: Style(FIXED_COLOURS[name]) for name in names if name in FIXED_COLOURS}
    taken = {style.colour for style in styles.values()}
    rounds = [Style(c) for c in FREE_COLOURS + [c for c in FIXED_COLOURS.values() if c not in taken]]
    for k in range(1, len(LINESTYLES)):
        rounds += [Style(c, LINESTYLES[k], MARKERS[k]) for c in FREE_COLOURS + list(FIXED_COLOURS.values())]
    others = [name for name in names if name not in styles]
    for i, name in enumerate(others):
        styles[name] = rounds[i % len(rounds)]  # beyond 28 activations, styles repeat
    return styles


def activation_colours(names: Iterable[str]) -> dict[str, str]:
    """Each name's colour in activation_styles."""
    return {name: style.colour for name, style in activation_styles(names).items()}


# Where a long name may break: after a space, a comma, a colon, or a dot not inside a
# number; before an '@' (a plug-in's hash) or a '(' (its parameters).
_PIECE = re.compile(r".+?(?:[ ,:]\s*|\.(?!\d)|(?=[@(])|$)")


def _cut(piece: str, width: int) -> int:
    """Where to cut a piece longer than a line: after its last '_' or inside its last
    camelCase boundary within the line's second half, else at the line's end."""
    cuts = [
        i for i in range(width // 2, width) if piece[i - 1] == "_" or (piece[i - 1].islower() and piece[i].isupper())
    ]
    return cuts[-1] if cuts else width


def wrap_label(text: str, width: int = WRAP) -> str:
    """``text`` in lines of at most ``width`` characters, broken where a name may break
    (a piece longer than a line is cut); the line breaks it already has are kept."""
    lines = []
    for paragraph in text.split("\n"):
        line = ""
        for piece in _PIECE.findall(paragraph):
            if line and len(line + piece.rstrip()) > width:
                lines.append(line.rstrip())
                line = ""
            while len(piece.rstrip()) > width:
                lines.append(piece[: _cut(piece, width)])
                piece = piece[len(lines[-1]) :]
            line += piece
        lines.append(line.rstrip())
    return "\n".join(lines)


def row_pitch(labels: list[str]) -> float:
    """Inches per row of a one-row-per-activation figure: room for its tallest wrapped tick label."""
    lines = max((label.count("\n") + 1 for label in labels), default=1)
    return max(0.5, 0.2 * lines + 0.1)


def legend_below(fig) -> None:
    """The legend of the figure's labelled artists under its axes, off the data, entries
    wrapped, in as many columns as the figure's width holds; the figure grows by the
    legend's height, so that the axes keep theirs (constrained layout puts the legend there)."""
    handles, labels = [], []
    for ax in fig.axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            if label not in labels:  # two panels drawing one activation: one entry
                handles.append(handle)
                labels.append(label)
    labels = [wrap_label(label, LEGEND_WRAP) for label in labels]
    longest = max(len(line) for label in labels for line in label.split("\n"))
    # A column: the handle (0.6 in) and 8-point text, at most 0.067 in per character, and a gap.
    column = 0.6 + 0.067 * longest + 0.3
    columns = max(1, min(len(labels), int((fig.get_figwidth() - 0.2) // column)))
    legend = fig.legend(handles, labels, loc="outside lower center", ncols=columns, fontsize=8, frameon=False)
    height = legend.get_window_extent(fig.canvas.get_renderer()).height / fig.dpi  # inches
    fig.set_figheight(fig.get_figheight() + height)


PAD = 4.0  # pixels between a text and the figure's edge: a text touching it looks cut


def _overflow(text, renderer, figure_box) -> float:
    """How many times the room it has inside the figure ``text`` takes along its line (<= 1:
    it fits). A centred horizontal text has the figure's width (``_shift`` moves it there);
    a left- or right-aligned one the room beyond its anchor; a y label twice the room to the
    nearer edge from its centre."""
    box = text.get_window_extent(renderer)
    if abs(text.get_rotation() % 180 - 90) < 1:  # a y label, centred on its axes
        low, high, centre = figure_box.y0 + PAD, figure_box.y1 - PAD, (box.y0 + box.y1) / 2
        room = 2 * min(centre - low, high - centre)
        return box.height / room if room > 0 else math.inf
    low, high = figure_box.x0 + PAD, figure_box.x1 - PAD
    room = {"left": high - box.x0, "right": box.x1 - low}.get(text.get_horizontalalignment(), high - low)
    return box.width / room if room > 0 else math.inf


def _shift(text, renderer, figure_box) -> float:
    """Pixels to move a centred horizontal ``text`` that fits the figure's width into the figure (0: inside)."""
    if abs(text.get_rotation() % 180 - 90) < 1 or text.get_horizontalalignment() != "center":
        return 0.0
    box = text.get_window_extent(renderer)
    return max(0.0, figure_box.x0 + PAD - box.x0) - max(0.0, box.x1 - (figure_box.x1 - PAD))


def _narrower(text: str, width: int) -> str:
    """``text`` wrapped at ``width`` characters, in lines of even length: at the narrowest
    width that needs no more lines (no orphaned last word)."""
    lines = wrap_label(text, width).count("\n")
    return next(wrap_label(text, w) for w in range(8, width + 1) if wrap_label(text, w).count("\n") <= lines)


def finish(fig) -> None:
    """Lay ``fig`` out (constrained), then rewrap each title and axis label too long for the
    figure, and move a centred one that sticks out over an edge back in: text placed outside
    the figure is cut off when saved."""
    fig.set_layout_engine("constrained")
    originals = {}  # text -> as set by the figure: rewrapped from it, its own line breaks kept
    for _ in range(8):  # each change moves the layout a little: lay out again
        fig.draw_without_rendering()
        renderer = fig.canvas.get_renderer()
        changed = False
        for ax in fig.axes:
            for text in (t for t in (ax.title, ax.xaxis.label, ax.yaxis.label) if t.get_text()):
                factor = _overflow(text, renderer, fig.bbox)
                shift = _shift(text, renderer, fig.bbox)
                if factor > 1.0:
                    original = originals.setdefault(text, text.get_text())
                    longest = max(len(line) for line in text.get_text().split("\n"))
                    text.set_text(_narrower(original, max(8, min(longest - 1, int(longest / factor)))))
                    changed = True
                elif abs(shift) > 0.5:
                    text.set_x(text.get_position()[0] + shift / ax.bbox.width)  # x in axes coordinates
                    changed = True
        if not changed:
            return


@dataclass(frozen=True)
class FigureFormat:
    """A figure file format of the report (actbench.report.formats): a matplotlib extension
    and the metadata that would make two saves of one figure differ (dates, versions)."""

    extension: str
    metadata: dict = field(default_factory=dict)


PNG = FigureFormat("png", {"Software": None})
SVG = FigureFormat("svg", {"Date": None})
# Vector, fonts embedded (save_figure); no date, no matplotlib version (as PNG's Software).
PDF = FigureFormat("pdf", {"CreationDate": None, "Creator": None, "Producer": "actbench"})

# Fixed SVG element ids (a salt, not random); PDF fonts embedded as TrueType (type 42), so
# that a paper's PDF holds the figure's own glyphs, searchable and sharp at any zoom.
SAVE_SETTINGS = {"svg.hashsalt": "actbench", "pdf.fonttype": 42}


def save_figure(fig, stem: Path, formats: frozenset[str]) -> list[Path]:
    """The figure in each figure format among ``formats`` (names in FORMATS; table formats
    are skipped), with fixed metadata, so that the same results give byte-identical files."""
    chosen = [f for f in map(FORMATS.get, sorted(formats)) if isinstance(f, FigureFormat)]
    paths = []
    with plt.rc_context(SAVE_SETTINGS):
        for figure_format in chosen:
            paths.append(stem.with_suffix(f".{figure_format.extension}"))
            fig.savefig(paths[-1], metadata=figure_format.metadata)
    plt.close(fig)
    return paths


def plot_seeds(report: TaskReport, stem: Path) -> list[Path]:
    """Every seed's metric per activation (a strip plot), the mean as a bar, the baseline's
    mean dashed; each activation in its colour, the baseline's row named so."""
    label = report.compared.label
    acts = [c.activation for c in report.comparisons]
    styles = activation_styles(report.summary["activation"])
    ticks = [
        wrap_label(f"{c.activation} (n={c.n})" + (", baseline" if c.activation == report.baseline else ""))
        for c in report.comparisons
    ]
    fig, ax = plt.subplots(figsize=(6.4, row_pitch(ticks) * len(acts) + 1.6), dpi=150)
    jitter = np.random.default_rng(0)  # fixed: the same results give the same figure
    for row, c in enumerate(acts):
        points = report.values.loc[report.values["activation"] == c, "value"].to_numpy()
        style = styles[c]
        y = row + jitter.uniform(-0.15, 0.15, len(points))
        ax.scatter(points, y, s=14, color=style.colour, marker=style.marker, alpha=0.7, lw=0)
        ax.plot([points.mean()] * 2, [row - 0.3, row + 0.3], color=style.colour, lw=2)
    base_mean = report.values.loc[report.values["activation"] == report.baseline, "value"].mean()
    baseline_mean = f"{report.baseline} mean (baseline)"
    ax.axvline(base_mean, color=styles[report.baseline].colour, ls="--", lw=0.8, label=baseline_mean)
    ax.set_yticks(range(len(acts)), ticks)
    ax.invert_yaxis()
    ax.set_xlabel(label)
    ax.set_title(f"{report.task}: every seed, bar = mean")
    ax.grid(axis="x", alpha=0.3)
    legend_below(fig)
    finish(fig)
    return save_figure(fig, stem, report.spec.formats)


def plot_differences(report: TaskReport, stem: Path) -> list[Path]:
    """Forest plot: each activation's mean difference to the baseline with the interval its
    verdict rests on (Comparison.ci_low/ci_high: simultaneous t-intervals), coloured by verdict."""
    label, higher = report.compared.label, report.compared.higher_is_better
    rows = [c for c in report.comparisons if c.test != "baseline"]
    ticks = [wrap_label(f"{c.activation} (n={c.n}): {verdict(c, higher)}") for c in rows]
    fig, ax = plt.subplots(figsize=(6.4, row_pitch(ticks) * len(rows) + 2.0), dpi=150)
    for row, c in enumerate(rows):
        if math.isnan(c.delta_mean):
            continue
        colour = VERDICT_COLOURS.get(verdict(c, higher).split(" ")[0], GREY)
        ax.errorbar(
            c.delta_mean,
            row,
            xerr=[[c.delta_mean - c.ci_low], [c.ci_high - c.delta_mean]],
            fmt="o",
            color=colour,
            capsize=3,
            ms=5,
        )
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(range(len(rows)), ticks)
    ax.invert_yaxis()
    ax.set_xlabel(f"difference to {report.baseline}: {label}{direction(report.compared)}")
    ax.set_title(f"{report.task}: difference to {report.baseline}, {rows[0].ci_method}")  # the verdicts' intervals
    ax.grid(axis="x", alpha=0.3)
    finish(fig)
    return save_figure(fig, stem, report.spec.formats)


def plot_curves(report: TaskReport, stem: Path) -> list[Path]:
    """Mean curve of the compared metric's per-epoch series (report.series: test accuracy
    unless the compared metric has its own) per activation with a ±1 std band, and the late
    evaluation points zoomed; x in the task's evaluation axis (epochs, or iterations)."""
    fig, (ax, zoom) = plt.subplots(1, 2, figsize=(10, 4.2), dpi=150, gridspec_kw={"width_ratios": [3, 2]})
    ns = report.summary.set_index("activation")["n"]
    styles = activation_styles(report.summary["activation"])
    at, unit = report.axis.at, report.axis.name
    last = int(report.curves["epoch"].max())
    for activation, curve in report.curves.groupby("activation", sort=False):
        style = styles[activation].line
        curve = curve.sort_values("epoch")
        low, high = curve["mean"] - curve["std"].fillna(0.0), curve["mean"] + curve["std"].fillna(0.0)
        late = curve["epoch"] > last // 2
        x = curve["epoch"].map(report.axis.at)
        for axis, rows in ((ax, curve["epoch"] > 0), (zoom, late)):
            axis.plot(
                x[rows],
                curve["mean"][rows],
                marker="o",
                markersize=3,
                **style,
                label=f"{activation} (n={ns[activation]})",
            )
            axis.fill_between(x[rows], low[rows], high[rows], color=style["color"], alpha=0.18, lw=0)
    n_values = sorted(set(ns))
    n_text = f"n={n_values[0]}" if len(n_values) == 1 else f"n={n_values[0]}–{n_values[-1]}"
    name = report.series.label.removesuffix(" (%)")
    ax.set_title(f"{report.task}: {name}, mean ± 1 std over seeds ({n_text})", fontsize=10)
    zoom.set_title(f"{unit}s {at(last // 2 + 1):g}–{at(last):g}, zoomed", fontsize=10)
    for axis in (ax, zoom):
        axis.set_xlabel(unit)
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.grid(alpha=0.3)
    ax.set_ylabel(report.series.label)
    legend_below(fig)
    finish(fig)
    return save_figure(fig, stem, report.spec.formats)


def _draw_front(ax, points) -> None:
    """The Pareto front of ``points`` (cost.cost_points rows) as a step line through its
    means, fastest first: read left to right, the best mean metric a budget of that many
    seconds per trial buys; each front point ringed."""
    front = points[points["on_front"]].sort_values(["seconds_mean", "value_mean"], kind="stable")
    ax.plot(
        front["seconds_mean"],
        front["value_mean"],
        drawstyle="steps-post",
        color="black",
        lw=1,
        zorder=1,
        marker="o",
        ms=12,
        mfc="none",
        mec="black",
        mew=1.2,
        label="Pareto front (not dominated)",
    )


def plot_cost(report: TaskReport, stem: Path) -> list[Path]:
    """Each finished trial's metric against its seconds (training + evaluation), each
    activation's mean, and the Pareto front of those means: what an activation costs for what it gives."""
    label = report.compared.label
    points = cost_points(report.values, report.compared.higher_is_better)
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=150)
    styles = activation_styles(report.summary["activation"])
    for mean in points.itertuples():
        colour, marker = styles[mean.activation].colour, styles[mean.activation].marker
        trials = report.values[report.values["activation"] == mean.activation]
        ax.scatter(trials["wall_time_s"], trials["value"], s=14, color=colour, marker=marker, alpha=0.6, lw=0)
        ax.scatter(
            mean.seconds_mean,
            mean.value_mean,
            s=60,
            color=colour,
            marker="D",
            edgecolor="black",
            lw=0.6,
            zorder=2,
            label=f"{mean.activation} (n={mean.n}), mean",
        )
    _draw_front(ax, points)
    # From zero: equal costs look equal, not spread out by an offset axis.
    ax.set_xlim(0, 1.15 * report.values["wall_time_s"].max())
    ax.ticklabel_format(axis="x", useOffset=False)
    ax.set_xlabel("seconds per trial (training + evaluation)")
    ax.set_ylabel(label + direction(report.compared))  # which way the front's "best" lies
    title = f"{report.task}: {label} against seconds per trial\n"
    title += "one point per trial; diamonds: the means; ringed: the Pareto front of the means"
    if (report.values["engine"] == "population").any():
        # A population's members train together: each is charged its activation's measured seconds
        # and an equal share of the rest (actbench.tasks.costs).
        title += "\n(population members: measured activation time + equal share of the rest)"
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    legend_below(fig)
    finish(fig)
    return save_figure(fig, stem, report.spec.formats)


def plot_across(result: AcrossResult, stem: Path, formats: frozenset[str]) -> list[Path]:
    """Forest plot across tasks: each activation's P(beats the baseline on a random task and
    seed) with its 95% stratified Wilson score interval, 0.5 (no better, no worse) dashed."""
    rows = [row for row in result.rows if row.activation != result.baseline]
    total = len(result.strata)
    labels = [
        wrap_label(
            f"{row.activation} ("
            + ("not ranked" if row.rank is None else f"rank {row.rank_low}–{row.rank_high}")
            + ("" if row.tasks == total else f"; {row.tasks} of {total} tasks")
            + ")"
        )
        for row in rows
    ]
    fig, ax = plt.subplots(figsize=(6.4, row_pitch(labels) * len(rows) + 2.0), dpi=150)
    for y, row in enumerate(rows):
        if not math.isnan(row.p_improve):
            ax.errorbar(
                row.p_improve,
                y,
                xerr=[[row.p_improve - row.low], [row.high - row.p_improve]],
                fmt="o",
                color=PALETTE[0],
                capsize=3,
                ms=5,
            )
    ax.axvline(0.5, color="black", ls="--", lw=0.8)
    ax.set_yticks(range(len(rows)), labels)
    ax.invert_yaxis()
    ax.set_xlim(-0.02, 1.02)  # 0..1, with room for a point or a cap at either end
    ax.set_xticks(np.linspace(0, 1, 6))
    ax.set_xlabel(f"P(A beats {result.baseline} on a random task and seed)")
    ax.set_title(
        f"across {total} tasks: P(beats {result.baseline}), 95% stratified Wilson CIs; rank, 95% bootstrap", fontsize=10
    )
    ax.grid(axis="x", alpha=0.3)
    finish(fig)
    return save_figure(fig, stem, formats)
