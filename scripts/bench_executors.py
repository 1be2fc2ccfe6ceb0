"""What the Ray executor costs against the local one, in one script run, through the CLI.

Each workload runs as a user runs it (``python -m actbench run ...``, a fresh results
folder, process wall time, start-up included), once with ``--executor local`` and once
with ``--executor ray`` on a new local Ray instance, alternating, ``--repeats`` times:

- the smoke config (configs/smoke.toml: mnist-mini, 2 activations x 2 seeds, 1 epoch);
- one population chunk of the MNIST protocol: 4 activations x 5 seeds, ``--epochs``
  epoch(s) of full MNIST (``--data-dir``), trained as one population on either
  executor (Ray: ``--cpus-per-trial`` = every core, so the chunk is not split).

Besides the wall times and their difference, it prints the seconds the trials
themselves trained (their stored wall times: one population's time for a chunk), so
that the overhead is seen apart from training, and the time a bare ``ray.init`` plus
``ray.shutdown`` takes here.

With a GPU (``--airbench DIR``, synthetic CIFAR-10 files from scripts/make_synthetic_cifar.py):
the airbench94 grid relu,gelu x 4 seeds, local against Ray with ``--gpus-per-trial`` 1
and 0.25, in trials per minute.

    python scripts/bench_executors.py --data-dir ../shared/data/mnist
    python scripts/bench_executors.py --data-dir DIR --airbench /tmp/synthetic-cifar   # on a GPU box
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROTOCOL_ACTS = "relu,gelu,srelu,silu"


def timed_run(args: list[str], results: Path) -> tuple[float, float, int]:
    """(process wall seconds, the stored trials' summed wall times, trials stored)."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "actbench", "run", *args, "--results-dir", str(results), "-q"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"actbench run {' '.join(args)} failed:\n{done.stderr}")
    with sqlite3.connect(results / "actbench.sqlite") as conn:
        rows = conn.execute("SELECT wall_time_s, engine FROM trials").fetchall()
    # A population member's wall time is its share of the population's: the sum is the population's.
    return wall, sum(seconds for seconds, _ in rows), len(rows)


def ray_init_seconds() -> float:
    code = (
        "import ray, time; t = time.perf_counter(); ray.init(address='local', include_dashboard=False); "
        "ray.shutdown(); print(time.perf_counter() - t)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def compare(name: str, local_args: list[str], ray_args: list[str], repeats: int, work: Path) -> None:
    measured: dict[str, list[tuple[float, float, int]]] = {"local": [], "ray": []}
    for i in range(repeats):
        for executor, args in (("local", local_args), ("ray", ray_args)):
            measured[executor].append(timed_run(args, work / f"{name}-{executor}-{i}"))
    print(f"\n{name}: median of {repeats} (process wall s | trials' own training s | trials)")
    walls = {}
    for executor, runs in measured.items():
        walls[executor] = statistics.median(r[0] for r in runs)
        train = statistics.median(r[1] for r in runs)
        print(
            f"  {executor:>5}: {walls[executor]:7.1f} s wall | {train:6.1f} s training | {runs[0][2]} trials "
            f"(walls {', '.join(f'{r[0]:.1f}' for r in runs)})"
        )
    print(f"  ray - local: {walls['ray'] - walls['local']:+.1f} s; ray / local: {walls['ray'] / walls['local']:.2f}x")


def airbench(data_dir: Path, repeats: int, work: Path) -> None:
    grid = [
        "--task",
        "cifar10-airbench94",
        "--acts",
        "relu,gelu",
        "--repeats",
        "4",
        "--data-dir",
        str(data_dir),
        "--no-verify",
    ]
    print(f"\nairbench94, relu,gelu x 4 seeds on synthetic CIFAR-10: trials per minute (median of {repeats})")
    for label, extra in (
        ("local", []),
        ("ray, 1 GPU/trial", ["--executor", "ray", "--gpus-per-trial", "1"]),
        ("ray, 0.25 GPU/trial", ["--executor", "ray", "--gpus-per-trial", "0.25"]),
    ):
        runs = [
            timed_run([*grid, *extra], work / f"airbench-{label}-{i}".replace(" ", "").replace("/", "-"))
            for i in range(repeats)
        ]
        wall = statistics.median(r[0] for r in runs)
        print(f"  {label:>20}: {wall:6.1f} s wall, {60 * runs[0][2] / wall:5.1f} trials/min")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True, help="folder with the real MNIST .gz files")
    parser.add_argument("--epochs", type=int, default=1, help="epochs of the MNIST population chunk")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each workload per executor")
    parser.add_argument("--airbench", type=Path, help="synthetic CIFAR-10 folder: also time airbench94 on the GPU")
    args = parser.parse_args()
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPU(s); a bare ray.init + shutdown: "
        f"{ray_init_seconds():.1f} s"
    )
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        smoke = ["--config", "configs/smoke.toml"]
        compare("smoke config", smoke, [*smoke, "--executor", "ray"], args.repeats, work)
        chunk = [
            "--task",
            "mnist",
            "--acts",
            PROTOCOL_ACTS,
            "--repeats",
            "5",
            "--epochs",
            str(args.epochs),
            "--data-dir",
            str(args.data_dir.resolve()),
            "--engine",
            "population",
        ]
        whole_machine = ["--executor", "ray", "--cpus-per-trial", str(os.cpu_count())]
        compare("MNIST protocol, one population chunk (4 x 5)", chunk, [*chunk, *whole_machine], args.repeats, work)
        if args.airbench:
            airbench(args.airbench.resolve(), args.repeats, work)


if __name__ == "__main__":
    main()
