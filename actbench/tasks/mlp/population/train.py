"""Training a population: the settings, the memory one member needs, the epoch, the loop.

The entry point is ``train_population``, what ``actbench.tasks.mlp.MLPPopulation`` calls.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import torch

from actbench.api import Checkpoint, EpochMetrics, TrainContext
from actbench.seeding import generator
from actbench.tasks.costs import OWN_SECONDS, SET_ASIDE_SECONDS, timed
from actbench.tasks.mlp.model import DeviceData, Optimizer, epoch_order
from actbench.tasks.mlp.population import Member
from actbench.tasks.mlp.population.activation_costs import charge, measure_step_seconds
from actbench.tasks.mlp.population.model import (
    Population,
    evaluate_population,
    make_population_optimizer,
    member_activation_parameters,
    member_losses,
)
from actbench.tasks.mlp.population.state import keep_members, population_state, restore_population

FLOAT_BYTES = 4
ADAM_COPIES = 4  # parameter, gradient, exp_avg, exp_avg_sq
# Test rows per evaluation product, (K, EVAL_ROWS, width) per layer: memory only, the
# metrics do not depend on it.
EVAL_ROWS = 2000


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
    it has one (``state.restore_population``), saved there after every epoch. Every metrics'
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
        pop = Population(sizes, in_order, ctx.device, hp["init"])
        optimizer = make_population_optimizer(pop, hp)
        start_epoch = 1
    else:  # the yielded records again, then on from the next epoch
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
            optimizer = keep_members(pop, finite, optimizer, hp)  # the rest, blocked afresh: pop.members again
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
