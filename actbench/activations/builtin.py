"""The built-in activations, registered on import.

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
from actbench.activations.registry import register_activation


def _check_finite(name: str, value: float) -> None:
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")


def _check_positive(name: str, value: float) -> None:
    _check_finite(name, value)
    if not value > 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")


@register_activation(
    "relu",
    formula="max(0, x)",
    reference="Nair & Hinton 2010, Rectified Linear Units Improve Restricted Boltzmann Machines",
)
class ReLU(nn.ReLU):
    """ReLU, as torch.nn.ReLU."""

    def __init__(self) -> None:
        super().__init__()


@register_activation(
    "leaky_relu",
    formula="x for x ≥ 0; negative_slope·x for x < 0",
    reference="Maas et al. 2013, Rectifier Nonlinearities Improve Neural Network Acoustic Models",
)
class LeakyReLU(nn.LeakyReLU):
    """Leaky ReLU, as torch.nn.LeakyReLU.

    Args:
        negative_slope: slope for x < 0
    """

    def __init__(self, negative_slope: float = 0.01) -> None:
        _check_finite("negative_slope", negative_slope)
        super().__init__(negative_slope)


@register_activation(
    "prelu",
    formula="x for x ≥ 0; a·x for x < 0, a learned",
    reference="He et al. 2015, Delving Deep into Rectifiers (arXiv:1502.01852)",
    learnable="weight a: one scalar per module, or one per channel (dim 1) with num_parameters=C",
)
class PReLU(nn.PReLU):
    """PReLU, as torch.nn.PReLU.

    Args:
        num_parameters: 1 for one shared slope, or the channel count (dim 1) for one per channel
        init: initial slope for x < 0
    """

    def __init__(self, num_parameters: int = 1, init: float = 0.25) -> None:
        if num_parameters < 1:
            raise ValueError(f"num_parameters must be >= 1, got {num_parameters!r}")
        _check_finite("init", init)
        super().__init__(num_parameters, init)


@register_activation(
    "elu",
    formula="x for x > 0; α·(eˣ − 1) for x ≤ 0",
    reference="Clevert et al. 2015, Fast and Accurate Deep Network Learning by ELUs (arXiv:1511.07289)",
)
class ELU(nn.ELU):
    """ELU, as torch.nn.ELU.

    Args:
        alpha: the value approached as x → −∞ is −alpha
    """

    def __init__(self, alpha: float = 1.0) -> None:
        _check_positive("alpha", alpha)
        super().__init__(alpha)


@register_activation(
    "selu",
    formula="λ·(x for x > 0; α·(eˣ − 1) for x ≤ 0), λ ≈ 1.0507, α ≈ 1.6733 (fixed)",
    reference="Klambauer et al. 2017, Self-Normalizing Neural Networks (arXiv:1706.02515)",
)
class SELU(nn.SELU):
    """SELU, as torch.nn.SELU."""

    def __init__(self) -> None:
        super().__init__()


@register_activation(
    "gelu",
    formula="x·Φ(x) = x·(1 + erf(x/√2))/2",
    reference="Hendrycks & Gimpel 2016, Gaussian Error Linear Units (arXiv:1606.08415)",
)
class GELU(nn.GELU):
    """GELU in its exact erf form, as torch.nn.GELU()."""

    def __init__(self) -> None:
        super().__init__(approximate="none")


@register_activation(
    "gelu_tanh",
    formula="x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))/2",
    reference="Hendrycks & Gimpel 2016, Gaussian Error Linear Units (arXiv:1606.08415), tanh approximation",
)
class GELUTanh(nn.GELU):
    """GELU's tanh approximation, as torch.nn.GELU(approximate="tanh")."""

    def __init__(self) -> None:
        super().__init__(approximate="tanh")


@register_activation(
    "silu",
    aliases=("swish",),
    formula="x·σ(x)",
    reference="Elfwing et al. 2017 (arXiv:1702.03118); Ramachandran et al. 2017, Searching for Activation Functions",
)
class SiLU(nn.SiLU):
    """SiLU (Swish with β = 1), as torch.nn.SiLU."""

    def __init__(self) -> None:
        super().__init__()


@register_activation(
    "mish",
    formula="x·tanh(softplus(x))",
    reference="Misra 2019, Mish: A Self Regularized Non-Monotonic Activation Function (arXiv:1908.08681)",
)
class Mish(nn.Mish):
    """Mish, as torch.nn.Mish."""

    def __init__(self) -> None:
        super().__init__()


@register_activation(
    "softplus",
    formula="ln(1 + e^(β·x))/β; x where β·x > threshold",
    reference="Dugas et al. 2001, Incorporating Second-Order Functional Knowledge for Better Option Pricing",
)
class Softplus(nn.Softplus):
    """Softplus, as torch.nn.Softplus.

    Args:
        beta: sharpness; larger is closer to ReLU
        threshold: above beta·x > threshold the output is x itself (avoids exp overflow)
    """

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        _check_positive("beta", beta)
        _check_positive("threshold", threshold)
        super().__init__(beta, threshold)


@register_activation(
    "squareplus",
    formula="(x + √(x² + b))/2",
    reference="Barron 2021, Squareplus: A Softplus-Like Algebraic Rectifier (arXiv:2112.11687)",
)
class Squareplus(nn.Module):
    """Squareplus; b = 0 is exactly ReLU (with f'(0) = 0, as torch's ReLU).

    Args:
        b: curvature near 0; f(0) = √b/2
    """

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


@register_activation(
    "srelu",
    formula="0 for x ≤ −t; x·(sin(πx/(2t)) + 1)/2 for −t < x < t; x for x ≥ t",
    reference="LaurenceLong/SReLU (sinusoidal ReLU, not the S-shaped ReLU of Jin et al. 2015)",
)
class SReLU(nn.Module):
    """Sinusoidal ReLU: C¹, non-monotone just below 0; t is fixed, not learned.

    Args:
        t: half-width of the sinusoidal region (the reference's tuned value is 2.21)
    """

    def __init__(self, t: float = 2.21) -> None:
        _check_positive("t", t)
        super().__init__()
        self.t = float(t)

    def forward(self, x: Tensor) -> Tensor:
        return SReLUFunction.apply(x, self.t)

    def extra_repr(self) -> str:
        return f"t={self.t}"


@register_activation(
    "ralu",
    formula="x·(x² + α)/(x² + 1)",
    reference="shimataro/ralu",
    learnable="alpha (one scalar per module) unless learnable=false",
)
class RaLU(nn.Module):
    """RaLU: f'(0) = α, odd, → x as |x| → ∞; α = 1 is the identity.

    Args:
        alpha: initial (or, with learnable=false, fixed) value of α
        learnable: train α as one scalar nn.Parameter; otherwise a buffer (no parameters)
    """

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


@register_activation("tanh", formula="tanh(x)", reference="LeCun et al. 1998, Efficient BackProp")
class Tanh(nn.Tanh):
    """Hyperbolic tangent, as torch.nn.Tanh."""


@register_activation(
    "sigmoid",
    formula="σ(x) = 1/(1 + e^(−x))",
    reference="Rumelhart, Hinton & Williams 1986, Learning Representations by Back-Propagating Errors",
)
class Sigmoid(nn.Sigmoid):
    """Logistic sigmoid, as torch.nn.Sigmoid."""


@register_activation("identity", formula="x", reference="the linear baseline: no nonlinearity")
class Identity(nn.Identity):
    """f(x) = x: the baseline that shows what the nonlinearity buys."""

    def __init__(self) -> None:
        super().__init__()
