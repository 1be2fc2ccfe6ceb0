"""The built-in activations' modules. Their names, formulas, references and parameter
docs are declared in catalog.py, which imports this module when one is first built.

Where torch has the activation, the entry is a thin subclass of torch's module: the
numerics are torch's, and the subclass only narrows the constructor to the parameters a
spec may set (no ``inplace``: an in-place activation overwrites the pre-activation that
hooks and statistics may still need) and checks their ranges. Checks raise ValueError;
the registry turns that into a one-line SpecError naming the spec.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from actbench.activations.functions import RaLUFunction, SquareplusFunction, SReLUFunction


def _check_finite(name: str, value: float) -> None:
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")


def _check_positive(name: str, value: float) -> None:
    _check_finite(name, value)
    if not value > 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")


class ReLU(nn.ReLU):
    """ReLU, as torch.nn.ReLU."""

    def __init__(self) -> None:
        super().__init__()


class SquaredReLU(nn.Module):
    """Squared ReLU, relu(x)², as modded-nanogpt's MLP writes it. Plain torch ops suffice:
    autograd keeps one tensor, relu's output, which both relu's and square's backward read
    (f'(x) = 2·relu(x)), as many as ReLU keeps."""

    def forward(self, x: Tensor) -> Tensor:
        return torch.relu(x).square()


class LeakyReLU(nn.LeakyReLU):
    """Leaky ReLU, as torch.nn.LeakyReLU."""

    def __init__(self, negative_slope: float = 0.01) -> None:
        _check_finite("negative_slope", negative_slope)
        super().__init__(negative_slope)


class PReLU(nn.PReLU):
    """PReLU, as torch.nn.PReLU."""

    def __init__(self, num_parameters: int = 1, init: float = 0.25) -> None:
        if num_parameters < 1:
            raise ValueError(f"num_parameters must be >= 1, got {num_parameters!r}")
        _check_finite("init", init)
        super().__init__(num_parameters, init)


class ELU(nn.ELU):
    """ELU, as torch.nn.ELU."""

    def __init__(self, alpha: float = 1.0) -> None:
        _check_positive("alpha", alpha)
        super().__init__(alpha)


class SELU(nn.SELU):
    """SELU, as torch.nn.SELU."""

    def __init__(self) -> None:
        super().__init__()


class GELU(nn.GELU):
    """GELU in its exact erf form, as torch.nn.GELU()."""

    def __init__(self) -> None:
        super().__init__(approximate="none")


class GELUTanh(nn.GELU):
    """GELU's tanh approximation, as torch.nn.GELU(approximate="tanh")."""

    def __init__(self) -> None:
        super().__init__(approximate="tanh")


class SiLU(nn.SiLU):
    """SiLU (Swish with β = 1), as torch.nn.SiLU."""

    def __init__(self) -> None:
        super().__init__()


class Mish(nn.Mish):
    """Mish, as torch.nn.Mish."""

    def __init__(self) -> None:
        super().__init__()


class Softplus(nn.Softplus):
    """Softplus, as torch.nn.Softplus."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        _check_positive("beta", beta)
        _check_positive("threshold", threshold)
        super().__init__(beta, threshold)


class Squareplus(nn.Module):
    """Squareplus; b = 0 is exactly ReLU (with f'(0) = 0, as torch's ReLU)."""

    def __init__(self, b: float = 4.0) -> None:
        _check_finite("b", b)
        if not b >= 0:
            raise ValueError(f"b must be >= 0, got {b!r}")
        super().__init__()
        self.b = float(b)

    def forward(self, x: Tensor) -> Tensor:
        return SquareplusFunction.apply(x, self.b)

    def extra_repr(self) -> str:
        return f"b={self.b}"


class SReLU(nn.Module):
    """Sinusoidal ReLU: C¹, non-monotone just below 0; t is fixed, not learned."""

    def __init__(self, t: float = 2.21) -> None:
        _check_positive("t", t)
        super().__init__()
        self.t = float(t)

    def forward(self, x: Tensor) -> Tensor:
        return SReLUFunction.apply(x, self.t)

    def extra_repr(self) -> str:
        return f"t={self.t}"


class RaLU(nn.Module):
    """RaLU: f'(0) = α, odd, → x as |x| → ∞; α = 1 is the identity."""

    def __init__(self, alpha: float = 1.0, learnable: bool = True) -> None:
        _check_finite("alpha", alpha)
        super().__init__()
        value = torch.tensor(float(alpha))  # 0-d: one α for the whole module
        if learnable:
            self.alpha = nn.Parameter(value)
        else:
            # A buffer still moves with .to() and is saved in state_dict.
            self.register_buffer("alpha", value)
        self.learnable = learnable

    def forward(self, x: Tensor) -> Tensor:
        return RaLUFunction.apply(x, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha.item():.4g}, learnable={self.learnable}"


class Tanh(nn.Tanh):
    """Hyperbolic tangent, as torch.nn.Tanh."""


class Sigmoid(nn.Sigmoid):
    """Logistic sigmoid, as torch.nn.Sigmoid."""


class Identity(nn.Identity):
    """f(x) = x: the baseline that shows what the nonlinearity buys."""

    def __init__(self) -> None:
        super().__init__()


class Gated(nn.Module):
    """The gated (GLU) form of a transformer's MLP, Shazeer 2020, GLU Variants Improve
    Transformer (arXiv:2002.05202): a task whose MLP has that form (the GPT tasks) computes
    ``gate(x W) * (x V)`` with ``gate``, this module's activation; a task without one refuses
    it before any training (actbench.run.config). Applied to one tensor it is ``gate`` itself,
    so that the probe, ``check``, ``plot`` and ``speed`` see the gate's nonlinearity."""

    def __init__(self, gate: nn.Module) -> None:
        super().__init__()
        self.gate = gate

    def forward(self, x: Tensor) -> Tensor:
        return self.gate(x)


class ReGLU(Gated):
    """ReGLU: the gated MLP with a ReLU gate."""

    def __init__(self) -> None:
        super().__init__(ReLU())


class GEGLU(Gated):
    """GEGLU: the gated MLP with an (exact) GELU gate."""

    def __init__(self) -> None:
        super().__init__(GELU())


class SwiGLU(Gated):
    """SwiGLU: the gated MLP with a SiLU (Swish, β = 1) gate."""

    def __init__(self) -> None:
        super().__init__(SiLU())
