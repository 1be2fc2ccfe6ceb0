"""The MLP protocol's settings: hyperparameters (units in the comments), their checks,
the input normalisations. No torch: the task is declared from these."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from actbench.tasks.hparams import SPLIT_CHECK

HYPERPARAMS: dict[str, Any] = {
    "epochs": 20,  # passes over the training set
    "batch_size": 64,  # examples per step; the last partial batch of an epoch is kept
    "lr": 1e-3,  # AdamW learning rate
    "weight_decay": 1e-4,  # AdamW decoupled weight decay; not applied to activation parameters
    "hidden": [128, 64],  # hidden layer widths; the activation follows each hidden layer
}

# Added after the first stores were written: a trial stores one of these only where it
# differs from the default here, so earlier trials keep their config hash; its trainer
# gets them all (actbench.tasks.hparams).
LATER_HYPERPARAMS: dict[str, Any] = {
    # Linear layers' initialisation: "torch", PyTorch's default (weights and biases
    # U(+-1/sqrt(fan_in))); "lecun", weights N(0, 1/fan_in) and zero biases, what SELU's
    # self-normalisation assumes; "he", weights N(0, 2/fan_in) and zero biases, for ReLU.
    "init": "torch",
    # Where the metrics after each epoch are measured: "test", the test files; or
    # "validation", a fixed 10% of the training files (actbench.tasks.hparams.SPLITS).
    "split": "test",
}
INITS = ("torch", "lecun", "he")

CHECKS = {
    "init": (lambda v: v in INITS, f"one of {', '.join(INITS)}"),
    "split": SPLIT_CHECK,
    "epochs": (lambda v: v >= 1, ">= 1"),
    "batch_size": (lambda v: v >= 1, ">= 1"),
    "lr": (lambda v: v > 0 and math.isfinite(v), "a positive number"),
    "weight_decay": (lambda v: v >= 0 and math.isfinite(v), ">= 0"),
    "hidden": (lambda v: all(w >= 1 for w in v), "a list of positive widths"),
}

IN_FEATURES = 784  # 28 x 28 pixels, flattened
CLASSES = 10


@dataclass(frozen=True)
class Normalisation:
    mean: float
    std: float


MNIST_NORM = Normalisation(mean=0.1307, std=0.3081)
