"""AdamW for the MLP engines: torch.optim.AdamW(fused=True)'s kernel, called without torch.optim.

The first torch.optim optimizer a process makes imports torch._dynamo, most of what a short
run spends outside training (docs/speed.md has the cost). ``FusedAdamW`` runs the kernel
AdamW(fused=True) runs, the private ``torch._fused_adamw_``, after the same step-count
update, so the update is the same to the bit and the state (``state``, ``param_groups``,
``state_dict``) too: a checkpoint saved with either loads into the other. ``fused_adamw``
uses it only where the kernel has the signature it was written for, torch.optim otherwise.

Only what the engines use: float parameters, no AMSGrad, no gradient scaling, no closure.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import torch

__all__ = ["FusedAdamW", "Optimizer", "fused_adamw", "private_kernel_matches"]

# The private kernel's schema as FusedAdamW.step calls it (that of torch 2.13).
KERNEL_SCHEMA = (
    "aten::_fused_adamw_(Tensor(a!)[] self, Tensor(b!)[] grads, Tensor(c!)[] exp_avgs, "
    "Tensor(d!)[] exp_avg_sqs, Tensor(e!)[] max_exp_avg_sqs, Tensor[] state_steps, *, float lr, "
    "float beta1, float beta2, float weight_decay, float eps, bool amsgrad, bool maximize, "
    "Tensor? grad_scale=None, Tensor? found_inf=None) -> ()"
)


@lru_cache(maxsize=1)
def private_kernel_matches() -> bool:
    """Whether this torch has ``torch._fused_adamw_`` with ``KERNEL_SCHEMA``: a private function
    may change or vanish in any release, so it is checked, once, not assumed."""
    overloads = getattr(torch.ops.aten, "_fused_adamw_", None)
    return hasattr(torch, "_fused_adamw_") and overloads is not None and str(overloads.default._schema) == KERNEL_SCHEMA


class FusedAdamW:
    """torch.optim.AdamW(groups, lr=..., weight_decay=..., fused=True), on a CPU or CUDA device."""

    def __init__(
        self,
        groups: list[dict[str, Any]],
        *,
        lr: float,
        weight_decay: float,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ):
        # torch.optim.AdamW's group keys and defaults, so that state dicts are the same.
        self.defaults: dict[str, Any] = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": False,
            "maximize": False,
            "foreach": None,
            "capturable": False,
            "differentiable": False,
            "fused": True,
            "decoupled_weight_decay": True,
        }
        self.param_groups: list[dict[str, Any]] = [{**self.defaults, **g, "params": list(g["params"])} for g in groups]
        self.state: dict[torch.Tensor, dict[str, torch.Tensor]] = {}

    def _params(self) -> list[torch.Tensor]:
        return [p for group in self.param_groups for p in group["params"]]

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self._params():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad.detach_().zero_()

    @torch.no_grad()
    def step(self) -> None:
        """One AdamW step of every parameter with a gradient, as torch.optim.AdamW(fused=True)."""
        for group in self.param_groups:
            # torch runs one fused call per (device, dtype) of a group's tensors
            batches: dict[tuple[torch.device, torch.dtype], list[list[torch.Tensor]]] = {}
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state.get(p)
                if not state:
                    state = self.state[p] = {
                        "step": torch.zeros((), dtype=torch.float32, device=p.device),
                        "exp_avg": torch.zeros_like(p, memory_format=torch.preserve_format),
                        "exp_avg_sq": torch.zeros_like(p, memory_format=torch.preserve_format),
                    }
                lists = batches.setdefault((p.device, p.dtype), [[], [], [], [], []])
                for part, tensor in zip(lists, (p, p.grad, state["exp_avg"], state["exp_avg_sq"], state["step"])):
                    part.append(tensor)
            beta1, beta2 = group["betas"]
            for params, grads, exp_avgs, exp_avg_sqs, steps in batches.values():
                torch._foreach_add_(steps, 1)
                torch._fused_adamw_(
                    params,
                    grads,
                    exp_avgs,
                    exp_avg_sqs,
                    [],
                    steps,
                    amsgrad=False,
                    lr=group["lr"],
                    beta1=beta1,
                    beta2=beta2,
                    weight_decay=group["weight_decay"],
                    eps=group["eps"],
                    maximize=False,
                    grad_scale=None,
                    found_inf=None,
                )

    def state_dict(self) -> dict[str, Any]:
        """torch.optim.Optimizer.state_dict's format: parameters numbered across the groups in order."""
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {key: value for key, value in group.items() if key != "params"}
            packed["params"] = [index.setdefault(id(p), len(index)) for p in group["params"]]
            groups.append(packed)
        return {"state": {index[id(p)]: state for p, state in self.state.items()}, "param_groups": groups}

    def load_state_dict(self, saved: dict[str, Any]) -> None:
        """A state dict of ``state_dict`` or of torch.optim.AdamW: its hyperparameters and per-parameter state."""
        if len(saved["param_groups"]) != len(self.param_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(a["params"]) != len(b["params"]) for a, b in zip(saved["param_groups"], self.param_groups)):
            raise ValueError(
                "loaded state dict contains a parameter group that doesn't match the size of optimizer's group"
            )
        by_index = {
            i: p
            for g_saved, g in zip(saved["param_groups"], self.param_groups)
            for i, p in zip(g_saved["params"], g["params"])
        }
        self.param_groups = [
            {**g_saved, "params": g["params"]} for g_saved, g in zip(saved["param_groups"], self.param_groups)
        ]
        self.state = {}
        for i, state in saved["state"].items():
            param = by_index[i]
            # As torch: the step count a float32 scalar on the parameter's device (fused),
            # the moments of the parameter's dtype and device.
            self.state[param] = {
                key: value.to(dtype=torch.float32 if key == "step" else param.dtype, device=param.device)
                for key, value in state.items()
            }


# What the engines ask of an optimizer: step, zero_grad, state, state_dict, load_state_dict.
Optimizer = FusedAdamW | torch.optim.AdamW


def fused_adamw(groups: list[dict[str, Any]], *, lr: float, weight_decay: float) -> Optimizer:
    """AdamW over ``groups`` (which may override the decay), fused where torch has the kernel (a CPU
    or CUDA device): ``FusedAdamW`` if the private kernel matches, else torch.optim.AdamW(fused=True),
    the same bits and state at a slower start-up. Unfused torch.optim.AdamW on other devices."""
    device = groups[0]["params"][0].device
    if device.type not in ("cpu", "cuda"):
        return torch.optim.AdamW(groups, lr=lr, weight_decay=weight_decay)
    if private_kernel_matches():
        return FusedAdamW(groups, lr=lr, weight_decay=weight_decay)
    return torch.optim.AdamW(groups, lr=lr, weight_decay=weight_decay, fused=True)
