"""The validation split of a training set already on the device, the same for every task
family: which rows are held out is actbench.datasets.split's rule."""

from __future__ import annotations

import torch

from actbench.datasets.split import validation_split


def hold_out_validation(
    inputs: torch.Tensor, labels: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(train inputs, train labels, validation inputs, validation labels): the training set
    less the validation rows, and those rows, each in the training set's order, on its device."""
    train_rows, held_out = validation_split(len(labels))  # (n - k,), (k,) ascending
    train_rows, held_out = train_rows.to(labels.device), held_out.to(labels.device)
    return inputs[train_rows], labels[train_rows], inputs[held_out], labels[held_out]
