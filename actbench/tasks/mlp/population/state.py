"""A population's state outside its forward pass: dropping members, and its checkpoints.

The checkpoint (actbench.api.Checkpoint), saved after every epoch (``population_state``):

- ``epoch``: the last one finished;
- ``members``: the members still in, [activation, seed] in training order;
- ``weights`` and ``biases``: the stacked parameters member-major, (K, in, out) and
  (K, 1, out) per layer, whatever the seed blocks;
- ``activations``: each member's activation modules' state dicts, [member][layer];
- ``optimizer``: AdamW's state dict, its stacked entries member-major too (the weights,
  then the biases), then the activation parameters' by member;
- ``data_order``: every seed's data-order generator (each draws once per epoch, dropped
  members' seeds too);
- ``costs``: the seconds measured so far (``own`` by activation, ``set_aside``);
- ``yielded``: every (member, metrics) yielded so far, in order.

Resumed (``restore_population``), the members still in are rebuilt (dropped members stay
dropped) and train on to the same bits. The saved members may be in any order (a
checkpoint written before the seed blocks): everything is matched by member. An
activation module's state outside its state dict (a plain Python attribute) is not
saved: a plug-in that keeps state must expose it through ``get_extra_state``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import torch

from actbench.api import EpochMetrics
from actbench.tasks.mlp.model import Optimizer
from actbench.tasks.mlp.population import Member
from actbench.tasks.mlp.population.model import Population, make_population_optimizer
from actbench.tasks.mlp.population.seed_blocks import block_order


def keep_members(pop: Population, indices: list[int], optimizer: Optimizer, hp: dict[str, Any]) -> Optimizer:
    """Drop every member of ``pop`` not in ``indices``; returns the optimizer for the rest, with
    each kept member's AdamW state carried over unchanged. The rest are blocked afresh
    (``block_order``), so their order may change: read it from ``pop.members``."""
    params = pop.stacked_parameters()
    old_index = {m: k for k, m in enumerate(pop.members)}
    kept = block_order([pop.members[i] for i in indices])[0]
    rows = torch.tensor([old_index[m] for m in kept], device=params[0].device)

    def select(tensors: list[torch.Tensor]) -> list[torch.Tensor]:  # the old layout -> kept members, member-major
        return [t.index_select(0, rows) for t in pop.to_members(tensors)]

    values = select([p.detach() for p in params])
    states = [optimizer.state[p] for p in params] if all(p in optimizer.state for p in params) else None
    moments = member_moments(states, select) if states else None
    act_states = {p: optimizer.state[p] for p in pop.activation_parameters() if p in optimizer.state}

    # The kept members' activation modules: their own Parameters live on unchanged.
    pop.set_members(kept, [pop.act_modules[old_index[m]] for m in kept], values)
    new = make_population_optimizer(pop, hp)
    if moments is not None:
        for param, state in zip(pop.stacked_parameters(), layout_moments(moments, pop.from_members), strict=True):
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
    activation modules as the sequential trial builds them), then given the saved state,
    matched to the population's order by member."""
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
