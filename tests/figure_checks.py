"""Checks that a figure is ready to paste into a paper, shared by the tests of every
module that draws one: nothing clipped, the axes not squeezed, legends off the data.

The figures are caught as they are saved (``caught_figures``), drawn, then measured in
display pixels: what lies outside the figure's extent is cut off in the saved file."""

from __future__ import annotations

import contextlib
import importlib

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

# The modules that draw figures, each calling save_figure by its own name for it.
DRAWING_MODULES = ("actbench.report.figures", "actbench.inspect.plot", "actbench.inspect.flow")

# A plug-in spec as the report labels it: module path, class, source hash, parameters (60+ characters).
LONG_NAME = "some.long.module.path:AVeryLongActivationClassName@1a2b3c4d(beta=1.0)"


@contextlib.contextmanager
def caught_figures(monkeypatch):
    """The figures saved inside the block, still open, in order (each is saved as usual too)."""
    import actbench.report.figures as figures

    caught: list[Figure] = []
    save = figures.save_figure

    def keep(fig, stem, formats):
        caught.append(fig)  # closing a figure leaves it drawable
        return save(fig, stem, formats)

    for name in DRAWING_MODULES:
        module = importlib.import_module(name)
        if hasattr(module, "save_figure"):
            monkeypatch.setattr(module, "save_figure", keep)
    yield caught


def _drawn(fig: Figure):
    """``fig`` drawn as when saved; its renderer. A closed figure gets a fresh canvas."""
    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    canvas.draw()
    return canvas.get_renderer()


def _texts(fig: Figure) -> list:
    """Every text drawn: titles, axis labels, tick labels in view, legends' texts, figure texts."""
    texts = list(fig.texts)
    for ax in fig.axes:
        texts += [ax.title, ax.xaxis.label, ax.yaxis.label]
        for axis, low_high in ((ax.xaxis, ax.get_xlim()), (ax.yaxis, ax.get_ylim())):
            low, high = sorted(low_high)
            for tick in axis.get_major_ticks():
                if low <= tick.get_loc() <= high:
                    texts += [tick.label1, tick.label2]
    for legend in legends(fig):
        texts += legend.get_texts()
    return [t for t in texts if t.get_visible() and t.get_text()]


def legends(fig: Figure) -> list:
    return list(fig.legends) + [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]


def assert_ready_to_paste(fig: Figure, min_axes_share: float = 0.4) -> None:
    """Every text and legend of ``fig`` inside the figure, and its axes together at least
    ``min_axes_share`` of the figure's width."""
    renderer = _drawn(fig)
    frame = fig.bbox
    for artist in _texts(fig) + legends(fig):
        box = artist.get_window_extent(renderer)
        # Half a pixel of slack: a text flush with an edge is measured a rounding error beyond it.
        inside = (
            frame.x0 - 0.5 <= box.x0
            and box.x1 <= frame.x1 + 0.5
            and frame.y0 - 0.5 <= box.y0
            and box.y1 <= frame.y1 + 0.5
        )
        what = artist.get_text() if hasattr(artist, "get_text") else type(artist).__name__
        assert inside, f"{what!r} at {box.bounds} leaves the figure {frame.bounds}"
    x0 = min(ax.get_window_extent(renderer).x0 for ax in fig.axes)
    x1 = max(ax.get_window_extent(renderer).x1 for ax in fig.axes)
    share = (x1 - x0) / frame.width
    assert share >= min_axes_share, f"the axes take {share:.0%} of the figure's width"


def data_points(fig: Figure) -> np.ndarray:
    """Display positions (pixels, (N, 2)) of every line vertex and scatter point drawn in data coordinates."""
    points = []
    for ax in fig.axes:
        for line in ax.lines:
            if line.get_transform() == ax.transData:  # not a reference line spanning the axes
                points.append(ax.transData.transform(line.get_xydata()))
        for collection in ax.collections:
            offsets = np.asarray(collection.get_offsets())
            if len(offsets) and collection.get_offset_transform() == ax.transData:
                points.append(ax.transData.transform(offsets))
    return np.concatenate(points) if points else np.empty((0, 2))


def assert_legends_off_the_data(fig: Figure) -> None:
    """No legend's box holds a data point."""
    renderer = _drawn(fig)
    points = data_points(fig)
    assert len(points), "no data points drawn"
    for legend in legends(fig):
        box = legend.get_window_extent(renderer)
        covered = points[
            (points[:, 0] >= box.x0) & (points[:, 0] <= box.x1) & (points[:, 1] >= box.y0) & (points[:, 1] <= box.y1)
        ]
        assert not len(covered), f"the legend {box.bounds} covers {len(covered)} data point(s), e.g. {covered[0]}"
