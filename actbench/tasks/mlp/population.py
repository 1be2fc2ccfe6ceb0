"""The population engine for the MLP tasks: every (activation, seed) member of a run at once.

On a CPU the MLP at batch 64 is a stream of tiny matrix products whose cost is mostly
per-op overhead. Here K members share stacked parameters, layer l's weight shaped
(K, in, out) and bias (K, 1, out), so one step is a few batched matmuls over activations
(K, B, features) instead of K times as many small ones.

Each member is the sequential trial with its seed (``model.train_trial``), not an
approximation of it:

- its initial weights and activation modules are taken from ``build_mlp`` itself;
- its batches come from the same ``epoch_order`` stream of its seed;
- its loss is its own batch mean; the population minimises the sum of the members'
  losses, whose gradient with respect to member k's parameters is member k's gradient;
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

Checkpoints (actbench.api.Checkpoint): the population saves itself as one after every
epoch: the members still in (in training order), their stacked weights and biases,
each one's activation modules' state dicts, AdamW's state, every seed's data-order
generator (each draws once per epoch, dropped members' seeds too) and every metric
yielded so far, in order. Resumed, it yields those again, rebuilds the population of the
members still in (dropped members stay dropped) and trains on, to the same bits.
An activation module's state outside its state dict (a plain Python attribute) is not
saved: a plug-in that keeps state must expose it through ``get_extra_state``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Callable, Iterator

import torch
import torch.nn.functional as F
from torch import nn

from actbench.seeding import generator
from actbench.api import Checkpoint, EpochMetrics, TrainContext
from actbench.tasks.activation_params import activation_parameters
from actbench.tasks.mlp.model import DeviceData, adamw, build_mlp, epoch_order
from actbench.tasks.mlp.recipe import LATER_HYPERPARAMS

FLOAT_BYTES = 4
ADAM_COPIES = 4  # parameter, gradient, exp_avg, exp_avg_sq
# Test rows per evaluation product, (K, EVAL_ROWS, width) per layer: memory only, the
# metrics do not depend on it.
EVAL_ROWS = 2000


@dataclass(frozen=True)
class Member:
    activation: str  # canonical spec
    seed: int


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


class Population:
    """K member MLPs with stacked parameters, and the members' own activation modules."""

    def __init__(self, sizes: list[int], members: list[Member], device: torch.device, init: str = "torch"):
        self.members = members
        models = [build_mlp(sizes, m.activation, m.seed, init).to(device) for m in members]
        self.layers = len(sizes) - 1
        # Weight (K, in, out): torch's Linear stores (out, in); transposed so that x @ W
        # is a plain batched matmul. Bias (K, 1, out) broadcasts over the batch.
        self.weights = [
            nn.Parameter(torch.stack([m.get_submodule(f"fc{i}").weight.detach().T for m in models]).contiguous())
            for i in range(1, self.layers + 1)
        ]
        self.biases = [
            nn.Parameter(torch.stack([m.get_submodule(f"fc{i}").bias.detach()[None] for m in models]).contiguous())
            for i in range(1, self.layers + 1)
        ]
        self.act_modules = [[m.get_submodule(f"act{i}") for i in range(1, self.layers)] for m in models]
        self.groups = self._groups()

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
        return [*self.weights, *self.biases]

    def activation_parameters(self) -> list[nn.Parameter]:
        return [p for modules in self.act_modules for m in modules for p in m.parameters()]

    def activate(self, h: torch.Tensor, layer: int) -> torch.Tensor:
        if len(self.groups) == 1:
            return self.groups[0].apply(h, layer)
        return torch.cat([g.apply(h[g.start : g.stop], layer) for g in self.groups])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (K, B, in) -> logits (K, B, classes)."""
        h = x
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            h = torch.baddbmm(b, h, w)
            if i < self.layers - 1:
                h = self.activate(h, i)
        return h

    @torch.no_grad()
    def forward_shared_input(self, x: torch.Tensor) -> torch.Tensor:
        """x (M, in), the same rows for every member -> logits (K, M, classes).

        The first layer is one (M, in) @ (in, K·out) product: no (K, M, in) copy of x.
        """
        k, fan_in, fan_out = self.weights[0].shape
        h = (x @ self.weights[0].permute(1, 0, 2).reshape(fan_in, k * fan_out)).view(len(x), k, fan_out)
        h = h.transpose(0, 1) + self.biases[0]  # (K, M, out)
        for i, (w, b) in enumerate(zip(self.weights[1:], self.biases[1:]), start=1):
            h = torch.baddbmm(b, self.activate(h, i - 1), w)
        return h

    def train_mode(self, mode: bool) -> None:
        for modules in self.act_modules:
            for m in modules:
                m.train(mode)

    def keep(self, indices: list[int], optimizer: torch.optim.Optimizer, hp: dict[str, Any]) -> torch.optim.AdamW:
        """Drop every member not in ``indices`` (kept in order); returns the optimizer for the rest,
        with each kept member's AdamW state carried over unchanged."""
        index = torch.tensor(indices, device=self.weights[0].device)
        old_state = optimizer.state
        carried: dict[nn.Parameter, dict[str, Any]] = {}

        def select(param: nn.Parameter) -> nn.Parameter:
            kept = nn.Parameter(param.detach().index_select(0, index))
            if param in old_state:
                carried[kept] = {
                    key: value.index_select(0, index) if value.dim() > 0 and value.shape == param.shape else value.clone()
                    for key, value in old_state[param].items()
                }
            return kept

        self.weights = [select(w) for w in self.weights]
        self.biases = [select(b) for b in self.biases]
        self.members = [self.members[i] for i in indices]
        self.act_modules = [self.act_modules[i] for i in indices]
        self.groups = self._groups()
        for modules in self.act_modules:  # the activations' own Parameters live on unchanged
            for param in (p for m in modules for p in m.parameters()):
                if param in old_state:
                    carried[param] = old_state[param]
        new = make_population_optimizer(self, hp)
        for param, state in carried.items():
            new.state[param] = state
        return new


def make_population_optimizer(pop: Population, hp: dict[str, Any]) -> torch.optim.AdamW:
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
def evaluate_population(pop: Population, x: torch.Tensor, y: torch.Tensor, rows: int) -> tuple[list[float], list[float]]:
    """Per member: (mean cross-entropy, accuracy in %) over the whole of (x, y), ``rows`` at a time."""
    pop.train_mode(False)
    k = len(pop.members)
    loss_sum = torch.zeros(k, device=x.device, dtype=torch.float64)
    correct = torch.zeros(k, device=x.device, dtype=torch.int64)
    for start in range(0, len(x), rows):
        logits = pop.forward_shared_input(x[start : start + rows])  # (K, m, classes)
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
    temporaries), plus the evaluation activations of ``eval_rows`` test rows.
    """
    params = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
    per_row = sizes[0] + 2 * sum(sizes[1:-1]) + 2 * sizes[-1]
    return FLOAT_BYTES * (ADAM_COPIES * params + 2 * hp["batch_size"] * per_row + eval_rows * sum(sizes[1:]))


def member_losses(pop: Population, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """x (K, b, in), y (K·b,) labels -> (K,): each member's own batch-mean cross-entropy."""
    logits = pop.forward(x)  # (K, b, classes)
    k, b, classes = logits.shape
    return F.cross_entropy(logits.reshape(k * b, classes), y, reduction="none").view(k, b).mean(dim=1)


def train_population_epoch(
    pop: Population,
    optimizer: torch.optim.Optimizer,
    x: torch.Tensor,
    y: torch.Tensor,
    order: torch.Tensor,
    batch: int,
    losses: Callable[[Population, torch.Tensor, torch.Tensor], torch.Tensor] = member_losses,
) -> torch.Tensor:
    """One pass for every member, member k over x[order[k]] (order: (K, n)); returns the (K,)
    summed per-example training losses, on the device. ``losses``: member_losses, or a
    compiled version of it."""
    loss_sum = torch.zeros(len(pop.members), device=x.device)
    for start in range(0, order.shape[1], batch):
        idx = order[:, start : start + batch]  # (K, b)
        k, b = idx.shape
        # index_select on the flat index: a third of the time of x[idx] on a CPU.
        rows = idx.reshape(k * b)
        member_loss = losses(pop, x.index_select(0, rows).view(k, b, -1), y.index_select(0, rows))
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
    it has one (see the module docstring), saved there after every epoch.
    """
    first_seen = {act: i for i, act in reversed(list(enumerate(m.activation for m in members)))}
    # Stable sort: each activation's members contiguous, in the order they were given.
    in_order = sorted(members, key=lambda m: first_seen[m.activation])
    order_gens = {seed: generator(seed, "data_order") for seed in sorted({m.seed for m in members})}
    yielded: list[tuple[Member, EpochMetrics]] = []
    saved = checkpoint.load() if checkpoint is not None else None
    if saved is None:
        pop = Population(sizes, in_order, ctx.device, hp.get("init", LATER_HYPERPARAMS["init"]))
        optimizer = make_population_optimizer(pop, hp)
        start_epoch = 1
    else:
        pop, optimizer = restore_population(saved, sizes, hp, ctx.device)
        for seed, gen in order_gens.items():
            gen.set_state(saved["data_order"][seed])
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
        order_k = torch.stack([orders[m.seed] for m in pop.members])  # (K, n)
        summed = train_population_epoch(pop, optimizer, data.train_x, data.train_y, order_k, batch, losses)
        train_loss = (summed / n).tolist()
        finite = [k for k, loss in enumerate(train_loss) if math.isfinite(loss)]
        for k, member in enumerate(pop.members):
            if k not in finite:  # diverged: its last record, then it leaves the population
                record = member, EpochMetrics(epoch, train_loss[k], math.nan, math.nan, member_activation_parameters(pop, k))
                yielded.append(record)
                yield record
        if not finite:
            return
        if len(finite) < len(pop.members):
            optimizer = pop.keep(finite, optimizer, hp)
            train_loss = [train_loss[k] for k in finite]
        test_loss, test_acc = evaluate_population(pop, data.test_x, data.test_y, eval_rows)
        records = [
            (member, EpochMetrics(epoch, train_loss[k], test_loss[k], test_acc[k], member_activation_parameters(pop, k)))
            for k, member in enumerate(pop.members)
        ]
        yielded += records
        if checkpoint is not None:  # this epoch's records included: a resumed population yields them again
            checkpoint.save(population_state(pop, optimizer, order_gens, epoch, yielded))
        yield from records


def population_state(
    pop: Population,
    optimizer: torch.optim.Optimizer,
    order_gens: dict[int, torch.Generator],
    epoch: int,
    yielded: list[tuple[Member, EpochMetrics]],
) -> dict[str, Any]:
    """Everything ``train_population`` needs to go on after ``epoch``: tensors and plain data."""
    return {
        "epoch": epoch,
        "members": [[m.activation, m.seed] for m in pop.members],  # still in, in training order
        "weights": [w.detach() for w in pop.weights],  # (K, in, out) each
        "biases": [b.detach() for b in pop.biases],  # (K, 1, out) each
        "activations": [[m.state_dict() for m in modules] for modules in pop.act_modules],  # [member][layer]
        "optimizer": optimizer.state_dict(),  # stacked parameters first, then activation parameters by member
        "data_order": {seed: gen.get_state() for seed, gen in order_gens.items()},
        "yielded": [[[m.activation, m.seed], asdict(metrics)] for m, metrics in yielded],
    }


def restore_population(
    saved: dict[str, Any], sizes: list[int], hp: dict[str, Any], device: torch.device
) -> tuple[Population, torch.optim.AdamW]:
    """The population and optimizer of ``population_state``: its members built afresh (their
    activation modules as the sequential trial builds them), then given the saved state."""
    pop = Population(sizes, [Member(*m) for m in saved["members"]], device)
    with torch.no_grad():
        for param, value in zip([*pop.weights, *pop.biases], [*saved["weights"], *saved["biases"]]):
            if param.shape != value.shape:
                raise ValueError(f"checkpoint tensor of shape {tuple(value.shape)} for a parameter of {tuple(param.shape)}")
            param.copy_(value)
    for modules, states in zip(pop.act_modules, saved["activations"], strict=True):
        for module, state in zip(modules, states, strict=True):
            module.load_state_dict(state)
    optimizer = make_population_optimizer(pop, hp)
    optimizer.load_state_dict(saved["optimizer"])
    return pop, optimizer
