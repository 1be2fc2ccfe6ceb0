"""The built-in activations, declared without torch: names, formulas, references and
parameters, each with the import path of the module class that computes it
(actbench/activations/builtin.py), imported when a module is first built.

Declared here rather than read off the classes so that ``actbench acts`` and the
command line's help list them without importing torch. The parameters repeat the
classes' ``__init__`` signatures; tests/activations/test_catalog.py holds every entry to
its class's signature (names, kinds and defaults), so the two cannot drift apart.
"""

from __future__ import annotations

from actbench.activations.registry import ACTIVATIONS, ActivationInfo, ParamInfo


def _builtin(
    name: str,
    cls: str,
    formula: str,
    reference: str,
    params: tuple[ParamInfo, ...] = (),
    aliases: tuple[str, ...] = (),
    learnable: str = "",
) -> None:
    info = ActivationInfo(name, aliases, params, formula, reference, learnable, f"actbench.activations.builtin:{cls}")
    ACTIVATIONS.add(name, info, aliases=aliases)


def _param(name: str, default: float | int | bool, doc: str) -> ParamInfo:
    return ParamInfo(name, type(default), default, doc)


_builtin(
    "relu", "ReLU", "max(0, x)", "Nair & Hinton 2010, Rectified Linear Units Improve Restricted Boltzmann Machines"
)
_builtin(
    "relu2",
    "SquaredReLU",
    "max(0, x)²",
    "So et al. 2021, Primer: Searching for Efficient Transformers for Language Modeling (arXiv:2109.08668)",
    aliases=("squared_relu",),
)
_builtin(
    "leaky_relu",
    "LeakyReLU",
    "x for x ≥ 0; negative_slope·x for x < 0",
    "Maas et al. 2013, Rectifier Nonlinearities Improve Neural Network Acoustic Models",
    params=(_param("negative_slope", 0.01, "slope for x < 0"),),
)
_builtin(
    "prelu",
    "PReLU",
    "x for x ≥ 0; a·x for x < 0, a learned",
    "He et al. 2015, Delving Deep into Rectifiers (arXiv:1502.01852)",
    params=(
        _param("num_parameters", 1, "1 for one shared slope, or the channel count (dim 1) for one per channel"),
        _param("init", 0.25, "initial slope for x < 0"),
    ),
    learnable="weight a: one scalar per module, or one per channel (dim 1) with num_parameters=C",
)
_builtin(
    "elu",
    "ELU",
    "x for x > 0; α·(eˣ − 1) for x ≤ 0",
    "Clevert et al. 2015, Fast and Accurate Deep Network Learning by ELUs (arXiv:1511.07289)",
    params=(_param("alpha", 1.0, "the value approached as x → −∞ is −alpha"),),
)
_builtin(
    "selu",
    "SELU",
    "λ·(x for x > 0; α·(eˣ − 1) for x ≤ 0), λ ≈ 1.0507, α ≈ 1.6733 (fixed)",
    "Klambauer et al. 2017, Self-Normalizing Neural Networks (arXiv:1706.02515)",
)
_builtin(
    "gelu",
    "GELU",
    "x·Φ(x) = x·(1 + erf(x/√2))/2",
    "Hendrycks & Gimpel 2016, Gaussian Error Linear Units (arXiv:1606.08415)",
)
_builtin(
    "gelu_tanh",
    "GELUTanh",
    "x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))/2",
    "Hendrycks & Gimpel 2016, Gaussian Error Linear Units (arXiv:1606.08415), tanh approximation",
)
_builtin(
    "silu",
    "SiLU",
    "x·σ(x)",
    "Elfwing et al. 2017 (arXiv:1702.03118); Ramachandran et al. 2017, Searching for Activation Functions",
    aliases=("swish",),
)
_builtin(
    "mish",
    "Mish",
    "x·tanh(softplus(x))",
    "Misra 2019, Mish: A Self Regularized Non-Monotonic Activation Function (arXiv:1908.08681)",
)
_builtin(
    "softplus",
    "Softplus",
    "ln(1 + e^(β·x))/β; x where β·x > threshold",
    "Dugas et al. 2001, Incorporating Second-Order Functional Knowledge for Better Option Pricing",
    params=(
        _param("beta", 1.0, "sharpness; larger is closer to ReLU"),
        _param("threshold", 20.0, "above beta·x > threshold the output is x itself (avoids exp overflow)"),
    ),
)
_builtin(
    "squareplus",
    "Squareplus",
    "(x + √(x² + b))/2",
    "Barron 2021, Squareplus: A Softplus-Like Algebraic Rectifier (arXiv:2112.11687)",
    params=(_param("b", 4.0, "curvature near 0; f(0) = √b/2"),),
)
_builtin(
    "srelu",
    "SReLU",
    "0 for x ≤ −t; x·(sin(πx/(2t)) + 1)/2 for −t < x < t; x for x ≥ t",
    "LaurenceLong/SReLU (sinusoidal ReLU, not the S-shaped ReLU of Jin et al. 2015)",
    params=(_param("t", 2.21, "half-width of the sinusoidal region (the reference's tuned value is 2.21)"),),
)
_builtin(
    "ralu",
    "RaLU",
    "x·(x² + α)/(x² + 1)",
    "shimataro/ralu",
    params=(
        _param("alpha", 1.0, "initial (or, with learnable=false, fixed) value of α"),
        _param("learnable", True, "train α as one scalar nn.Parameter; otherwise a buffer (no parameters)"),
    ),
    learnable="alpha (one scalar per module) unless learnable=false",
)
_builtin("tanh", "Tanh", "tanh(x)", "LeCun et al. 1998, Efficient BackProp")
_builtin(
    "sigmoid",
    "Sigmoid",
    "σ(x) = 1/(1 + e^(−x))",
    "Rumelhart, Hinton & Williams 1986, Learning Representations by Back-Propagating Errors",
)
_builtin("identity", "Identity", "x", "the linear baseline: no nonlinearity")

# The gated MLP's shorthands (the GPT tasks' mlp=gated with the gate named), as the field names them.
_GLU_PAPER = "Shazeer 2020, GLU Variants Improve Transformer (arXiv:2002.05202)"
_builtin("reglu", "ReGLU", "ReGLU: max(0, xW)·(xV), a gated MLP (GPT tasks only)", _GLU_PAPER)
_builtin("geglu", "GEGLU", "GEGLU: GELU(xW)·(xV), a gated MLP (GPT tasks only)", _GLU_PAPER)
_builtin("swiglu", "SwiGLU", "SwiGLU: SiLU(xW)·(xV), a gated MLP (GPT tasks only)", _GLU_PAPER)
