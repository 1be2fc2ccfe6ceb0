"""The population's first layer, by seed: the member order and the layout of its parameters.

Members with the same seed see the same batches, so a step gathers each seed's batch once
(not once per member) and the first layer (784 inputs, 90% of the FLOPs) of a seed's n
members is one (B, 784) x (784, n·out) product. Seeds with the same number of members
form a block (``SeedBlock``) whose first layers are one batched product (``FirstLayer``):
the block's weight is (G seeds, n·out, in), each seed's members' fc1 weights stacked in
torch's own (out, in) layout, its bias (G, 1, n·out). Members are ordered block by block
and, within a block, member j of every seed before member j+1 (``block_order``): a grid
of activations x seeds given activation-major keeps its order, each activation's members
contiguous.

Why this layout and not one (K, in, out) stack per layer, which would be simpler: it
makes a step of many members faster on a CPU (docs/speed.md, part 3), and other matmul
shapes would round differently, where the population's results are held bit-identical
from one version to the next. The layout stays in here: the rest of the engine and every
checkpoint see the first layer member-major, (K, in, out) and (K, 1, out)
(``first_layer_to_members``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from actbench.tasks.mlp.population import Member


@dataclass(frozen=True)
class SeedBlock:
    """Seeds with ``size`` members each, whose first layers are one batched product: member
    j of the block's g-th seed is population member ``start + j * len(seeds) + g``."""

    start: int
    seeds: tuple[int, ...]
    size: int

    @property
    def stop(self) -> int:
        return self.start + self.size * len(self.seeds)


def block_order(members: list[Member]) -> tuple[list[Member], list[SeedBlock]]:
    """``members`` in population order, and its seed blocks.

    Seeds in order of first appearance, each seed's members in the order given; seeds
    with equally many members in one block, blocks in order of first appearance of their
    size. Idempotent: the population order of a population order is itself, so a
    checkpoint's members rebuild the same blocks."""
    by_seed: dict[int, list[Member]] = {}
    for member in members:
        by_seed.setdefault(member.seed, []).append(member)
    by_size: dict[int, list[list[Member]]] = {}
    for group in by_seed.values():
        by_size.setdefault(len(group), []).append(group)
    ordered: list[Member] = []
    blocks: list[SeedBlock] = []
    for size, groups in by_size.items():
        blocks.append(SeedBlock(len(ordered), tuple(group[0].seed for group in groups), size))
        ordered += [group[j] for j in range(size) for group in groups]
    return ordered, blocks


def input_seeds(blocks: list[SeedBlock]) -> list[int]:
    """The seed of each row block of a step's input (seeds, B, in): every block's seeds, in block order."""
    return [seed for block in blocks for seed in block.seeds]


def member_input_rows(blocks: list[SeedBlock]) -> list[int]:
    """(K,): each member's row block of a step's input, the one of its seed."""
    rows: list[int] = []
    first = 0  # the block's first row block
    for block in blocks:
        rows += [first + g for _ in range(block.size) for g in range(len(block.seeds))]
        first += len(block.seeds)
    return rows


class FirstLayer(torch.autograd.Function):
    """One seed block's first layers: x (G, B, in), the batch of each of its G seeds, weight
    (G, n·out, in), bias (G, 1, n·out) -> (n·G, B, out), member j of seed g at row j·G + g.

    Its own backward, for the weight gradient: g^T x straight into the weight's (n·out, in)
    layout, as nn.Linear computes it (autograd's bmm rule would give x^T g, then copy it
    transposed); x's gradient only where asked for (the data never asks). Rows
    [j·out, (j+1)·out) of g^T x are member j's own weight gradient."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, size: int) -> torch.Tensor:
        ctx.save_for_backward(x, weight)
        ctx.size = size
        groups, rows, _ = x.shape
        y = torch.baddbmm(bias, x, weight.transpose(1, 2))  # (G, B, n·out)
        return y.view(groups, rows, size, -1).permute(2, 0, 1, 3).reshape(size * groups, rows, -1)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        x, weight = ctx.saved_tensors
        groups, rows, _ = x.shape
        # (n·G, B, out) -> (G, B, n·out), the layout of the forward product
        grad = grad.reshape(ctx.size, groups, rows, -1).permute(1, 2, 0, 3).reshape(groups, rows, -1)
        grad_x = torch.bmm(grad, weight) if ctx.needs_input_grad[0] else None
        return grad_x, torch.bmm(grad.transpose(1, 2), x), grad.sum(dim=1, keepdim=True), None


def first_layer(
    x: torch.Tensor, blocks: list[SeedBlock], weights: list[torch.Tensor], biases: list[torch.Tensor]
) -> torch.Tensor:
    """x (seeds, B, in), the batch of each seed in ``input_seeds`` order -> (K, B, out)."""
    parts, first = [], 0
    for block, w, b in zip(blocks, weights, biases):
        parts.append(FirstLayer.apply(x[first : first + len(block.seeds)], w, b, block.size))
        first += len(block.seeds)
    return parts[0] if len(parts) == 1 else torch.cat(parts)


def first_layer_shared_input(
    x: torch.Tensor, blocks: list[SeedBlock], weights: list[torch.Tensor], biases: list[torch.Tensor]
) -> torch.Tensor:
    """x (M, in), the same rows for every member -> (K, M, out). A block's first layers are one
    (M, in) @ (in, G·n·out) product: no (K, M, in) copy of x."""
    parts = []
    for block, w, b in zip(blocks, weights, biases):
        seeds, fan_in = len(block.seeds), w.shape[-1]
        y = torch.addmm(b.view(1, -1), x, w.view(-1, fan_in).T)  # (M, G·n·out)
        parts.append(
            y.view(len(x), seeds, block.size, -1).permute(2, 1, 0, 3).reshape(block.stop - block.start, len(x), -1)
        )
    return parts[0] if len(parts) == 1 else torch.cat(parts)


def first_layer_to_members(
    blocks: list[SeedBlock], weights: list[torch.Tensor], biases: list[torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor]:
    """The blocks' weights (G, n·out, in) and biases (G, 1, n·out), or tensors shaped like them
    (gradients, AdamW's moments) -> member-major: weight (K, in, out), bias (K, 1, out)."""
    w1 = torch.cat(
        [
            w.view(len(b.seeds), b.size, -1, w.shape[-1]).permute(1, 0, 3, 2).reshape(b.stop - b.start, w.shape[-1], -1)
            for b, w in zip(blocks, weights, strict=True)
        ]
    )
    b1 = torch.cat(
        [
            bias.view(len(b.seeds), b.size, -1).permute(1, 0, 2).reshape(b.stop - b.start, 1, -1)
            for b, bias in zip(blocks, biases, strict=True)
        ]
    )
    return w1, b1


def first_layer_from_members(
    blocks: list[SeedBlock], w1: torch.Tensor, b1: torch.Tensor
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """The inverse of ``first_layer_to_members``: w1 (K, in, out) and b1 (K, 1, out) ->
    each block's weight (G, n·out, in) and bias (G, 1, n·out), contiguous."""
    fan_in, fan_out = w1.shape[1:]
    weights = [
        w1[b.start : b.stop]
        .view(b.size, len(b.seeds), fan_in, fan_out)
        .permute(1, 0, 3, 2)
        .reshape(len(b.seeds), b.size * fan_out, fan_in)
        .contiguous()
        for b in blocks
    ]
    biases = [
        b1[b.start : b.stop]
        .view(b.size, len(b.seeds), fan_out)
        .permute(1, 0, 2)
        .reshape(len(b.seeds), 1, b.size * fan_out)
        .contiguous()
        for b in blocks
    ]
    return weights, biases
