"""actbench flow: known facts of signal propagation show up."""

import dataclasses
from pathlib import Path

from cli_runner import cli
from figure_checks import LONG_NAME, assert_legends_off_the_data, assert_ready_to_paste, caught_figures
from matplotlib.colors import to_hex

from actbench.inspect.flow import init_scheme, plot_flows, signal_flow


def test_selu_self_normalises_and_identity_keeps_the_scale():
    selu = signal_flow("selu", depth=50, width=256)
    assert selu.init == "lecun"
    assert all(0.8 < v < 1.25 for v in selu.variance), selu.variance  # every layer, not just the last
    identity = signal_flow("identity", depth=50, width=256)
    assert 0.5 < identity.signal_ratio < 2 and identity.verdict == "stable"


def test_relu_units_die_and_leaky_relu_units_do_not():
    relu, leaky = signal_flow("relu"), signal_flow("leaky_relu")
    assert relu.init == leaky.init == "he"
    assert relu.dead_last > 0.2 and relu.verdict == "stable"
    assert leaky.dead_last == 0.0


def test_sigmoid_gradients_vanish_and_the_verdict_says_by_how_much():
    sigmoid = signal_flow("sigmoid")
    assert sigmoid.grad_ratio < 1e-20
    assert sigmoid.verdict.startswith("vanishing (gradient x") and sigmoid.verdict.endswith(" first to last)")


def test_init_schemes_and_determinism():
    assert [init_scheme(s) for s in ("selu", "tanh", "ralu(alpha=2)", "gelu", "prelu")] == [
        "lecun",
        "lecun",
        "lecun",
        "he",
        "he",
    ]
    assert signal_flow("tanh", depth=10, width=32) == signal_flow("tanh", depth=10, width=32)


def test_flow_command_prints_the_table_and_writes_the_figure():
    result = cli("flow", "relu,sigmoid", "--depth", "20", "--width", "64", "--out", "f/flow.pdf")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in Path("f").iterdir()) == ["flow.pdf"]  # the format the suffix names, only
    assert Path("f/flow.pdf").read_bytes().startswith(b"%PDF-")
    assert "vanishing (gradient x" in result.stdout and "20 layers x 64 units" in result.stdout
    bad = cli("flow", "relu", "--depth", "1")
    assert bad.exit_code == 2
    assert bad.stderr.strip() == "error: depth must be >= 2 and width >= 1, got depth 1, width 256"
    gif = cli("flow", "relu", "--out", "flow.gif")
    assert gif.exit_code == 2
    assert gif.stderr.strip() == "error: --out flow.gif: unknown figure format 'gif'; choose from: png, svg, pdf"


def test_the_figure_keeps_a_plug_in_s_long_name_inside_and_relu_its_colour(monkeypatch):
    relu = signal_flow("relu", depth=10, width=32)
    plug_in = dataclasses.replace(relu, activation=LONG_NAME)  # drawn by its name alone
    with caught_figures(monkeypatch) as caught:
        plot_flows([relu, plug_in], Path("flow"), frozenset({"png"}))
    (fig,) = caught
    assert_ready_to_paste(fig)
    assert_legends_off_the_data(fig)
    assert to_hex(fig.axes[0].lines[0].get_color()) == "#000000"  # as in the report's figures
