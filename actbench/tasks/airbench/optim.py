"""The recipe's optimisation: decoupled SGD hyperparameters, the lr schedule, lookahead.

Hyperparameters are given per 1024 examples and "decoupled" from momentum: with Nesterov
momentum m, a constant gradient moves the weights 1 + 1/(1 - m) times the lr per step,
so the lr handed to torch is lr / (1024 (1 + 1/(1 - m))). The weight decay per step,
wd * batch / (1024 (1 + 1/(1 - m))), is passed to torch as weight_decay = that / lr
(torch multiplies its weight_decay by the lr). BatchNorm shifts get ``bias_scaler`` times
the lr with the same decay per step.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from actbench.tasks.activation_params import is_activation_param
from actbench.tasks.airbench.net import BatchNorm


def kilostep_scale(momentum: float) -> float:
    """How much further than one lr-step per 1024 examples Nesterov SGD moves under a constant gradient."""
    return 1024 * (1 + 1 / (1 - momentum))


def param_groups(net: nn.Module, hp: dict[str, Any]) -> list[dict[str, Any]]:
    """SGD parameter groups: BatchNorm shifts (lr x bias_scaler), activation parameters
    (lr, no weight decay: decay would pull PReLU's slope or RaLU's alpha towards 0, a
    different activation), and every other trainable tensor (conv, linear, whitening bias).

    Frozen tensors (whitening weights, BatchNorm scales) are in no group. The whitening
    bias is in the last group even while frozen: it has no gradient then, so SGD skips it.
    """
    lr = hp["lr"] / kilostep_scale(hp["momentum"])
    decay_per_step = hp["weight_decay"] * hp["batch_size"] / kilostep_scale(hp["momentum"])
    lr_norm = lr * hp["bias_scaler"]
    norm, act, other = [], [], []
    for module_name, module in net.named_modules():
        for name, param in module.named_parameters(recurse=False):
            if name == "weight" and not param.requires_grad:
                continue  # frozen for good
            if isinstance(module, BatchNorm):
                norm.append(param)
            elif is_activation_param(f"{module_name}.{name}"):
                act.append(param)
            else:
                other.append(param)
    groups = [
        {"params": norm, "lr": lr_norm, "weight_decay": decay_per_step / lr_norm, "name": "batchnorm"},
        {"params": other, "lr": lr, "weight_decay": decay_per_step / lr, "name": "weights"},
    ]
    if act:
        groups.append({"params": act, "lr": lr, "weight_decay": 0.0, "name": "activation"})
    return groups


def make_optimizer(net: nn.Module, hp: dict[str, Any]) -> torch.optim.SGD:
    return torch.optim.SGD(param_groups(net, hp), momentum=hp["momentum"], nesterov=True)


def lr_multiplier(step: int, total_steps: int, hp: dict[str, Any]) -> float:
    """The factor on every group's lr at ``step`` (from 0): linear from ``lr_start`` to 1 over
    the first ``warmup`` fraction of the steps (int(total * warmup) of them), then linear from
    1 at the end of warm-up to ``lr_end`` at step ``total_steps``."""
    warmup_steps = int(total_steps * hp["warmup"])
    if step < warmup_steps:
        frac = step / warmup_steps
        return hp["lr_start"] + (1 - hp["lr_start"]) * frac
    frac = (step - warmup_steps) / (total_steps - warmup_steps)
    return 1 + (hp["lr_end"] - 1) * frac


def total_steps(steps_per_epoch: int, epochs: float) -> int:
    return math.ceil(steps_per_epoch * epochs)


class Lookahead:
    """A slow copy of every floating-point entry of the state dict (weights, BatchNorm
    running statistics, activation parameters alike). Every ``every`` steps the slow copy
    moves towards the network, slow <- decay * slow + (1 - decay) * net, and the network
    is reset to it, with decay = 0.95^5 (step / total)^3: close to 0 early (the network
    runs free), 0.77 at the end.

    airbench94/95: the slow copy exists from the start (taken after the whitening init;
    airbench takes it just before, which the first pull, with decay 1e-6, makes
    immaterial), and the network is set to it after the last step. airbench96 (April
    2024): the slow copy is taken at the first multiple of 5 steps in epoch
    ``start_epoch`` (3), and from then on the network is set to it after every epoch.

    Learnable activation parameters are averaged like every weight: each is a convex
    combination of values the parameter itself took, so it stays in the range it visited;
    nothing pulls it towards another parameter or towards 0.
    """

    every = 5

    def __init__(self, net: nn.Module, total_steps: int, start_epoch: int, sync_each_epoch: bool):
        self.total_steps = total_steps
        self.start_epoch = start_epoch
        self.sync_each_epoch = sync_each_epoch
        self.slow = self._snapshot(net) if start_epoch == 0 else None

    def state_dict(self) -> dict[str, Any]:
        """The slow copy (None before it is taken), for a checkpoint; the schedule follows the step count."""
        return {"slow": self.slow}

    def load_state_dict(self, state: dict[str, Any], net: nn.Module) -> None:
        """Resume with a saved slow copy, each tensor moved to the device of ``net``'s entry."""
        slow = state["slow"]
        if slow is not None:
            current = net.state_dict()
            slow = {key: value.to(current[key].device) for key, value in slow.items()}
        self.slow = slow

    def decay(self, step: int) -> float:
        return 0.95**5 * (step / self.total_steps) ** 3

    @torch.no_grad()
    def after_step(self, net: nn.Module, step: int, epoch: int) -> None:
        """Call after optimizer step number ``step`` (from 1), taken in ``epoch`` (from 0)."""
        if step % self.every or epoch < self.start_epoch:
            return
        if self.slow is None:
            self.slow = self._snapshot(net)
        else:
            self._pull(net, self.decay(step))

    @torch.no_grad()
    def end_of_epoch(self, net: nn.Module, last: bool) -> None:
        """Set the network to the slow copy after the last epoch (after every one with
        ``sync_each_epoch``), once there is a slow copy."""
        if self.slow is not None and (last or self.sync_each_epoch):
            self._pull(net, decay=1.0)

    @staticmethod
    def _snapshot(net: nn.Module) -> dict[str, torch.Tensor]:
        return {k: v.detach().clone() for k, v in net.state_dict().items() if v.is_floating_point()}

    def _pull(self, net: nn.Module, decay: float) -> None:
        state = net.state_dict()
        for key, slow in self.slow.items():
            slow.lerp_(state[key], 1 - decay)
            state[key].copy_(slow)
