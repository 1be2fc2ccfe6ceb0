"""Signal propagation at initialisation: does a deep MLP of this activation pass signals
forward and gradients backward, or do they vanish or explode?

A bias-free MLP of ``depth`` square layers of ``width`` units, float64, a batch of
N(0, 1) inputs. Initialisation as each activation's authors intend: LeCun normal
(std 1/√width) for the self-normalising SELU and for activations that are linear or
odd-symmetric near 0 (identity, tanh, sigmoid, RaLU at its identity initialisation);
He normal (std √(2/width)) for the rectifier family and every other activation,
plug-ins included. The backward pass starts from a fixed random direction at the output,
so every layer's weight gradient is a sample of what training would see.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt  # noqa: E402  (after actbench.report.figures chose the Agg backend)
import torch

from actbench.activations import parse_activation
from actbench.report.figures import activation_styles, finish, legend_below, save_figure

LECUN = frozenset({"selu", "identity", "tanh", "sigmoid", "ralu"})
# A factor of 100 across the depth, in the activations' standard deviation or in the weight
# gradient's norm, is more than one learning rate can serve in every layer.
FACTOR = 100.0
BATCH = 512


@dataclass(frozen=True)
class Flow:
    activation: str  # the spec as written (canonical, without a plug-in's version)
    init: str  # "lecun" or "he"
    variance: list[float]  # per layer: variance of the activations (all units, all rows)
    grad_norm: list[float]  # per layer: Frobenius norm of the weight gradient
    dead_last: float  # fraction of the last layer's units whose slope is 0 for every row

    @property
    def signal_ratio(self) -> float:
        """Standard deviation of the last layer's activations over the first's."""
        return math.sqrt(self.variance[-1] / self.variance[0])

    @property
    def grad_ratio(self) -> float:
        """The first layer's weight-gradient norm over the last layer's."""
        return self.grad_norm[0] / self.grad_norm[-1]

    @property
    def verdict(self) -> str:
        """vanishing / exploding when either ratio leaves [1/FACTOR, FACTOR], else stable."""
        ratios = (self.signal_ratio, self.grad_ratio)
        if not all(math.isfinite(r) for r in ratios):
            return "exploding (non-finite values)"
        worst = min(ratios) if min(ratios) < 1 / FACTOR else max(ratios)
        which = "signal" if worst == self.signal_ratio else "gradient"
        if worst < 1 / FACTOR:
            return f"vanishing ({which} x{worst:.2g} first to last)"
        if worst > FACTOR:
            return f"exploding ({which} x{worst:.2g} first to last)"
        return "stable"


def init_scheme(spec: str) -> str:
    return "lecun" if parse_activation(spec).target in LECUN else "he"


def signal_flow(spec: str, depth: int = 50, width: int = 256, seed: int = 0) -> Flow:
    """Forward a batch through ``depth`` layers and back; per-layer statistics."""
    parsed = parse_activation(spec)
    scheme = init_scheme(spec)
    std = math.sqrt((1.0 if scheme == "lecun" else 2.0) / width)
    gen = torch.Generator().manual_seed(seed)
    weights = [
        (torch.randn(width, width, generator=gen, dtype=torch.float64) * std).requires_grad_() for _ in range(depth)
    ]
    modules = [parsed.build().double() for _ in range(depth)]  # one per layer, as in a real network
    h = torch.randn(BATCH, width, generator=gen, dtype=torch.float64)
    variances, pre = [], []
    for weight, module in zip(weights, modules):
        z = h @ weight  # (BATCH, width)
        z.retain_grad()
        pre.append(z)
        h = module(z)
        variances.append(h.detach().var().item())
    direction = torch.randn(BATCH, width, generator=gen, dtype=torch.float64)
    (h * direction).sum().backward()
    # A unit is dead when its slope is 0 for every row: probe the slope with autograd.
    z_last = pre[-1].detach().requires_grad_()
    (slope,) = torch.autograd.grad(modules[-1](z_last).sum(), z_last)
    dead = (slope == 0).all(dim=0).double().mean().item()
    return Flow(parsed.unversioned, scheme, variances, [w.grad.norm().item() for w in weights], dead)


def plot_flows(flows: list[Flow], stem: Path, formats: frozenset[str] = frozenset({"png", "svg"})) -> list[Path]:
    """Per layer: the activations' variance and the weight gradient's norm, log scale, each
    activation in its colour of the report's figures; in each format of ``formats``."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(6.4, 6.4), dpi=150, sharex=True)
    styles = activation_styles(flow.activation for flow in flows)
    for flow in flows:
        style = {**styles[flow.activation].line, "lw": 1.4}
        layers = range(1, len(flow.variance) + 1)
        top.plot(layers, flow.variance, label=f"{flow.activation} ({flow.init} init)", **style)
        bottom.plot(layers, flow.grad_norm, **style)
    top.set_ylabel("activation variance")
    bottom.set_ylabel("weight gradient norm")
    bottom.set_xlabel("layer")
    for axis in (top, bottom):
        axis.set_yscale("log")
        axis.grid(alpha=0.3, which="both")
    top.set_title(
        f"signal propagation at initialisation: {len(flows[0].variance)} layers, batch {BATCH} of N(0, 1)", fontsize=10
    )
    legend_below(fig)
    finish(fig)
    return save_figure(fig, stem, formats)
