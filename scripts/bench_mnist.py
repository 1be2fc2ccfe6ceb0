#!/usr/bin/env python3
"""Time the MNIST protocol three ways in one run, on one machine, and compare.

(a) the peer baseline ../shared/bench/reference_mnist.py (per-model DataLoader loop),
(b) actbench's sequential engine, (c) actbench's population engine; seconds per
model-epoch (one model trained for one epoch, test evaluation included), the speedup
over (a), and the achieved model FLOP rate as a fraction of the machine's matmul peak,
measured in the same run with a large torch.mm. Then the custom-autograd activations
against their plain composites of torch ops (forward + backward).

    python scripts/bench_mnist.py --data-dir ../shared/data/mnist            # full: 40 models
    python scripts/bench_mnist.py --task mnist-mini --repeats 4              # a quick look

(a) and (b) train one model after another, so their time per model-epoch does not depend
on how many they train: by default they train one seed per activation. (c) trains all
activations x --repeats seeds at once, as `actbench run` would.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from pathlib import Path

import torch

from actbench.activations import canonical_spec, parse_activation
from actbench.tasks.mlp.data import MNIST_MINI_DIR
from actbench.api import Trial
from actbench.run.engines.population import run_population
from actbench.run.engines.sequential import run_sequential
from actbench.inspect.speed import median_time, variants
from actbench.api import TrainContext
from actbench.tasks import get_task

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO.parent / "shared" / "bench" / "reference_mnist.py"


def matmul_peak_gflops(size: int = 4096, repeats: int = 5) -> float:
    """Best-of-``repeats`` float32 GFLOP/s of one size x size matmul: the machine's practical peak."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b  # warm-up: thread pool, caches
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def flops_per_model_epoch(sizes: list[int], n_train: int, n_test: int) -> float:
    """Matmul FLOPs of one MLP epoch: forward, weight and input gradients per training row
    (no input gradient for the first layer), and a forward per test row."""
    weights = [a * b for a, b in zip(sizes[:-1], sizes[1:])]
    per_train_row = 2 * sum(weights) + 2 * sum(weights) + 2 * sum(weights[1:])
    return n_train * per_train_row + n_test * 2 * sum(weights)


def run_reference(data_dir: Path, acts: list[str], repeats: int) -> float:
    """Wall seconds of the reference script (its own timer: training and test evaluation)."""
    command = [sys.executable, str(REFERENCE), str(data_dir), "--acts", ",".join(acts),
               "--repeats", str(repeats), "--epochs", "1"]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.splitlines()[-1])["wall_s"]


def run_actbench(engine: str, task: str, acts: list[str], seeds: list[int], ctx: TrainContext) -> float:
    hp = get_task(task).resolve_hparams({"epochs": 1})
    trials = [Trial(task, canonical_spec(act), seed, hp) for seed in seeds for act in acts]
    get_task(task).prepare(ctx)  # data loading is not training time
    start = time.perf_counter()
    results = list((run_population if engine == "population" else run_sequential)(trials, ctx))
    elapsed = time.perf_counter() - start
    assert all(r.status == "ok" for r in results)
    return elapsed


def activation_timings(acts: list[str], rows: int, repeats: int = 20) -> list[tuple[str, float, float]]:
    """(spec, custom ms, composite ms) of forward + backward on a (rows, 128) float32 input,
    the variants and the timer of `actbench speed`."""
    x = torch.randn(rows, 128, requires_grad=True)
    cpu = torch.device("cpu")
    out = []
    for name in acts:
        made = variants(parse_activation(name), compile_=False)
        if "custom-autograd" in made:
            custom, composite = (
                median_time(lambda f=made[v]: f(x).sum().backward(), cpu, repeats) * 1e3
                for v in ("custom-autograd", "eager")
            )
            out.append((name, custom, composite))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="mnist", choices=["mnist", "mnist-mini"])
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data" / "mnist",
                        help="MNIST .gz files (for --task mnist)")  # fmt: skip
    parser.add_argument("--acts", default="relu,gelu,silu,srelu")
    parser.add_argument("--repeats", type=int, default=10, help="seeds per activation for the population")
    parser.add_argument("--serial-repeats", type=int, default=1, help="seeds per activation for (a) and (b)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    acts = args.acts.split(",")
    data_dir = MNIST_MINI_DIR if args.task == "mnist-mini" else args.data_dir
    ctx = TrainContext(device=torch.device("cpu"), data_dir=data_dir)
    task = get_task(args.task)
    data = task.data(ctx, {})
    hp = task.resolve_hparams({"epochs": 1})
    flops = flops_per_model_epoch(task.layer_sizes(hp), len(data.train_x), len(data.test_x))

    peak = matmul_peak_gflops()
    serial_models = len(acts) * args.serial_repeats
    rows = [
        ("(a) reference DataLoader loop", serial_models, run_reference(data_dir, acts, args.serial_repeats)),
        ("(b) actbench sequential", serial_models,
         run_actbench("sequential", args.task, acts, list(range(args.serial_repeats)), ctx)),
        ("(c) actbench population", len(acts) * args.repeats,
         run_actbench("population", args.task, acts, list(range(args.repeats)), ctx)),
    ]  # fmt: skip

    print(f"machine: {torch.get_num_threads()} CPU threads, torch {torch.__version__}; "
          f"matmul peak (4096x4096 float32 mm): {peak:.0f} GFLOP/s")  # fmt: skip
    print(f"workload: {','.join(acts)} on {args.task}, 1 epoch, {len(data.train_x)} train / "
          f"{len(data.test_x)} test rows, batch {hp['batch_size']}, {flops / 1e9:.1f} GFLOP per model-epoch")  # fmt: skip
    print(f"{'engine':<32}{'models':>7}{'s/model-epoch':>15}{'speedup':>9}{'GFLOP/s':>9}{'of peak':>9}")
    baseline = rows[0][2] / rows[0][1]
    figures = {"peak_gflops": peak, "flops_per_model_epoch": flops, "engines": {}}
    for name, models, wall in rows:
        per = wall / models
        rate = flops / per / 1e9
        print(f"{name:<32}{models:>7}{per:>15.3f}{baseline / per:>8.1f}x{rate:>9.1f}{rate / peak:>9.1%}")
        figures["engines"][name] = {"models": models, "wall_s": wall, "s_per_model_epoch": per}

    population = len(acts) * args.repeats
    print(f"\nactivations, forward + backward on ({population * hp['batch_size']}, 128) float32 "
          f"(one population step's hidden layer): custom autograd vs plain composite")  # fmt: skip
    for name, custom, composite in activation_timings(acts + ["ralu", "squareplus"], population * hp["batch_size"]):
        print(f"  {name:<12} custom {custom:6.2f} ms   composite {composite:6.2f} ms   ({composite / custom:.2f}x)")
        figures.setdefault("activations", {})[name] = {"custom_ms": custom, "composite_ms": composite}
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
