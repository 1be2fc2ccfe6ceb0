"""What --threads does to a whole `actbench run`, on an idle machine and beside a busy one.

Runs the same CLI study (4 activations x 5 seeds x 1 epoch of MNIST by default) with torch's
default threads and with each --threads N given, alternating, `--rounds` times, into fresh
results folders; then again while `--busy K` processes spin on the CPU (what a second job,
a notebook or a browser does to a shared machine). Prints the median process wall time of
each setting and its ratio to the default's in the same condition.

    python scripts/bench_threads.py --data-dir ../shared/data/mnist
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ACTBENCH = Path(sys.executable).with_name("actbench")


def spin() -> None:
    while True:
        pass


def one_run(args: argparse.Namespace, threads: int | None, folder: Path) -> float:
    shutil.rmtree(folder, ignore_errors=True)
    command = [
        str(ACTBENCH),
        "run",
        "--task",
        args.task,
        "--acts",
        args.acts,
        "--repeats",
        str(args.repeats),
        "--epochs",
        "1",
        "--results-dir",
        str(folder),
        "-q",
    ]
    if args.data_dir:
        command += ["--data-dir", str(args.data_dir)]
    if threads is not None:
        command += ["--threads", str(threads)]
    start = time.perf_counter()
    subprocess.run(command, check=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    return time.perf_counter() - start


def measure(args: argparse.Namespace, busy: int) -> dict[str, float]:
    spinners = [multiprocessing.Process(target=spin, daemon=True) for _ in range(busy)]
    for process in spinners:
        process.start()
    try:
        settings = [None, *args.threads]
        times: dict[str, list[float]] = {("default" if t is None else f"--threads {t}"): [] for t in settings}
        with tempfile.TemporaryDirectory() as scratch:
            for _ in range(args.rounds):
                for threads, name in zip(settings, times):
                    times[name].append(one_run(args, threads, Path(scratch) / "results"))
        return {name: statistics.median(values) for name, values in times.items()}
    finally:
        for process in spinners:
            process.terminate()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--task", default="mnist")
    parser.add_argument("--acts", default="relu,gelu,silu,srelu")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, nargs="+", default=[1])
    parser.add_argument("--busy", type=int, default=1, help="spinning processes in the busy condition")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    import torch

    print(f"machine: {os.cpu_count()} CPU(s), torch {torch.__version__} (default threads {torch.get_num_threads()})")
    print(f"workload: actbench run --task {args.task} --acts {args.acts} --repeats {args.repeats} --epochs 1")
    for condition, busy in (("idle", 0), (f"beside {args.busy} busy process(es)", args.busy)):
        medians = measure(args, busy)
        base = medians["default"]
        print(f"\n{condition}: median of {args.rounds} process wall times")
        for name, seconds in medians.items():
            print(f"  {name:<14} {seconds:7.1f} s   {seconds / base:5.2f}x the default's time")


if __name__ == "__main__":
    main()
