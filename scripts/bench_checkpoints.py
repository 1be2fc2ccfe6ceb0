"""How big an epoch checkpoint is and how long its save takes next to an epoch.

Three units of work, each trained for real through its task's trainer with a
FileCheckpoint in a temporary folder:

- one MNIST MLP trial (784-128-64-10, AdamW), 2 epochs;
- one MNIST population of 4 activations x 10 seeds (40 members), 2 epochs;
- one airbench94 trial at its default widths (64/256/256) on synthetic CIFAR-10 files:
  epochs of ``--airbench-steps`` steps of 1024 images (a CPU takes seconds a step; the
  full epoch of 48 steps is extrapolated from it and labelled so).

Sizes are exact (bytes of the file after epoch 2; the metrics list adds a few hundred
bytes an epoch). Times: the second epoch's training and evaluation (save excluded),
and the save (torch.save to a temporary file, fsync, rename, fsync of the folder) timed
``--saves`` times on the same state: median and range. Without real MNIST files
(``--data-dir``) the MLP rows train on the bundled mnist-mini (5k images) and scale the
epoch to 60k images, labelled so.

    python scripts/bench_checkpoints.py --data-dir ../shared/data/mnist
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import torch

from actbench.api import TrainContext
from actbench.run.checkpoints import FileCheckpoint
from actbench.tasks import get_task

MNIST_TRAIN = 60_000


class Measured:
    """A FileCheckpoint that times its saves and keeps the last state."""

    def __init__(self, path: Path):
        self.file = FileCheckpoint(path)
        self.save_s: list[float] = []
        self.state: dict[str, Any] | None = None

    def load(self) -> None:
        return None

    def save(self, state: dict[str, Any]) -> None:
        start = time.perf_counter()
        self.file.save(state)
        self.save_s.append(time.perf_counter() - start)
        self.state = state


def second_epoch_seconds(iterator, checkpoint: Measured, epoch_of=lambda item: item.epoch) -> float:
    """Seconds from the first epoch's first record to the second's, minus the save in
    between: an epoch once the first has paid for the lazy set-up (allocations, kernels).
    A population yields a record per member and epoch; ``epoch_of`` reads its epoch."""
    while epoch_of(next(iterator)) != 1:
        pass
    start = time.perf_counter()
    while epoch_of(next(iterator)) != 2:
        pass
    seconds = time.perf_counter() - start - checkpoint.save_s[-1]
    iterator.close()
    return seconds


def resave(checkpoint: Measured, times: int) -> list[float]:
    for _ in range(times):
        checkpoint.save(checkpoint.state)
    return checkpoint.save_s[-times:]


def mlp_rows(args, folder: Path) -> list[tuple]:
    real = args.data_dir is not None
    task = get_task("mnist" if real else "mnist-mini")
    ctx = TrainContext(torch.device("cpu"), args.data_dir)
    hp = task.resolve_hparams({"epochs": 2})
    scale = 1.0 if real else MNIST_TRAIN / len(task.data(ctx, "test").train_x)
    note = "" if real else f" (mnist-mini epoch x {scale:.0f})"
    rows = []
    trial = Measured(folder / "trial.pt")
    epoch_s = second_epoch_seconds(task.train("relu", 0, hp, ctx, trial), trial) * scale
    rows.append(("mnist MLP trial", 1, trial, epoch_s, note))
    acts = ["relu", "gelu", "silu", "ralu(alpha=1.0, learnable=true)"]
    members = [(act, seed) for seed in range(10) for act in acts]
    population = Measured(folder / "population.pt")
    records = task.population.train(members, hp, ctx, population)
    epoch_s = second_epoch_seconds(records, population, lambda item: item[1].epoch) * scale
    rows.append(("mnist population 4 acts x 10 seeds", 40, population, epoch_s, note))
    return rows


def airbench_row(args, folder: Path) -> tuple:
    from cifar_files import write_synthetic_cifar10

    batch, steps = 1024, args.airbench_steps
    write_synthetic_cifar10(folder / "cifar" / "cifar-10-batches-py", n_train=batch * steps, n_test=200)
    ctx = TrainContext(torch.device("cpu"), folder / "cifar", verify=False)
    task = get_task("cifar10-airbench94")
    hp = task.resolve_hparams({"epochs": 3.0, "whiten_images": min(5000, batch * steps)})
    trial = Measured(folder / "airbench.pt")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # synthetic files: MD5 not verified
        epoch_s = second_epoch_seconds(task.train("gelu", 0, hp, ctx, trial), trial)
    full = epoch_s / steps * (50_000 // batch)
    return (
        "airbench94 trial, widths 64/256/256",
        1,
        trial,
        full,
        f" ({steps}-step epoch x {50_000 // batch / steps:.0f})",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, help="folder with the real MNIST files (else mnist-mini, scaled)")
    parser.add_argument("--saves", type=int, default=5, help="timed saves of each state")
    parser.add_argument("--airbench-steps", type=int, default=1, help="steps of 1024 in the timed airbench epoch")
    parser.add_argument("--no-airbench", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        rows = mlp_rows(args, folder)
        if not args.no_airbench:
            rows.append(airbench_row(args, folder))
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, checkpoints in {folder}")
        print(f"| unit | members | bytes | save s, median (min-max of {args.saves}) | epoch s | save / epoch |")
        print("|---|---:|---:|---|---:|---:|")
        for name, members, checkpoint, epoch_s, note in rows:
            saves = resave(checkpoint, args.saves)
            size = checkpoint.file.path.stat().st_size
            median = statistics.median(saves)
            print(
                f"| {name} | {members} | {size:,} | {median:.3f} ({min(saves):.3f}-{max(saves):.3f}) "
                f"| {epoch_s:.2f}{note} | {median / epoch_s:.2%} |"
            )


if __name__ == "__main__":
    main()
