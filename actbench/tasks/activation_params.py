"""How every task finds its learnable activation parameters: modules named act*."""

from __future__ import annotations

from torch import nn


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
