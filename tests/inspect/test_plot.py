"""actbench plot: f and f' from the modules themselves, checked against closed forms."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
from cli_runner import cli
from figure_checks import LONG_NAME, assert_legends_off_the_data, assert_ready_to_paste, caught_figures
from matplotlib.colors import to_hex

from actbench.inspect.plot import Shape, describe, plot_shapes, shapes


def test_values_and_slopes_match_closed_forms():
    relu, ralu, srelu = shapes(["relu", "ralu(alpha=2)", "srelu"], -3.0, 3.0)
    x = relu.x
    assert np.array_equal(relu.f, np.maximum(x, 0)) and np.array_equal(relu.df, (x > 0).astype(float))
    # RaLU: f = x(x² + α)/(x² + 1), f' = (x⁴ + (3 − α)x² + α)/(x² + 1)² (DESIGN.md), α = 2.
    assert np.allclose(ralu.f, x * (x**2 + 2) / (x**2 + 1), rtol=1e-12)
    assert np.allclose(ralu.df, (x**4 + x**2 + 2) / (x**2 + 1) ** 2, rtol=1e-12)
    facts = describe([relu, ralu, srelu]).set_index("activation")
    assert facts.loc["ralu(alpha=2.0, learnable=true)", "f'(0)"] == 2.0
    assert facts.loc["srelu(t=2.21)", "f(0)"] == 0.0 and facts.loc["srelu(t=2.21)", "f'(0)"] == 0.5
    # SReLU's minimum: below 0, near x = -0.78 for t = 2.21 (to the grid's step of 0.003).
    assert facts.loc["srelu(t=2.21)", "at x"] == pytest.approx(-0.78, abs=0.01)
    assert facts.loc["srelu(t=2.21)", "min f on range"] < 0


def test_plot_writes_the_file_its_suffix_names_and_refuses_bad_input():
    result = cli("plot", "relu,gelu,squareplus(b=0)", "--range", "-2", "2", "--out", "figs/shape.png")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in Path("figs").iterdir()) == ["shape.png"]
    assert "squareplus(b=0.0)" in result.stdout
    assert cli("plot", "relu", "--out", "paper/shape.pdf").exit_code == 0
    assert [p.name for p in Path("paper").iterdir()] == ["shape.pdf"]
    assert Path("paper/shape.pdf").read_bytes().startswith(b"%PDF-")
    jpeg = cli("plot", "relu", "--out", "shape.jpg")
    assert jpeg.exit_code == 2
    assert jpeg.stderr.strip() == "error: --out shape.jpg: unknown figure format 'jpg'; choose from: png, svg, pdf"
    bad = cli("plot", "relu", "--range", "2", "-2")
    assert bad.exit_code == 2 and bad.stderr.strip() == "error: range must have low < high, got 2 -2"
    assert cli("plot", "gleu").stderr.strip() == "error: unknown activation 'gleu'; did you mean: gelu, reglu, geglu?"


def test_from_results_draws_each_layer_at_its_trained_parameters():
    ran = cli("run", "--task", "mnist-mini", "--acts", "ralu", "--repeats", "2", "--epochs", "1", "-q")
    assert ran.exit_code == 0, ran.output
    exported = [json.loads(line) for line in cli("export", "--format", "jsonl").stdout.splitlines()]
    stored = {
        layer: np.mean([row["activation_params"][f"{layer}.alpha"][0] for row in exported])
        for layer in ("act1", "act2")
    }
    drawn = shapes(["ralu"], -3.0, 3.0, Path("results"), "mnist-mini")
    assert [s.label.split(" trained")[0] for s in drawn] == [
        "ralu(alpha=1.0, learnable=true) act1",
        "ralu(alpha=1.0, learnable=true) act2",
    ]
    for s, layer in zip(drawn, ("act1", "act2")):
        assert s.df0 == pytest.approx(stored[layer], rel=1e-6)  # RaLU: f'(0) = α
        assert not math.isclose(s.df0, 1.0)  # one epoch moved α away from its initial 1
    missing = cli("plot", "gelu", "--from-results")
    assert missing.exit_code == 2
    assert missing.stderr.strip() == f"error: no finished trials of gelu in {Path('results') / 'actbench.sqlite'}"


def test_the_figure_keeps_a_plug_in_s_long_name_inside_and_gelu_its_colour(monkeypatch):
    relu, gelu = shapes(["relu", "gelu"], -3.0, 3.0)
    # A learnable plug-in drawn at two trained layers: one colour, two line styles.
    layers = [
        Shape(LONG_NAME, f"{LONG_NAME} act{i} trained (beta={b})", relu.x, relu.f * b, relu.df * b, 0.0, b)
        for i, b in ((1, 0.5), (2, 2.0))
    ]
    with caught_figures(monkeypatch) as caught:
        (path,) = plot_shapes([relu, gelu, *layers], Path("shapes"), frozenset({"svg"}))
    (fig,) = caught
    assert path.name == "shapes.svg"
    assert_ready_to_paste(fig)
    assert_legends_off_the_data(fig)
    top = {line.get_label(): line for line in fig.axes[0].lines}
    assert to_hex(top["gelu"].get_color()) == "#e69f00"  # as in the report's figures
    first, second = (top[layer.label] for layer in layers)
    assert first.get_color() == second.get_color() and first.get_linestyle() != second.get_linestyle()
