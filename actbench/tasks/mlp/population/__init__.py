"""The population engine for the MLP tasks: every (activation, seed) member of a run at once.

On a CPU the MLP at batch 64 is a stream of tiny matrix products whose cost is mostly
per-op overhead. Here K members share stacked parameters, so one step is a few batched
matmuls over activations (K, B, features) instead of K times as many small ones.

Each member is the sequential trial with its seed (``actbench.tasks.mlp.model.train_trial``),
not an approximation of it:

- its initial weights and activation modules are taken from ``build_mlp`` itself;
- its batches come from the same ``epoch_order`` stream of its seed;
- its loss is its own batch mean; the population minimises the sum of the members'
  losses, whose gradient with respect to member k's parameters is member k's gradient;
- AdamW is elementwise, so one AdamW over stacked tensors is K independent AdamWs
  (all members take every step, so they share the step count).

Only the float rounding order differs (batched vs single matmuls); tests hold the two
engines to about 1e-5 after a step and to a fraction of a percent after training.

The modules: ``seed_blocks`` (the first layer's layout, by seed), ``model`` (the batched
model and its loss), ``activation_costs`` (what each activation adds to the time),
``state`` (dropping members, checkpoints) and ``train`` (the training loop, the entry point).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Member:
    """One member of a population: the sequential trial of ``activation`` from ``seed``."""

    activation: str  # canonical spec
    seed: int
