"""One GPT trial, reading top to bottom as nanoGPT's train.py does: the text, the batches of
random windows, the model, AdamW and its schedule, the evaluation, then the loop. The
settings are in recipe.py, the tasks' declaration in ``actbench.tasks.gpt``.

Paired seeds: the windows (the seed's data_order stream), the initial weights (its init
stream, model.py) and the dropout masks (the global RNG, seeded from its dropout stream)
depend on the seed alone, never on the activation.

Checkpoints (actbench.api.Checkpoint): after every evaluation point a trial saves the model
(weights, activation parameters), AdamW's state, the window generator, the global RNG (the
dropout masks), the step count and the metrics so far; resumed, it yields those metrics again
and trains on from the next step, to the same bits as an uninterrupted trial.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import asdict
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from actbench.api import Checkpoint, EpochMetrics, TrainContext
from actbench.datasets.split import VALIDATION_FRACTION
from actbench.errors import UsageError
from actbench.seeding import generator, stream_seed
from actbench.tasks.activation_params import activation_parameters, is_activation_param
from actbench.tasks.evaluation import evaluate
from actbench.tasks.gpt.data import CharCorpus, device_corpus
from actbench.tasks.gpt.model import build_gpt
from actbench.tasks.gpt.recipe import BPC

EVAL_TOKENS = 16384  # characters per evaluation forward pass: memory only, results do not depend on it


def autocast(device: torch.device, hp: dict[str, Any]) -> contextlib.AbstractContextManager:
    """The forward passes' precision: on CUDA autocast to ``cuda_autocast`` (nanoGPT's bfloat16),
    weights and optimiser state staying float32; float32 elsewhere."""
    if device.type == "cuda" and hp["cuda_autocast"] == "bfloat16":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def text_splits(corpus: CharCorpus, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(training ids, evaluation ids). ``split`` "test": the first 90% of the text and nanoGPT's
    validation text, the last 10%; "validation": the training text less its last
    VALIDATION_FRACTION, and that tail (contiguous, as the test text is: random windows would
    overlap the training text), the last 10% of the corpus never read."""
    if split == "test":
        return corpus.train, corpus.val
    cut = len(corpus.train) - round(len(corpus.train) * VALIDATION_FRACTION)
    return corpus.train[:cut], corpus.train[cut:]


class WindowSampler:
    """Batches of random training windows, as nanoGPT's get_batch: ``batch_size`` start offsets
    drawn uniformly from [0, len - block_size) by ``gen`` (a CPU generator: the same windows on
    every device), each window's next characters as its targets."""

    def __init__(self, ids: torch.Tensor, block_size: int, batch_size: int, gen: torch.Generator):
        if len(ids) <= block_size:
            raise UsageError(f"block_size {block_size} is not shorter than the {len(ids)} training characters")
        self.ids, self.block_size, self.batch_size, self.gen = ids, block_size, batch_size, gen
        self.offsets = torch.arange(block_size + 1, device=ids.device)  # (T + 1,)

    def batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(x, y): (B, T) ids and the same windows one character later."""
        starts = torch.randint(len(self.ids) - self.block_size, (self.batch_size,), generator=self.gen)  # (B,)
        windows = self.ids[starts.to(self.ids.device)[:, None] + self.offsets]  # (B, T + 1)
        return windows[:, :-1], windows[:, 1:]


def make_optimizer(model: nn.Module, hp: dict[str, Any], device: torch.device) -> torch.optim.AdamW:
    """AdamW with weight decay on the matrices and embeddings (dim >= 2) only: not on LayerNorm
    gains, nor on activation parameters, which decay would pull towards another activation."""
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        (decay if param.dim() >= 2 and not is_activation_param(name) else no_decay).append(param)
    groups = [{"params": decay, "weight_decay": hp["weight_decay"]}, {"params": no_decay, "weight_decay": 0.0}]
    fused = device.type in ("cpu", "cuda")  # one kernel over every tensor where torch has it
    return torch.optim.AdamW(groups, lr=hp["lr"], betas=(hp["beta1"], hp["beta2"]), fused=fused)


def lr_at(step: int, hp: dict[str, Any]) -> float:
    """The learning rate of step ``step`` (from 0), nanoGPT's schedule: linear warm-up to lr over
    ``warmup_iters`` steps, lr (step + 1) / (warmup_iters + 1), then a cosine from lr down to
    lr * min_lr_ratio, reached at ``max_iters``."""
    lr, warmup, total = hp["lr"], hp["warmup_iters"], hp["max_iters"]
    if step < warmup:
        return lr * (step + 1) / (warmup + 1)
    min_lr = lr * hp["min_lr_ratio"]
    progress = min(1.0, (step - warmup) / max(1, total - warmup))  # 0 -> 1
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * progress)) * (lr - min_lr)


def evaluation_steps(hp: dict[str, Any]) -> list[int]:
    """The steps after which the trial is evaluated: every ``eval_interval`` and the last."""
    steps = list(range(hp["eval_interval"], hp["max_iters"], hp["eval_interval"]))
    return [*steps, hp["max_iters"]]


def evaluate_text(
    model: nn.Module, ids: torch.Tensor, block_size: int, precision: contextlib.AbstractContextManager
) -> tuple[float, float]:
    """(mean cross-entropy in nats per character, next-character accuracy in %) over the whole of
    ``ids``, deterministically: the text cut into consecutive non-overlapping windows of
    ``block_size`` (the last one shorter), every character but the first predicted once from
    its predecessors in its window (0 to block_size - 1 of them).

    nanoGPT's estimate_loss instead averages eval_iters batches of random windows (200 x 64 for
    shakespeare-char, 20 x 12 in its README's CPU command): the same positions in a window, each
    weighted equally as here, so both estimate the same mean loss; this one covers the text
    once, with no sampling noise, identically for every activation and seed."""
    targets = len(ids) - 1
    full = targets // block_size
    inputs = ids[: full * block_size].view(full, block_size)  # (N, T)
    labels = ids[1 : full * block_size + 1].view(full, block_size)  # (N, T): one character later
    parts = [(inputs, labels)]
    if targets > full * block_size:  # the text's tail, one shorter window
        parts.append((ids[full * block_size : targets].view(1, -1), ids[full * block_size + 1 :].view(1, -1)))
    batch = max(1, EVAL_TOKENS // block_size)

    def logits_of(x: torch.Tensor) -> torch.Tensor:  # (b, T) -> (b T, vocab) float32
        with precision:
            return model(x).flatten(0, 1).float()

    loss_sum = correct = 0.0
    for x, y in parts:
        loss, acc = evaluate(model, x, y, batch, logits_of)
        loss_sum += loss * y.numel()
        correct += acc * y.numel()
    return loss_sum / targets, correct / targets


def train_trial(
    activation: str, seed: int, hp: dict[str, Any], ctx: TrainContext, checkpoint: Checkpoint | None = None
) -> Iterator[EpochMetrics]:
    """One trial: the GPT of ``hp`` with ``activation`` in every MLP, trained from ``seed``'s
    streams for ``max_iters`` steps, yielding the metrics at every evaluation point; from
    ``checkpoint``'s state if it has one, saving it there after every finite point."""
    corpus = device_corpus(ctx.data_dir, ctx.verify, ctx.device)
    train_ids, eval_ids = text_splits(corpus, hp["split"])
    vocab = len(corpus.vocab)
    sampler = WindowSampler(train_ids, hp["block_size"], hp["batch_size"], generator(seed, "data_order"))
    model = build_gpt(hp, vocab, activation, seed).to(ctx.device)
    optimizer = make_optimizer(model, hp, ctx.device)
    forward = torch.compile(model) if ctx.compile else model
    precision = autocast(ctx.device, hp)
    torch.manual_seed(stream_seed(seed, "dropout"))  # the dropout masks (CPU and CUDA generators)

    step = 0
    done: list[EpochMetrics] = []
    saved = checkpoint.load() if checkpoint is not None else None
    if saved is not None:
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        sampler.gen.set_state(saved["windows"])
        torch.set_rng_state(saved["rng"])
        if ctx.device.type == "cuda":
            torch.cuda.set_rng_state(saved["cuda_rng"], ctx.device)
        step = saved["step"]
        done = [EpochMetrics(**m) for m in saved["epochs"]]
        yield from done

    for point, end in enumerate(evaluation_steps(hp)[len(done) :], start=len(done) + 1):
        loss_sum = torch.zeros((), device=ctx.device)  # read once per point: no per-step GPU sync
        steps = end - step
        while step < end:
            for group in optimizer.param_groups:
                group["lr"] = lr_at(step, hp)
            x, y = sampler.batch()
            with precision:
                logits = forward(x)  # (B, T, vocab)
            loss = F.cross_entropy(logits.flatten(0, 1).float(), y.flatten())
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if hp["grad_clip"] > 0:
                nn.utils.clip_grad_norm_(model.parameters(), hp["grad_clip"])
            optimizer.step()
            loss_sum += loss.detach()
            step += 1
        train_loss = loss_sum.item() / steps
        extra = {}
        if math.isfinite(train_loss):
            test_loss, test_acc = evaluate_text(model, eval_ids, hp["block_size"], precision)
            extra[BPC.name] = test_loss / math.log(2)
        else:  # diverged: the last point; the engine stores the trial as diverged
            test_loss = test_acc = math.nan
        metrics = EpochMetrics(point, train_loss, test_loss, test_acc, activation_parameters(model), extra)
        done.append(metrics)
        if checkpoint is not None and metrics.finite:
            checkpoint.save(
                {
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "windows": sampler.gen.get_state(),
                    "rng": torch.get_rng_state(),  # dropout masks on the CPU
                    **({"cuda_rng": torch.cuda.get_rng_state(ctx.device)} if ctx.device.type == "cuda" else {}),
                    "step": step,
                    "epochs": [asdict(m) for m in done],
                }
            )
        yield metrics
        if not metrics.finite:
            return
