"""The validation split every task measures on when tuning: a fixed share of its training
set, held out from training, drawn the same way for every activation, seed and run."""

from __future__ import annotations

import torch

# MNIST: 6,000 of 60,000 training images; CIFAR-10: 5,000 of 50,000.
VALIDATION_FRACTION = 0.1


def validation_split(n: int, fraction: float = VALIDATION_FRACTION) -> tuple[torch.Tensor, torch.Tensor]:
    """(train rows, validation rows) of a training set of ``n`` examples, each ascending: a
    ``fraction`` of the rows (rounded) held out by one permutation of a fixed seed, so the
    split is the same for every activation, seed and run and never touches the test files."""
    from actbench.seeding import generator

    order = torch.randperm(n, generator=generator(0, "validation_split"))  # (n,)
    held_out = round(n * fraction)
    return order[held_out:].sort().values, order[:held_out].sort().values
