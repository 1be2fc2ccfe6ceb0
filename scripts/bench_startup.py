"""What the private fused AdamW kernel saves at start-up: time to the first optimizer step of
the MLP engines in a fresh process, with ``optim.FusedAdamW`` (the private
``torch._fused_adamw_``, what the engines use where its signature matches) against
torch.optim.AdamW(fused=True) (the fallback, whose first optimizer imports torch._dynamo).

Each run is a fresh Python process that imports torch, builds the 784-128-64-10 MLP and
one batch's gradients, then times making the optimizer and its first step (``first step``)
and reports the whole process up to then (``process``). The two ways alternate, ``--runs``
each; medians, and the fallback's median as a multiple of the private kernel's in the same run.

    python scripts/bench_startup.py --runs 7
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

CHILD = """
import time
start = time.perf_counter()
import json, sys
import torch
import torch.nn.functional as F
from actbench.tasks.mlp import optim
from actbench.tasks.mlp.model import build_mlp, make_optimizer

if sys.argv[1] == "torch.optim":
    optim.private_kernel_matches = lambda: False  # force the fallback
model = build_mlp([784, 128, 64, 10], "relu", 0)
F.cross_entropy(model(torch.randn(64, 784)), torch.randint(0, 10, (64,))).backward()
before = time.perf_counter()
optimizer = make_optimizer(model, {"lr": 1e-3, "weight_decay": 1e-4})
optimizer.step()
done = time.perf_counter()
print(json.dumps({"optimizer": type(optimizer).__name__, "first_step_s": done - before, "process_s": done - start}))
"""

WAYS = ("private kernel", "torch.optim")


def one_run(way: str) -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD, way], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="fresh processes per way (default 7)")
    args = parser.parse_args()
    runs: dict[str, list[dict]] = {way: [] for way in WAYS}
    for _ in range(args.runs):
        for way in WAYS:  # alternating, so that the machine's drift hits both alike
            runs[way].append(one_run(way))
    import torch

    print(f"torch {torch.__version__}, {args.runs} fresh processes each, medians")
    median = {
        way: {key: statistics.median(r[key] for r in runs[way]) for key in ("first_step_s", "process_s")}
        for way in WAYS
    }
    for way in WAYS:
        name = runs[way][0]["optimizer"]
        print(
            f"  {way:<15} ({name:<9})  first step {median[way]['first_step_s']:7.3f} s"
            f"   process {median[way]['process_s']:7.3f} s"
        )
    ratio = median["torch.optim"]["first_step_s"] / median["private kernel"]["first_step_s"]
    saved = median["torch.optim"]["process_s"] - median["private kernel"]["process_s"]
    print(f"  torch.optim's first step takes {ratio:.0f}x the private kernel's; the process {saved:.2f} s longer")


if __name__ == "__main__":
    main()
