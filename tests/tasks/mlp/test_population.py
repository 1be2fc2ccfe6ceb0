"""The population engine is the sequential experiment, batched: same weights, same numbers."""

import math

import pytest
import torch
from fakes import HPARAMS

from actbench.activations import canonical_spec, list_activations
from actbench.api import TrainContext, Trial
from actbench.run.engines.population import plan_chunks, run_population
from actbench.run.engines.sequential import run_sequential
from actbench.seeding import generator
from actbench.tasks import get_task
from actbench.tasks.mlp.model import build_mlp, epoch_order, make_optimizer, train_epoch
from actbench.tasks.mlp.population import Member
from actbench.tasks.mlp.population.model import Population, make_population_optimizer, member_activation_parameters
from actbench.tasks.mlp.population.seed_blocks import (
    FirstLayer,
    SeedBlock,
    block_order,
    first_layer,
    first_layer_shared_input,
)
from actbench.tasks.mlp.population.state import keep_members
from actbench.tasks.mlp.population.train import train_population_epoch

SIZES = [784, 32, 32, 10]  # equal widths: prelu(num_parameters=32) fits both layers
HP = {**HPARAMS, "lr": 1e-2}  # a large step, so that one step visibly moves every parameter
CPU = TrainContext(device=torch.device("cpu"), data_dir=None)
MEMBERS = [
    Member(act, seed)
    for seed in (0, 1)
    for act in ("relu", "srelu(t=2.21)", "ralu(alpha=1.5, learnable=true)", "prelu(init=0.25, num_parameters=32)")
]


def toy_data(rows: int = 48):
    gen = torch.Generator().manual_seed(123)
    return torch.randn(rows, 784, generator=gen), torch.randint(0, 10, (rows,), generator=gen)


def sequential_after(member: Member, x, y, batch: int, epochs: int = 1, hp=HP):
    model = build_mlp(SIZES, member.activation, member.seed)
    optimizer = make_optimizer(model, hp)
    order_gen = generator(member.seed, "data_order")
    for _ in range(epochs):
        train_epoch(model, optimizer, x, y, epoch_order(order_gen, len(x)), batch)
    return model


def population_after(members: list[Member], x, y, batch: int, epochs: int = 1, hp=HP):
    pop = Population(SIZES, members, torch.device("cpu"))
    optimizer = make_population_optimizer(pop, hp)
    gens = {m.seed: generator(m.seed, "data_order") for m in members}
    for _ in range(epochs):
        orders = {seed: epoch_order(gen, len(x)) for seed, gen in gens.items()}
        train_population_epoch(pop, optimizer, x, y, orders, batch)
    return pop


def member_pairs(pop: Population, members: list[Member], models, grads: bool = False):
    """(name, member tensor, sequential tensor) for every parameter of every member, or its gradient."""
    for member, model in zip(members, models, strict=True):
        ours = pop.member_tensors(pop.members.index(member), grad=grads)
        theirs = {n: p.grad if grads else p.detach() for n, p in model.named_parameters()}
        assert ours.keys() == theirs.keys()
        for name in ours:
            yield f"{member}.{name}", ours[name], theirs[name]


def weight(pop: Population, member: Member, layer: int = 1) -> torch.Tensor:
    return pop.member_tensors(pop.members.index(member))[f"fc{layer}.weight"]  # (out, in), as nn.Linear


def test_initial_weights_are_the_sequential_ones_exactly():
    pop = Population(SIZES, MEMBERS, torch.device("cpu"))
    for name, ours, theirs in member_pairs(pop, MEMBERS, [build_mlp(SIZES, m.activation, m.seed) for m in MEMBERS]):
        assert torch.equal(ours, theirs), name
    assert not torch.equal(weight(pop, MEMBERS[0]), weight(pop, MEMBERS[4]))  # seeds 0 and 1 differ


# Seeds with 3, 1 and 2 members: three seed blocks, one of them a single member.
UNEVEN = [Member("relu", s) for s in (0, 1, 2)] + [
    Member("gelu", 0),
    Member("srelu(t=2.21)", 2),
    Member("ralu(alpha=1.5, learnable=true)", 0),
]


def test_members_are_ordered_by_seed_block_and_a_grid_keeps_its_order():
    grid = [Member(act, seed) for act in ("relu", "gelu", "silu") for seed in (3, 1, 2)]
    assert block_order(grid) == (grid, [SeedBlock(0, (3, 1, 2), 3)])
    ordered, blocks = block_order(UNEVEN)
    assert [(b.seeds, b.size) for b in blocks] == [((0,), 3), ((1,), 1), ((2,), 2)]
    assert ordered == [UNEVEN[i] for i in (0, 3, 5, 1, 2, 4)]  # seed 0's three, seed 1's, seed 2's two
    assert block_order(ordered)[0] == ordered  # idempotent: a checkpoint's members rebuild the same blocks
    assert sorted(map(str, ordered)) == sorted(map(str, UNEVEN))


def test_the_member_major_layout_round_trips():
    pop = Population(SIZES, UNEVEN, torch.device("cpu"))
    params = pop.stacked_parameters()
    assert len(pop.first_weights) == 3 and pop.first_weights[0].shape == (1, 3 * 32, 784)
    members = pop.to_members(params)
    assert [tuple(t.shape) for t in members] == [
        (6, 784, 32),
        (6, 32, 32),
        (6, 32, 10),
        (6, 1, 32),
        (6, 1, 32),
        (6, 1, 10),
    ]
    assert all(torch.equal(a, b) for a, b in zip(pop.from_members(members), params, strict=True))


def test_each_members_first_layer_is_its_own_linear_layer_on_its_seeds_rows():
    pop = Population(SIZES, UNEVEN, torch.device("cpu"))
    assert [pop.group_seeds[row] for row in pop.member_group.tolist()] == [m.seed for m in pop.members]
    x = torch.randn(len(pop.group_seeds), 5, 784)  # (seeds, B, in): each seed's batch
    trained = first_layer(x, pop.blocks, pop.first_weights, pop.first_biases)  # (K, 5, 32)
    evaluated = first_layer_shared_input(x[0], pop.blocks, pop.first_weights, pop.first_biases)  # (K, 5, 32)
    for k, row in enumerate(pop.member_group.tolist()):
        own = pop.member_tensors(k)
        weight, bias = own["fc1.weight"], own["fc1.bias"]  # (32, 784), (32,)
        torch.testing.assert_close(trained[k], x[row] @ weight.T + bias)
        torch.testing.assert_close(evaluated[k], x[0] @ weight.T + bias)


def test_the_first_layers_backward_is_the_gradient():
    x = torch.randn(3, 5, 7, dtype=torch.float64, requires_grad=True)  # 3 seeds, batch 5, 7 inputs
    weight = torch.randn(3, 2 * 4, 7, dtype=torch.float64, requires_grad=True)  # 2 members of 4 outputs each
    bias = torch.randn(3, 1, 2 * 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda *t: FirstLayer.apply(*t, 2), (x, weight, bias))
    out = FirstLayer.apply(x, weight, bias, 2)  # (2·3, 5, 4): member j of seed g at j·3 + g
    torch.testing.assert_close(out[1 * 3 + 2], x[2] @ weight[2, 4:].T + bias[2, 0, 4:])


@pytest.mark.parametrize("steps", [1, 3])
@pytest.mark.parametrize("members", [MEMBERS, UNEVEN], ids=["grid", "uneven"])
def test_gradients_equal_the_sequential_ones(steps, members):
    # lr = 0: the steps leave the parameters alone and .grad holds the last step's gradient,
    # which also checks that each member saw its own seed's batches in the right order.
    x, y = toy_data(48)
    frozen = {**HP, "lr": 0.0, "weight_decay": 0.0}
    pop = population_after(members, x, y, batch=48 // steps, hp=frozen)
    models = [sequential_after(m, x, y, batch=48 // steps, hp=frozen) for m in members]
    assert all(p.grad.abs().max() > 0 for p in pop.stacked_parameters())
    for name, ours, theirs in member_pairs(pop, members, models, grads=True):
        torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-8, msg=name)


def test_after_an_adamw_step_every_member_equals_its_sequential_trial():
    x, y = toy_data(48)
    pop = population_after(MEMBERS, x, y, batch=48)
    models = [sequential_after(m, x, y, batch=48) for m in MEMBERS]
    moved = weight(pop, MEMBERS[0]) - build_mlp(SIZES, "relu", 0).fc1.weight.detach()
    assert moved.abs().min() > 0  # the step changed every weight, so equality says something
    # Adam's first step is lr·g/(|g| + ε): where |g| is near ε = 1e-8, the rounding noise
    # of the batched products (gradients agree to 1e-5, see above) moves a weight by a
    # fraction of lr. So: nearly every element to 1e-5 relative, all within lr. (Later steps
    # spread such a weight's difference to its unit's other weights: the training-level
    # agreement is tested on accuracies below.)
    pairs = list(member_pairs(pop, MEMBERS, models))
    close = torch.cat([torch.isclose(a, b, rtol=1e-5, atol=1e-7).flatten() for _, a, b in pairs])
    assert close.float().mean() > 0.9999, f"{(~close).sum()} of {close.numel()} elements differ"
    for name, ours, theirs in pairs:
        torch.testing.assert_close(ours, theirs, rtol=0, atol=HP["lr"], msg=name)
    alphas = [member_activation_parameters(pop, pop.members.index(MEMBERS[k]))["act1.alpha"][0] for k in (2, 6)]
    assert all(a != 1.5 for a in alphas)  # RaLU's alpha was trained, member by member


def test_a_member_does_not_depend_on_who_else_is_in_the_population():
    x, y = toy_data(48)
    alone = population_after(MEMBERS[2:3], x, y, batch=16, epochs=2)
    crowd = population_after(MEMBERS, x, y, batch=16, epochs=2)
    ours, theirs = crowd.member_tensors(crowd.members.index(MEMBERS[2])), alone.member_tensors(0)
    for name in ours:
        torch.testing.assert_close(ours[name], theirs[name], rtol=1e-6, atol=1e-7, msg=name)


def moments(pop: Population, optimizer, member: Member) -> dict[str, torch.Tensor]:
    """A member's AdamW moments per stacked tensor, member-major ("exp_avg.0" is its W1's)."""
    k, params = pop.members.index(member), pop.stacked_parameters()
    return {
        f"{key}.{i}": t[k]
        for key in ("exp_avg", "exp_avg_sq")
        for i, t in enumerate(pop.to_members([optimizer.state[p][key] for p in params]))
    }


def test_dropping_members_reblocks_the_rest_with_their_state_unchanged():
    x, y = toy_data(48)
    pop = population_after(MEMBERS, x, y, batch=16)
    optimizer = make_population_optimizer(pop, HP)  # a fresh one, stepped once to have state
    train_population_epoch(pop, optimizer, x, y, {0: torch.arange(48), 1: torch.arange(48)}, 48)
    before = {m: (pop.member_tensors(k), moments(pop, optimizer, m)) for k, m in enumerate(pop.members)}
    dropped = Member("relu", 0)
    optimizer = keep_members(pop, [k for k, m in enumerate(pop.members) if m != dropped], optimizer, HP)
    assert [(b.seeds, b.size) for b in pop.blocks] == [((1,), 4), ((0,), 3)]  # seed 0 lost a member
    assert sorted(map(str, pop.members)) == sorted(str(m) for m in MEMBERS if m != dropped)
    for member in pop.members:
        tensors, state = before[member]
        after = pop.member_tensors(pop.members.index(member))
        assert all(torch.equal(after[name], tensors[name]) for name in tensors), member
        assert all(torch.equal(v, state[key]) for key, v in moments(pop, optimizer, member).items()), member
    train_population_epoch(pop, optimizer, x, y, {0: torch.arange(48), 1: torch.arange(48)}, 16)  # trains on


def trials(acts: list[str], seeds: list[int], epochs: int = 2, task: str = "mnist-mini") -> list[Trial]:
    hp = get_task(task).resolve_hparams({"epochs": epochs})
    return [Trial(task, canonical_spec(act), seed, hp) for seed in seeds for act in acts]


def by_key(results):
    return {(r.trial.activation, r.trial.seed): r for r in results}


def test_short_training_matches_the_sequential_engine_for_every_builtin():
    # Every registered activation, as a population of 16 x 2 seeds against 32 sequential trials.
    acts = [info.name for info in list_activations()]
    plan = trials(acts, [0, 1], epochs=1)
    sequential = by_key(run_sequential(plan, CPU))
    population = by_key(run_population(plan, CPU))
    assert population.keys() == sequential.keys()
    for key, seq in sequential.items():
        pop = population[key]
        assert pop.engine == "population" and seq.engine == "sequential"
        assert pop.status == seq.status == "ok"
        (a,), (b,) = pop.epochs, seq.epochs
        assert a.test_acc == pytest.approx(b.test_acc, abs=0.3), key  # percent
        assert a.train_loss == pytest.approx(b.train_loss, rel=1e-3), key
        assert a.test_loss == pytest.approx(b.test_loss, rel=1e-3), key
        assert a.activation_params.keys() == b.activation_params.keys()


def test_a_diverging_member_is_dropped_without_disturbing_the_others():
    nan_act = canonical_spec("fakes:NanAfter(calls=100)")  # NaN from its 101st call: during epoch 2
    mixed = by_key(run_population(trials(["relu", nan_act, "ralu"], [0, 1], epochs=3), CPU))
    clean = by_key(run_population(trials(["relu", "ralu"], [0, 1], epochs=3), CPU))
    reference = by_key(run_sequential(trials([nan_act], [0], epochs=3), CPU))
    for seed in (0, 1):
        diverged = mixed[(nan_act, seed)]
        assert diverged.status == "diverged" and diverged.diverged_epoch == 2
        assert len(diverged.epochs) == 2 and math.isnan(diverged.epochs[-1].test_acc)
        for act in ("relu", "ralu(alpha=1.0, learnable=true)"):
            ours, theirs = mixed[(act, seed)], clean[(act, seed)]
            assert ours.status == "ok" and len(ours.epochs) == 3
            for a, b in zip(ours.epochs, theirs.epochs):
                assert a.test_acc == pytest.approx(b.test_acc, abs=0.11)  # 1 of 1000 test images
                assert a.train_loss == pytest.approx(b.train_loss, rel=1e-4)
                assert a.activation_params.keys() == b.activation_params.keys()
                for name, values in a.activation_params.items():
                    assert values == pytest.approx(b.activation_params[name], rel=1e-4)
    assert reference[(nan_act, 0)].diverged_epoch == 2  # the sequential engine agrees


def test_chunks_fit_the_budget_and_split_evenly():
    plan = trials(["relu", "gelu", "silu", "srelu"], list(range(10)))
    per_member = get_task("mnist-mini").population.member_bytes(plan[0].hparams)
    chunks = plan_chunks(plan, memory_budget=14 * per_member)
    assert [len(c) for c in chunks] == [14, 13, 13]
    assert [t for c in chunks for t in c] == plan  # contiguous, seed-major, nothing lost
    assert plan_chunks(plan, memory_budget=per_member // 2) == [[t] for t in plan]  # at least 1 each
    mixed = plan + trials(["relu"], [0], epochs=3)  # other hyperparameters: never in one population
    assert [len(c) for c in plan_chunks(mixed, memory_budget=100 * per_member)] == [40, 1]


def test_sixteen_activations_by_ten_seeds_fit_a_24_gib_machine_in_one_population():
    plan = trials([info.name for info in list_activations()], list(range(10)), epochs=20, task="mnist")
    budget = 24 * 2**30 // 4  # the default budget on a 24 GiB machine
    per_member = get_task("mnist").population.member_bytes(plan[0].hparams)
    assert len(plan_chunks(plan, budget)) == 1
    assert len(plan) * per_member < 2**30  # under 1 GiB for all 160 members


def test_chunked_populations_give_the_same_results():
    plan = trials(["relu", "ralu"], [0, 1, 2], epochs=1)
    per_member = get_task("mnist-mini").population.member_bytes(plan[0].hparams)
    whole = by_key(run_population(plan, CPU))
    chunked = by_key(run_population(plan, CPU, memory_budget=2 * per_member))
    for key, result in whole.items():
        assert chunked[key].epochs[0].test_acc == pytest.approx(result.epochs[0].test_acc, abs=0.11)
        assert chunked[key].epochs[0].train_loss == pytest.approx(result.epochs[0].train_loss, rel=1e-5)
