"""The population engine for the MLP tasks: every (activation, seed) member of a run at once.

On a CPU the MLP at batch 64 is a stream of tiny matrix products whose cost is mostly
per-op overhead. Here K members share stacked parameters, so one step is a few batched
matmuls over activations (K, B, features) instead of K times as many small ones.

The first layer, by seed. Members with the same seed see the same batches, so a step
gathers each seed's batch once (not once per member) and the first layer (784 inputs,
90% of the FLOPs) of a seed's n members is one (B, 784) x (784, n·128) product. Seeds
with the same number of members form a block (``SeedBlock``) whose first layers are one
batched product (``FirstLayer``): the block's weight is (G seeds, n·out, in), each seed's
members' fc1 weights stacked in torch's own (out, in) layout, its bias (G, 1, n·out).
Members are ordered block by block and, within a block, member j of every seed before
member j+1 (``block_order``): a grid of activations x seeds given activation-major keeps
its order, each activation's members contiguous. The later layers are stacked per member:
weight (K, in, out), bias (K, 1, out), one baddbmm each. (Measured on 2 CPU cores,
interleaved in one process against the per-member (K, 784, 128) layout it replaced: a
step of 40 members 1.10x faster (median; 1.19x best of 21), of 20 members 1.03x. The
first layer's products run near the matmul peak either way, 65-80% of a 4096² mm;
scripts/bench_mnist.py times the parts of a step.)

Each member is the sequential trial with its seed (``model.train_trial``), not an
approximation of it:

- its initial weights and activation modules are taken from ``build_mlp`` itself;
- its batches come from the same ``epoch_order`` stream of its seed;
- its loss is its own batch mean; the population minimises the sum of the members'
  losses, whose gradient with respect to member k's parameters is member k's gradient
  (in the first layer, rows [j·out, (j+1)·out) of its block's g^T x: member j's own
  product, the one nn.Linear computes);
- AdamW is elementwise, so one AdamW over stacked tensors is K independent AdamWs
  (all members take every step, so they share the step count).

Only the float rounding order differs (batched vs single matmuls); tests hold the two
engines to about 1e-5 after a step and to a fraction of a percent after training.

Activations: members are ordered so that each activation's members are contiguous.
A group whose modules hold no parameters applies one module to its whole slice, seen as
(members·B, features) rows, the layout the sequential model gives it. Modules with
learnable parameters (PReLU, RaLU) are applied member by member, each with its own
parameters. Assumed: an activation module without parameters is deterministic and acts
on each row independently (every built-in is); a stochastic one would draw different
random numbers than in the sequential engine.

Costs (actbench.tasks.costs): what each activation adds to the population's time is
measured, so that a member is charged its activation's own seconds plus an equal share
of the rest. Once per epoch, each activation group's forward and backward are timed at
the training step's own shapes, (members, batch, width) per hidden layer, on copies of
its modules (``measure_step_seconds``: one warm-up, the median of 3, times the epoch's
steps), and its forward in evaluation is timed in place. The training step itself is not
touched: no hook, no wrapper, nothing that could change its graph, its numbers or a
compiled step; the copies keep a module's own state (a call counter) as it was, and the
random number generators are restored after. The measuring costs 4 passes of each
activation an epoch against the epoch's one per step (79 steps on mnist-mini, 938 on
mnist): measured, 4% of a 40-member mnist-mini population's time on a loaded 2-core
machine (so about 0.4% on mnist, by the same ratio); it is left out of every member's
seconds. Caveats: timed apart from the step, an activation is measured without the cache
state the step leaves it (a cheap activation's few microseconds are the least exact),
with random normal inputs rather than the step's, in wall seconds on the machine as
loaded at the time, and uncompiled under ``--compile``.

Checkpoints (actbench.api.Checkpoint): the population saves itself as one after every
epoch: the members still in (in training order), their stacked weights and biases
member-major ((K, in, out) and (K, 1, out) per layer, whatever the blocks), each one's
activation modules' state dicts, AdamW's state (its stacked entries member-major too),
every seed's data-order generator (each draws once per epoch, dropped members' seeds too),
the seconds measured so far (``costs``) and every metric yielded so far, in order.
Resumed, it yields those again, rebuilds the population of the members still in
(dropped members stay dropped) and trains on, to the same bits. An activation module's
state outside its state dict (a plain Python attribute) is not saved: a plug-in that
keeps state must expose it through ``get_extra_state``.
"""

from __future__ import annotations

import copy
import math
import statistics
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from actbench.api import Checkpoint, EpochMetrics, TrainContext
from actbench.seeding import generator
from actbench.tasks.activation_params import activation_parameters
from actbench.tasks.costs import OWN_SECONDS, SET_ASIDE_SECONDS, timed
from actbench.tasks.mlp.model import DeviceData, Optimizer, adamw, build_mlp, epoch_order
from actbench.tasks.mlp.recipe import LATER_HYPERPARAMS

FLOAT_BYTES = 4
ADAM_COPIES = 4  # parameter, gradient, exp_avg, exp_avg_sq
# Test rows per evaluation product, (K, EVAL_ROWS, width) per layer: memory only, the
# metrics do not depend on it.
EVAL_ROWS = 2000
# Timed forward and backward passes of each activation group per epoch, after one warm-up
# pass; the median counts (robust to one pass the scheduler interrupted).
COST_REPEATS = 3


@dataclass(frozen=True)
class Member:
    activation: str  # canonical spec
    seed: int


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
    """``members`` in population order, and its seed blocks (see the module docstring).

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


class FirstLayer(torch.autograd.Function):
    """One seed block's first layers: x (G, B, in), the batch of each of its G seeds, weight
    (G, n·out, in), bias (G, 1, n·out) -> (n·G, B, out), member j of seed g at row j·G + g.

    Its own backward, for the weight gradient: g^T x straight into the weight's (n·out, in)
    layout, as nn.Linear computes it (autograd's bmm rule would give x^T g, then copy it
    transposed); x's gradient only where asked for (the data never asks)."""

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


@dataclass
class ActivationGroup:
    """The members [start, stop) that share one activation spec, with their modules per hidden layer."""

    start: int
    stop: int
    modules: list[list[nn.Module]]  # [member][hidden layer]
    shared: bool  # no parameters: one module serves the whole slice

    def apply(self, h: torch.Tensor, layer: int) -> torch.Tensor:
        """h (members, B, F) -> the activation of each member's slice, same shape."""
        if self.shared:
            members, rows, features = h.shape
            return self.modules[0][layer](h.reshape(members * rows, features)).view(members, rows, features)
        return torch.stack([modules[layer](part) for modules, part in zip(self.modules, h)])

    def copy(self) -> ActivationGroup:
        """The group with copies of the modules it applies (one for a shared group): what is
        done to them (calls counted, parameters' gradients) leaves the group's own as they are."""
        modules = self.modules[:1] if self.shared else self.modules
        return ActivationGroup(self.start, self.stop, copy.deepcopy(modules), self.shared)


class Population:
    """K member MLPs with stacked parameters, and the members' own activation modules.

    ``members`` is the population order (``block_order`` of the members given); the
    stacked parameters are ``first_weights`` and ``first_biases``, one per seed block,
    and ``later_weights`` and ``later_biases``; ``member_tensors`` gives one
    member's, named and shaped as in its sequential model."""

    def __init__(self, sizes: list[int], members: list[Member], device: torch.device, init: str = "torch"):
        self.layers = len(sizes) - 1
        self.hidden = sizes[1:-1]  # the widths the activations see, one per hidden layer
        self._set_layout(block_order(members)[0], device)
        models = [build_mlp(sizes, m.activation, m.seed, init).to(device) for m in self.members]
        linear = [[m.get_submodule(f"fc{i}") for m in models] for i in range(1, self.layers + 1)]
        # Member-major (K, in, out) and (K, 1, out): torch's Linear stores (out, in).
        weights = [torch.stack([fc.weight.detach().T for fc in layer]) for layer in linear]
        biases = [torch.stack([fc.bias.detach()[None] for fc in layer]) for layer in linear]
        self._set_parameters(self.from_members([*weights, *biases]))
        self.act_modules = [[m.get_submodule(f"act{i}") for i in range(1, self.layers)] for m in models]
        self.groups = self._groups()

    def _set_layout(self, members: list[Member], device: torch.device) -> None:
        """Members (already in population order) -> the seed blocks and each member's seed row."""
        self.members, self.blocks = block_order(members)
        assert self.members == members, "members not in population order"
        # The seed of each row block of a step's input: every block's seeds, in block order.
        self.group_seeds = [seed for block in self.blocks for seed in block.seeds]
        row = [0] * len(members)
        first = 0
        for block in self.blocks:
            for j in range(block.size):
                for g in range(len(block.seeds)):
                    row[block.start + j * len(block.seeds) + g] = first + g
            first += len(block.seeds)
        self.member_group = torch.tensor(row, device=device)  # (K,): each member's row block of a step's input

    def _set_parameters(self, tensors: list[torch.Tensor]) -> None:
        """Tensors in ``stacked_parameters`` order -> the parameters (fresh, contiguous)."""
        blocks, later = len(self.blocks), self.layers - 1
        params = [nn.Parameter(t.detach().contiguous()) for t in tensors]
        self.first_weights = params[:blocks]  # (G, n·out, in) per block
        self.later_weights = params[blocks : blocks + later]  # (K, in, out), layers 2..L
        self.first_biases = params[blocks + later : 2 * blocks + later]  # (G, 1, n·out) per block
        self.later_biases = params[2 * blocks + later :]  # (K, 1, out), layers 2..L

    def to_members(self, tensors: list[torch.Tensor]) -> list[torch.Tensor]:
        """Tensors shaped like ``stacked_parameters()`` (the parameters, their gradients, AdamW's
        moments) -> member-major ones: every layer's weight (K, in, out), then every bias (K, 1, out)."""
        blocks, later = len(self.blocks), self.layers - 1
        first_w, first_b = tensors[:blocks], tensors[blocks + later : 2 * blocks + later]
        w1 = torch.cat(
            [
                w.view(len(b.seeds), b.size, -1, w.shape[-1])
                .permute(1, 0, 3, 2)
                .reshape(b.stop - b.start, w.shape[-1], -1)
                for b, w in zip(self.blocks, first_w, strict=True)
            ]
        )
        b1 = torch.cat(
            [
                bias.view(len(b.seeds), b.size, -1).permute(1, 0, 2).reshape(b.stop - b.start, 1, -1)
                for b, bias in zip(self.blocks, first_b, strict=True)
            ]
        )
        return [w1, *tensors[blocks : blocks + later], b1, *tensors[2 * blocks + later :]]

    def from_members(self, tensors: list[torch.Tensor]) -> list[torch.Tensor]:
        """The inverse of ``to_members``: member-major tensors (in ``members`` order) -> tensors
        shaped like ``stacked_parameters()``."""
        w1, b1 = tensors[0], tensors[self.layers]
        fan_in, fan_out = w1.shape[1:]
        first_w = [
            w1[b.start : b.stop]
            .view(b.size, len(b.seeds), fan_in, fan_out)
            .permute(1, 0, 3, 2)
            .reshape(len(b.seeds), b.size * fan_out, fan_in)
            .contiguous()
            for b in self.blocks
        ]
        first_b = [
            b1[b.start : b.stop]
            .view(b.size, len(b.seeds), fan_out)
            .permute(1, 0, 2)
            .reshape(len(b.seeds), 1, b.size * fan_out)
            .contiguous()
            for b in self.blocks
        ]
        return [*first_w, *tensors[1 : self.layers], *first_b, *tensors[self.layers + 1 :]]

    def member_tensors(self, k: int, grad: bool = False) -> dict[str, torch.Tensor]:
        """Member k's parameters (or their gradients), named and shaped as in its sequential
        model (``build_mlp``): "fc1.weight" (out, in), "fc1.bias" (out,), ..., "act1.alpha"."""
        stacked = self.to_members([p.grad if grad else p.detach() for p in self.stacked_parameters()])
        named: dict[str, torch.Tensor] = {}
        for i in range(self.layers):
            named[f"fc{i + 1}.weight"] = stacked[i][k].T
            named[f"fc{i + 1}.bias"] = stacked[self.layers + i][k, 0]
        for i, module in enumerate(self.act_modules[k], start=1):
            for name, param in module.named_parameters():
                named[f"act{i}.{name}"] = param.grad if grad else param.detach()
        return named

    def _groups(self) -> list[ActivationGroup]:
        groups: list[ActivationGroup] = []
        for k, member in enumerate(self.members):
            if groups and self.members[groups[-1].start].activation == member.activation:
                groups[-1].stop = k + 1
                groups[-1].modules.append(self.act_modules[k])
            else:
                groups.append(ActivationGroup(k, k + 1, [self.act_modules[k]], shared=False))
        for group in groups:
            group.shared = not any(True for modules in group.modules for m in modules for _ in m.parameters())
        return groups

    def stacked_parameters(self) -> list[nn.Parameter]:
        return [*self.first_weights, *self.later_weights, *self.first_biases, *self.later_biases]

    def activation_parameters(self) -> list[nn.Parameter]:
        return [p for modules in self.act_modules for m in modules for p in m.parameters()]

    def activate(self, h: torch.Tensor, layer: int, seconds: list[float] | None = None) -> torch.Tensor:
        """h (K, B, F) -> every member's activation of its slice. ``seconds`` (one per group):
        each group's time added to its entry (evaluation only: the timing waits for the device)."""
        if seconds is not None:
            parts = h.split([g.stop - g.start for g in self.groups])
            outs = []
            for i, (group, part) in enumerate(zip(self.groups, parts)):
                out, took = timed(h.device, lambda group=group, part=part: group.apply(part, layer))
                outs.append(out)
                seconds[i] += took
            return torch.cat(outs)
        if len(self.groups) == 1:
            return self.groups[0].apply(h, layer)
        # split, not slicing: its backward is one cat, where each slice's would be a
        # zero-filled (K, B, F) tensor of its own.
        parts = h.split([g.stop - g.start for g in self.groups])
        return torch.cat([g.apply(part, layer) for g, part in zip(self.groups, parts)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (seeds, B, in), the batch of each seed in ``group_seeds`` order -> logits (K, B, classes)."""
        parts, first = [], 0
        for block, w, b in zip(self.blocks, self.first_weights, self.first_biases):
            parts.append(FirstLayer.apply(x[first : first + len(block.seeds)], w, b, block.size))
            first += len(block.seeds)
        h = parts[0] if len(parts) == 1 else torch.cat(parts)  # (K, B, out)
        for i, (w, b) in enumerate(zip(self.later_weights, self.later_biases)):
            h = torch.baddbmm(b, self.activate(h, i), w)
        return h

    @torch.no_grad()
    def forward_shared_input(self, x: torch.Tensor, seconds: list[float] | None = None) -> torch.Tensor:
        """x (M, in), the same rows for every member -> logits (K, M, classes); ``seconds``: see ``activate``.

        A block's first layers are one (M, in) @ (in, G·n·out) product: no (K, M, in) copy of x.
        """
        parts = []
        for block, w, b in zip(self.blocks, self.first_weights, self.first_biases):
            seeds, fan_in = len(block.seeds), w.shape[-1]
            y = torch.addmm(b.view(1, -1), x, w.view(-1, fan_in).T)  # (M, G·n·out)
            parts.append(
                y.view(len(x), seeds, block.size, -1).permute(2, 1, 0, 3).reshape(block.stop - block.start, len(x), -1)
            )
        h = parts[0] if len(parts) == 1 else torch.cat(parts)  # (K, M, out)
        for i, (w, b) in enumerate(zip(self.later_weights, self.later_biases)):
            h = torch.baddbmm(b, self.activate(h, i, seconds), w)
        return h

    def train_mode(self, mode: bool) -> None:
        for modules in self.act_modules:
            for m in modules:
                m.train(mode)

    def keep(self, indices: list[int], optimizer: Optimizer, hp: dict[str, Any]) -> Optimizer:
        """Drop every member not in ``indices``; returns the optimizer for the rest, with each
        kept member's AdamW state carried over unchanged. The rest are blocked afresh
        (``block_order``), so their order may change: read it from ``members``."""
        params = self.stacked_parameters()
        old_index = {m: k for k, m in enumerate(self.members)}
        kept = block_order([self.members[i] for i in indices])[0]
        rows = torch.tensor([old_index[m] for m in kept], device=params[0].device)

        def select(tensors: list[torch.Tensor]) -> list[torch.Tensor]:  # the old layout -> kept members, member-major
            return [t.index_select(0, rows) for t in self.to_members(tensors)]

        values = select([p.detach() for p in params])
        states = [optimizer.state[p] for p in params] if all(p in optimizer.state for p in params) else None
        moments = member_moments(states, select) if states else None
        act_states = {p: optimizer.state[p] for p in self.activation_parameters() if p in optimizer.state}

        self.act_modules = [self.act_modules[old_index[m]] for m in kept]  # their own Parameters live on unchanged
        self._set_layout(kept, params[0].device)
        self._set_parameters(self.from_members(values))
        self.groups = self._groups()
        new = make_population_optimizer(self, hp)
        if moments is not None:
            for param, state in zip(self.stacked_parameters(), layout_moments(moments, self.from_members), strict=True):
                new.state[param] = state
        for param, state in act_states.items():
            new.state[param] = state
        return new


def member_moments(
    states: list[dict[str, Any]], convert: Callable[[list[torch.Tensor]], list[torch.Tensor]]
) -> dict[str, Any]:
    """AdamW's states of the stacked parameters (in ``stacked_parameters`` order) -> key ->
    ``convert`` of that key's tensors (the moments), or the value itself where it is not
    elementwise (the step count, the same for every stacked parameter)."""
    out: dict[str, Any] = {}
    for key, value in states[0].items():
        out[key] = convert([s[key] for s in states]) if torch.is_tensor(value) and value.dim() > 0 else value
    return out


def layout_moments(
    moments: dict[str, Any], convert: Callable[[list[torch.Tensor]], list[torch.Tensor]]
) -> list[dict[str, Any]]:
    """The inverse of ``member_moments``: one state per tensor ``convert`` returns."""
    per_key = {key: convert(v) if isinstance(v, list) else v for key, v in moments.items()}
    count = next(len(v) for v in per_key.values() if isinstance(v, list))
    return [
        {key: v[i] if isinstance(v, list) else (v.clone() if torch.is_tensor(v) else v) for key, v in per_key.items()}
        for i in range(count)
    ]


def make_population_optimizer(pop: Population, hp: dict[str, Any]) -> Optimizer:
    """AdamW as ``model.make_optimizer``: activation parameters out of weight decay."""
    groups: list[dict[str, Any]] = [{"params": pop.stacked_parameters()}]
    act_params = pop.activation_parameters()
    if act_params:
        groups.append({"params": act_params, "weight_decay": 0.0})
    return adamw(groups, hp)


def member_activation_parameters(pop: Population, k: int) -> dict[str, list[float]]:
    """Member k's learnable activation parameters, named as in its sequential model ("act1.alpha")."""
    named = nn.Module()
    for i, module in enumerate(pop.act_modules[k], start=1):
        named.add_module(f"act{i}", module)
    return activation_parameters(named)


@torch.no_grad()
def evaluate_population(
    pop: Population, x: torch.Tensor, y: torch.Tensor, rows: int, seconds: list[float] | None = None
) -> tuple[list[float], list[float]]:
    """Per member: (mean cross-entropy, accuracy in %) over the whole of (x, y), ``rows`` at a time.
    ``seconds`` (one per activation group): each group's activation time added to its entry."""
    pop.train_mode(False)
    k = len(pop.members)
    loss_sum = torch.zeros(k, device=x.device, dtype=torch.float64)
    correct = torch.zeros(k, device=x.device, dtype=torch.int64)
    for start in range(0, len(x), rows):
        logits = pop.forward_shared_input(x[start : start + rows], seconds)  # (K, m, classes)
        target = y[start : start + rows]
        m, classes = logits.shape[1:]
        losses = F.cross_entropy(logits.reshape(k * m, classes), target.repeat(k), reduction="none")
        loss_sum += losses.view(k, m).sum(dim=1).double()
        correct += (logits.argmax(dim=2) == target).sum(dim=1)
    pop.train_mode(True)
    return (loss_sum / len(x)).tolist(), (100.0 * correct.double() / len(x)).tolist()


def member_bytes(sizes: list[int], hp: dict[str, Any], eval_rows: int) -> int:
    """Peak memory one member adds to a population, in bytes (float32 throughout).

    Parameters with gradient and AdamW state (4 copies), plus the activations of a
    training step kept for backward (input gather, pre- and post-activation per hidden
    layer, logits and their gradient; a factor 2 leaves room for the backward pass's
    temporaries), plus the evaluation activations of ``eval_rows`` test rows. (The input
    is gathered once per seed, not per member: counted per member, an upper bound.)
    """
    params = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
    per_row = sizes[0] + 2 * sum(sizes[1:-1]) + 2 * sizes[-1]
    return FLOAT_BYTES * (ADAM_COPIES * params + 2 * hp["batch_size"] * per_row + eval_rows * sum(sizes[1:]))


def member_losses(pop: Population, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """x (seeds, b, in) and y (seeds, b), each seed's batch in ``group_seeds`` order -> (K,):
    each member's own batch-mean cross-entropy."""
    logits = pop.forward(x)  # (K, b, classes)
    k, b, classes = logits.shape
    target = y.index_select(0, pop.member_group).reshape(k * b)  # each member's seed's labels
    return F.cross_entropy(logits.reshape(k * b, classes), target, reduction="none").view(k, b).mean(dim=1)


def measure_step_seconds(pop: Population, batch: int) -> list[float]:
    """Per activation group of ``pop``: the seconds its activations take in one training step,
    forward and backward (its parameters' gradients included), at the step's shapes: input
    (members, batch, width) for each hidden layer, as ``Population.forward`` gives it.

    Timed on the group's ``copy``, under a forked random state, with gradients returned
    rather than accumulated: the population, its modules and every generator are left as
    they were, so training goes on to the same bits. Inputs and output gradients are
    standard normal (the step's pre-activations are of that order at initialisation)."""
    device = pop.first_weights[0].device
    gen = torch.Generator(device=device).manual_seed(0)
    seconds = []
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        for group in pop.groups:
            twin, members = group.copy(), group.stop - group.start
            total = 0.0
            for layer, width in enumerate(pop.hidden):
                x = torch.randn(members, batch, width, generator=gen, device=device, requires_grad=True)
                grad = torch.randn(members, batch, width, generator=gen, device=device)
                params = [p for modules in twin.modules for p in modules[layer].parameters() if p.requires_grad]

                def step(twin=twin, x=x, layer=layer, params=params, grad=grad) -> None:
                    out = twin.apply(x, layer)  # (members, batch, width)
                    if out.requires_grad:  # a plug-in without a gradient has only a forward to time
                        torch.autograd.grad(out, [x, *params], grad, allow_unused=True)

                step()  # warm-up: first-call allocations and dispatch caches
                total += statistics.median(timed(device, step)[1] for _ in range(COST_REPEATS))
            seconds.append(total)
    return seconds


def charge(pop: Population, seconds: list[float], own: dict[str, float]) -> float:
    """Each activation group's ``seconds`` to its activation, divided among that activation's
    members in ``pop`` (one activation may form several groups: see ``block_order``), added to
    ``own`` (activation -> one member's own seconds so far). Returns the seconds charged."""
    by_activation: Counter[str] = Counter()
    for group, spent in zip(pop.groups, seconds, strict=True):
        by_activation[pop.members[group.start].activation] += spent
    members = Counter(m.activation for m in pop.members)
    for activation, spent in by_activation.items():
        own[activation] += spent / members[activation]
    return sum(seconds)


def train_population_epoch(
    pop: Population,
    optimizer: Optimizer,
    x: torch.Tensor,
    y: torch.Tensor,
    orders: dict[int, torch.Tensor],
    batch: int,
    losses: Callable[[Population, torch.Tensor, torch.Tensor], torch.Tensor] = member_losses,
) -> torch.Tensor:
    """One pass for every member, each over x[orders[its seed]] (orders: seed -> (n,)
    permutation); returns the (K,) summed per-example training losses, on the device.
    ``losses``: member_losses, or a compiled version of it."""
    order = torch.stack([orders[seed] for seed in pop.group_seeds])  # (seeds, n)
    loss_sum = torch.zeros(len(pop.members), device=x.device)
    for start in range(0, order.shape[1], batch):
        idx = order[:, start : start + batch]  # (seeds, b)
        seeds, b = idx.shape
        # index_select on the flat index: a third of the time of x[idx] on a CPU; each
        # seed's rows once, however many members it has.
        rows = idx.reshape(seeds * b)
        member_loss = losses(pop, x.index_select(0, rows).view(seeds, b, -1), y.index_select(0, rows).view(seeds, b))
        optimizer.zero_grad(set_to_none=True)
        # The sum's gradient with respect to member k's parameters is member k's own gradient.
        member_loss.sum().backward()
        optimizer.step()
        loss_sum += member_loss.detach() * b
    return loss_sum


def train_population(
    data: DeviceData,
    sizes: list[int],
    members: list[Member],
    hp: dict[str, Any],
    ctx: TrainContext,
    eval_rows: int,
    checkpoint: Checkpoint | None = None,
) -> Iterator[tuple[Member, EpochMetrics]]:
    """Train ``members`` together; after every epoch yield (member, metrics) for each member still in.

    A member whose epoch training loss is not finite gets its last metrics (test NaN) and
    is dropped; the others go on untouched. With ``checkpoint``: resumed from its state if
    it has one (see the module docstring), saved there after every epoch. Every metrics'
    ``extra`` holds the seconds measured so far (actbench.tasks.costs): the member's own
    (OWN_SECONDS) and the population's set aside from the equal share (SET_ASIDE_SECONDS).
    """
    first_seen = {act: i for i, act in reversed(list(enumerate(m.activation for m in members)))}
    # Stable sort: each activation's members contiguous, in the order they were given.
    in_order = sorted(members, key=lambda m: first_seen[m.activation])
    order_gens = {seed: generator(seed, "data_order") for seed in sorted({m.seed for m in members})}
    yielded: list[tuple[Member, EpochMetrics]] = []
    own = {m.activation: 0.0 for m in members}  # activation -> one member's own seconds so far
    set_aside = 0.0  # the activations' measured seconds and the measuring's, so far

    def seconds(member: Member) -> dict[str, float]:  # the costs so far, as a record's extra
        return {OWN_SECONDS: own[member.activation], SET_ASIDE_SECONDS: set_aside}

    saved = checkpoint.load() if checkpoint is not None else None
    if saved is None:
        pop = Population(sizes, in_order, ctx.device, hp.get("init", LATER_HYPERPARAMS["init"]))
        optimizer = make_population_optimizer(pop, hp)
        start_epoch = 1
    else:
        pop, optimizer = restore_population(saved, sizes, hp, ctx.device)
        for seed, gen in order_gens.items():
            gen.set_state(saved["data_order"][seed])
        own.update(saved["costs"]["own"])
        set_aside = saved["costs"]["set_aside"]
        yielded = [(Member(*m), EpochMetrics(**metrics)) for m, metrics in saved["yielded"]]
        yield from yielded
        start_epoch = saved["epoch"] + 1
    n, batch = len(data.train_x), hp["batch_size"]
    # Compiled once per population shape: dropping members recompiles it (new parameters).
    losses = torch.compile(member_losses) if ctx.compile else member_losses
    for epoch in range(start_epoch, hp["epochs"] + 1):
        # Every seed's stream draws once per epoch, as in the sequential trial, even when all
        # of that seed's members have been dropped: the draw order never depends on others.
        orders = {seed: epoch_order(gen, n).to(ctx.device) for seed, gen in order_gens.items()}
        summed = train_population_epoch(pop, optimizer, data.train_x, data.train_y, orders, batch, losses)
        train_loss = dict(zip(pop.members, (summed / n).tolist()))
        # The epoch's activation seconds: one step's, measured, times its ceil(n / batch) steps
        # (the last, shorter batch counted as a full one).
        per_step, measuring = timed(ctx.device, lambda: measure_step_seconds(pop, batch))
        set_aside += measuring + charge(pop, [math.ceil(n / batch) * s for s in per_step], own)
        finite = [k for k, member in enumerate(pop.members) if math.isfinite(train_loss[member])]
        for k, member in enumerate(pop.members):
            if not math.isfinite(train_loss[member]):  # diverged: its last record, then it leaves the population
                params = member_activation_parameters(pop, k)
                metrics = EpochMetrics(epoch, train_loss[member], math.nan, math.nan, params, extra=seconds(member))
                yielded.append((member, metrics))
                yield member, metrics
        if not finite:
            return
        if len(finite) < len(pop.members):
            optimizer = pop.keep(finite, optimizer, hp)  # the rest, blocked afresh: pop.members again
        evaluating = [0.0] * len(pop.groups)
        test_loss, test_acc = evaluate_population(pop, data.test_x, data.test_y, eval_rows, evaluating)
        set_aside += charge(pop, evaluating, own)
        records = [
            (
                member,
                EpochMetrics(
                    epoch,
                    train_loss[member],
                    test_loss[k],
                    test_acc[k],
                    member_activation_parameters(pop, k),
                    extra=seconds(member),
                ),
            )
            for k, member in enumerate(pop.members)
        ]
        yielded += records
        if checkpoint is not None:  # this epoch's records included: a resumed population yields them again
            checkpoint.save(population_state(pop, optimizer, order_gens, epoch, yielded, own, set_aside))
        yield from records


def population_state(
    pop: Population,
    optimizer: Optimizer,
    order_gens: dict[int, torch.Generator],
    epoch: int,
    yielded: list[tuple[Member, EpochMetrics]],
    own: dict[str, float],
    set_aside: float,
) -> dict[str, Any]:
    """Everything ``train_population`` needs to go on after ``epoch``: tensors and plain data,
    the stacked ones member-major (``Population.to_members``), whatever the seed blocks."""
    stacked = pop.to_members([p.detach() for p in pop.stacked_parameters()])
    return {
        "epoch": epoch,
        "members": [[m.activation, m.seed] for m in pop.members],  # still in, in training order
        "weights": stacked[: pop.layers],  # (K, in, out) each
        "biases": stacked[pop.layers :],  # (K, 1, out) each
        "activations": [[m.state_dict() for m in modules] for modules in pop.act_modules],  # [member][layer]
        # Member-major stacked parameters [W1..WL, b1..bL] first, then activation parameters by member.
        "optimizer": _optimizer_state(
            optimizer.state_dict(), len(pop.stacked_parameters()), 2 * pop.layers, pop.to_members
        ),
        "data_order": {seed: gen.get_state() for seed, gen in order_gens.items()},
        "costs": {"own": dict(own), "set_aside": set_aside},  # seconds so far, as train_population counts them
        "yielded": [[[m.activation, m.seed], asdict(metrics)] for m, metrics in yielded],
    }


def _optimizer_state(
    saved: dict[str, Any],
    stacked_in: int,
    stacked_out: int,
    convert: Callable[[list[torch.Tensor]], list[torch.Tensor]],
    act_index: list[int] | None = None,
) -> dict[str, Any]:
    """An AdamW state dict whose first ``stacked_in`` parameters are stacked ones -> one with
    ``stacked_out`` of them, their moments through ``convert``. The activation parameters'
    entries follow, renumbered; ``act_index``: which old activation parameter each new one is
    (default: the same order)."""
    state = saved["state"]
    old_act = [p for group in saved["param_groups"][1:] for p in group["params"]]
    act_index = act_index if act_index is not None else list(range(len(old_act)))
    new_state: dict[int, Any] = {}
    if all(i in state for i in range(stacked_in)):
        moments = member_moments([state[i] for i in range(stacked_in)], convert)
        new_state.update(enumerate(layout_moments(moments, lambda tensors: tensors)))
    for new, old in enumerate(act_index):
        if old_act[old] in state:
            new_state[stacked_out + new] = state[old_act[old]]
    groups = [{**saved["param_groups"][0], "params": list(range(stacked_out))}]
    if len(saved["param_groups"]) > 1:
        groups.append({**saved["param_groups"][1], "params": list(range(stacked_out, stacked_out + len(act_index)))})
    return {"state": new_state, "param_groups": groups}


def restore_population(
    saved: dict[str, Any], sizes: list[int], hp: dict[str, Any], device: torch.device
) -> tuple[Population, Optimizer]:
    """The population and optimizer of ``population_state``: its members built afresh (their
    activation modules as the sequential trial builds them), then given the saved state.
    The saved members may be in any order (a checkpoint written before the seed blocks):
    everything saved is matched to the population's order by member."""
    saved_members = [Member(*m) for m in saved["members"]]
    pop = Population(sizes, saved_members, device)
    position = {m: i for i, m in enumerate(saved_members)}
    rows = [position[m] for m in pop.members]
    index = torch.tensor(rows, device=device)

    def reorder(
        tensors: list[torch.Tensor],
    ) -> list[torch.Tensor]:  # saved member order -> pop.members, then the blocks
        return pop.from_members([t.to(device).index_select(0, index) for t in tensors])

    k = len(saved_members)
    expected = [(k, a, b) for a, b in zip(sizes[:-1], sizes[1:])] + [(k, 1, b) for b in sizes[1:]]
    for value, shape in zip([*saved["weights"], *saved["biases"]], expected, strict=True):
        if tuple(value.shape) != shape:
            raise ValueError(f"checkpoint tensor of shape {tuple(value.shape)} for a parameter of {shape}")
    with torch.no_grad():
        for param, value in zip(pop.stacked_parameters(), reorder([*saved["weights"], *saved["biases"]]), strict=True):
            param.copy_(value)
    for modules, states in zip(pop.act_modules, [saved["activations"][i] for i in rows], strict=True):
        for module, state in zip(modules, states, strict=True):
            module.load_state_dict(state)
    # Activation parameters by member: the saved index of each of the population's.
    counts = {
        m: sum(1 for module in modules for _ in module.parameters()) for m, modules in zip(pop.members, pop.act_modules)
    }
    first, start = {}, 0
    for m in saved_members:
        first[m], start = start, start + counts[m]
    act_index = [first[m] + i for m in pop.members for i in range(counts[m])]
    optimizer = make_population_optimizer(pop, hp)
    optimizer.load_state_dict(
        _optimizer_state(saved["optimizer"], 2 * pop.layers, len(pop.stacked_parameters()), reorder, act_index)
    )
    return pop, optimizer
