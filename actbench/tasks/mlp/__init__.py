"""MLP 784-128-64-10 on MNIST-style images: the `mnist`, `fashion-mnist` and `mnist-mini` tasks.

The protocol of the published activation comparisons on MNIST: the activation after the
first and second hidden layers, AdamW (lr 1e-3, weight decay 1e-4), batch 64,
cross-entropy, 20 epochs, test metrics after every epoch. Measured results and timings
are in the README (section "Speed") with the command that reproduces them.

This module declares the tasks without torch, and hands each trainer the trial's full
hyperparameters (``trainer_hparams``: a stored trial leaves out later ones at their
defaults). The recipe reads top to bottom in recipe.py (hyperparameters and their
checks), data.py (the IDX files), model.py (the network and its sequential training
loop, the reference) and population (every trial of a run as one batched model, held to
the same numbers).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from actbench.api import Checkpoint, EpochMetrics, Metric, TrainContext
from actbench.tasks.hparams import listed_hparams, resolve_hparams, trainer_hparams
from actbench.tasks.mlp.recipe import (
    CHECKS,
    CLASSES,
    HYPERPARAMS,
    IN_FEATURES,
    LATER_HYPERPARAMS,
    MNIST_NORM,
    Normalisation,
)

if TYPE_CHECKING:
    from actbench.tasks.mlp.model import DeviceData


@dataclass(frozen=True)
class MLPPopulation:
    """The MLP tasks' population trainer (the population package): every member at once."""

    task: MLPTask

    def member_bytes(self, hparams: dict[str, Any]) -> int:
        from actbench.tasks.mlp.population.train import EVAL_ROWS, member_bytes

        hp = trainer_hparams(hparams, LATER_HYPERPARAMS)
        return member_bytes(self.task.layer_sizes(hp), hp, EVAL_ROWS)

    def train(
        self,
        members: list[tuple[str, int]],
        hparams: dict[str, Any],
        ctx: TrainContext,
        checkpoint: Checkpoint | None = None,
    ) -> Iterator[tuple[tuple[str, int], EpochMetrics]]:
        from actbench.tasks.mlp.population import Member
        from actbench.tasks.mlp.population.train import EVAL_ROWS, train_population

        hp = trainer_hparams(hparams, LATER_HYPERPARAMS)
        for member, metrics in train_population(
            self.task.data(ctx, hp["split"]),
            self.task.layer_sizes(hp),
            [Member(*m) for m in members],
            hp,
            ctx,
            EVAL_ROWS,
            checkpoint,
        ):
            yield (member.activation, member.seed), metrics


@dataclass(frozen=True)
class MLPTask:
    name: str
    dataset: str  # a name in actbench.tasks.mlp.data.SOURCES, or "mnist-mini"
    description: str
    norm: Normalisation
    metrics: tuple[Metric, ...] = ()  # test loss and accuracy after every epoch: nothing more
    headline: str = "final_acc"

    @property
    def population(self) -> MLPPopulation:
        return MLPPopulation(self)

    @property
    def hyperparams(self) -> dict[str, Any]:
        return listed_hparams(HYPERPARAMS, LATER_HYPERPARAMS)

    def resolve_hparams(self, overrides: dict[str, Any]) -> dict[str, Any]:
        return resolve_hparams(self.name, HYPERPARAMS, overrides, CHECKS, LATER_HYPERPARAMS)

    def layer_sizes(self, hp: dict[str, Any]) -> list[int]:
        return [IN_FEATURES, *hp["hidden"], CLASSES]

    def data(self, ctx: TrainContext, split: str) -> DeviceData:
        """The dataset on ``ctx.device``, measured on ``split`` (the ``split`` hyperparameter)."""
        from actbench.tasks.mlp.model import device_data

        return device_data(self.dataset, self.norm, ctx.data_dir, ctx.verify, ctx.device, split)

    def prepare(self, ctx: TrainContext, hparams: dict[str, Any]) -> None:
        self.data(ctx, trainer_hparams(hparams, LATER_HYPERPARAMS)["split"])

    def train(
        self,
        activation: str,
        seed: int,
        hparams: dict[str, Any],
        ctx: TrainContext,
        checkpoint: Checkpoint | None = None,
    ) -> Iterator[EpochMetrics]:
        from actbench.tasks.mlp.model import train_trial

        hp = trainer_hparams(hparams, LATER_HYPERPARAMS)
        return train_trial(self.data(ctx, hp["split"]), self.layer_sizes(hp), activation, seed, hp, ctx, checkpoint)


TASKS = (
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
