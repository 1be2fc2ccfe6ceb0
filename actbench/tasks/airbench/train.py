"""The airbench training loop: whitening, Nesterov SGD with lookahead, whole-batch
augmentation on the device, TTA at the end. It reads top to bottom: the data on the
device, the precision, the evaluation, then the trial (the model, the optimiser and its
schedule, the step, the loop). The settings are in recipe.py, the tasks' declaration in
``actbench.tasks.airbench``.

On CUDA the forward and backward passes run under autocast (``cuda_autocast``: float16 as
airbench, bfloat16 or float32) with channels_last and cudnn.benchmark; weights, BatchNorm
and activation parameters stay float32. On a CPU everything is float32: meant for smoke
runs, a full trial takes hours there.

Checkpoints (actbench.api.Checkpoint): after every finished epoch a trial saves the
network's state dict (weights, whitening filters, BatchNorm shifts and running
statistics, activation parameters), SGD's momentum buffers, the lookahead's slow copy,
the augmentation and data-order generators (``TrainBatches.state_dict``), the step
count (the lr schedule and the lookahead's decay follow it), the seconds timed so far
and the metrics so far. Resumed, it yields those metrics again and trains on from the
next epoch, to the same bits as an uninterrupted trial (on a GPU, as far as an
uninterrupted trial is reproducible: cudnn.benchmark may pick other kernels in a new
process); the timed seconds continue from the saved value.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from actbench.api import Checkpoint, EpochMetrics, TrainContext
from actbench.errors import UsageError
from actbench.seeding import generator
from actbench.tasks.activation_params import activation_parameters
from actbench.tasks.airbench.augment import TrainBatches, normalise, tta_logits
from actbench.tasks.airbench.net import build_net, init_whitening_
from actbench.tasks.airbench.optim import Lookahead, lr_multiplier, make_optimizer, total_steps
from actbench.tasks.airbench.recipe import TIMED_S, TTA_ACC
from actbench.tasks.evaluation import evaluate
from actbench.tasks.validation import hold_out_validation

AUTOCAST_DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32}

EVAL_BATCH = 2000  # test images per forward pass: memory only, results do not depend on it


@dataclass(frozen=True, eq=False)
class DeviceCifar:
    """CIFAR-10 on the training device, as stored: pixels 0..255."""

    train_images: torch.Tensor  # (N, 3, 32, 32) uint8
    train_labels: torch.Tensor  # (N,) int64
    test_images: torch.Tensor  # (M, 3, 32, 32) uint8
    test_labels: torch.Tensor  # (M,) int64


@lru_cache(maxsize=1)
def device_cifar(data_dir: Path | None, verify: bool, device: torch.device, split: str) -> DeviceCifar:
    """Load CIFAR-10 once per process and keep it on ``device`` (184 MB as uint8).

    ``split``: "test", trained on the training batches and measured on the test batch; or
    "validation", trained on the training batches less the held-out validation rows
    (``hold_out_validation``), measured on those, the test batch never read."""
    from actbench.tasks.airbench.data import load_cifar10

    raw = load_cifar10(data_dir, verify=verify, test=split == "test")
    if split == "validation":
        return DeviceCifar(*hold_out_validation(raw.train_images.to(device), raw.train_labels.to(device)))
    return DeviceCifar(
        train_images=raw.train_images.to(device),
        train_labels=raw.train_labels.to(device),
        test_images=raw.test_images.to(device),
        test_labels=raw.test_labels.to(device),
    )


class StageTimer:
    """Seconds spent inside ``with timer:`` blocks, summed: CUDA events on a GPU (the time
    the GPU worked, read at the end of each block), the wall clock otherwise."""

    def __init__(self, device: torch.device):
        self.cuda = device.type == "cuda"
        self.seconds = 0.0

    def __enter__(self) -> None:
        if self.cuda:
            self._start = torch.cuda.Event(enable_timing=True)
            self._start.record()
        else:
            self._start_s = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        if self.cuda:
            end = torch.cuda.Event(enable_timing=True)
            end.record()
            end.synchronize()
            self.seconds += self._start.elapsed_time(end) / 1000
        else:
            self.seconds += time.perf_counter() - self._start_s


def precision(
    device: torch.device, hp: dict[str, Any]
) -> tuple[torch.dtype, contextlib.AbstractContextManager, torch.memory_format]:
    """(compute dtype, autocast context, memory layout) of a trial on ``device``: the
    ``cuda_autocast`` dtype and channels_last on CUDA, float32 and the default layout elsewhere."""
    cuda = device.type == "cuda"
    dtype = AUTOCAST_DTYPES[hp["cuda_autocast"]] if cuda else torch.float32
    autocast = torch.autocast("cuda", dtype=dtype) if cuda and dtype != torch.float32 else contextlib.nullcontext()
    return dtype, autocast, torch.channels_last if cuda else torch.contiguous_format


def evaluate_tta(
    net: nn.Module, images: torch.Tensor, labels: torch.Tensor, level: int, autocast: contextlib.AbstractContextManager
) -> tuple[float, float]:
    """(mean cross-entropy, accuracy in %) over normalised ``images`` with TTA ``level``,
    BatchNorm in eval mode. The loss is plain cross-entropy (no label smoothing)."""

    def logits_of(x: torch.Tensor) -> torch.Tensor:  # (b, 3, 32, 32) -> (b, 10) float32
        with autocast:
            return tta_logits(net, x, level).float()

    return evaluate(net, images, labels, EVAL_BATCH, logits_of)


def train_trial(
    activation: str,
    seed: int,
    hp: dict[str, Any],
    ctx: TrainContext,
    residual: bool,
    checkpoint: Checkpoint | None = None,
) -> Iterator[EpochMetrics]:
    """One trial of the recipe with ``activation`` at every site, from ``seed``'s streams;
    yields the metrics after every epoch, the TTA accuracy after the last. With
    ``checkpoint``: resumed from its state if it has one, saved there after every finite epoch."""
    data = device_cifar(ctx.data_dir, ctx.verify, ctx.device, hp["split"])
    if len(data.train_labels) < hp["batch_size"]:
        raise UsageError(f"batch_size {hp['batch_size']} is larger than the {len(data.train_labels)} training images")
    dtype, autocast, layout = precision(ctx.device, hp)
    if ctx.device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed shapes: pick the fastest conv kernels once

    # The model, its whitening filters set from the first training images (timed, as airbench).
    net = build_net(hp["widths"], activation, seed, residual, hp["bn_momentum"])
    net = net.to(ctx.device, memory_format=layout)
    timer = StageTimer(ctx.device)
    with timer:
        init_whitening_(net.whiten, normalise(data.train_images[: hp["whiten_images"]], torch.float32))
        batches = TrainBatches(
            data.train_images,
            data.train_labels,
            dtype=dtype,
            batch_size=hp["batch_size"],
            translate=hp["translate"],
            cutout_size=hp["cutout"],
            augment_gen=generator(seed, "augment"),
            order_gen=generator(seed, "data_order"),
        )
    test_images = normalise(data.test_images, dtype).contiguous(memory_format=layout)

    # The optimiser, its lr schedule over every step and the lookahead's slow copy.
    optimizer = make_optimizer(net, hp)
    base_lrs = [group["lr"] for group in optimizer.param_groups]
    steps = total_steps(batches.steps_per_epoch, hp["epochs"])
    lookahead = Lookahead(net, steps, hp["lookahead_start_epoch"], hp["lookahead_sync_each_epoch"])
    forward = torch.compile(net) if ctx.compile else net

    # Resumed from the last finished epoch, or from the start.
    step = 0
    epochs = math.ceil(hp["epochs"])
    done: list[EpochMetrics] = []
    saved = checkpoint.load() if checkpoint is not None else None
    if saved is not None:
        # Built afresh above from the seed (the pre-flip draws included), now set to the saved state.
        net.load_state_dict(saved["net"])
        optimizer.load_state_dict(saved["optimizer"])
        lookahead.load_state_dict(saved["lookahead"], net)
        batches.load_state_dict(saved["batches"])
        step = saved["step"]
        timer.seconds = saved["timed_s"]  # the whitening init above was timed in the first process
        done = [EpochMetrics(**m) for m in saved["epochs"]]
        yield from done
    # The loop: an epoch of steps, then the test metrics (TTA after the last epoch), then the checkpoint.
    for epoch in range(len(done), epochs):
        net.whiten.bias.requires_grad_(epoch < hp["whiten_bias_epochs"])
        loss_sum = torch.zeros((), device=ctx.device)
        seen = 0
        with timer:
            for inputs, labels in batches.epoch(epoch):
                multiplier = lr_multiplier(step, steps, hp)
                for group, base_lr in zip(optimizer.param_groups, base_lrs):
                    group["lr"] = base_lr * multiplier
                with autocast:
                    logits = forward(inputs.contiguous(memory_format=layout))
                loss = F.cross_entropy(logits.float(), labels, label_smoothing=hp["label_smoothing"], reduction="sum")
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                step += 1
                lookahead.after_step(net, step, epoch)
                loss_sum += loss.detach()
                seen += len(labels)
                if step == steps:
                    break
            lookahead.end_of_epoch(net, last=epoch == epochs - 1)
        train_loss = loss_sum.item() / seen  # label-smoothed cross-entropy per example
        extra = {}
        if not math.isfinite(train_loss):  # diverged: the engine stores the trial as such
            test_loss = test_acc = math.nan
        else:
            test_loss, test_acc = evaluate_tta(net, test_images, data.test_labels, 0, autocast)
            if epoch == epochs - 1:
                with timer:
                    _, extra[TTA_ACC.name] = evaluate_tta(net, test_images, data.test_labels, hp["tta_level"], autocast)
        extra[TIMED_S.name] = timer.seconds
        metrics = EpochMetrics(epoch + 1, train_loss, test_loss, test_acc, activation_parameters(net), extra)
        done.append(metrics)
        if checkpoint is not None and metrics.finite:
            checkpoint.save(
                {
                    "net": net.state_dict(),
                    "optimizer": optimizer.state_dict(),  # Nesterov momentum buffers
                    "lookahead": lookahead.state_dict(),
                    "batches": batches.state_dict(),  # the augmentation and data-order generators
                    "step": step,
                    "timed_s": timer.seconds,
                    "epochs": [asdict(m) for m in done],
                }
            )
        yield metrics
