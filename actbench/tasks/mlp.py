"""MLP 784-128-64-10 on MNIST-style images: the `mnist`, `fashion-mnist` and `mnist-mini` tasks.

The protocol of the published activation comparisons on MNIST: the activation after the
first and second hidden layers, AdamW (lr 1e-3, weight decay 1e-4), batch 64,
cross-entropy, 20 epochs, test metrics after every epoch. Measured results and timings
are in the README (section "Speed") with the command that reproduces them.

This module is the sequential reference path: one model, one trial at a time. Any faster
engine must reproduce it: the same initial weights (``init_linear_``), the same batches
(``epoch_order``), the same optimiser.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator

import torch
import torch.nn.functional as F
from torch import nn

from actbench.activations import get_activation
from actbench.data import NUM_CLASSES, load_dataset
from actbench.seeding import generator, stream_seed
from actbench.tasks.base import EpochMetrics, TrainContext, activation_parameters, is_activation_param, resolve_hparams

HYPERPARAMS: dict[str, Any] = {
    "epochs": 20,  # passes over the training set
    "batch_size": 64,  # examples per step; the last partial batch of an epoch is kept
    "lr": 1e-3,  # AdamW learning rate
    "weight_decay": 1e-4,  # AdamW decoupled weight decay; not applied to activation parameters
    "hidden": [128, 64],  # hidden layer widths; the activation follows each hidden layer
}

CHECKS = {
    "epochs": (lambda v: v >= 1, ">= 1"),
    "batch_size": (lambda v: v >= 1, ">= 1"),
    "lr": (lambda v: v > 0 and math.isfinite(v), "a positive number"),
    "weight_decay": (lambda v: v >= 0 and math.isfinite(v), ">= 0"),
    "hidden": (lambda v: all(w >= 1 for w in v), "a list of positive widths"),
}

EVAL_BATCH = 10_000  # examples per evaluation forward pass: memory only, results do not depend on it


@dataclass(frozen=True)
class Normalisation:
    mean: float
    std: float


@dataclass(frozen=True)
class DeviceData:
    """A whole dataset on the training device, normalised and flattened."""

    train_x: torch.Tensor  # (N, 784) float32
    train_y: torch.Tensor  # (N,) int64
    test_x: torch.Tensor  # (M, 784) float32
    test_y: torch.Tensor  # (M,) int64


@lru_cache(maxsize=2)
def device_data(
    dataset: str, norm: Normalisation, data_dir: Path | None, verify: bool, device: torch.device
) -> DeviceData:
    """Load ``dataset`` once per process and keep it on ``device`` (MNIST: 188 MB as float32)."""
    raw = load_dataset(dataset, data_dir, verify=verify)

    def prepare(images: torch.Tensor) -> torch.Tensor:
        flat = images.reshape(len(images), -1).to(device=device, dtype=torch.float32)
        return (flat / 255.0 - norm.mean) / norm.std

    return DeviceData(
        train_x=prepare(raw.train_images),
        train_y=raw.train_labels.to(device),
        test_x=prepare(raw.test_images),
        test_y=raw.test_labels.to(device),
    )


def init_linear_(layer: nn.Linear, gen: torch.Generator) -> None:
    """PyTorch's default Linear init, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight then bias,
    drawn from ``gen`` so the weights depend on the seed alone (not on the activation)."""
    bound = 1.0 / math.sqrt(layer.in_features)
    with torch.no_grad():
        for tensor in (layer.weight, layer.bias):  # weight in torch's (out, in) layout
            tensor.copy_(torch.empty(tensor.shape).uniform_(-bound, bound, generator=gen))


def epoch_order(gen: torch.Generator, n: int) -> torch.Tensor:
    """The training-set order of one epoch: a fresh permutation drawn from the data-order stream."""
    return torch.randperm(n, generator=gen)


def build_mlp(sizes: list[int], activation: str, seed: int) -> nn.Sequential:
    """fc1, act1, fc2, act2, ..., fcL: one activation module per hidden layer, each with its own
    learnable parameters (one RaLU alpha per module, as in the reference module)."""
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    init_gen = generator(seed, "init")
    # Plug-in activations may draw random numbers at construction: give them their own stream
    # without disturbing the caller's global RNG.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(stream_seed(seed, "activation"))
        for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
            linear = nn.Linear(fan_in, fan_out)
            init_linear_(linear, init_gen)
            layers[f"fc{i}"] = linear
            if i < len(sizes) - 1:
                layers[f"act{i}"] = get_activation(activation)
    return nn.Sequential(layers)


def train_epoch(
    model: nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor, order: torch.Tensor, batch: int
) -> torch.Tensor:
    """One pass over x[order] in steps of ``batch`` (the last one partial); returns the summed
    per-example training loss, a 0-d tensor on the device."""
    # Summed on the device and read once per epoch: a per-step .item() would
    # synchronise a GPU 938 times an epoch.
    loss_sum = torch.zeros((), device=x.device)
    for start in range(0, len(order), batch):
        idx = order[start : start + batch]
        loss = F.cross_entropy(model(x[idx]), y[idx])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        loss_sum += loss.detach() * len(idx)
    return loss_sum


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """(mean cross-entropy, accuracy in %) over the whole of (x, y)."""
    model.eval()
    loss_sum = torch.zeros((), device=x.device, dtype=torch.float64)
    correct = torch.zeros((), device=x.device, dtype=torch.int64)
    for start in range(0, len(x), EVAL_BATCH):
        logits = model(x[start : start + EVAL_BATCH])  # (b, 10)
        target = y[start : start + EVAL_BATCH]
        loss_sum += F.cross_entropy(logits, target, reduction="sum").double()
        correct += (logits.argmax(dim=1) == target).sum()
    model.train()
    return loss_sum.item() / len(x), 100.0 * correct.item() / len(x)


def make_optimizer(model: nn.Module, hp: dict[str, Any]) -> torch.optim.AdamW:
    """AdamW; activation parameters (PReLU slopes, RaLU alpha) are kept out of weight decay,
    which would otherwise pull them towards 0 (a different activation) for no reason."""
    act_params = [p for n, p in model.named_parameters() if is_activation_param(n)]
    other = [p for n, p in model.named_parameters() if not is_activation_param(n)]
    groups: list[dict[str, Any]] = [{"params": other}]
    if act_params:
        groups.append({"params": act_params, "weight_decay": 0.0})
    return adamw(groups, hp)


def adamw(groups: list[dict[str, Any]], hp: dict[str, Any]) -> torch.optim.AdamW:
    """AdamW with the task's lr and weight decay (groups may override the decay).

    Fused (one pass over each tensor instead of about ten elementwise ops) on CPU and
    CUDA, where torch has the kernel: the update is the same, 20% of a population step
    on a CPU is saved.
    """
    device = groups[0]["params"][0].device
    return torch.optim.AdamW(
        groups, lr=hp["lr"], weight_decay=hp["weight_decay"], fused=device.type in ("cpu", "cuda")
    )


@dataclass(frozen=True)
class MLPTask:
    name: str
    dataset: str
    description: str
    norm: Normalisation
    in_features: int = 784
    classes: int = NUM_CLASSES

    @property
    def hyperparams(self) -> dict[str, Any]:
        return {key: list(v) if isinstance(v, list) else v for key, v in HYPERPARAMS.items()}

    def resolve_hparams(self, overrides: dict[str, Any]) -> dict[str, Any]:
        return resolve_hparams(self.name, self.hyperparams, overrides, CHECKS)

    def layer_sizes(self, hp: dict[str, Any]) -> list[int]:
        return [self.in_features, *hp["hidden"], self.classes]

    def data(self, ctx: TrainContext) -> DeviceData:
        return device_data(self.dataset, self.norm, ctx.data_dir, ctx.verify, ctx.device)

    def prepare(self, ctx: TrainContext) -> None:
        self.data(ctx)

    # The population engine (mlp_population imports this module, hence the local imports).

    def member_bytes(self, hp: dict[str, Any]) -> int:
        """Peak memory one member adds to a population, in bytes."""
        from actbench.tasks.mlp_population import EVAL_ROWS, member_bytes

        return member_bytes(self.layer_sizes(hp), hp, EVAL_ROWS)

    def train_population(
        self, members: list[tuple[str, int]], hp: dict[str, Any], ctx: TrainContext
    ) -> Iterator[tuple[tuple[str, int], EpochMetrics]]:
        """Train (activation, seed) members together; yields ((activation, seed), metrics) per member and epoch."""
        from actbench.tasks.mlp_population import EVAL_ROWS, Member, train_population

        for member, metrics in train_population(
            self.data(ctx), self.layer_sizes(hp), [Member(*m) for m in members], hp, ctx, EVAL_ROWS
        ):
            yield (member.activation, member.seed), metrics

    def train(
        self, activation: str, seed: int, hp: dict[str, Any], ctx: TrainContext
    ) -> Iterator[EpochMetrics]:
        data = self.data(ctx)
        model = build_mlp(self.layer_sizes(hp), activation, seed).to(ctx.device)
        optimizer = make_optimizer(model, hp)
        step_model = torch.compile(model) if ctx.compile else model
        order_gen = generator(seed, "data_order")
        n, batch = len(data.train_x), hp["batch_size"]
        for epoch in range(1, hp["epochs"] + 1):
            order = epoch_order(order_gen, n).to(ctx.device)
            train_loss = train_epoch(step_model, optimizer, data.train_x, data.train_y, order, batch).item() / n
            if math.isfinite(train_loss):
                test_loss, test_acc = evaluate(model, data.test_x, data.test_y)
            else:  # diverged: the engine stops here and stores the trial as diverged
                test_loss, test_acc = math.nan, math.nan
            yield EpochMetrics(epoch, train_loss, test_loss, test_acc, activation_parameters(model))


MNIST_NORM = Normalisation(mean=0.1307, std=0.3081)

TASKS = {
    task.name: task
    for task in (
        MLPTask("mnist", "mnist", "MLP 784-128-64-10 on MNIST (60k train / 10k test)", MNIST_NORM),
        MLPTask(
            "fashion-mnist",
            "fashion-mnist",
            "MLP 784-128-64-10 on Fashion-MNIST (60k train / 10k test)",
            Normalisation(mean=0.2860, std=0.3530),
        ),
        MLPTask(
            "mnist-mini",
            "mnist-mini",
            "MLP 784-128-64-10 on a 5k/1k class-balanced MNIST subset shipped with actbench "
            "(offline quickstart and smoke tests; not for conclusions)",
            MNIST_NORM,
        ),
    )
}
