"""Tests for the activation registry: formulas, gradients, numerics and spec parsing.

Every expected value is a closed form written here with ``math``, independent of the
code under test, so a wrong formula, constant or default fails a test.
"""

from __future__ import annotations

import hashlib
import math
import sys
import textwrap

import pytest
import torch
from torch import nn

from actbench.activations import (
    ActivationSpec,
    canonical_spec,
    get_activation,
    get_info,
    list_activations,
    parse_activation,
    register_activation,
    registry,
    split_specs,
)
from actbench.activations.functions import RaLUFunction, SquareplusFunction, SReLUFunction
from actbench.errors import SpecError, UsageError

BUILTINS = [
    "elu",
    "geglu",
    "gelu",
    "gelu_tanh",
    "identity",
    "leaky_relu",
    "mish",
    "prelu",
    "ralu",
    "reglu",
    "relu",
    "relu2",
    "selu",
    "sigmoid",
    "silu",
    "softplus",
    "squareplus",
    "srelu",
    "swiglu",
    "tanh",
]

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def sigma(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def phi_cdf(x: float) -> float:
    return (1 + math.erf(x / math.sqrt(2))) / 2


def gelu_tanh_parts(x: float) -> tuple[float, float]:
    k = math.sqrt(2 / math.pi)
    th = math.tanh(k * (x + 0.044715 * x**3))
    return x * (1 + th) / 2, (1 + th) / 2 + x * (1 - th**2) * k * (1 + 3 * 0.044715 * x**2) / 2


def mish_parts(x: float) -> tuple[float, float]:
    th = math.tanh(math.log1p(math.exp(x)))
    return x * th, th + x * (1 - th**2) * sigma(x)


def srelu_parts(x: float, t: float) -> tuple[float, float]:
    if x <= -t:
        return 0.0, 0.0
    if x >= t:
        return x, 1.0
    a = math.pi / (2 * t)
    return x * (math.sin(a * x) + 1) / 2, (math.sin(a * x) + 1) / 2 + a * x * math.cos(a * x) / 2


def elu_parts(x: float, alpha: float) -> tuple[float, float]:
    return (x, 1.0) if x > 0 else (alpha * (math.exp(x) - 1), alpha * math.exp(x))


def ralu_parts(x: float, a: float) -> tuple[float, float]:
    # The original form and the derivative as published (DESIGN.md), not the code's rewrite.
    return x * (x * x + a) / (x * x + 1), (x**4 + (3 - a) * x**2 + a) / (x * x + 1) ** 2


def squareplus_parts(x: float, b: float) -> tuple[float, float]:
    s = math.sqrt(x * x + b)
    return (x + s) / 2, (1 + x / s) / 2


# spec -> x -> (f(x), f'(x)), for every built-in and for non-default parameters.
CLOSED_FORMS = {
    "relu": lambda x: (max(0.0, x), float(x > 0)),
    "relu2": lambda x: (max(0.0, x) ** 2, 2 * max(0.0, x)),
    "leaky_relu": lambda x: (x, 1.0) if x >= 0 else (0.01 * x, 0.01),
    "leaky_relu(negative_slope=0.2)": lambda x: (x, 1.0) if x >= 0 else (0.2 * x, 0.2),
    "prelu": lambda x: (x, 1.0) if x >= 0 else (0.25 * x, 0.25),
    "prelu(init=0.125)": lambda x: (x, 1.0) if x >= 0 else (0.125 * x, 0.125),
    "elu": lambda x: elu_parts(x, 1.0),
    "elu(alpha=2)": lambda x: elu_parts(x, 2.0),
    "selu": lambda x: tuple(SELU_SCALE * v for v in elu_parts(x, SELU_ALPHA)),
    "gelu": lambda x: (x * phi_cdf(x), phi_cdf(x) + x * math.exp(-x * x / 2) / math.sqrt(2 * math.pi)),
    "gelu_tanh": gelu_tanh_parts,
    "silu": lambda x: (x * sigma(x), sigma(x) * (1 + x * (1 - sigma(x)))),
    "swish": lambda x: (x * sigma(x), sigma(x) * (1 + x * (1 - sigma(x)))),
    "mish": mish_parts,
    "softplus": lambda x: (math.log1p(math.exp(x)), sigma(x)),
    "softplus(beta=2)": lambda x: (math.log1p(math.exp(2 * x)) / 2, sigma(2 * x)),
    "squareplus": lambda x: squareplus_parts(x, 4.0),
    "squareplus(b=0.5)": lambda x: squareplus_parts(x, 0.5),
    "srelu": lambda x: srelu_parts(x, 2.21),
    "srelu(t=2)": lambda x: srelu_parts(x, 2.0),
    "ralu": lambda x: ralu_parts(x, 1.0),
    "ralu(alpha=2)": lambda x: ralu_parts(x, 2.0),
    "ralu(alpha=-0.5, learnable=false)": lambda x: ralu_parts(x, -0.5),
    "tanh": lambda x: (math.tanh(x), 1 - math.tanh(x) ** 2),
    "sigmoid": lambda x: (sigma(x), sigma(x) * (1 - sigma(x))),
    "identity": lambda x: (x, 1.0),
}
# Away from every kink (0, ±t of srelu) and from softplus's threshold.
POINTS = [-3.0, -1.7, -1.0, -0.4, 0.5, 1.0, 1.9, 2.5]


def build64(spec: str) -> nn.Module:
    return get_activation(spec).to(torch.float64)


# --- values and derivatives ------------------------------------------------------------


@pytest.mark.parametrize("spec", CLOSED_FORMS)
def test_values_and_gradients_match_closed_forms(spec: str) -> None:
    x = torch.tensor(POINTS, dtype=torch.float64, requires_grad=True)
    y = build64(spec)(x)
    y.backward(torch.ones_like(y))
    expected = [CLOSED_FORMS[spec](p) for p in POINTS]
    assert y.tolist() == pytest.approx([v for v, _ in expected], rel=1e-12, abs=1e-15)
    assert x.grad.tolist() == pytest.approx([d for _, d in expected], rel=1e-12, abs=1e-15)


@pytest.mark.parametrize(
    ("spec", "x", "expected"),
    [
        ("gelu", 1.0, 0.8413447460685429),
        ("ralu(alpha=2)", 1.0, 1.5),
        ("ralu(alpha=2)", -2.0, -2.4),
        ("squareplus", 0.0, 1.0),
        ("squareplus(b=1)", 0.0, 0.5),
        ("srelu(t=2)", 1.0, (math.sin(math.pi / 4) + 1) / 2),
        ("srelu(t=2)", -2.0, 0.0),
        ("srelu(t=2)", 2.0, 2.0),
        ("selu", 1.0, SELU_SCALE),
        ("softplus", 25.0, 25.0),  # beyond threshold=20 the output is x itself
        ("softplus", 19.0, math.log1p(math.exp(19.0))),
        ("softplus(threshold=5)", 6.0, 6.0),  # the threshold parameter reaches torch
        ("softplus(threshold=5)", 4.0, math.log1p(math.exp(4.0))),
        ("identity", -3.5, -3.5),
    ],
)
def test_spot_values(spec: str, x: float, expected: float) -> None:
    y = build64(spec)(torch.tensor([x], dtype=torch.float64))
    assert y.item() == pytest.approx(expected, rel=1e-14, abs=1e-15)


def test_gelu_and_gelu_tanh_differ() -> None:
    x = torch.tensor([1.0], dtype=torch.float64)
    exact, approx = build64("gelu")(x).item(), build64("gelu_tanh")(x).item()
    assert exact == pytest.approx(0.8413447460685429, abs=1e-15)
    assert approx == pytest.approx(gelu_tanh_parts(1.0)[0], abs=1e-15)
    assert abs(exact - approx) > 1e-5


def test_ralu_slope_at_zero_is_alpha() -> None:
    for alpha in (0.0, 0.375, 2.5, -1.0):  # exact in float32, the dtype α is created in
        x = torch.zeros(1, dtype=torch.float64, requires_grad=True)
        build64(f"ralu(alpha={alpha})")(x).backward()
        assert x.grad.item() == pytest.approx(alpha, abs=1e-15)


def test_ralu_alpha_gradient_is_sum_of_x_over_x2_plus_1() -> None:
    module = build64("ralu(alpha=2)")
    x = torch.tensor([1.0, 2.0, -3.0], dtype=torch.float64)
    module(x).sum().backward()
    assert module.alpha.grad.item() == pytest.approx(1 / 2 + 2 / 5 - 3 / 10, rel=1e-14)


def test_ralu_alpha_one_is_identity() -> None:
    x = torch.linspace(-50, 50, 1001, requires_grad=True)
    y = get_activation("ralu")(x)
    y.backward(torch.ones_like(y))
    assert torch.equal(y, x.detach())
    assert torch.equal(x.grad, torch.ones_like(x))


def test_squareplus_b0_is_relu_in_values_and_gradients() -> None:
    points = [-1e4, -3.0, -1e-3, 0.0, 1e-3, 2.0, 1e4]
    results = []
    for spec in ("squareplus(b=0)", "relu"):
        x = torch.tensor(points, dtype=torch.float64, requires_grad=True)
        y = build64(spec)(x)
        y.backward(torch.ones_like(y))
        results.append((y.detach(), x.grad))
    (square_y, square_grad), (relu_y, relu_grad) = results
    assert torch.equal(square_y, relu_y) and torch.equal(square_grad, relu_grad)
    assert relu_grad.tolist() == [0, 0, 0, 0, 1, 1, 1]  # f'(0) = 0, as torch's relu


def test_prelu_weight_gradient_and_channels() -> None:
    module = build64("prelu(num_parameters=3, init=0.5)")
    assert module.weight.shape == (3,)
    x = -torch.ones(2, 3, 4, dtype=torch.float64)  # (N, C, L): channel is dim 1
    with torch.no_grad():
        module.weight.copy_(torch.tensor([0.1, 0.2, 0.3], dtype=torch.float64))
    y = module(x)
    assert y[:, :, 0].tolist() == [[-0.1, -0.2, -0.3]] * 2
    y.sum().backward()
    assert module.weight.grad.tolist() == [-8.0, -8.0, -8.0]  # Σ x over the 2·4 entries of each channel


# --- autograd checks -----------------------------------------------------------------


def _functional(module: nn.Module):
    """f(x, *params) so gradcheck also checks the gradients of learnable parameters."""
    names = [name for name, _ in module.named_parameters()]

    def call(x: torch.Tensor, *params: torch.Tensor) -> torch.Tensor:
        return torch.func.functional_call(module, dict(zip(names, params)), (x,))

    return call, [p.detach().clone().requires_grad_() for p in module.parameters()]


@pytest.mark.parametrize("spec", [*BUILTINS, "ralu(alpha=-2)", "prelu(num_parameters=3)", "squareplus(b=0)"])
def test_gradcheck(spec: str) -> None:
    module = build64(spec)
    x = torch.tensor([[-3.1, -1.7, -0.6], [0.35, 1.3, 2.9]], dtype=torch.float64, requires_grad=True)
    call, params = _functional(module)
    if spec.startswith(("ralu", "prelu")):
        assert params, "the learnable parameter must be among the checked inputs"
    assert torch.autograd.gradcheck(call, (x, *params))


@pytest.mark.parametrize(
    ("function", "extra"),
    [(SquareplusFunction, (4.0,)), (SquareplusFunction, (0.5,)), (SReLUFunction, (2.21,))],
)
def test_custom_functions_support_double_backward(function, extra) -> None:
    x = torch.tensor([-3.1, -1.7, -0.6, 0.35, 1.3, 2.9], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradgradcheck(lambda v: function.apply(v, *extra), (x,))


def test_squareplus_b0_second_derivative_is_finite() -> None:
    # With b = 0, f/s is 0/0 at x = 0; no NaN may reach the second derivative.
    # L = Σ x·f(x): dL/dx = f + x·f', d²L/dx² = 2f' + x·f'' = 2f' as f'' = 0 off the kink.
    x = torch.tensor([-2.0, -0.5, 0.0, 0.5, 2.0], dtype=torch.float64, requires_grad=True)
    for f in (lambda v: SquareplusFunction.apply(v, 0.0), torch.relu):
        (slope,) = torch.autograd.grad((x * f(x)).sum(), x, create_graph=True)
        (curvature,) = torch.autograd.grad(slope.sum(), x)
        assert slope.tolist() == [0.0, 0.0, 0.0, 1.0, 4.0]
        assert curvature.tolist() == [0.0, 0.0, 0.0, 2.0, 2.0]  # as torch's relu, also at 0


def test_ralu_double_backward() -> None:
    x = torch.tensor([-3.1, -0.6, 0.35, 2.9], dtype=torch.float64, requires_grad=True)
    alpha = torch.tensor(1.7, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradgradcheck(RaLUFunction.apply, (x, alpha))


def _composite(name: str, x: torch.Tensor, param: torch.Tensor | float) -> torch.Tensor:
    """The textbook expression, differentiated by autograd."""
    if name == "ralu":
        return x * (x**2 + param) / (x**2 + 1)
    if name == "squareplus":
        return (x + torch.sqrt(x * x + param)) / 2
    t = param
    middle = x * (torch.sin(math.pi * x / (2 * t)) + 1) / 2
    return torch.where(x <= -t, torch.zeros_like(x), torch.where(x >= t, x, middle))


@pytest.mark.parametrize(
    ("name", "function", "param"),
    [
        ("ralu", RaLUFunction, 1.0),
        ("ralu", RaLUFunction, 3.0),
        ("ralu", RaLUFunction, -0.7),
        ("squareplus", SquareplusFunction, 4.0),
        ("squareplus", SquareplusFunction, 0.01),
        ("srelu", SReLUFunction, 2.21),
        ("srelu", SReLUFunction, 0.5),
    ],
)
def test_custom_functions_match_composite_expression(name, function, param) -> None:
    x = torch.linspace(-6, 6, 241, dtype=torch.float64)
    inputs = []
    for _ in range(2):
        xi = x.clone().requires_grad_()
        pi = torch.tensor(param, dtype=torch.float64, requires_grad=True) if name == "ralu" else param
        inputs.append((xi, pi))
    (x_ref, p_ref), (x_fn, p_fn) = inputs
    weight = torch.cos(3 * x)  # a non-constant upstream gradient
    ref = _composite(name, x_ref, p_ref)
    out = function.apply(x_fn, p_fn)
    (ref * weight).sum().backward()
    (out * weight).sum().backward()
    torch.testing.assert_close(out, ref, rtol=1e-13, atol=1e-15)
    torch.testing.assert_close(x_fn.grad, x_ref.grad, rtol=1e-12, atol=1e-14)
    if name == "ralu":
        torch.testing.assert_close(p_fn.grad, p_ref.grad, rtol=1e-12, atol=1e-14)


# --- low precision ----------------------------------------------------------------------

FINITE_POINTS = torch.cat([torch.linspace(-1e4, 1e4, 2001), torch.tensor([1e4, -1e4, 300, -300, 257, -257, 0])])


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
@pytest.mark.parametrize("spec", [*BUILTINS, "ralu(alpha=2)", "ralu(alpha=9)", "squareplus(b=0)", "srelu(t=2)"])
def test_forward_and_backward_are_finite(spec: str, dtype: torch.dtype) -> None:
    module = get_activation(spec).to(dtype)
    x = FINITE_POINTS.to(dtype, copy=True).requires_grad_()
    y = module(x)
    y.backward(torch.ones_like(y))
    assert y.dtype == dtype and x.grad.dtype == dtype
    # relu2's x² passes float16's 65504 beyond |x| = 256: finite wherever the exact value fits.
    with torch.no_grad():
        fits = build64(spec)(FINITE_POINTS.to(torch.float64)).abs() <= torch.finfo(dtype).max
    assert torch.isfinite(y[fits]).all() and torch.isfinite(x.grad).all()
    # A parameter's gradient sums over all 2008 inputs: PReLU's is Σ x over x < 0, about
    # -5e6, beyond float16's 65504 whatever the formula. Require finiteness wherever the
    # exact (float64) gradient fits in the dtype.
    exact = get_activation(spec).to(torch.float64)
    if list(exact.parameters()):
        exact(FINITE_POINTS.to(torch.float64)).sum().backward()
    for param, reference in zip(module.parameters(), exact.parameters(), strict=True):
        fits = reference.grad.abs() <= torch.finfo(dtype).max
        assert torch.isfinite(param.grad[fits]).all()


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("spec", ["ralu(alpha=2)", "squareplus", "squareplus(b=0.5)", "srelu", "srelu(t=2)"])
def test_low_precision_matches_float64_rounded(spec: str, dtype: torch.dtype) -> None:
    # Inputs exactly representable in both half types; the answer must be the float64
    # answer rounded once (float32 internals), not garbage from x² overflowing at 257+.
    x = torch.tensor([-1e4, -300, -257, -3, -1.5, -0.5, 0, 0.25, 1, 2, 2.5, 257, 300, 1e4]).to(dtype)
    expected = build64(spec)(x.to(torch.float64)).to(dtype)
    torch.testing.assert_close(get_activation(spec).to(dtype)(x), expected, rtol=0, atol=0)


# --- spec parsing --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "canonical"),
    [
        ("ralu", "ralu(alpha=1.0, learnable=true)"),
        ("ralu(alpha=1)", "ralu(alpha=1.0, learnable=true)"),
        ("RALU( alpha = 1.0 )", "ralu(alpha=1.0, learnable=true)"),
        ("  ralu(learnable=FALSE, alpha=2)  ", "ralu(alpha=2.0, learnable=false)"),
        ("swish", "silu"),
        ("SiLU", "silu"),
        ("relu()", "relu"),
        ("gelu", "gelu"),
        ("gelu_tanh", "gelu_tanh"),
        ("leaky_relu", "leaky_relu(negative_slope=0.01)"),
        ("leaky_relu(negative_slope=1e-3)", "leaky_relu(negative_slope=0.001)"),
        ("leaky_relu(negative_slope=-1)", "leaky_relu(negative_slope=-1.0)"),
        ("leaky_relu(negative_slope=0.0001234)", "leaky_relu(negative_slope=0.0001234)"),
        ("ralu(alpha=1e-7)", "ralu(alpha=1e-07, learnable=true)"),
        ("squareplus(b=1E20)", "squareplus(b=1e+20)"),
        ("prelu", "prelu(init=0.25, num_parameters=1)"),
        ("prelu(num_parameters=+16)", "prelu(init=0.25, num_parameters=16)"),
        ("elu", "elu(alpha=1.0)"),
        ("softplus", "softplus(beta=1.0, threshold=20.0)"),
        ("squareplus", "squareplus(b=4.0)"),
        ("squareplus(b=.5)", "squareplus(b=0.5)"),
        ("srelu", "srelu(t=2.21)"),
        ("srelu(t=2)", "srelu(t=2.0)"),
    ],
)
def test_canonical_spec(spec: str, canonical: str) -> None:
    assert canonical_spec(spec) == canonical
    assert canonical_spec(canonical) == canonical  # a fixed point


def test_parse_fills_sorts_and_types_kwargs() -> None:
    parsed = parse_activation("prelu(init=1)")
    assert parsed.kwargs == (("init", 1.0), ("num_parameters", 1))
    assert [type(v) for _, v in parsed.kwargs] == [float, int]
    assert parsed.target == "prelu" and parsed.info is get_info("prelu")
    assert parse_activation("swish") == parse_activation("SILU")


def test_split_specs() -> None:
    assert split_specs("relu,ralu(alpha=2, learnable=false),gelu") == [
        "relu",
        "ralu(alpha=2, learnable=false)",
        "gelu",
    ]
    assert split_specs(" relu , softplus(beta=2, threshold=10) ") == ["relu", "softplus(beta=2, threshold=10)"]
    assert split_specs("relu") == ["relu"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("relu,,gelu", "empty activation spec at position 2 in 'relu,,gelu'"),
        ("relu,", "empty activation spec at position 2 in 'relu,'"),
        ("  ", "no activation specs given"),
    ],
)
def test_split_specs_errors(text: str, message: str) -> None:
    with pytest.raises(SpecError) as info:
        split_specs(text)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("gleu", "unknown activation 'gleu'; did you mean: gelu, reglu, geglu?"),
        ("gelu-tanh", "unknown activation 'gelu-tanh'; did you mean: gelu_tanh, tanh, gelu?"),
        ("Swsh", "unknown activation 'Swsh'; did you mean: swish?"),
        ("xyz", "unknown activation 'xyz'; run 'actbench acts' to list them"),
        ("relu(alpha=1)", "relu takes no parameters, got 'alpha'"),
        ("ralu(beta=1)", "ralu has no parameter 'beta'; its parameters are: alpha, learnable"),
        ("ralu(alpha=abc)", "ralu: alpha must be a number, got 'abc'"),
        ("ralu(alpha=true)", "ralu: alpha must be a number, got 'true'"),
        ("ralu(alpha=)", "ralu: alpha must be a number, got ''"),
        ("ralu(learnable=1)", "ralu: learnable must be true or false, got '1'"),
        ("prelu(num_parameters=1.5)", "prelu: num_parameters must be an integer, got '1.5'"),
        ("srelu(t=-1)", "srelu(t=-1.0): t must be > 0, got -1.0"),
        ("srelu(t=inf)", "srelu(t=inf): t must be finite, got inf"),
        ("elu(alpha=0)", "elu(alpha=0.0): alpha must be > 0, got 0.0"),
        ("softplus(beta=-2)", "softplus(beta=-2.0, threshold=20.0): beta must be > 0, got -2.0"),
        ("softplus(threshold=0)", "softplus(beta=1.0, threshold=0.0): threshold must be > 0, got 0.0"),
        ("squareplus(b=-1)", "squareplus(b=-1.0): b must be >= 0, got -1.0"),
        ("prelu(num_parameters=0)", "prelu(init=0.25, num_parameters=0): num_parameters must be >= 1, got 0"),
        ("prelu(init=nan)", "prelu(init=nan, num_parameters=1): init must be finite, got nan"),
        ("leaky_relu(negative_slope=-inf)", "leaky_relu(negative_slope=-inf): negative_slope must be finite, got -inf"),
        ("ralu(alpha=nan)", "ralu(alpha=nan, learnable=true): alpha must be finite, got nan"),
        ("ralu(alpha=2", "malformed activation spec 'ralu(alpha=2': missing ')'"),
        ("ralu(alpha)", "malformed activation spec 'ralu(alpha)': expected key=value, got 'alpha'"),
        ("ralu(alpha=1, alpha=2)", "malformed activation spec 'ralu(alpha=1, alpha=2)': parameter 'alpha' given twice"),
        ("ralu(alpha=1,)", "malformed activation spec 'ralu(alpha=1,)': empty parameter between commas"),
        ("ralu((alpha=1))", "malformed activation spec 'ralu((alpha=1))': nested '(' is not allowed"),
        ("ralu(alpha=1)x", "malformed activation spec 'ralu(alpha=1)x': unexpected text after ')': 'x'"),
        ("relu)", "malformed activation spec 'relu)': ')' without '('"),
        ("(alpha=1)", "malformed activation spec '(alpha=1)': missing activation name before '('"),
        (
            "my mod:X",
            "malformed activation spec 'my mod:X': "
            "a plug-in is written 'package.module:Name' or 'path/to/file.py:Name'",
        ),
        ("", "empty activation spec"),
    ],
)
def test_spec_errors(spec: str, message: str) -> None:
    with pytest.raises(SpecError) as info:
        parse_activation(spec)
    assert str(info.value) == message
    assert isinstance(info.value, UsageError) and info.value.exit_code == 2


def test_get_info_and_list() -> None:
    assert [info.name for info in list_activations()] == BUILTINS
    assert get_info("SWISH") is get_info("silu")
    assert get_info("silu").aliases == ("swish",)
    ralu = get_info("ralu")
    assert [(p.name, p.kind, p.default) for p in ralu.params] == [("alpha", float, 1.0), ("learnable", bool, True)]
    assert ralu.learnable and ralu.reference == "shimataro/ralu" and ralu.formula
    assert get_info("relu").learnable == "" and get_info("relu").params == ()
    assert get_info("prelu").learnable
    assert get_info("srelu").learnable == ""  # t is fixed, as in the reference module
    with pytest.raises(SpecError, match=r"^unknown activation 'gleu'; did you mean: gelu, reglu, geglu\?$"):
        get_info("gleu")


# --- building --------------------------------------------------------------------------


def test_get_activation_returns_fresh_modules() -> None:
    first, second = get_activation("ralu(alpha=2)"), get_activation("ralu(alpha=2)")
    assert first is not second and first.alpha is not second.alpha
    with torch.no_grad():
        first.alpha.fill_(5.0)
    assert second.alpha.item() == 2.0
    spec = parse_activation("prelu")
    assert spec.build().weight is not spec.build().weight


def test_get_activation_accepts_modules_classes_and_specs() -> None:
    module = nn.Tanh()
    assert get_activation(module) is module
    assert type(get_activation(nn.GELU)) is nn.GELU
    assert isinstance(get_activation(parse_activation("srelu(t=2)")), nn.Module)
    with pytest.raises(SpecError) as info:
        get_activation(3)
    assert str(info.value) == (
        "cannot make an activation from a int; expected a spec string, an nn.Module or an nn.Module class"
    )


def test_ralu_learnable_false_has_no_parameters() -> None:
    fixed = get_activation("ralu(alpha=2, learnable=false)")
    assert list(fixed.parameters()) == []
    assert fixed.state_dict()["alpha"].item() == 2.0  # a buffer: saved and moved with the module
    learned = get_activation("ralu(alpha=2)")
    assert [p.shape for p in learned.parameters()] == [torch.Size([])]


def test_reprs_are_readable() -> None:
    assert repr(get_activation("ralu(alpha=2)")) == "RaLU(alpha=2, learnable=True)"
    assert repr(get_activation("squareplus")) == "Squareplus(b=4.0)"
    assert repr(get_activation("srelu")) == "SReLU(t=2.21)"
    assert repr(get_activation("gelu_tanh")) == "GELUTanh(approximate='tanh')"


# --- plug-ins and registration -----------------------------------------------------------

PLUGIN_SOURCE = '''
import torch
from torch import nn


class Cube(nn.Module):
    """x·scale³ ... a test activation.

    Args:
        scale: multiplies the input before cubing
        power: exponent
    """

    def __init__(self, scale: float = 1, power: int = 3, shifted: bool = False):
        super().__init__()
        if not scale > 0:
            raise ValueError(f"scale must be > 0, got {scale!r}")
        self.scale, self.power, self.shifted = scale, power, shifted

    def forward(self, x):
        return (self.scale * x) ** self.power + float(self.shifted)


class Plain(nn.Module):
    def forward(self, x):
        return x + 1


class Noisy(nn.Module):
    def __init__(self):
        super().__init__()
        self.offset = nn.Parameter(torch.rand(()))


def make_half(k: float = 0.5):
    return nn.Hardtanh(-k, k)


def bad_return():
    return 3


class NotModule:
    pass


class NeedsWidth(nn.Module):
    def __init__(self, width):
        super().__init__()


NUMBER = 3
'''


@pytest.fixture
def plugin(tmp_path, monkeypatch) -> str:
    """A plug-in module on sys.path, forgotten again after the test."""
    name = "actbench_test_plugin"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(PLUGIN_SOURCE))
    (tmp_path / "actbench_broken_plugin.py").write_text("raise RuntimeError('boom at import')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    for module in (name, "actbench_broken_plugin"):
        sys.modules.pop(module, None)


def plugin_version(name: str) -> str:
    """A top-level plug-in module's version, by the recipe: SHA-256 of its file name and contents."""
    source = textwrap.dedent(PLUGIN_SOURCE).encode()
    return hashlib.sha256(f"{name}.py".encode() + b"\0" + source + b"\0").hexdigest()[:8]


def test_plugin_class_and_factory(plugin: str) -> None:
    version = plugin_version(plugin)
    parsed = parse_activation(f"{plugin}:Cube(scale=2)")
    assert parsed.info is None and parsed.target == f"{plugin}:Cube"
    assert parsed.canonical == f"{plugin}:Cube@{version}(power=3, scale=2.0, shifted=false)"
    assert parsed.unversioned == f"{plugin}:Cube(power=3, scale=2.0, shifted=false)"
    shifted = f"{plugin}:Cube@{version}(power=3, scale=1.0, shifted=true)"
    assert canonical_spec(f" {plugin}:Cube( shifted=TRUE ) ") == shifted
    module = get_activation(f"{plugin}:Cube(scale=2, power=1)")
    assert module(torch.tensor([1.5])).item() == 3.0
    assert canonical_spec(f"{plugin}:Plain") == f"{plugin}:Plain@{version}"
    assert get_activation(f"{plugin}:make_half(k=2)")(torch.tensor([5.0])).item() == 2.0


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            "actbench_no_such_module:Foo",
            "plug-in actbench_no_such_module:Foo: cannot import 'actbench_no_such_module': "
            "ModuleNotFoundError: No module named 'actbench_no_such_module'",
        ),
        (
            "actbench_broken_plugin:Foo",
            "plug-in actbench_broken_plugin:Foo: cannot import 'actbench_broken_plugin': RuntimeError: boom at import",
        ),
        (
            "actbench_test_plugin:Missing",
            "plug-in actbench_test_plugin:Missing: 'actbench_test_plugin' has no attribute 'Missing'",
        ),
        (
            "actbench_test_plugin:NUMBER",
            "plug-in actbench_test_plugin:NUMBER: got int, which is neither an nn.Module subclass nor a callable",
        ),
        (
            "actbench_test_plugin:NotModule",
            "plug-in actbench_test_plugin:NotModule: class NotModule is not an nn.Module subclass",
        ),
        (
            "actbench_test_plugin:NeedsWidth",
            "plug-in actbench_test_plugin:NeedsWidth: parameter 'width' has no default; "
            "every parameter needs a float, int or bool default",
        ),
        ("actbench_test_plugin:bad_return", "actbench_test_plugin:bad_return returned int, not an nn.Module"),
        (
            "actbench_test_plugin:Cube(scale=-1)",
            "actbench_test_plugin:Cube(power=3, scale=-1.0, shifted=false): scale must be > 0, got -1.0",
        ),
        ("actbench_test_plugin:Cube(power=2.5)", "actbench_test_plugin:Cube: power must be an integer, got '2.5'"),
        (
            "actbench_test_plugin:Cube(size=2)",
            "actbench_test_plugin:Cube has no parameter 'size'; its parameters are: scale, power, shifted",
        ),
        ("actbench_test_plugin:Plain(k=1)", "actbench_test_plugin:Plain takes no parameters, got 'k'"),
    ],
)
def test_plugin_errors(plugin: str, spec: str, message: str) -> None:
    with pytest.raises(SpecError) as info:
        parse_activation(spec)
    assert str(info.value) == message


def test_parse_does_not_move_the_rng(plugin: str) -> None:
    torch.manual_seed(0)
    parse_activation(f"{plugin}:Noisy")  # its __init__ draws from the RNG
    after_parse = torch.rand(())
    torch.manual_seed(0)
    assert torch.rand(()) == after_parse


@pytest.fixture
def clean_registry(monkeypatch) -> None:
    """Registrations made in a test vanish after it."""
    monkeypatch.setattr(registry.ACTIVATIONS, "_entries", dict(registry.ACTIVATIONS._entries))
    monkeypatch.setattr(registry.ACTIVATIONS, "_lookup", dict(registry.ACTIVATIONS._lookup))


def test_register_activation_class(clean_registry) -> None:
    @register_activation("Twice", aliases=("double_it",), formula="k·x", reference="test", learnable="")
    class Twice(nn.Module):
        """Multiplies.

        Args:
            k: the factor,
                on two lines
            exact: unused
        """

        def __init__(self, k: float = 2, exact: bool = True) -> None:
            super().__init__()
            self.k = k

        def forward(self, x):
            return self.k * x

    assert Twice.__name__ == "Twice"  # the decorator hands the class back
    info = get_info("DOUBLE_IT")
    assert info.name == "twice" and info.factory is Twice and info.formula == "k·x"
    assert [(p.name, p.kind, p.default, p.doc) for p in info.params] == [
        ("k", float, 2.0, "the factor, on two lines"),
        ("exact", bool, True, "unused"),
    ]
    assert canonical_spec("double_it(k=3)") == "twice(exact=true, k=3.0)"
    assert get_activation("twice(k=3)")(torch.tensor([2.0])).item() == 6.0
    assert "twice" in [i.name for i in list_activations()]


def test_register_activation_factory_and_conflicts(clean_registry) -> None:
    @register_activation("scaled_tanh")
    def scaled_tanh(gain: int = 2) -> nn.Module:
        return nn.Sequential(nn.Tanh(), nn.Hardtanh(-gain, gain))

    assert canonical_spec("scaled_tanh") == "scaled_tanh(gain=2)"
    with pytest.raises(ValueError, match=r"^activation name 'swish' is already registered$"):
        register_activation("swish")(nn.Tanh)
    with pytest.raises(ValueError, match=r"^invalid activation name 'my-act': use letters, digits and '_'$"):
        register_activation("my-act")(nn.Tanh)
    with pytest.raises(ValueError, match=r"^cannot register 'bad': parameter 'n' has default None; "):
        register_activation("bad")(lambda n=None: nn.Tanh())
    assert get_info("tanh").factory is not nn.Tanh  # the failed registrations changed nothing
    with pytest.raises(SpecError):
        get_info("bad")


def test_spec_is_plain_data_for_plugins(plugin: str) -> None:
    # A plug-in spec holds no factory, only its import path: another process can rebuild it.
    parsed = parse_activation(f"{plugin}:Cube")
    assert isinstance(parsed, ActivationSpec)
    kwargs = (("power", 3), ("scale", 1.0), ("shifted", False))
    assert parsed == ActivationSpec(None, f"{plugin}:Cube", kwargs, plugin_version(plugin))
