"""The MLP population measures what each activation adds to its time: forward and backward at
the step's shapes, evaluation in place, charged to that activation's members; and measuring
leaves training as it was (modules' state, gradients, random generators)."""

from __future__ import annotations

import time
from typing import Any

import torch
from torch import nn

from actbench.api import TrainContext
from actbench.run.checkpoints import FileCheckpoint
from actbench.tasks import get_task
from actbench.tasks.costs import OWN_SECONDS, SET_ASIDE_SECONDS
from actbench.tasks.mlp.model import DeviceData
from actbench.tasks.mlp.population import Member
from actbench.tasks.mlp.population.activation_costs import charge, measure_step_seconds
from actbench.tasks.mlp.population.model import Population, evaluate_population
from actbench.tasks.mlp.population.train import train_population

CPU = TrainContext(device=torch.device("cpu"), data_dir=None)
SIZES = [784, 32, 32, 10]  # two hidden layers: two activation calls per member and pass
SLEEP_MS = 20  # far above what ReLU takes at these shapes, even on a loaded machine


class _SleepsInBackward(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, ms: float) -> torch.Tensor:
        ctx.ms = ms
        return x.clone()

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        time.sleep(ctx.ms / 1000)
        return grad, None


class SlowBackward(nn.Module):
    """ReLU whose backward sleeps ``ms`` milliseconds: only a measurement that times the
    backward pass sees it."""

    def __init__(self, ms: float = SLEEP_MS):
        super().__init__()
        self.ms = ms

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _SleepsInBackward.apply(torch.relu(x), self.ms)


class CountsAndDraws(nn.Module):
    """ReLU that counts its calls and draws from the global random generator: a plug-in with
    state and randomness, which measuring must leave as it was."""

    def __init__(self):
        super().__init__()
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        torch.rand(1)
        return torch.relu(x)


def test_measuring_leaves_modules_gradients_and_generators_as_they_were():
    members = [Member(act, seed) for seed in (0, 1) for act in ("test_measured_costs:CountsAndDraws", "ralu")]
    pop = Population(SIZES, members, CPU.device)
    rng = torch.get_rng_state()
    seconds = measure_step_seconds(pop, batch=16)
    assert len(seconds) == len(pop.groups) == 2 and all(s > 0 for s in seconds)
    assert torch.equal(torch.get_rng_state(), rng)
    counters = [m for modules in pop.act_modules for m in modules if hasattr(m, "calls")]
    assert len(counters) == 2 * 2 and all(m.calls == 0 for m in counters)  # 2 members x 2 layers, never called
    assert pop.activation_parameters() and all(p.grad is None for p in pop.activation_parameters())


def test_the_backward_pass_is_measured():
    members = [Member(act, seed) for seed in (0, 1) for act in ("relu", "test_measured_costs:SlowBackward")]
    pop = Population(SIZES, members, CPU.device)
    relu, slow = measure_step_seconds(pop, batch=16)
    assert slow >= 2 * SLEEP_MS / 1000 > relu  # one sleeping backward per hidden layer


def test_evaluation_times_each_group_in_place():
    pop = Population(SIZES, [Member(act, 0) for act in ("relu", f"fakes:Slow(ms={SLEEP_MS})")], CPU.device)
    x, y = torch.randn(16, 784), torch.randint(0, 10, (16,))
    seconds = [0.0, 0.0]
    evaluate_population(pop, x, y, 8, seconds)  # 2 chunks of 8 rows, 2 hidden layers: 4 sleeps
    relu, slow = seconds
    assert slow >= 4 * SLEEP_MS / 1000 > relu > 0


def test_an_activation_in_several_groups_is_charged_over_all_its_members():
    # Seeds with 2, 1 and 2 members: relu's three members fall in two groups (see block_order).
    members = [Member("relu", 0), Member("gelu", 0), Member("relu", 1), Member("relu", 2), Member("gelu", 2)]
    pop = Population(SIZES, members, CPU.device)
    groups = [pop.members[g.start].activation for g in pop.groups]
    assert groups.count("relu") == 2
    own = {"relu": 0.0, "gelu": 0.0}
    spent = [1.0 if act == "relu" else 10.0 for act in groups]
    assert charge(pop, spent, own) == sum(spent)
    assert own == {"relu": 2 / 3, "gelu": 10.0 * groups.count("gelu") / 2}


def test_a_resumed_population_counts_on_from_the_seconds_it_saved(tmp_path):
    full = get_task("mnist-mini").data(CPU, "test")
    data = DeviceData(full.train_x[:256], full.train_y[:256], full.test_x[:100], full.test_y[:100])
    hp = {**get_task("mnist-mini").hyperparams, "epochs": 2, "hidden": SIZES[1:-1]}
    members = [Member(act, 0) for act in ("relu", f"fakes:Slow(ms={SLEEP_MS})")]
    checkpoint = FileCheckpoint(tmp_path / "chunk.pt")

    def train():
        return train_population(data, SIZES, members, hp, CPU, 100, checkpoint)

    first = train()
    for _ in members:  # epoch 1 of both members, then stopped (its checkpoint is written)
        next(first)
    first.close()
    saved = checkpoint.load()["costs"]
    # 4 steps of 64 and one evaluation, 2 hidden layers: the sleeps alone, all its own.
    assert saved["own"][members[1].activation] >= 10 * SLEEP_MS / 1000
    assert saved["set_aside"] >= sum(saved["own"].values())  # the measuring's own time too

    resumed = {(m.activation, metrics.epoch): metrics.extra for m, metrics in train()}
    for member in members:
        assert resumed[member.activation, 1][OWN_SECONDS] == saved["own"][member.activation]  # yielded again
        assert resumed[member.activation, 2][OWN_SECONDS] > saved["own"][member.activation]  # counted on
    assert resumed[members[0].activation, 2][SET_ASIDE_SECONDS] > saved["set_aside"]
