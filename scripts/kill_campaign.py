"""Kill a real run with SIGKILL at given seconds, rerun it to the end, and say what
survived each kill and what the whole campaign cost against a clean run.

    python scripts/kill_campaign.py --data-dir ../shared/data/mnist --kill-at 12 20 28

The workload is the durable-progress issue's: a population of 4 activations x 3 seeds
x 3 epochs on full MNIST. After each kill it counts the trials stored and the epochs
each unit in flight had checkpointed (what the rerun does not train again); at the end
it checks the results equal the clean run's, bit for bit.
"""

from __future__ import annotations

import argparse
import io
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch

from actbench.results.store import DB_NAME

ACTS = "relu,gelu,silu,srelu"


def run_command(args: argparse.Namespace, results: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "actbench",
        "run",
        "--task",
        "mnist",
        "--acts",
        ACTS,
        "--repeats",
        "3",
        "--epochs",
        "3",
        "--engine",
        args.engine,
        "--data-dir",
        str(args.data_dir),
        "--results-dir",
        str(results),
        "-q",
    ]


def stored(results: Path) -> int:
    import sqlite3

    if not (results / DB_NAME).exists():
        return 0
    with sqlite3.connect(results / DB_NAME) as conn:
        return conn.execute("SELECT COUNT(*) FROM trials").fetchone()[0]


def checkpointed_epochs(results: Path) -> list[int]:
    """The last epoch each checkpoint of an unfinished unit holds."""
    epochs = []
    for path in sorted((results / "checkpoints").glob("*.pt")):
        envelope = torch.load(path, map_location="cpu", weights_only=True)
        epochs.append(int(envelope["state"]["task"]["epoch"]))
    return epochs


def exported(results: Path) -> pd.DataFrame:
    done = subprocess.run(
        [sys.executable, "-m", "actbench", "export", "--results-dir", str(results)],
        capture_output=True,
        text=True,
        check=True,
    )
    rows = pd.read_csv(io.StringIO(done.stdout))
    columns = ["activation", "seed", "epoch", "train_loss", "test_loss", "test_acc"]
    return rows[columns].sort_values(["activation", "seed", "epoch"]).reset_index(drop=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--kill-at", type=float, nargs="+", default=[12.0, 20.0, 28.0], help="seconds after each start")
    parser.add_argument("--engine", default="population", choices=["population", "sequential"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        clean, killed = Path(tmp) / "clean", Path(tmp) / "killed"
        start = time.perf_counter()
        subprocess.run(run_command(args, clean), check=True)
        clean_s = time.perf_counter() - start
        print(f"clean run: {clean_s:.1f} s, {stored(clean)} trials")
        campaign = time.perf_counter()
        for i, seconds in enumerate(args.kill_at, start=1):
            process = subprocess.Popen(run_command(args, killed))
            time.sleep(seconds)
            process.send_signal(signal.SIGKILL)
            process.wait()
            print(
                f"kill {i} at {seconds:.0f} s: {stored(killed)} trials stored, "
                f"checkpoints of the units in flight at epoch {checkpointed_epochs(killed) or 'none'}"
            )
        subprocess.run(run_command(args, killed), check=True)
        total_s = time.perf_counter() - campaign
        same = exported(killed).equals(exported(clean))
        print(
            f"campaign: {len(args.kill_at)} kills and the rerun took {total_s:.1f} s against {clean_s:.1f} s clean "
            f"({total_s / clean_s:.2f}x); {stored(killed)} trials; results identical to the clean run: {same}"
        )


if __name__ == "__main__":
    main()
