"""A plain function plug-in as a module, built by actbench.activations.registry.

``def my_fn(x, beta: float = 1.0): return x * torch.sigmoid(beta * x)`` named as
``myacts:my_fn(beta=2)`` builds ``FunctionActivation(my_fn, beta=2.0)``, whose forward is
``my_fn(x, beta=2.0)``: an elementwise activation with nothing to train. Its settable
parameters are the function's after the first (the tensor), as a class's are those of
its ``__init__``.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor, nn


class FunctionActivation(nn.Module):
    """``fn(x, **settings)`` as a module."""

    def __init__(self, fn: Callable[..., Tensor], **settings: float | int | bool) -> None:
        super().__init__()
        self.fn = fn
        self.settings = settings

    def forward(self, x: Tensor) -> Tensor:
        return self.fn(x, **self.settings)

    def extra_repr(self) -> str:
        name = f"{getattr(self.fn, '__module__', None)}.{getattr(self.fn, '__qualname__', type(self.fn).__name__)}"
        return ", ".join([name, *(f"{key}={value!r}" for key, value in self.settings.items())])
