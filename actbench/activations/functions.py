"""Autograd Functions with analytic backward for the activations torch does not ship.

SReLU and Squareplus compute their slope f'(x) in the forward pass, where the
intermediates are at hand, and save it with the input: two tensors, as many as their
plain composites keep, and backward is one multiplication. RaLU saves only its input
and alpha: its slope is a few cheap ops from x. Selections use clamp, relu and sign
arithmetic instead of torch.where: on a CPU, where() and bool masks cost 10-30 times an
arithmetic op (torch 2.13, measured by scripts/bench_mnist.py), which had made these
Functions slower than their composites.

float16/bfloat16 inputs are computed in float32 and the result cast back, as torch does
internally for its own pointwise ops ("opmath"): the intermediates (x², hypot, sin of a
large argument) lose too much in 8 or 11 bits of mantissa, and x² overflows float16
beyond |x| ≈ 256.

Double backward (e.g. gradient penalties) works: when backward runs with grad mode on
(create_graph=True), the slope is recomputed from x in differentiable ops.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor
from torch.autograd.function import FunctionCtx

_LOW_PRECISION = (torch.float16, torch.bfloat16)


def _opmath(x: Tensor) -> Tensor:
    """The tensor in the dtype to compute in: float32 for half types, else unchanged."""
    return x.float() if x.dtype in _LOW_PRECISION else x


class RaLUFunction(torch.autograd.Function):
    """RaLU f(x) = x·(x² + α)/(x² + 1), with α a 0-d tensor (learnable or not).

    Forward is the algebraically equal x + (α − 1)·x/(x² + 1), which needs no x·α
    product that could overflow and is exactly x when α = 1. With r = 1/(1 + x²):
    f'(x) = 1 + (α − 1)·(1 − x²)/(1 + x²)² = 1 + (α − 1)·(2r − 1)·r, and
    ∂f/∂α = x/(x² + 1) = x·r; both bounded for every finite x.
    """

    @staticmethod
    def forward(ctx: FunctionCtx, x: Tensor, alpha: Tensor) -> Tensor:
        ctx.save_for_backward(x, alpha)
        xf = _opmath(x)
        a = alpha.to(xf.dtype)
        return (xf + (a - 1) * xf / (xf * xf + 1)).to(x.dtype)

    @staticmethod
    def backward(ctx: FunctionCtx, grad: Tensor) -> tuple[Tensor | None, Tensor | None]:
        x, alpha = ctx.saved_tensors
        xf = _opmath(x)
        a = alpha.to(xf.dtype)
        g = grad.to(xf.dtype)
        r = 1 / (1 + xf * xf)  # → 0 instead of overflowing: x² = inf gives r = 0
        grad_x = grad_alpha = None
        if ctx.needs_input_grad[0]:
            grad_x = (g * (1 + (a - 1) * (2 * r - 1) * r)).to(x.dtype)
        if ctx.needs_input_grad[1]:
            # α is one scalar broadcast over x, so its gradient sums over every element;
            # summed in opmath precision, then cast to α's own dtype.
            grad_alpha = (g * xf * r).sum().reshape(alpha.shape).to(alpha.dtype)
        return grad_x, grad_alpha


# SReLU and Squareplus: f and f' of x and one Python float, from one function ("pieces").
# pieces(x, param, with_slope) -> (f, f' or None): the slope only when a gradient is wanted.
Pieces = Callable[[Tensor, float, bool], tuple[Tensor, Tensor | None]]


def _forward_saving_slope(ctx: FunctionCtx, x: Tensor, param: float, pieces: Pieces) -> Tensor:
    # Under no_grad (evaluation) the slope is not computed: forward costs what f costs.
    f, slope = pieces(_opmath(x), param, ctx.needs_input_grad[0])
    ctx.save_for_backward(x, slope)
    ctx.param = param
    return f.to(x.dtype)


def _backward_from_slope(ctx: FunctionCtx, grad: Tensor, pieces: Pieces) -> tuple[Tensor, None]:
    x, slope = ctx.saved_tensors
    if torch.is_grad_enabled():  # double backward: the slope as a function of x
        _, slope = pieces(_opmath(x), ctx.param, True)
    return (grad.to(slope.dtype) * slope).to(x.dtype), None


def _squareplus(x: Tensor, b: float, with_slope: bool = True) -> tuple[Tensor, Tensor | None]:
    """(f(x), f'(x)), computed without overflow or cancellation.

    With u = |x| and s = √(x² + b): f(x) = b/(2(u + s)) + relu(x). For x < 0 that is
    (x + s)/2 times (s − x)/(s − x), which avoids subtracting two nearly equal numbers;
    for x ≥ 0 it is (s − x)/2 + x. hypot never forms x². f' = (1 + x/s)/2 = f/s.
    """
    if b == 0:  # ReLU; f'(0) = 0 as torch's relu, and no 0/0 at x = 0
        f = torch.relu(x)
        return f, torch.sign(f) if with_slope else None
    s = torch.hypot(x, x.new_tensor(math.sqrt(b)))
    f = (b / 2) / (x.abs() + s) + torch.relu(x)
    return f, f / s if with_slope else None


class SquareplusFunction(torch.autograd.Function):
    """Squareplus f(x) = (x + √(x² + b))/2 with b ≥ 0 a Python float.

    f'(x) = f/s with s = √(x² + b): the stable f gives a stable f'. With b = 0, f is
    ReLU and f'(0) is 0, the value torch's ReLU uses.
    """

    @staticmethod
    def forward(ctx: FunctionCtx, x: Tensor, b: float) -> Tensor:
        return _forward_saving_slope(ctx, x, b, _squareplus)

    @staticmethod
    def backward(ctx: FunctionCtx, grad: Tensor) -> tuple[Tensor, None]:
        return _backward_from_slope(ctx, grad, _squareplus)


def _srelu(x: Tensor, t: float, with_slope: bool = True) -> tuple[Tensor, Tensor | None]:
    """(f(x), f'(x)) of the sinusoidal ReLU, without torch.where (see the module docstring).

    With c = clamp(x, −t, t): f = c·(sin(a·c) + 1)/2 + relu(x − t). The first term is 0
    at c = −t and t at c = t, so below −t f is 0 and above t it is t + (x − t).
    f' is the sinusoidal piece's slope on (−t, t), 0 below and 1 above, the pieces picked
    by sign arithmetic: inside = (sign(x + t) − sign(x − t))/2, above = (sign(x − t) + 1)/2.
    """
    a = math.pi / (2 * t)
    inner = x.clamp(-t, t)
    angle = a * inner
    sin = torch.sin(angle)
    half = inner * 0.5
    beyond = x - t
    f = torch.addcmul(half, half, sin) + torch.relu(beyond)
    if not with_slope:
        return f, None
    cos = torch.cos(angle)
    side = torch.sign(beyond)
    inside = (torch.sign(x + t) - side) * 0.5
    middle = (sin + 1 + angle * cos) * 0.5
    return f, torch.addcmul((side + 1) * 0.5, middle, inside)


class SReLUFunction(torch.autograd.Function):
    """Sinusoidal ReLU with half-width t > 0 (a Python float), a = π/(2t):

    f(x) = 0 for x ≤ −t; x·(sin(a·x) + 1)/2 for −t < x < t; x for x ≥ t.
    f'(x) = 0; (sin(a·x) + 1)/2 + a·x·cos(a·x)/2; 1. Both pieces meet with value and
    slope at ±t (C¹), so which side owns x = ±t does not matter.
    """

    @staticmethod
    def forward(ctx: FunctionCtx, x: Tensor, t: float) -> Tensor:
        return _forward_saving_slope(ctx, x, t, _srelu)

    @staticmethod
    def backward(ctx: FunctionCtx, grad: Tensor) -> tuple[Tensor, None]:
        return _backward_from_slope(ctx, grad, _srelu)
