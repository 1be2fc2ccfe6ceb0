"""Test metrics after an epoch, the same computation for every task family: mean
cross-entropy and accuracy over a whole split, in batches."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn


@torch.no_grad()
def evaluate(
    model: nn.Module,
    inputs: torch.Tensor,
    labels: torch.Tensor,
    batch: int,
    logits_of: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> tuple[float, float]:
    """(mean cross-entropy, accuracy in %) of ``model`` over the whole of (inputs, labels), in eval
    mode (BatchNorm's running statistics, no dropout), then back in training mode.

    ``labels``: (N,) class indices, or (N, T) for a prediction at every position (a language
    model). ``logits_of``: a batch of ``inputs`` to its float logits, (rows, classes) with one
    row per label of the batch; ``model`` itself unless given (test-time augmentation,
    autocast). ``batch``: inputs per forward pass, memory only: the results do not depend on it.
    The loss is plain cross-entropy, summed in float64 on the device and read once.
    """
    logits_of = logits_of or model
    model.eval()
    loss_sum = torch.zeros((), device=inputs.device, dtype=torch.float64)
    correct = torch.zeros((), device=inputs.device, dtype=torch.int64)
    for x, y in zip(inputs.split(batch), labels.split(batch)):
        logits = logits_of(x)  # (rows, classes)
        target = y.reshape(-1)  # (rows,)
        loss_sum += F.cross_entropy(logits, target, reduction="sum").double()
        correct += (logits.argmax(dim=1) == target).sum()
    model.train()
    return loss_sum.item() / labels.numel(), 100.0 * correct.item() / labels.numel()
