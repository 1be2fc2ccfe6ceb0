"""The airbench recipes' settings: one dict of hyperparameters per task (units in the
comments), their checks, and the metrics the tasks record beyond loss and accuracy.
No torch: the tasks are declared from these."""

from __future__ import annotations

import math
from typing import Any

from actbench.api import Metric
from actbench.tasks.hparams import SPLIT_CHECK

HYPERPARAMS_94: dict[str, Any] = {
    "epochs": 9.9,  # passes over the training set; a fraction ends mid-epoch
    "batch_size": 1024,  # examples per step; the last partial batch of an epoch is dropped
    "lr": 11.5,  # per 1024 examples, decoupled from momentum (see optim.py)
    "momentum": 0.85,  # Nesterov
    "weight_decay": 0.0153,  # per 1024 examples, decoupled from the lr
    "bias_scaler": 64.0,  # lr multiplier of the BatchNorm shifts (not of their decay)
    "label_smoothing": 0.2,  # of the cross-entropy, summed over the batch
    "warmup": 0.23,  # fraction of the steps over which the lr multiplier rises from lr_start to 1
    "lr_start": 0.2,  # lr multiplier at step 0
    "lr_end": 0.07,  # lr multiplier at the last step, reached linearly after the warm-up
    "lookahead_start_epoch": 0,  # epoch (from 0) in which the lookahead's slow copy is taken
    "lookahead_sync_each_epoch": False,  # set the network to the slow copy after every epoch, not only the last
    "whiten_bias_epochs": 3,  # epochs the whitening bias trains before it is frozen
    "whiten_images": 5000,  # first training images whose 2x2 patches set the whitening filters
    "widths": [64, 256, 256],  # channels of the three conv groups
    "bn_momentum": 0.4,  # PyTorch convention (weight of the new batch): airbench's 0.6
    "translate": 2,  # pixels of reflect-padding and random translation
    "cutout": 0,  # side of the square cut out of every training image; 0 = none
    "tta_level": 2,  # 0: none, 1: mirror, 2: mirror + one-pixel translations
    "cuda_autocast": "float16",  # compute dtype on CUDA: float16, bfloat16 or float32
}
HYPERPARAMS_95 = {**HYPERPARAMS_94, "epochs": 15.0, "lr": 10.0, "widths": [128, 384, 384]}
HYPERPARAMS_96 = {
    **HYPERPARAMS_94,
    "epochs": 40.0,
    "lr": 9.0,
    "widths": [128, 512, 512],
    "translate": 4,
    "cutout": 12,
    "lookahead_start_epoch": 3,
    "lookahead_sync_each_epoch": True,
}

AUTOCAST_NAMES = ("float16", "bfloat16", "float32")  # torch dtypes, looked up in train.py
TTA_LEVELS = (0, 1, 2)  # see augment.tta_logits

# Added after the first stores were written: a trial stores one of these only where it
# differs from the default here, so earlier trials keep their config hash; its trainer
# gets them all (actbench.tasks.hparams).
LATER_HYPERPARAMS: dict[str, Any] = {
    # Where the metrics after each epoch are measured: "test", the test batch; or
    # "validation", a fixed 10% of the training batches (actbench.tasks.hparams.SPLITS).
    "split": "test",
}

CHECKS = {
    "split": SPLIT_CHECK,
    "epochs": (lambda v: 0 < v < math.inf, "a positive number"),
    "batch_size": (lambda v: v >= 1, ">= 1"),
    "lr": (lambda v: 0 < v < math.inf, "a positive number"),
    "momentum": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "weight_decay": (lambda v: 0 <= v < math.inf, ">= 0"),
    "bias_scaler": (lambda v: 0 < v < math.inf, "a positive number"),
    "label_smoothing": (lambda v: 0 <= v <= 1, "in [0, 1]"),
    "warmup": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "lr_start": (lambda v: 0 <= v < math.inf, ">= 0"),
    "lr_end": (lambda v: 0 <= v < math.inf, ">= 0"),
    "lookahead_start_epoch": (lambda v: v >= 0, ">= 0"),
    "whiten_bias_epochs": (lambda v: v >= 0, ">= 0"),
    "whiten_images": (lambda v: v >= 1, ">= 1"),
    "widths": (lambda v: len(v) == 3 and all(w >= 1 for w in v), "three positive widths"),
    "bn_momentum": (lambda v: 0 <= v <= 1, "in [0, 1]"),
    "translate": (lambda v: 0 <= v <= 16, "in 0..16"),
    "cutout": (lambda v: 0 <= v <= 32, "in 0..32"),
    "tta_level": (lambda v: v in TTA_LEVELS, "0, 1 or 2"),
    "cuda_autocast": (lambda v: v in AUTOCAST_NAMES, "float16, bfloat16 or float32"),
}

TTA_ACC = Metric(
    name="tta_acc",
    label="final test accuracy with test-time augmentation (%)",
    column="TTA test acc (%)",
    kind="score",
    note="TTA = test-time augmentation (airbench's level 2 by default: the image, its mirror and "
    "one-pixel translations), the task's headline.",
    final_only=True,
)
TIMED_S = Metric(
    name="timed_s",
    label="seconds as airbench times them",
    column="timed / trial (s) ‡",
    kind="cost",
    higher_is_better=False,
    note="‡ seconds as airbench times them: whitening init, training and the final TTA evaluation, "
    "without the per-epoch evaluations (CUDA events on a GPU).",
)
