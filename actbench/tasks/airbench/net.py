"""The airbench networks, with the activation as a parameter.

airbench94/95: whitening conv (3 -> 24, 2x2, frozen weights) -> act -> three conv groups
-> MaxPool(3) -> flatten -> linear (no bias) -> x 1/9. A conv group is conv3x3 -> MaxPool2
-> BatchNorm -> act -> conv3x3 -> BatchNorm -> act. airbench96 (April 2024) adds a third
conv to each group with a residual over the last two: ... -> act (x0) -> conv -> BN -> act
-> conv -> BN -> act -> + x0, the activation before the add as published then.

Every activation site (after the whitening layer, after every BatchNorm of every group)
gets its own module from the registry, so a learnable activation has its own parameters
per site (PReLU's slope, RaLU's alpha), as the MLP has one per layer.

Weights are drawn from the trial's "init" random stream, never from the global RNG, so
they depend on the seed alone and not on the activation or the device.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from actbench.activations import get_activation
from actbench.seeding import generator, stream_seed

WHITEN_KERNEL = 2
WHITEN_WIDTH = 2 * 3 * WHITEN_KERNEL**2  # 24: the 12 eigenvector filters and their negatives
LOGIT_SCALE = 1 / 9  # the output multiplier of the recipe
BN_EPS = 1e-12


class BatchNorm(nn.BatchNorm2d):
    """BatchNorm with the scale frozen at 1 and only the shift trained.

    ``momentum`` is PyTorch's (the weight of the new batch): airbench's 0.6 is 0.4 here.
    """

    def __init__(self, channels: int, momentum: float):
        super().__init__(channels, eps=BN_EPS, momentum=momentum)
        self.weight.requires_grad_(False)


class ConvGroup(nn.Module):
    """conv -> pool -> BN -> act, then one conv-BN-act (94/95) or a residual pair (96).

    (B, C_in, H, W) -> (B, C_out, H // 2, W // 2).
    """

    def __init__(self, c_in: int, c_out: int, activation: str, residual: bool, bn_momentum: float):
        super().__init__()
        self.residual = residual
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)
        self.pool = nn.MaxPool2d(2)
        self.norm1 = BatchNorm(c_out, bn_momentum)
        self.act1 = get_activation(activation)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.norm2 = BatchNorm(c_out, bn_momentum)
        self.act2 = get_activation(activation)
        if residual:
            self.conv3 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
            self.norm3 = BatchNorm(c_out, bn_momentum)
            self.act3 = get_activation(activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act1(self.norm1(self.pool(self.conv1(x))))
        y = self.act2(self.norm2(self.conv2(x)))
        if self.residual:
            return x + self.act3(self.norm3(self.conv3(y)))
        return y


class Scale(nn.Module):
    def __init__(self, factor: float):
        super().__init__()
        self.factor = factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.factor


def build_net(widths: list[int], activation: str, seed: int, residual: bool, bn_momentum: float) -> nn.Sequential:
    """The network for one trial; the whitening weights are still to be set (``init_whitening_``).

    (B, 3, 32, 32) normalised images -> (B, 10) logits.
    """
    with torch.random.fork_rng(devices=[]):
        # Plug-in activations may draw random numbers at construction: their own stream.
        torch.manual_seed(stream_seed(seed, "activation"))
        channels = [WHITEN_WIDTH, *widths]
        net = nn.Sequential()
        net.add_module("whiten", nn.Conv2d(3, WHITEN_WIDTH, WHITEN_KERNEL, padding=0, bias=True))
        net.add_module("act", get_activation(activation))
        for i, (c_in, c_out) in enumerate(zip(channels[:-1], channels[1:]), start=1):
            net.add_module(f"group{i}", ConvGroup(c_in, c_out, activation, residual, bn_momentum))
        net.add_module("pool", nn.MaxPool2d(3))
        net.add_module("flatten", nn.Flatten())
        net.add_module("head", nn.Linear(widths[-1], 10, bias=False))
        net.add_module("scale", Scale(LOGIT_SCALE))
    init_weights_(net, generator(seed, "init"))
    net.whiten.weight.requires_grad_(False)  # set once from the data, never trained
    return net


def init_weights_(net: nn.Module, gen: torch.Generator) -> None:
    """PyTorch's default for conv and linear weights, U(+-1/sqrt(fan_in)), drawn from ``gen``,
    then the recipe's identity init: the first C_in filters of every conv are the Dirac
    delta, so each conv starts by passing its input through (plus the random filters).
    Module order fixes the draws, so equal seeds give equal weights whatever the activation."""
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                weight = module.weight  # conv (C_out, C_in, k, k); linear (out, in)
                bound = 1.0 / math.sqrt(weight[0].numel())
                weight.copy_(torch.empty(weight.shape).uniform_(-bound, bound, generator=gen))
                if isinstance(module, nn.Conv2d):
                    nn.init.dirac_(weight[: weight.shape[1]])
                if module.bias is not None:
                    module.bias.zero_()


def patch_covariance(images: torch.Tensor, kernel: int) -> torch.Tensor:
    """The uncentred covariance of all kernel x kernel patches of ``images`` (N, C, H, W):
    (C*k*k, C*k*k), float64 for an accurate eigendecomposition."""
    c = images.shape[1]
    # (N, C, H-k+1, W-k+1, k, k) -> one row per patch, flattened in conv-weight order (C, k, k).
    patches = images.double().unfold(2, kernel, 1).unfold(3, kernel, 1)
    flat = patches.permute(0, 2, 3, 1, 4, 5).reshape(-1, c * kernel * kernel)
    return flat.T @ flat / len(flat)


@torch.no_grad()
def init_whitening_(conv: nn.Conv2d, images: torch.Tensor, eps: float = 5e-4) -> None:
    """Set ``conv`` (3 -> 24, 2x2) to whiten the patches of ``images`` (normalised, N x 3 x 32 x 32).

    With covariance = V diag(lambda) V^T, the filters are the rows of V^T / sqrt(lambda + eps),
    largest eigenvalue first, then their negatives: the first 12 outputs of a patch have
    covariance diag(lambda / (lambda + eps)), the identity up to eps.
    """
    k = conv.kernel_size[0]
    eigenvalues, eigenvectors = torch.linalg.eigh(patch_covariance(images, k))  # ascending
    order = eigenvalues.argsort(descending=True)
    filters = eigenvectors.T[order] / torch.sqrt(eigenvalues[order] + eps)[:, None]  # (12, 12)
    filters = filters.reshape(-1, images.shape[1], k, k)
    conv.weight.copy_(torch.cat([filters, -filters]).to(conv.weight))
