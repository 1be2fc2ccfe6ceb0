"""The report's figures are ready for a paper: nothing clipped at any name length, the axes
not squeezed, legends off the data, one colour per activation in every figure, and PDF
files that are vector, embed their fonts and are byte-identical when saved again."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from cli_runner import cli
from fakes import fake_result
from figure_checks import LONG_NAME, assert_legends_off_the_data, assert_ready_to_paste, caught_figures, legends
from matplotlib.colors import to_hex

from actbench.report import figures
from actbench.report.across import across_from_reports
from actbench.report.build import CompareSpec, build_reports
from actbench.results.store import ResultStore
from actbench.run.config import build_run_config
from actbench.tune.outputs import plot_sensitivity
from actbench.tune.tuning import make_tuning

ORANGE, BLACK = "#e69f00", "#000000"  # gelu's and relu's fixed colours (Okabe-Ito)


def reports_of(table: dict[str, list[list[float]]], tasks=("mnist-mini",), formats=frozenset({"png"}), baseline=None):
    """Reports of stored fake trials: activation -> one per-epoch accuracy list per seed, in each task."""
    with ResultStore(Path("results")) as store:
        for task in tasks:
            for act, runs in table.items():
                for seed, accs in enumerate(runs):
                    store.add(fake_result(act, seed, accs, task=task, wall=2.0 + len(act) / 10 + seed / 10))
        return build_reports(store, None, None, CompareSpec(baseline=baseline, formats=formats))


def spread(mean: float, seeds: int = 5) -> list[list[float]]:
    return [[90.0, mean + 0.2 * (s - seeds // 2)] for s in range(seeds)]


# --- wrapping and styles -----------------------------------------------------------------


def test_long_names_wrap_where_a_spec_breaks_and_never_beyond_the_width():
    assert figures.wrap_label(LONG_NAME + " (n=10)").split("\n") == [
        "some.long.module.path:",
        "AVeryLongActivationClassName",
        "@1a2b3c4d(beta=1.0) (n=10)",
    ]
    # Numbers are not split at their decimal point; parameters break after a comma.
    assert figures.wrap_label("ralu(alpha=1.0, learnable=true) act1 trained (alpha=1.23)").split("\n") == [
        "ralu(alpha=1.0,",
        "learnable=true) act1 trained",
        "(alpha=1.23)",
    ]
    # With nowhere to break: at a camelCase boundary or after '_', else at the width.
    assert figures.wrap_label("my_plugins:AVeryLongActivationClassNameForTesting", 20).split("\n") == [
        "my_plugins:",
        "AVeryLongActivation",
        "ClassNameForTesting",
    ]
    assert figures.wrap_label("x" * 60).split("\n") == ["x" * 28, "x" * 28, "x" * 4]
    assert figures.wrap_label("relu (n=5)\nbaseline") == "relu (n=5)\nbaseline"  # short lines kept as they are


def test_each_activation_keeps_its_style_whatever_else_is_drawn():
    alone = figures.activation_colours(["gelu", "relu"])
    crowd = figures.activation_colours(["zeta", "relu", "alpha", "silu", "gelu", "mish", LONG_NAME])
    assert alone == {"gelu": ORANGE.upper(), "relu": BLACK}
    assert {k: crowd[k] for k in alone} == alone and crowd["silu"] == "#009E73"
    # The others by their sorted order: the same set in any order gives the same colours.
    assert crowd == figures.activation_colours(sorted(crowd, reverse=True))
    assert [crowd[n] for n in ("alpha", "mish", LONG_NAME, "zeta")] == ["#0072B2", "#D55E00", "#56B4E9", "#CC79A7"]
    assert len(set(crowd.values())) == len(crowd)  # up to 7 activations: 7 colours
    # Beyond: every colour again, dashed and with another marker; no two activations alike.
    many = figures.activation_styles([f"act{i:02d}" for i in range(20)])
    assert len(set(many.values())) == 20
    assert many["act07"] == figures.Style("#0072B2", "--", "s")  # 7 first-round colours without relu, gelu, silu


# --- nothing clipped, axes not squeezed --------------------------------------------------


@pytest.mark.parametrize("name", [LONG_NAME, "srelu(t=2.21)"])
def test_every_report_figure_keeps_its_text_inside_at_any_name_length(monkeypatch, name):
    table = {"relu": spread(97.0), "gelu": spread(97.5), name: spread(96.0), "silu": spread(97.1)}
    reports = reports_of(table, tasks=("mnist-mini", "mnist"))
    report = reports[0]
    with caught_figures(monkeypatch) as caught:
        figures.plot_curves(report, Path("curves"))
        figures.plot_seeds(report, Path("seeds"))
        figures.plot_differences(report, Path("differences"))
        figures.plot_cost(report, Path("cost"))
        figures.plot_across(across_from_reports(reports, resamples=200), Path("across"), frozenset({"png"}))
    assert len(caught) == 5
    for fig in caught:
        assert_ready_to_paste(fig, min_axes_share=0.4)
    differences = caught[2]
    ticks = [t.get_text() for t in differences.axes[0].get_yticklabels()]
    assert all(len(line) <= figures.WRAP for tick in ticks for line in tick.split("\n"))
    title = differences.axes[0].get_title()
    assert title.replace("\n", " ").startswith("mnist-mini: difference to relu")  # wrapped, not cut


def test_a_title_longer_than_the_figure_is_wrapped_until_it_fits():
    fig, ax = figures.plt.subplots(figsize=(6.4, 3), dpi=100)
    ax.set_title("a title of many words, far too long for a figure a paper's column wide; " * 3)
    ax.set_yticks([0, 1], ["short", figures.wrap_label(LONG_NAME)])
    figures.finish(fig)
    lines = ax.get_title().split("\n")
    assert len(lines) >= 3 and max(map(len, lines)) - min(map(len, lines)) < 15  # even lines, no orphan
    assert_ready_to_paste(fig, min_axes_share=0.4)
    figures.plt.close(fig)


# --- legends off the data ----------------------------------------------------------------


def test_legends_never_cover_a_data_point(monkeypatch):
    # No place inside the axes is free. Curves: at each of epochs 1-9 the activations' means
    # sit at five of six levels spread over the height. Seeds: the last epoch's values spread
    # over the whole range in every row, five rows (one at the axes' centre), and the long
    # baseline name makes a legend across most of the width, over the top or bottom row.
    rng = np.random.default_rng(0)
    names = ["relu", "gelu", "silu", "tanh", LONG_NAME]
    table = {
        act: [[50.0 + 9 * ((epoch + k) % 6) for epoch in range(9)] + [50.0 + 45 * rng.uniform()] for _ in range(40)]
        for k, act in enumerate(names)
    }
    (report,) = reports_of(table, baseline=LONG_NAME)
    with caught_figures(monkeypatch) as caught:
        figures.plot_seeds(report, Path("seeds"))
        figures.plot_curves(report, Path("curves"))
        figures.plot_cost(report, Path("cost"))
    for fig in caught:
        assert legends(fig), "each of these figures has a legend"
        assert_legends_off_the_data(fig)


# --- one colour per activation -----------------------------------------------------------


def test_gelu_has_one_colour_in_every_figure_of_a_report_and_in_the_tuning(monkeypatch):
    table = {"relu": spread(97.0), "gelu": spread(97.5), "tanh": spread(95.0), "mish": spread(97.2)}
    (report,) = reports_of(table)
    tuning = make_tuning(
        build_run_config({"task": "mnist-mini", "acts": ["gelu", "tanh"]}, {}), {"lr": [1e-3, 1e-2]}, None
    )
    frame = tuning_frame(["gelu", "tanh"])
    with caught_figures(monkeypatch) as caught:
        figures.plot_curves(report, Path("curves"))
        figures.plot_seeds(report, Path("seeds"))
        figures.plot_cost(report, Path("cost"))
        plot_sensitivity(tuning, frame, Path("sensitivity"), frozenset({"png"}))
    curves, seeds, cost, sensitivity = caught
    assert legend_colour(curves, "gelu (n=5)") == ORANGE
    assert legend_colour(cost, "gelu (n=5), mean") == ORANGE
    assert legend_colour(sensitivity, "gelu") == ORANGE
    assert row_colour(seeds, "gelu (n=5)") == ORANGE
    # The baseline keeps its colour too, its row and its mean line marked as the baseline's.
    assert row_colour(seeds, "relu (n=5), baseline") == BLACK
    assert legend_colour(seeds, "relu mean (baseline)") == BLACK


def tuning_frame(acts: list[str]):
    import pandas as pd

    rows = [
        {
            "activation": act,
            "setting": i,
            "label": f"lr={lr}",
            "trials": 2,
            "n": 2,
            "mean": 90.0 + i,
            "sd": 0.5,
            "chosen": i == 1,
        }
        for act in acts
        for i, lr in enumerate((1e-3, 1e-2))
    ]
    return pd.DataFrame(rows)


def legend_colour(fig, label: str) -> str:
    """The colour of the legend entry ``label``: its line's, or its marker's face."""
    (legend,) = legends(fig)
    for handle, text in zip(legend.legend_handles, legend.get_texts()):
        if text.get_text() == label:
            colour = handle.get_color() if hasattr(handle, "get_color") else handle.get_facecolor()[0]
            return to_hex(colour)
    raise AssertionError(f"no legend entry {label!r} in {[t.get_text() for t in legend.get_texts()]}")


def row_colour(fig, label: str) -> str:
    """The colour of the seeds of the strip plot's row named ``label``."""
    ax = fig.axes[0]
    (row,) = [tick.get_loc() for tick in ax.yaxis.get_major_ticks() if tick.label1.get_text() == label]
    (points,) = [c for c in ax.collections if np.allclose(np.asarray(c.get_offsets())[:, 1], row, atol=0.2)]
    return to_hex(points.get_facecolor()[0])


# --- PDF ---------------------------------------------------------------------------------


def test_pdf_figures_embed_their_fonts_and_are_byte_identical_when_saved_again():
    (report,) = reports_of({"relu": spread(97.0), "gelu": spread(97.5)}, formats=frozenset({"pdf"}))
    (first,) = figures.plot_curves(report, Path("a"))
    (second,) = figures.plot_curves(report, Path("b"))
    data = first.read_bytes()
    assert first.name == "a.pdf" and data.startswith(b"%PDF-")
    assert b"/FontFile2" in data  # TrueType fonts embedded, not Type 3 outlines
    assert b"CreationDate" not in data and b"Matplotlib" not in data and b"/Producer (actbench)" in data
    assert data == second.read_bytes()


def test_report_format_pdf_writes_every_figure_as_pdf():
    reports_of({"relu": spread(97.0), "gelu": spread(97.5), "silu": spread(96.5)})
    result = cli("report", "--format", "md,pdf")
    assert result.exit_code == 0, result.output
    written = sorted(p.name for p in Path("results/mnist-mini").iterdir() if p.suffix == ".pdf")
    assert written == ["cost.pdf", "curves.pdf", "differences.pdf", "seeds.pdf"]
