"""The GPT tasks' settings: nanoGPT's shakespeare_char recipe (config/train_shakespeare_char.py),
its README's CPU setting and a mini one, one dict per task (units in the comments), their
checks and the metric the tasks record beyond loss and accuracy. No torch: the tasks are
declared from these."""

from __future__ import annotations

import math
from typing import Any

from actbench.api import Metric
from actbench.tasks.hparams import SPLIT_CHECK

MLP_FORMS = ("plain", "gated")
AUTOCAST_NAMES = ("bfloat16", "float32")  # torch dtypes, looked up in train.py

# nanoGPT's config/train_shakespeare_char.py with train.py's defaults for the rest: best
# validation loss 1.4697 in about 3 minutes on one A100 (its README), 10.65M parameters.
HYPERPARAMS_CHAR: dict[str, Any] = {
    "max_iters": 5000,  # optimiser steps, the trial's budget
    "eval_interval": 250,  # steps between evaluation points (an evaluation point is an epoch in the store)
    "batch_size": 64,  # windows per step
    "block_size": 256,  # characters per window: the context length
    "n_layer": 6,  # transformer blocks
    "n_head": 6,  # attention heads per block; n_embd / n_head dimensions each
    "n_embd": 384,  # width of the residual stream
    "dropout": 0.2,  # on the embeddings, the attention weights and each residual branch
    "mlp": "plain",  # the MLP's form: "plain" d -> 4d -> act -> d; "gated" act(x W) * (x V) -> d (Shazeer 2020)
    "lr": 1e-3,  # AdamW's peak learning rate
    "min_lr_ratio": 0.1,  # the lr at max_iters as a fraction of lr (nanoGPT: min_lr = lr / 10)
    "warmup_iters": 100,  # steps of linear warm-up, then cosine decay to lr * min_lr_ratio at max_iters
    "beta1": 0.9,  # AdamW
    "beta2": 0.99,  # AdamW; nanoGPT raises it from 0.95 for so few tokens per step
    "weight_decay": 0.1,  # AdamW's decoupled decay, on matrices and embeddings only
    "grad_clip": 1.0,  # the gradients' global norm is clipped to this; 0 = no clipping
    "cuda_autocast": "bfloat16",  # compute dtype on CUDA, as nanoGPT: bfloat16 or float32; a CPU is float32
    # Where the evaluation points measure: "test", nanoGPT's validation text (the last 10% of
    # the corpus); "validation", the last 10% of the training text, held out from training.
    "split": "test",
}

# nanoGPT's README, "I only have a macbook": its CPU command line (block 64, batch 12, 4 x 4 x 128,
# 2,000 iterations, no dropout), "a loss of only 1.88"; 0.80M parameters.
HYPERPARAMS_CPU: dict[str, Any] = {
    **HYPERPARAMS_CHAR,
    "max_iters": 2000,
    "batch_size": 12,
    "block_size": 64,
    "n_layer": 4,
    "n_head": 4,
    "n_embd": 128,
    "dropout": 0.0,
}

# Tests, smoke runs and CI: a few seconds a trial on two CPU cores; not for conclusions.
HYPERPARAMS_MINI: dict[str, Any] = {
    **HYPERPARAMS_CHAR,
    "max_iters": 200,
    "eval_interval": 100,
    "batch_size": 16,
    "block_size": 32,
    "n_layer": 2,
    "n_head": 2,
    "n_embd": 64,
    "dropout": 0.0,
    "warmup_iters": 20,
}

CHECKS = {
    "split": SPLIT_CHECK,
    "mlp": (lambda v: v in MLP_FORMS, f"one of {', '.join(MLP_FORMS)}"),
    "max_iters": (lambda v: v >= 1, ">= 1"),
    "eval_interval": (lambda v: v >= 1, ">= 1"),
    "batch_size": (lambda v: v >= 1, ">= 1"),
    "block_size": (lambda v: v >= 1, ">= 1"),
    "n_layer": (lambda v: v >= 1, ">= 1"),
    "n_head": (lambda v: v >= 1, ">= 1"),
    "n_embd": (lambda v: v >= 1, ">= 1"),
    "dropout": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "lr": (lambda v: 0 < v < math.inf, "a positive number"),
    "min_lr_ratio": (lambda v: 0 <= v <= 1, "in [0, 1]"),
    "warmup_iters": (lambda v: v >= 0, ">= 0"),
    "beta1": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "beta2": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "weight_decay": (lambda v: 0 <= v < math.inf, ">= 0"),
    "grad_clip": (lambda v: 0 <= v < math.inf, ">= 0"),
    "cuda_autocast": (lambda v: v in AUTOCAST_NAMES, f"one of {', '.join(AUTOCAST_NAMES)}"),
}

BPC = Metric(
    name="bpc",
    label="final bits per character on the evaluation text",
    column="bits / char",
    kind="score",
    higher_is_better=False,
    note="bits / char = the test loss (nats per character) / ln 2, over the whole evaluation text.",
)
