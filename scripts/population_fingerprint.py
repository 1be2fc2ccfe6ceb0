#!/usr/bin/env python3
"""A fingerprint of the MLP population engine's results, to check a change keeps them bit-identical.

Trains one population on mnist-mini through the task's population trainer, once straight
through and once stopped after epoch ``--stop`` and resumed from its checkpoint. Prints,
for each run, one line per member: activation, seed, the sha256 (16 hex digits) of its
final parameters and of its AdamW moments (member-major, as the checkpoint stores them), and every metric
of every epoch as repr floats (the measured wall seconds left out). Run it before and
after a change and compare the outputs byte for byte:

    PYTHONPATH=/tmp/old_tree python scripts/population_fingerprint.py > before.txt
    python scripts/population_fingerprint.py > after.txt && cmp before.txt after.txt

``--extra gelu@0`` gives seed 0 one member more than the others (two seed blocks). With
tests/ on PYTHONPATH, the activation ``fakes:NanAfter(calls=100)`` diverges in epoch 2, so
dropping members is covered too (resumed from epoch 1, it needs its call count saved:
``test_mlp_checkpoints:CountingNanAfter(calls=100)``, tests/tasks/mlp on PYTHONPATH).
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from actbench.api import EpochMetrics, TrainContext
from actbench.run.checkpoints import FileCheckpoint
from actbench.tasks import get_task
from actbench.tasks.costs import OWN_SECONDS, SET_ASIDE_SECONDS

Key = tuple[str, int]  # (activation, seed)


def train(
    members: list[Key], hp: dict[str, Any], checkpoint: FileCheckpoint, stop: int | None = None
) -> Iterator[tuple[Key, EpochMetrics]]:
    """The population's records; with ``stop``, closed at the first finite record of that
    epoch (the diverged ones come before the checkpoint is written), as a process killed
    once the epoch's checkpoint was written."""
    task = get_task("mnist-mini")
    records = task.population.train(members, hp, TrainContext(torch.device("cpu"), data_dir=None), checkpoint)
    for key, metrics in records:
        yield key, metrics
        if metrics.epoch == stop and metrics.finite:
            records.close()
            return


def metrics_line(metrics: EpochMetrics) -> str:
    """Every number of one epoch's metrics, exactly, the wall-clock seconds left out."""
    extra = {k: v for k, v in metrics.extra.items() if k not in (OWN_SECONDS, SET_ASIDE_SECONDS)}
    params = {name: [repr(v) for v in values] for name, values in sorted(metrics.activation_params.items())}
    return (
        f"e{metrics.epoch} train={metrics.train_loss!r} test={metrics.test_loss!r} acc={metrics.test_acc!r}"
        f" params={params} extra={sorted((k, repr(v)) for k, v in extra.items())}"
    )


def sha256(tensors: list[torch.Tensor]) -> str:
    digest = hashlib.sha256()
    for tensor in tensors:
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def fingerprint(records: list[tuple[Key, EpochMetrics]], saved: dict) -> list[str]:
    """One line per member, in the order the population first yielded them. The final state
    is the checkpoint's: stacked weights (K, in, out) and biases (K, 1, out), member-major,
    and AdamW's state of those stacked tensors, the same layout."""
    row = {tuple(m): k for k, m in enumerate(saved["members"])}
    stacked = [*saved["weights"], *saved["biases"]]
    moments = [
        value
        for i in range(len(stacked))
        for _, value in sorted(saved["optimizer"]["state"][i].items())
        if value.dim() > 0  # exp_avg, exp_avg_sq: (K, ...); the step count is shared
    ]
    by_member: dict[Key, list[EpochMetrics]] = {}
    for key, metrics in records:
        by_member.setdefault(key, []).append(metrics)
    lines = []
    for key, epochs in by_member.items():
        if key in row:
            k = row[key]
            state = f"params={sha256([t[k] for t in stacked])} adam={sha256([t[k] for t in moments])}"
        else:
            state = "dropped"
        lines.append(f"{key[0]} seed={key[1]} {state} " + " | ".join(metrics_line(m) for m in epochs))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--acts", nargs="+", default=["relu", "prelu", "selu"], help="activation specs")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument(
        "--extra",
        nargs="*",
        default=[],
        help="more members, SPEC@SEED: seeds with unequal member counts, several seed blocks",
    )
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--stop", type=int, default=1, help="the epoch after which the resumed run stops")
    parser.add_argument("--init", default="torch", help="the init hyperparameter")
    args = parser.parse_args()
    torch.set_num_threads(1)  # one thread: the same float reduction order every run
    task = get_task("mnist-mini")
    hp = task.resolve_hparams({"epochs": args.epochs, "init": args.init})  # a trial's, as the engine passes them
    members = [(act, seed) for act in args.acts for seed in args.seeds]
    members += [(spec, int(seed)) for spec, seed in (extra.rsplit("@", 1) for extra in args.extra)]
    with tempfile.TemporaryDirectory() as tmp:
        straight = FileCheckpoint(Path(tmp) / "straight.pt")
        uninterrupted = fingerprint(list(train(members, hp, straight)), straight.load())
        resumable = FileCheckpoint(Path(tmp) / "resumed.pt")
        list(train(members, hp, resumable, stop=args.stop))
        resumed = fingerprint(list(train(members, hp, resumable)), resumable.load())
    print("uninterrupted")
    print("\n".join(uninterrupted))
    print(f"resumed after epoch {args.stop}: {'the same' if resumed == uninterrupted else 'DIFFERENT'}")
    print("\n".join(resumed))


if __name__ == "__main__":
    main()
