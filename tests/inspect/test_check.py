"""actbench check: properties computed numerically agree with facts derived by hand."""

import json

import pytest
from cli_runner import cli

from actbench.activations import parse_activation
from actbench.inspect.check import Breakpoint, monotone_range, properties


def check(spec: str):
    return properties(parse_activation(spec))


def test_relu_kinks_at_zero_and_kills_half_of_a_normal_input():
    relu = check("relu")
    assert (relu.f0, relu.df0, relu.min_value, relu.argmin) == (0.0, 0.0, 0.0, 0.0)
    assert relu.dead_fraction == 0.5 and relu.smoothness == "C0" and relu.breakpoints == [Breakpoint(0.0, "f'", 1.0)]
    assert relu.monotone and relu.bounded_below and not relu.bounded_above
    assert (relu.slope_neg_inf, relu.slope_pos_inf) == (0.0, 1.0)


def test_ralu_slope_at_zero_is_alpha_and_it_is_monotone_for_alpha_in_0_to_9():
    assert check("ralu(alpha=2)").df0 == pytest.approx(2.0)
    assert not check("ralu(alpha=12)").monotone and check("ralu(alpha=5)").monotone
    assert monotone_range(parse_activation("ralu"), "alpha", -2, 12) == pytest.approx([0.0, 9.0], abs=1e-5)


def test_srelu_minimum_and_its_c1_breakpoints():
    srelu = check("srelu")
    assert srelu.argmin == pytest.approx(-0.78, abs=0.005) and srelu.min_value < 0
    assert srelu.smoothness == "C1" and [(b.x, b.order) for b in srelu.breakpoints] == [(-2.21, "f''"), (2.21, "f''")]
    assert not srelu.monotone and srelu.gradcheck


def test_gelu_minimum_and_smoothness():
    gelu = check("gelu")
    assert gelu.argmin == pytest.approx(-0.7518, abs=1e-3) and gelu.min_value == pytest.approx(-0.16997, abs=1e-4)
    assert gelu.smoothness == "C2+" and gelu.breakpoints == [] and gelu.df0 == 0.5


def test_squareplus_with_b_zero_is_relu():
    relu, sp0 = check("relu").to_dict(), check("squareplus(b=0)").to_dict()
    differs = {k for k in relu if k != "activation" and relu[k] != sp0[k]}
    assert differs == set(), differs


def test_bounds_and_centring_of_the_classics():
    tanh, sigmoid, selu, elu = check("tanh"), check("sigmoid"), check("selu"), check("elu")
    assert tanh.bounded_below and tanh.bounded_above and tanh.odd and tanh.zero_mean
    assert tanh.min_value == -1.0 and tanh.argmin is None  # approached, never reached
    assert sigmoid.mean_output == pytest.approx(0.5) and not sigmoid.zero_mean and not sigmoid.odd
    assert selu.zero_mean and selu.smoothness == "C0"  # mean 0 under N(0, 1) by design; f' jumps at 0
    assert elu.smoothness == "C1" and elu.breakpoints == [Breakpoint(0.0, "f''", pytest.approx(-1.0))]
    for p in (tanh, sigmoid, selu, elu):
        assert p.finite_float16 and p.finite_bfloat16 and p.finite_float32 and p.gradcheck


def test_check_command_json_and_errors():
    result = cli("check", "relu,ralu", "--sweep", "alpha=-2:12", "--format", "json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    required = {
        "activation",
        "f0",
        "df0",
        "min_value",
        "argmin",
        "monotone",
        "zero_mean",
        "smoothness",
        "gradcheck",
        "finite_float16",
        "finite_bfloat16",
        "dead_fraction",
        "monotone_range",
    }
    assert required <= set(rows[0])
    assert rows[0]["monotone_range"] is None and rows[1]["monotone_range"] == pytest.approx([0.0, 9.0], abs=1e-5)
    assert rows[1]["min_value"] == "-inf"
    srelu = json.loads(cli("check", "srelu", "--format", "json").stdout)[0]
    assert [(b["x"], b["order"]) for b in srelu["breakpoints"]] == [(-2.21, "f''"), (2.21, "f''")]
    table = cli("check", "srelu")
    assert table.exit_code == 0 and "C1 (Δf'' -0.558" in table.stdout and "+0.558 at 2.21)" in table.stdout
    for args, message in [
        (["check", "relu", "--format", "yaml"], "error: unknown format 'yaml'; choose from: table, json"),
        (
            ["check", "relu", "--sweep", "alpha=3:1"],
            "error: --sweep expects NAME=LOW:HIGH with LOW < HIGH, got 'alpha=3:1'",
        ),
        (
            ["check", "relu", "--sweep", "alpha=-2:12"],
            "error: none of these activations has a parameter 'alpha' to sweep",
        ),
    ]:
        bad = cli(*args)
        assert bad.exit_code == 2 and bad.stderr.strip() == message
