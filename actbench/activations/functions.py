"""Autograd Functions with analytic backward for the activations torch does not ship.

Each Function saves only its input (RaLU also its alpha) and recomputes what backward
needs: activations are memory-bound, and the input is usually kept alive anyway by the
next layer's weight gradient, so saving intermediates would only add memory.

float16/bfloat16 inputs are computed in float32 and the result cast back, as torch does
internally for its own pointwise ops ("opmath"): the intermediates (x², hypot, sin of a
large argument) lose too much in 8 or 11 bits of mantissa, and x² overflows float16
beyond |x| ≈ 256.

Backward passes are written in ordinary differentiable torch ops, so double backward
(e.g. gradient penalties) works through them.
"""

from __future__ import annotations

import math

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


def _squareplus(x: Tensor, b: float) -> tuple[Tensor, Tensor]:
    """(f(x), s) with s = √(x² + b), computed without overflow or cancellation."""
    s = torch.hypot(x, x.new_tensor(math.sqrt(b)))  # hypot: x² never formed
    negative = x < 0
    # For x < 0, (x + s)/2 subtracts two nearly equal numbers; multiplying by
    # (s − x)/(s − x) gives b/(2(s − x)) with s − x > 0, no cancellation. The
    # denominator is replaced where x ≥ 0 so the unused branch holds no 0/0 (b = 0).
    denominator = torch.where(negative, s - x, 1)
    f = torch.where(negative, b / (2 * denominator), (x + s) / 2)
    return f, s


class SquareplusFunction(torch.autograd.Function):
    """Squareplus f(x) = (x + √(x² + b))/2 with b ≥ 0 a Python float.

    f'(x) = (1 + x/s)/2 = f/s with s = √(x² + b): the stable f gives a stable f'.
    With b = 0, f is ReLU and s = |x| vanishes at 0; there f'(0) is defined as 0,
    the value torch's ReLU uses, so squareplus(b=0) matches relu in gradient too.
    """

    @staticmethod
    def forward(ctx: FunctionCtx, x: Tensor, b: float) -> Tensor:
        ctx.save_for_backward(x)
        ctx.b = b
        f, _ = _squareplus(_opmath(x), b)
        return f.to(x.dtype)

    @staticmethod
    def backward(ctx: FunctionCtx, grad: Tensor) -> tuple[Tensor, None]:
        (x,) = ctx.saved_tensors
        xf = _opmath(x)
        if ctx.b == 0:
            # ReLU: the step function, a constant to double backward. Going through
            # f/s would divide 0 by 0 at x = 0 and leak NaN into second derivatives.
            slope = (xf > 0).to(xf.dtype)
        else:
            f, s = _squareplus(xf, ctx.b)  # s ≥ √b > 0
            slope = f / s
        return (grad.to(xf.dtype) * slope).to(x.dtype), None


class SReLUFunction(torch.autograd.Function):
    """Sinusoidal ReLU with half-width t > 0 (a Python float), a = π/(2t):

    f(x) = 0 for x ≤ −t; x·(sin(a·x) + 1)/2 for −t < x < t; x for x ≥ t.
    f'(x) = 0; (sin(a·x) + 1)/2 + a·x·cos(a·x)/2; 1. Both pieces meet with value and
    slope at ±t (C¹), so which side owns x = ±t does not matter.
    """

    @staticmethod
    def forward(ctx: FunctionCtx, x: Tensor, t: float) -> Tensor:
        ctx.save_for_backward(x)
        ctx.t = t
        xf = _opmath(x)
        middle = xf * (torch.sin(math.pi / (2 * t) * xf) + 1) / 2
        return torch.where(xf <= -t, 0, torch.where(xf >= t, xf, middle)).to(x.dtype)

    @staticmethod
    def backward(ctx: FunctionCtx, grad: Tensor) -> tuple[Tensor, None]:
        (x,) = ctx.saved_tensors
        t = ctx.t
        xf = _opmath(x)
        ax = math.pi / (2 * t) * xf
        middle = (torch.sin(ax) + 1) / 2 + ax * torch.cos(ax) / 2
        slope = torch.where(xf <= -t, 0, torch.where(xf >= t, 1, middle))
        return (grad.to(xf.dtype) * slope).to(x.dtype), None
