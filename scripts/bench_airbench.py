#!/usr/bin/env python3
"""Time whole airbench trials, as airbench times them, for several activations in one run.

Each trial goes through the task's own training code (the code `actbench run` uses) on
synthetic CIFAR-10 files of the real size and format, written to a temporary folder: no
CIFAR-10 is needed, and the speed of a trial does not depend on what the pixels show.
Per activation it prints the timed seconds of a trial (whitening init + training + the
final TTA evaluation; CUDA events on a GPU, the wall clock on a CPU), the training
throughput over them, and the ratio to the first activation, which is the baseline of the
same run. The accuracies printed are those on synthetic data: meaningless as results.

    # a GPU: full airbench94 trials, three seeds each
    python scripts/bench_airbench.py --acts relu,gelu --seeds 3
    # a CPU: a few steps of full-width airbench94 (about 7 s a step on 2 cores)
    python scripts/bench_airbench.py --acts relu,gelu --seeds 1 --n-train 10240 --n-test 1000 --set epochs=0.3
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import torch
from cifar_files import write_synthetic_cifar10

from actbench.activations import canonical_spec, split_specs
from actbench.api import TrainContext
from actbench.datasets.files import DataWarning
from actbench.run.config import parse_assignment, resolve_device
from actbench.run.engines.results import describe_device
from actbench.tasks import get_task
from actbench.tasks.airbench.data import BATCHES_FOLDER
from actbench.tasks.airbench.optim import total_steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="cifar10-airbench94")
    parser.add_argument("--acts", default="relu,gelu", help="comma-separated specs; the first is the baseline")
    parser.add_argument("--seeds", type=int, default=3, help="trials per activation (seeds 0..N-1)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--n-train", type=int, default=50_000, help="synthetic training images (CIFAR-10: 50000)")
    parser.add_argument("--n-test", type=int, default=10_000, help="synthetic test images (CIFAR-10: 10000)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a hyperparameter")
    parser.add_argument("--compile", action="store_true", help="torch.compile the network")
    args = parser.parse_args()

    warnings.simplefilter("ignore", DataWarning)  # our own synthetic files: unverified by design
    task = get_task(args.task)
    hp = task.resolve_hparams(dict(parse_assignment(text) for text in args.set))
    acts = [canonical_spec(spec) for spec in split_specs(args.acts)]
    device = resolve_device(args.device)
    steps = total_steps(args.n_train // hp["batch_size"], hp["epochs"])
    print(
        f"{task.name} on {describe_device(device)}, torch {torch.__version__}: {steps} steps of "
        f"{hp['batch_size']} images, {args.n_train} synthetic training and {args.n_test} test images"
    )

    with tempfile.TemporaryDirectory() as tmp:
        write_synthetic_cifar10(Path(tmp) / BATCHES_FOLDER, args.n_train, args.n_test)
        ctx = TrainContext(device=device, data_dir=Path(tmp), verify=False, compile=args.compile)
        task.prepare(ctx, hp)  # data to the device once, outside the timings
        timed: dict[str, list[float]] = {}
        for act in acts:
            for seed in range(args.seeds):
                wall = time.perf_counter()
                last = list(task.train(act, seed, hp, ctx))[-1]
                wall = time.perf_counter() - wall
                timed.setdefault(act, []).append(last.extra["timed_s"])
                print(
                    f"  {act:<28} seed {seed}: {last.extra['timed_s']:8.2f} s timed, {wall:8.2f} s wall "
                    f"(per-epoch evaluations included), TTA acc {last.extra['tta_acc']:.2f}% (synthetic)"
                )

    print(f"\n{'activation':<28} {'timed s/trial':>16} {'train img/s':>12} {'x baseline':>11}")
    base = statistics.mean(timed[acts[0]])
    for act, seconds in timed.items():
        mean = statistics.mean(seconds)
        spread = f" ± {statistics.stdev(seconds):.2f}" if len(seconds) > 1 else ""
        print(f"{act:<28} {f'{mean:.2f}{spread}':>16} {steps * hp['batch_size'] / mean:12.0f} {mean / base:11.2f}")


if __name__ == "__main__":
    main()
