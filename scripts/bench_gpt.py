#!/usr/bin/env python3
"""actbench's GPT task against nanoGPT's own train.py, on the same settings, in the same run.

nanoGPT is not vendored: pass a checkout of karpathy/nanoGPT (its train.py, model.py,
configurator.py and config/). This script writes nanoGPT's shakespeare_char data files
(train.bin, val.bin, meta.pkl: the characters of actbench's shipped Tiny Shakespeare as
uint16 ids in sorted order, split 90/10, as its prepare.py does) into that checkout, then
alternates: one nanoGPT run (train.py with the task's settings, its own fixed seed 1337),
one actbench trial per seed, for ``--rounds`` rounds.

Printed per side: the wall seconds of a whole trial, the seconds of one training step
(nanoGPT: the mean of its logged per-iteration times, the evaluation iterations left
out; actbench: the trial's seconds less its evaluations, over its steps, an evaluation
timed apart on the same model size), each side's own final validation estimate (nanoGPT's
estimate_loss of eval_iters random batches; actbench's whole validation text, see
docs/gpt.md) and the loss on the whole validation text (nanoGPT's saved model evaluated as
actbench evaluates its own trials). The ratio is nanoGPT's step time over actbench's: above
1, actbench is faster.

    python scripts/bench_gpt.py --nanogpt /tmp/nanogpt --task shakespeare-char-cpu --seeds 3
"""

from __future__ import annotations

import argparse
import os
import pickle
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from actbench.api import TrainContext
from actbench.run.config import resolve_device
from actbench.tasks import get_task
from actbench.tasks.gpt.data import load_corpus
from actbench.tasks.gpt.model import build_gpt
from actbench.tasks.gpt.train import autocast, evaluate_text, evaluation_steps

# nanoGPT's train.py flags for each task's settings (its README's CPU command for -cpu).
NANOGPT_FLAGS = {
    "shakespeare-char": ["--compile=False"],
    "shakespeare-char-cpu": [
        "--compile=False",
        "--eval_iters=20",
        "--block_size=64",
        "--batch_size=12",
        "--n_layer=4",
        "--n_head=4",
        "--n_embd=128",
        "--max_iters=2000",
        "--lr_decay_iters=2000",
        "--dropout=0.0",
    ],
}
ITER_LINE = re.compile(r"^iter (\d+): loss [\d.]+, time ([\d.]+)ms")
EVAL_LINE = re.compile(r"^step (\d+): train loss ([\d.]+), val loss ([\d.]+)")


def write_nanogpt_data(nanogpt: Path) -> None:
    """nanoGPT's data/shakespeare_char/{train,val}.bin and meta.pkl, from actbench's corpus."""
    corpus = load_corpus(None)
    folder = nanogpt / "data" / "shakespeare_char"
    folder.mkdir(parents=True, exist_ok=True)
    corpus.train.numpy().astype(np.uint16).tofile(folder / "train.bin")
    corpus.val.numpy().astype(np.uint16).tofile(folder / "val.bin")
    itos = dict(enumerate(corpus.vocab))
    meta = {"vocab_size": len(corpus.vocab), "itos": itos, "stoi": {c: i for i, c in itos.items()}}
    (folder / "meta.pkl").write_bytes(pickle.dumps(meta))


class FullLogits(torch.nn.Module):
    """nanoGPT's GPT returns every position's logits only when given targets: (B, T) -> (B, T, vocab)."""

    def __init__(self, gpt: torch.nn.Module):
        super().__init__()
        self.gpt = gpt

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return self.gpt(idx, idx)[0]


def whole_text_loss(nanogpt: Path, checkpoint: Path, task: str, device: torch.device) -> float:
    """The loss of nanoGPT's saved model (its best: at the last evaluation, when the loss still
    falls) on the whole validation text, measured as actbench measures its own trials."""
    sys.path.insert(0, str(nanogpt))
    from model import GPT, GPTConfig  # nanoGPT's model.py

    saved = torch.load(checkpoint, map_location=device)
    gpt = GPT(GPTConfig(**saved["model_args"]))
    gpt.load_state_dict(saved["model"])
    hp = get_task(task).resolve_hparams({})
    ids = load_corpus(None).val.to(device)
    return evaluate_text(FullLogits(gpt).to(device), ids, hp["block_size"], autocast(device, hp))[0]


def nanogpt_run(nanogpt: Path, task: str, device: torch.device, threads: int, eval_interval: int) -> dict[str, float]:
    """One nanoGPT training run: wall seconds, mean step seconds (evaluation steps left out), its
    own final validation estimate, and its saved model's loss on the whole validation text."""
    with tempfile.TemporaryDirectory() as out:
        command = [sys.executable, "train.py", "config/train_shakespeare_char.py", f"--device={device.type}"]
        command += [*NANOGPT_FLAGS[task], "--log_interval=1", f"--out_dir={out}"]
        env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
        start = time.perf_counter()
        log = subprocess.run(command, cwd=nanogpt, env=env, capture_output=True, text=True, check=True).stdout
        wall = time.perf_counter() - start
        whole = whole_text_loss(nanogpt, Path(out) / "ckpt.pt", task, device)
    steps = [float(m[2]) / 1000 for m in map(ITER_LINE.match, log.splitlines()) if m and int(m[1]) % eval_interval != 0]
    evals = [m for m in map(EVAL_LINE.match, log.splitlines()) if m]
    return {"wall_s": wall, "step_s": statistics.mean(steps), "own_val_loss": float(evals[-1][3]), "val_loss": whole}


def actbench_trial(task_name: str, seed: int, ctx: TrainContext, eval_s: float) -> dict[str, float]:
    """One actbench trial through the task's own code: wall seconds, step seconds, final val loss."""
    task = get_task(task_name)
    hp = task.resolve_hparams({})
    start = time.perf_counter()
    metrics = list(task.train("gelu", seed, hp, ctx))
    wall = time.perf_counter() - start
    points = len(evaluation_steps(hp))
    return {
        "wall_s": wall,
        "step_s": (wall - points * eval_s) / hp["max_iters"],
        "own_val_loss": metrics[-1].test_loss,  # its own estimate is the whole validation text
        "val_loss": metrics[-1].test_loss,
    }


def evaluation_seconds(task_name: str, device: torch.device) -> float:
    """The median of 3 evaluations of the whole validation text by a gelu model of the task's size."""
    hp = get_task(task_name).resolve_hparams({})
    corpus = load_corpus(None)
    model = build_gpt(hp, len(corpus.vocab), "gelu", 0).to(device)
    ids = corpus.val.to(device)
    took = []
    for _ in range(3):
        start = time.perf_counter()
        evaluate_text(model, ids, hp["block_size"], autocast(device, hp))
        took.append(time.perf_counter() - start)
    return statistics.median(took)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nanogpt", type=Path, required=True, help="a checkout of karpathy/nanoGPT")
    parser.add_argument("--task", default="shakespeare-char-cpu", choices=sorted(NANOGPT_FLAGS))
    parser.add_argument("--seeds", type=int, default=3, help="actbench trials per round (seeds 0..N-1; at least 1)")
    parser.add_argument("--rounds", type=int, default=1, help="nanoGPT runs, each followed by the actbench trials")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="torch threads, both sides")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    write_nanogpt_data(args.nanogpt)
    hp = get_task(args.task).resolve_hparams({})
    ctx = TrainContext(device=device, data_dir=None)
    get_task(args.task).prepare(ctx, hp)  # the corpus read and on the device before any timing
    eval_s = evaluation_seconds(args.task, device)
    ours, theirs = [], []
    for _ in range(args.rounds):
        theirs.append(nanogpt_run(args.nanogpt, args.task, device, args.threads, hp["eval_interval"]))
        print(f"nanoGPT  : {theirs[-1]}", flush=True)
        for seed in range(args.seeds):
            ours.append(actbench_trial(args.task, seed, ctx, eval_s))
            print(f"actbench seed {seed}: {ours[-1]}", flush=True)

    def summary(rows: list[dict[str, float]], key: str) -> str:
        values = [row[key] for row in rows]
        spread = f" ± {statistics.stdev(values):.4f}" if len(values) > 1 else ""
        return f"{statistics.mean(values):.4f}{spread}"

    print(f"\n{args.task} on {device}, torch {torch.__version__}, {args.threads} thread(s); gelu")
    print(f"one evaluation of the whole validation text (actbench): {eval_s:.2f} s")
    keys = ("wall_s", "step_s", "own_val_loss", "val_loss")
    print(f"{'':10}{'trials':>7}{'wall s / trial':>20}{'s / step':>20}{'own val estimate':>20}{'val loss, whole':>20}")
    for name, rows in (("nanoGPT", theirs), ("actbench", ours)):
        print(f"{name:10}{len(rows):>7}" + "".join(f"{summary(rows, key):>20}" for key in keys))
    ratio = statistics.mean(r["step_s"] for r in theirs) / statistics.mean(r["step_s"] for r in ours)
    print(f"step time, nanoGPT / actbench: {ratio:.2f}x")


if __name__ == "__main__":
    main()
