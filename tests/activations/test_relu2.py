"""relu2, squared ReLU (Primer, So et al. 2021): f(x) = max(0, x)², f'(x) = 2·max(0, x),
f''(x) = 2 for x > 0 and 0 for x < 0. Every expected value is that closed form, written
here in plain Python, independent of the module under test."""

from __future__ import annotations

import pytest
import torch
from cli_runner import cli
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from actbench.activations import canonical_spec, get_activation, get_info, parse_activation
from actbench.activations.identity import definition, fingerprint
from actbench.inspect.check import Breakpoint, properties
from actbench.inspect.speed import saved_bytes

# |x| up to 1e150: x² stays finite in float64 (below 1.8e308), so the closed form is exact
# to one rounding; subnormals included, where x² underflows to 0 like the formula's.
FLOAT64_INPUTS = st.floats(min_value=-1e150, max_value=1e150, allow_nan=False, allow_subnormal=True)


def relu2_parts(x: float) -> tuple[float, float]:
    """(f(x), f'(x)) in closed form."""
    return (x * x, 2 * x) if x > 0 else (0.0, 0.0)


def values_and_slopes(spec: str, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    x = x.detach().clone().requires_grad_()
    y = get_activation(spec).to(x.dtype)(x)
    (slope,) = torch.autograd.grad(y.sum(), x)
    return y.detach(), slope


# --- values and derivatives ----------------------------------------------------------


@settings(max_examples=300, derandomize=True, database=None, deadline=None)
@given(st.lists(FLOAT64_INPUTS, min_size=1, max_size=32))
def test_values_and_gradients_are_the_closed_form(points: list[float]) -> None:
    y, slope = values_and_slopes("relu2", torch.tensor(points, dtype=torch.float64))
    expected = [relu2_parts(p) for p in points]
    # One rounding of x·x in each: the same float64 bits.
    assert y.tolist() == [v for v, _ in expected]
    assert slope.tolist() == [d for _, d in expected]


def test_the_kink_and_its_neighbourhood() -> None:
    # f'(0) = 0 from both sides: no subgradient choice to make, unlike ReLU's.
    points = [-1e300, -2.0, -1e-300, -0.0, 0.0, 1e-300, 0.5, 3.0]
    y, slope = values_and_slopes("relu2", torch.tensor(points, dtype=torch.float64))
    assert y.tolist() == [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.25, 9.0]  # (1e-300)² underflows to 0
    assert slope.tolist() == [0.0, 0.0, 0.0, 0.0, 0.0, 2e-300, 1.0, 6.0]


def test_second_derivative_is_two_on_the_positive_side() -> None:
    x = torch.tensor([-3.0, -0.5, 0.0, 0.5, 3.0], dtype=torch.float64, requires_grad=True)
    (slope,) = torch.autograd.grad(get_activation("relu2")(x).sum(), x, create_graph=True)
    (curvature,) = torch.autograd.grad(slope.sum(), x)
    assert curvature.tolist() == [0.0, 0.0, 0.0, 2.0, 2.0]


def test_gradcheck_and_gradgradcheck_in_float64() -> None:
    # Off the kink at 0, where f'' jumps from 0 to 2 and finite differences straddle it.
    x = torch.tensor([[-3.1, -1.7, -0.6], [0.35, 1.3, 2.9]], dtype=torch.float64, requires_grad=True)
    module = get_activation("relu2")
    assert torch.autograd.gradcheck(module, (x,))
    assert torch.autograd.gradgradcheck(module, (x,))


# --- dtypes and devices --------------------------------------------------------------

# Exactly representable in float16 and bfloat16, and x² in float32.
HALF_INPUTS = [-1e4, -300.0, -3.0, -1.5, -0.5, 0.0, 0.25, 1.0, 1.5, 2.5, 16.0, 200.0, 255.0, 256.0, 300.0, 1e4]


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
def test_low_precision_is_the_exact_answer_rounded_once(dtype: torch.dtype) -> None:
    x = torch.tensor(HALF_INPUTS).to(dtype)
    y, slope = values_and_slopes("relu2", x)
    assert y.dtype == slope.dtype == dtype
    exact_y, exact_slope = values_and_slopes("relu2", x.to(torch.float64))
    # Past float16's largest value (65504, so x ≥ 256) the rounded exact answer is inf.
    torch.testing.assert_close(y, exact_y.to(dtype), rtol=0, atol=0)
    torch.testing.assert_close(slope, exact_slope.to(dtype), rtol=0, atol=0)
    fits = exact_y <= torch.finfo(dtype).max
    assert torch.isfinite(y[fits]).all() and torch.isfinite(slope).all()


DEVICES = ["cpu", "meta", *(["cuda"] if torch.cuda.is_available() else [])]


@pytest.mark.parametrize("device", DEVICES)
def test_output_and_gradient_stay_on_the_input_device(device: str) -> None:
    x = torch.linspace(-2, 2, 9, device=device, requires_grad=True)
    y = get_activation("relu2")(x)
    (slope,) = torch.autograd.grad(y.sum(), x)
    assert y.device == slope.device == x.device and y.dtype == slope.dtype == torch.float32
    if device != "meta":
        expected = [relu2_parts(p) for p in x.tolist()]
        assert y.tolist() == pytest.approx([v for v, _ in expected], rel=1e-6)
        assert slope.tolist() == pytest.approx([d for _, d in expected], rel=1e-6)


# --- registry, check, speed, identity ------------------------------------------------


def test_registered_with_its_alias_formula_and_reference() -> None:
    info = get_info("relu2")
    assert info.aliases == ("squared_relu",) and get_info("SQUARED_RELU") is info
    assert info.params == () and info.learnable == ""
    assert info.formula == "max(0, x)²" and "arXiv:2109.08668" in info.reference
    assert canonical_spec("squared_relu") == canonical_spec("relu2()") == "relu2"
    assert list(get_activation("relu2").parameters()) == []


def test_check_reports_the_properties_derived_by_hand() -> None:
    p = properties(parse_activation("relu2"))
    assert (p.f0, p.df0, p.min_value, p.argmin) == (0.0, 0.0, 0.0, 0.0)
    assert p.monotone and p.bounded_below and not p.bounded_above and not p.odd
    # E[max(0, X)²] = E[X²]/2 = 1/2 for X ~ N(0, 1); check's quantile grid misses the far tails.
    assert p.mean_output == pytest.approx(0.5, abs=1e-4) and not p.zero_mean
    assert p.slope_neg_inf == 0.0 and p.slope_pos_inf > 1e6  # flat on the left, unbounded slope on the right
    # C1: f' = 2·max(0, x) is continuous; f'' steps from 0 to 2 at 0.
    assert p.smoothness == "C1" and p.breakpoints == [Breakpoint(0.0, "f''", pytest.approx(2.0))]
    assert p.dead_fraction == 0.5 and p.gradcheck
    # float16 overflows beyond |x| ≈ 256, where the exact value is not representable either.
    assert p.finite_float32 and p.finite_float16 and p.finite_bfloat16


def test_check_and_speed_commands_run() -> None:
    checked = cli("check", "squared_relu", "--format", "json")
    assert checked.exit_code == 0, checked.output
    assert '"activation": "relu2"' in checked.stdout and '"smoothness": "C1"' in checked.stdout
    timed = cli("speed", "relu2", "--size", "4096", "--repeats", "2", "--no-compile")
    assert timed.exit_code == 0, timed.output
    assert "relu2" in timed.stdout and "eager" in timed.stdout


def test_backward_keeps_one_tensor_as_relu_does() -> None:
    # relu saves its output and square saves its input: the same storage, counted once.
    x = torch.randn(4096, requires_grad=True)
    for spec in ("relu2", "relu"):
        assert saved_bytes(get_activation(spec), x) / x.numel() == pytest.approx(4, abs=0.01)


class _Lambda(nn.Module):
    def __init__(self, function) -> None:
        super().__init__()
        self.function = function

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.function(x)


def test_fingerprint_is_the_behaviour_of_max_0_x_squared() -> None:
    relu2 = definition(parse_activation("relu2"))
    assert definition(parse_activation("squared_relu")) == relu2
    # clamp's slope at 0 is 1 where relu's is 0, but times 2·0 both give f'(0) = 0.
    assert fingerprint(lambda: _Lambda(lambda x: x.clamp(min=0) ** 2)) == relu2
    assert relu2 != definition(parse_activation("relu"))
