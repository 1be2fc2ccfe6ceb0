"""What each activation adds to a population's time (actbench.tasks.costs), measured.

A member is charged its activation's own seconds plus an equal share of the rest. Once per
epoch, each activation group's forward and backward are timed at the training step's own
shapes, (members, batch, width) per hidden layer, on copies of its modules
(``measure_step_seconds``), and its forward in evaluation is timed in place
(``Population.activate``). The training step itself is not touched: no hook, no wrapper,
nothing that could change its graph, its numbers or a compiled step; the copies keep a
module's own state (a call counter) as it was, and the random number generators are
restored after. The measuring (4 passes of each activation an epoch, against the epoch's
one per step) is left out of every member's seconds.

Caveats: timed apart from the step, an activation is measured without the cache state the
step leaves it (a cheap activation's few microseconds are the least exact), with random
normal inputs rather than the step's, in wall seconds on the machine as loaded at the
time, and uncompiled under ``--compile``.
"""

from __future__ import annotations

import statistics
from collections import Counter

import torch

from actbench.tasks.costs import timed
from actbench.tasks.mlp.population.model import Population

# Timed forward and backward passes of each activation group per epoch, after one warm-up
# pass; the median counts (robust to one pass the scheduler interrupted).
COST_REPEATS = 3


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
