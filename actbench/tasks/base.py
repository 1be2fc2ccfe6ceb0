"""What every task provides, the per-epoch record it yields, and how every task finds its
learnable activation parameters (modules named act*)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol

import torch
from torch import nn

from actbench.errors import UsageError


@dataclass(frozen=True)
class EpochMetrics:
    """Metrics after one epoch. ``epoch`` counts from 1; losses are per-example means."""

    epoch: int
    train_loss: float
    test_loss: float
    test_acc: float  # percent, 0..100
    # Learnable activation parameters after this epoch, by module path, flattened
    # (e.g. {"act1.alpha": [1.07]}); empty when the activation learns nothing.
    activation_params: dict[str, list[float]] = field(default_factory=dict)
    # Test accuracy (%) with the task's test-time augmentation; tasks that have one
    # (the airbench tasks) give it after the last epoch only.
    tta_acc: float | None = None
    # Seconds of the stages the task times so far (airbench: whitening init, training and
    # the final TTA evaluation, without the per-epoch evaluations); None if it times none.
    timed_s: float | None = None

    @property
    def finite(self) -> bool:
        return all(math.isfinite(v) for v in (self.train_loss, self.test_loss, self.test_acc))


def is_activation_param(path: str) -> bool:
    """Whether a parameter path belongs to an activation module. Every task names its
    activation modules act*: "act1.alpha" (MLP), "group1.act2.weight" (airbench)."""
    return any(part.startswith("act") for part in path.split(".")[:-1])


def activation_parameters(model: nn.Module) -> dict[str, list[float]]:
    """Learnable activation parameters by module path, flattened, e.g. {"act1.alpha": [1.07]}."""
    return {
        name: param.detach().flatten().cpu().tolist()
        for name, param in model.named_parameters()
        if is_activation_param(name)
    }


@dataclass(frozen=True)
class TrainContext:
    """Where a trial runs: not part of its identity, so a result is the same experiment on any machine."""

    device: torch.device
    data_dir: Path | None
    verify: bool = True
    compile: bool = False  # torch.compile the training step


class Task(Protocol):
    name: str
    description: str
    hyperparams: dict[str, Any]  # the defaults; one dict per task, overridable from config and CLI

    def resolve_hparams(self, overrides: dict[str, Any]) -> dict[str, Any]:
        """The defaults with ``overrides`` applied, validated; raises UsageError."""

    def train(
        self, activation: str, seed: int, hparams: dict[str, Any], ctx: TrainContext
    ) -> Iterator[EpochMetrics]:
        """Train one trial, yielding metrics after every epoch; the last yield is final."""

    def prepare(self, ctx: TrainContext) -> None:
        """Load (and if needed download) the data, so that failures happen before any training."""


# A hyperparameter check: (predicate, what the value must be), e.g. (lambda v: v > 0, "> 0").
Check = tuple[Callable[[Any], bool], str]


def resolve_hparams(
    task: str, defaults: dict[str, Any], overrides: dict[str, Any], checks: dict[str, Check]
) -> dict[str, Any]:
    """``defaults`` updated by ``overrides``, each value coerced to its default's type and checked.

    The result is what a trial stores, so it must be plain JSON data (tuples become lists).
    """
    unknown = sorted(set(overrides) - set(defaults))
    if unknown:
        raise UsageError(
            f"task {task} has no hyperparameter {', '.join(map(repr, unknown))}; "
            f"its hyperparameters are: {', '.join(sorted(defaults))}"
        )
    resolved = {}
    for key, default in defaults.items():
        value = _coerce(task, key, overrides.get(key, default), default)
        if key in checks:
            ok, requirement = checks[key]
            if not ok(value):
                raise UsageError(f"{key} must be {requirement}, got {value!r}")
        resolved[key] = value
    return resolved


def _coerce(task: str, key: str, value: Any, default: Any) -> Any:
    """``value`` as the type of ``default``; ints are accepted where floats are expected."""
    if isinstance(default, (list, tuple)):
        if not isinstance(value, (list, tuple)) or not value:
            raise UsageError(f"{key} must be a non-empty list like {list(default)}, got {value!r}")
        return [_coerce(task, key, item, default[0]) for item in value]
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise UsageError(f"{key} must be true or false, got {value!r}")
        return value
    if isinstance(default, int):
        # 20.0 is 20 (the command line reads --epochs as a number); 2.5 is not an integer.
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise UsageError(f"{key} must be an integer, got {value!r}")
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise UsageError(f"{key} must be a number, got {value!r}")
        return float(value)
    return value
