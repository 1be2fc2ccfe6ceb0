"""A character-level GPT on Tiny Shakespeare: the `shakespeare-char`, `shakespeare-char-cpu` and
`shakespeare-char-mini` tasks, after Karpathy's nanoGPT shakespeare_char recipe.

The activation sits in the MLP of every block; ``mlp=gated`` (or the shorthands ``reglu``,
``geglu``, ``swiglu``) gives the GLU form at matched parameters. Published with GELU:
nanoGPT's best validation loss 1.4697 in about 3 minutes on one A100 (shakespeare-char), "a
loss of only 1.88" on a CPU (its README's setting, shakespeare-char-cpu); actbench's
measured figures are in the README.

Metrics at every evaluation point (every ``eval_interval`` steps and after the last): the
loss (nats per character) and next-character accuracy over the whole evaluation text, and
bits per character. An evaluation point is an epoch to the store, checkpoints and curves.

This module declares the tasks without torch (every hyperparameter is stored with every
trial: none was added later). The recipe reads top to bottom in recipe.py (the
settings), data.py (the text), model.py (the GPT) and train.py (the trial).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from actbench.api import Checkpoint, EpochMetrics, EvaluationAxis, Metric, TrainContext
from actbench.errors import UsageError
from actbench.tasks.gpt.recipe import BPC, CHECKS, HYPERPARAMS_CHAR, HYPERPARAMS_CPU, HYPERPARAMS_MINI
from actbench.tasks.hparams import listed_hparams, resolve_hparams


@dataclass(frozen=True)
class GPTTask:
    name: str
    description: str
    defaults: dict[str, Any]
    metrics: tuple[Metric, ...] = (BPC,)
    headline: str = "final_loss"  # validation loss, lower is better
    population: None = None  # one model at a time
    gated_mlp: bool = True  # its MLP takes a Gated activation (reglu, geglu, swiglu) as the GLU form

    @property
    def hyperparams(self) -> dict[str, Any]:
        return listed_hparams(self.defaults, {})

    def resolve_hparams(self, overrides: dict[str, Any]) -> dict[str, Any]:
        hp = resolve_hparams(self.name, self.defaults, overrides, CHECKS)
        if hp["n_embd"] % hp["n_head"]:
            raise UsageError(
                f"n_embd must be a multiple of n_head, got n_embd {hp['n_embd']} and n_head {hp['n_head']}"
            )
        return hp

    def evaluation_axis(self, hparams: dict[str, Any]) -> EvaluationAxis:
        return EvaluationAxis("iteration", every=hparams["eval_interval"], total=hparams["max_iters"])

    def prepare(self, ctx: TrainContext, hparams: dict[str, Any]) -> None:
        from actbench.tasks.gpt.data import device_corpus

        device_corpus(ctx.data_dir, ctx.verify, ctx.device)

    def train(
        self,
        activation: str,
        seed: int,
        hparams: dict[str, Any],
        ctx: TrainContext,
        checkpoint: Checkpoint | None = None,
    ) -> Iterator[EpochMetrics]:
        from actbench.tasks.gpt.train import train_trial

        return train_trial(activation, seed, hparams, ctx, checkpoint)


TASKS = (
    GPTTask(
        "shakespeare-char",
        "nanoGPT's shakespeare_char GPT: 6 layers x 6 heads x 384, block 256, 5,000 iterations, dropout 0.2 "
        "(published: best validation loss 1.4697 with GELU, about 3 min on an A100)",
        HYPERPARAMS_CHAR,
    ),
    GPTTask(
        "shakespeare-char-cpu",
        "nanoGPT's CPU setting of shakespeare_char: 4 layers x 4 heads x 128, block 64, batch 12, "
        "2,000 iterations, no dropout (published: validation loss about 1.88 with GELU)",
        HYPERPARAMS_CPU,
    ),
    GPTTask(
        "shakespeare-char-mini",
        "a 2-layer GPT on Tiny Shakespeare, 200 iterations: seconds a trial (smoke tests and CI; not for conclusions)",
        HYPERPARAMS_MINI,
    ),
)
