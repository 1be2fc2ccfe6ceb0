"""The population as one batched model: stacked parameters, the members' own activation
modules, the forward pass, each member's loss and its evaluation.

The first layer is stacked by seed block (``seed_blocks``); the later layers are stacked
per member, weight (K, in, out) and bias (K, 1, out), one baddbmm each.

Activations: members are ordered so that each activation's members are contiguous
(``ActivationGroup``). A group whose modules hold no parameters applies one module to its
whole slice, seen as (members·B, features) rows, the layout the sequential model gives it.
Modules with learnable parameters (PReLU, RaLU) are applied member by member, each with
its own parameters. Assumed: an activation module without parameters is deterministic
and acts on each row independently (every built-in is); a stochastic one would draw
different random numbers than in the sequential engine.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from actbench.tasks.activation_params import activation_parameters
from actbench.tasks.costs import timed
from actbench.tasks.mlp.model import Optimizer, adamw, build_mlp
from actbench.tasks.mlp.population import Member
from actbench.tasks.mlp.population.seed_blocks import (
    block_order,
    first_layer,
    first_layer_from_members,
    first_layer_shared_input,
    first_layer_to_members,
    input_seeds,
    member_input_rows,
)


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
        ordered = block_order(members)[0]
        models = [build_mlp(sizes, m.activation, m.seed, init).to(device) for m in ordered]
        linear = [[m.get_submodule(f"fc{i}") for m in models] for i in range(1, self.layers + 1)]
        # Member-major (K, in, out) and (K, 1, out): torch's Linear stores (out, in).
        weights = [torch.stack([fc.weight.detach().T for fc in layer]) for layer in linear]
        biases = [torch.stack([fc.bias.detach()[None] for fc in layer]) for layer in linear]
        act_modules = [[m.get_submodule(f"act{i}") for i in range(1, self.layers)] for m in models]
        self.set_members(ordered, act_modules, [*weights, *biases])

    def set_members(
        self, members: list[Member], act_modules: list[list[nn.Module]], tensors: list[torch.Tensor]
    ) -> None:
        """Make this the population of ``members``, already in population order, with their
        activation modules ([member][hidden layer]) and their parameters member-major, as
        ``to_members`` gives them (fresh, contiguous parameters are made from them)."""
        self.members, self.blocks = block_order(members)
        assert self.members == members, "members not in population order"
        self.group_seeds = input_seeds(self.blocks)
        self.member_group = torch.tensor(member_input_rows(self.blocks), device=tensors[0].device)  # (K,)
        self.act_modules = act_modules
        blocks, later = len(self.blocks), self.layers - 1
        params = [nn.Parameter(t.detach().contiguous()) for t in self.from_members(tensors)]
        self.first_weights = params[:blocks]  # (G, n·out, in) per block
        self.later_weights = params[blocks : blocks + later]  # (K, in, out), layers 2..L
        self.first_biases = params[blocks + later : 2 * blocks + later]  # (G, 1, n·out) per block
        self.later_biases = params[2 * blocks + later :]  # (K, 1, out), layers 2..L
        self.groups = self._groups()

    def to_members(self, tensors: list[torch.Tensor]) -> list[torch.Tensor]:
        """Tensors shaped like ``stacked_parameters()`` (the parameters, their gradients, AdamW's
        moments) -> member-major ones: every layer's weight (K, in, out), then every bias (K, 1, out)."""
        blocks, later = len(self.blocks), self.layers - 1
        w1, b1 = first_layer_to_members(self.blocks, tensors[:blocks], tensors[blocks + later : 2 * blocks + later])
        return [w1, *tensors[blocks : blocks + later], b1, *tensors[2 * blocks + later :]]

    def from_members(self, tensors: list[torch.Tensor]) -> list[torch.Tensor]:
        """The inverse of ``to_members``: member-major tensors (in ``members`` order) -> tensors
        shaped like ``stacked_parameters()``."""
        first_w, first_b = first_layer_from_members(self.blocks, tensors[0], tensors[self.layers])
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
        h = first_layer(x, self.blocks, self.first_weights, self.first_biases)  # (K, B, out)
        for i, (w, b) in enumerate(zip(self.later_weights, self.later_biases)):
            h = torch.baddbmm(b, self.activate(h, i), w)
        return h

    @torch.no_grad()
    def forward_shared_input(self, x: torch.Tensor, seconds: list[float] | None = None) -> torch.Tensor:
        """x (M, in), the same rows for every member -> logits (K, M, classes); ``seconds``: see ``activate``."""
        h = first_layer_shared_input(x, self.blocks, self.first_weights, self.first_biases)  # (K, M, out)
        for i, (w, b) in enumerate(zip(self.later_weights, self.later_biases)):
            h = torch.baddbmm(b, self.activate(h, i, seconds), w)
        return h

    def train_mode(self, mode: bool) -> None:
        for modules in self.act_modules:
            for m in modules:
                m.train(mode)


def make_population_optimizer(pop: Population, hp: dict[str, Any]) -> Optimizer:
    """AdamW as ``model.make_optimizer``, over the stacked weights and every member's activation parameters."""
    return adamw(pop.stacked_parameters(), pop.activation_parameters(), hp)


def member_losses(pop: Population, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """x (seeds, b, in) and y (seeds, b), each seed's batch in ``group_seeds`` order -> (K,):
    each member's own batch-mean cross-entropy."""
    logits = pop.forward(x)  # (K, b, classes)
    k, b, classes = logits.shape
    target = y.index_select(0, pop.member_group).reshape(k * b)  # each member's seed's labels
    return F.cross_entropy(logits.reshape(k * b, classes), target, reduction="none").view(k, b).mean(dim=1)


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
