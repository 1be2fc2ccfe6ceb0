"""A forward and backward pass of an activation on a small float32 batch before any
training, so that a broken plug-in fails in a second, naming itself and its error,
instead of minutes into a run or halfway through a population."""

from __future__ import annotations

import torch

from actbench.activations.registry import ActivationSpec
from actbench.errors import SpecError, describe_exception

PROBE_SHAPE = (8, 16)  # (batch, features): as an MLP's hidden layer sees it


def probe_activation(spec: ActivationSpec) -> torch.nn.Module:
    """SpecError unless ``spec``'s module maps a float32 (8, 16) batch to a finite float32
    batch of the same shape through which a gradient flows back to the input; the module
    probed, for what a caller asks of its kind (a gated MLP's form, say)."""
    where = f"activation {spec.unversioned}"  # as the user wrote it: the version is ours
    gen = torch.Generator().manual_seed(0)  # its own stream: the run's RNG is not moved
    x = (2 * torch.randn(PROBE_SHAPE, generator=gen)).requires_grad_()
    with torch.random.fork_rng(devices=[]):
        try:
            module = spec.build()
            y = module(x)
        except Exception as exc:  # noqa: BLE001 - whatever a plug-in raises is one line for its author
            raise SpecError(
                f"{where} fails on a float32 batch of shape {PROBE_SHAPE}: {describe_exception(exc)}"
            ) from None
        if not isinstance(y, torch.Tensor):
            raise SpecError(f"{where} returned {type(y).__name__}, not a tensor")
        if y.shape != x.shape or y.dtype != x.dtype:
            raise SpecError(
                f"{where} maps a float32 batch of shape {tuple(x.shape)} to {str(y.dtype).removeprefix('torch.')} "
                f"of shape {tuple(y.shape)}; an activation must keep its input's shape and dtype"
            )
        if not torch.isfinite(y).all():
            raise SpecError(f"{where} gives non-finite values on a standard normal batch (x 2)")
        if not y.requires_grad:
            raise SpecError(f"{where} passes no gradient back to its input (is its output detached?)")
        try:
            (grad,) = torch.autograd.grad(y.sum(), x)
        except Exception as exc:  # noqa: BLE001
            raise SpecError(f"{where} fails in its backward pass: {describe_exception(exc)}") from None
        if not torch.isfinite(grad).all():
            raise SpecError(f"{where} has a non-finite gradient on a standard normal batch (x 2)")
    return module
