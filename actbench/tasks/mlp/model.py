"""The MLP recipe's sequential reference path, one model, one trial at a time: the data on
the device, the model, the optimiser, the epoch, the loop. Any faster engine must reproduce
it: the same initial weights (``init_linear_``), the same batches (``epoch_order``), the
same optimiser (``make_optimizer``). The settings are in recipe.py, the task's declaration
in ``actbench.tasks.mlp``.

Checkpoints (actbench.api.Checkpoint): after every finished epoch a trial saves the
model's state dict (weights, activation parameters and buffers), AdamW's state, the
data-order generator and the metrics so far; resumed, it yields those metrics again and
trains on from the next epoch, to the same bits as an uninterrupted trial.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn

from actbench.activations import get_activation
from actbench.api import Checkpoint, EpochMetrics, TrainContext
from actbench.seeding import generator, stream_seed
from actbench.tasks.activation_params import activation_parameters, is_activation_param
from actbench.tasks.evaluation import evaluate
from actbench.tasks.mlp.data import load_dataset
from actbench.tasks.mlp.optim import Optimizer, fused_adamw
from actbench.tasks.validation import hold_out_validation

if TYPE_CHECKING:
    from actbench.tasks.mlp.recipe import Normalisation

EVAL_BATCH = 10_000  # examples per evaluation forward pass: memory only, results do not depend on it


@dataclass(frozen=True)
class DeviceData:
    """A whole dataset on the training device, normalised and flattened."""

    train_x: torch.Tensor  # (N, 784) float32
    train_y: torch.Tensor  # (N,) int64
    test_x: torch.Tensor  # (M, 784) float32
    test_y: torch.Tensor  # (M,) int64


@lru_cache(maxsize=2)
def device_data(
    dataset: str, norm: Normalisation, data_dir: Path | None, verify: bool, device: torch.device, split: str
) -> DeviceData:
    """Load ``dataset`` once per process and keep it on ``device`` (MNIST: 188 MB as float32).

    ``split``: "test", trained on the training files and measured on the test files; or
    "validation", trained on the training files less the held-out validation rows
    (``hold_out_validation``), measured on those, the test files never read."""
    raw = load_dataset(dataset, data_dir, verify=verify, test=split == "test")

    def prepare(images: torch.Tensor) -> torch.Tensor:
        # A copy of its own (copy=True), then normalised in place: the same bits as
        # (flat / 255.0 - mean) / std with one 188 MB float copy of MNIST instead of four.
        flat = images.reshape(len(images), -1).to(device=device, dtype=torch.float32, copy=True)
        return flat.div_(255.0).sub_(norm.mean).div_(norm.std)

    if split == "validation":
        return DeviceData(*hold_out_validation(prepare(raw.train_images), raw.train_labels.to(device)))
    return DeviceData(
        train_x=prepare(raw.train_images),
        train_y=raw.train_labels.to(device),
        test_x=prepare(raw.test_images),
        test_y=raw.test_labels.to(device),
    )


def init_linear_(layer: nn.Linear, gen: torch.Generator, scheme: str = "torch") -> None:
    """The ``init`` hyperparameter's scheme (recipe.LATER_HYPERPARAMS), drawn from ``gen`` so
    the weights depend on the seed alone (not on the activation). "torch": PyTorch's
    default Linear init, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight then bias; "lecun":
    weight N(0, 1/fan_in), bias 0; "he": weight N(0, 2/fan_in), bias 0."""
    fan_in = layer.in_features
    with torch.no_grad():
        if scheme == "torch":
            bound = 1.0 / math.sqrt(fan_in)
            for tensor in (layer.weight, layer.bias):  # weight in torch's (out, in) layout
                tensor.copy_(torch.empty(tensor.shape).uniform_(-bound, bound, generator=gen))
            return
        gain = {"lecun": 1.0, "he": 2.0}[scheme]
        layer.weight.copy_(torch.empty(layer.weight.shape).normal_(0.0, math.sqrt(gain / fan_in), generator=gen))
        layer.bias.zero_()


def build_mlp(sizes: list[int], activation: str, seed: int, init: str = "torch") -> nn.Sequential:
    """fc1, act1, fc2, act2, ..., fcL: one activation module per hidden layer, each with its own
    learnable parameters (one RaLU alpha per module, as in the reference module); linear
    layers initialised by the ``init`` scheme (``init_linear_``)."""
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    init_gen = generator(seed, "init")
    # Plug-in activations may draw random numbers at construction: give them their own stream
    # without disturbing the caller's global RNG.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(stream_seed(seed, "activation"))
        for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
            linear = nn.Linear(fan_in, fan_out)
            init_linear_(linear, init_gen, init)
            layers[f"fc{i}"] = linear
            if i < len(sizes) - 1:
                layers[f"act{i}"] = get_activation(activation)
    return nn.Sequential(layers)


def make_optimizer(model: nn.Module, hp: dict[str, Any]) -> Optimizer:
    named = list(model.named_parameters())
    weights = [p for n, p in named if not is_activation_param(n)]
    return adamw(weights, [p for n, p in named if is_activation_param(n)], hp)


def adamw(weights: list[torch.Tensor], activation_params: list[torch.Tensor], hp: dict[str, Any]) -> Optimizer:
    """AdamW with the recipe's lr and weight decay, fused: one pass over each tensor instead of
    about ten elementwise ops, the same update (optim.py). Activation parameters (PReLU slopes,
    RaLU alpha) are kept out of weight decay, which would otherwise pull them towards 0 (a
    different activation) for no reason."""
    groups: list[dict[str, Any]] = [{"params": weights}]
    if activation_params:
        groups.append({"params": activation_params, "weight_decay": 0.0})
    return fused_adamw(groups, lr=hp["lr"], weight_decay=hp["weight_decay"])


def epoch_order(gen: torch.Generator, n: int) -> torch.Tensor:
    """The training-set order of one epoch: a fresh permutation drawn from the data-order stream."""
    return torch.randperm(n, generator=gen)


def train_epoch(
    model: nn.Module, optimizer: Optimizer, x: torch.Tensor, y: torch.Tensor, order: torch.Tensor, batch: int
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


def train_trial(
    data: DeviceData,
    sizes: list[int],
    activation: str,
    seed: int,
    hp: dict[str, Any],
    ctx: TrainContext,
    checkpoint: Checkpoint | None = None,
) -> Iterator[EpochMetrics]:
    """One trial: the MLP of ``sizes`` with ``activation``, trained from ``seed``'s streams,
    yielding its metrics after every epoch; from ``checkpoint``'s state if it has one,
    saving it there after every finite epoch."""
    model = build_mlp(sizes, activation, seed, hp["init"]).to(ctx.device)
    optimizer = make_optimizer(model, hp)
    step_model = torch.compile(model) if ctx.compile else model
    order_gen = generator(seed, "data_order")
    n, batch = len(data.train_x), hp["batch_size"]
    done: list[EpochMetrics] = []
    saved = checkpoint.load() if checkpoint is not None else None
    if saved is not None:
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        order_gen.set_state(saved["data_order"])
        done = [EpochMetrics(**m) for m in saved["epochs"]]
        yield from done
    for epoch in range(len(done) + 1, hp["epochs"] + 1):
        order = epoch_order(order_gen, n).to(ctx.device)
        train_loss = train_epoch(step_model, optimizer, data.train_x, data.train_y, order, batch).item() / n
        if math.isfinite(train_loss):
            test_loss, test_acc = evaluate(model, data.test_x, data.test_y, EVAL_BATCH)
        else:  # diverged: the engine stops here and stores the trial as diverged
            test_loss, test_acc = math.nan, math.nan
        metrics = EpochMetrics(epoch, train_loss, test_loss, test_acc, activation_parameters(model))
        done.append(metrics)
        if checkpoint is not None and metrics.finite:
            checkpoint.save(
                {
                    "model": model.state_dict(),  # weights, activation parameters and buffers
                    "optimizer": optimizer.state_dict(),
                    "data_order": order_gen.get_state(),  # (5056,) uint8: the next epoch's permutation
                    "epochs": [asdict(m) for m in done],
                }
            )
        yield metrics
