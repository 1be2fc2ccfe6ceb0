"""The population engine is the sequential experiment, batched: same weights, same numbers."""

import math

import pytest
import torch

from actbench.activations import canonical_spec, list_activations
from actbench.api import Trial
from actbench.run.engines.population import plan_chunks, run_population
from actbench.run.engines.sequential import run_sequential
from actbench.seeding import generator
from actbench.api import TrainContext
from actbench.tasks import get_task
from actbench.tasks.mlp.model import build_mlp, epoch_order, make_optimizer, train_epoch
from actbench.tasks.mlp.population import (
    Member,
    Population,
    make_population_optimizer,
    member_activation_parameters,
    train_population_epoch,
)
from fakes import HPARAMS

SIZES = [784, 32, 32, 10]  # equal widths: prelu(num_parameters=32) fits both layers
HP = {**HPARAMS, "lr": 1e-2}  # a large step, so that one step visibly moves every parameter
CPU = TrainContext(device=torch.device("cpu"), data_dir=None)
MEMBERS = [Member(act, seed) for seed in (0, 1) for act in ("relu", "srelu(t=2.21)", "ralu(alpha=1.5, learnable=true)", "prelu(init=0.25, num_parameters=32)")]  # fmt: skip


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
        train_population_epoch(pop, optimizer, x, y, torch.stack([orders[m.seed] for m in members]), batch)
    return pop


def member_pairs(pop: Population, models, grads: bool = False):
    """(name, member tensor, sequential tensor) for every parameter of every member, or its gradient."""
    pick = (lambda p: p.grad) if grads else (lambda p: p.detach())
    for k, model in enumerate(models):
        for i in range(len(SIZES) - 1):
            fc = model.get_submodule(f"fc{i + 1}")
            yield f"{k}.fc{i + 1}.weight", pick(pop.weights[i])[k], pick(fc.weight).T
            yield f"{k}.fc{i + 1}.bias", pick(pop.biases[i])[k, 0], pick(fc.bias)
        ours = {f"act{i}.{n}": p for i, m in enumerate(pop.act_modules[k], 1) for n, p in m.named_parameters()}
        theirs = {n: p for n, p in model.named_parameters() if n.startswith("act")}
        assert ours.keys() == theirs.keys()
        for name in ours:
            yield f"{k}.{name}", pick(ours[name]), pick(theirs[name])


def test_initial_weights_are_the_sequential_ones_exactly():
    pop = Population(SIZES, MEMBERS, torch.device("cpu"))
    for name, ours, theirs in member_pairs(pop, [build_mlp(SIZES, m.activation, m.seed) for m in MEMBERS]):
        assert torch.equal(ours, theirs), name
    assert not torch.equal(pop.weights[0][0], pop.weights[0][4])  # seeds 0 and 1 differ


@pytest.mark.parametrize("steps", [1, 3])
def test_gradients_equal_the_sequential_ones(steps):
    # lr = 0: the steps leave the parameters alone and .grad holds the last step's gradient,
    # which also checks that each member saw its own seed's batches in the right order.
    x, y = toy_data(48)
    frozen = {**HP, "lr": 0.0, "weight_decay": 0.0}
    pop = population_after(MEMBERS, x, y, batch=48 // steps, hp=frozen)
    models = [sequential_after(m, x, y, batch=48 // steps, hp=frozen) for m in MEMBERS]
    assert all(p.grad.abs().max() > 0 for p in pop.stacked_parameters())
    for name, ours, theirs in member_pairs(pop, models, grads=True):
        torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-8, msg=name)


def test_after_an_adamw_step_every_member_equals_its_sequential_trial():
    x, y = toy_data(48)
    pop = population_after(MEMBERS, x, y, batch=48)
    models = [sequential_after(m, x, y, batch=48) for m in MEMBERS]
    moved = pop.weights[0][0] - build_mlp(SIZES, "relu", 0).fc1.weight.detach().T
    assert moved.abs().min() > 0  # the step changed every weight, so equality says something
    # Adam's first step is lr·g/(|g| + ε): where |g| is near ε = 1e-8, the rounding noise
    # of the batched products (gradients agree to 1e-5, see above) moves a weight by a
    # fraction of lr. So: nearly every element to 1e-5 relative, all within lr. (Later steps
    # spread such a weight's difference to its unit's other weights: the training-level
    # agreement is tested on accuracies below.)
    pairs = list(member_pairs(pop, models))
    close = torch.cat([torch.isclose(a, b, rtol=1e-5, atol=1e-7).flatten() for _, a, b in pairs])
    assert close.float().mean() > 0.9999, f"{(~close).sum()} of {close.numel()} elements differ"
    for name, ours, theirs in pairs:
        torch.testing.assert_close(ours, theirs, rtol=0, atol=HP["lr"], msg=name)
    alphas = [member_activation_parameters(pop, k)["act1.alpha"][0] for k in (2, 6)]
    assert all(a != 1.5 for a in alphas)  # RaLU's alpha was trained, member by member


def test_a_member_does_not_depend_on_who_else_is_in_the_population():
    x, y = toy_data(48)
    alone = population_after(MEMBERS[2:3], x, y, batch=16, epochs=2)
    crowd = population_after(MEMBERS, x, y, batch=16, epochs=2)
    for i in range(len(SIZES) - 1):
        torch.testing.assert_close(crowd.weights[i][2], alone.weights[i][0], rtol=1e-6, atol=1e-7)


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
    nan_act = "fakes:NanAfter(calls=100)"  # NaN from its 101st call: during epoch 2
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
