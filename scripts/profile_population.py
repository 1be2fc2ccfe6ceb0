#!/usr/bin/env python3
"""Where a population step's time goes, and whether --compile pays off.

Trains a population of relu,gelu,silu,srelu x 10 seeds (40 members) on full MNIST for
--steps steps, eager and with the member-loss function torch.compile'd, and prints ms per
step, the compile time, and the share of the eager step taken by the top operators
(torch.profiler).

    python scripts/profile_population.py --data-dir ../shared/data/mnist
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from torch.profiler import profile

from actbench.activations import canonical_spec
from actbench.api import TrainContext
from actbench.tasks import get_task
from actbench.tasks.mlp.population import Member
from actbench.tasks.mlp.population.model import Population, make_population_optimizer, member_losses
from actbench.tasks.mlp.population.train import train_population_epoch

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data" / "mnist")
    parser.add_argument("--acts", default="relu,gelu,silu,srelu")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--steps", type=int, default=100)
    args = parser.parse_args()
    task = get_task("mnist")
    hp = task.resolve_hparams({})
    data = task.data(TrainContext(torch.device("cpu"), args.data_dir), "test")
    members = [Member(canonical_spec(a), s) for a in args.acts.split(",") for s in range(args.seeds)]
    batch = hp["batch_size"]
    gen = torch.Generator().manual_seed(0)
    # One order per seed: a seed's members share its batches.
    orders = {s: torch.randperm(len(data.train_x), generator=gen)[: args.steps * batch] for s in range(args.seeds)}

    def first(steps: int) -> dict[int, torch.Tensor]:
        return {seed: order[: steps * batch] for seed, order in orders.items()}

    def fresh():
        pop = Population(task.layer_sizes(hp), members, torch.device("cpu"))
        return pop, make_population_optimizer(pop, hp)

    for name, losses in (("eager", member_losses), ("compile", torch.compile(member_losses))):
        pop, optimizer = fresh()
        start = time.perf_counter()
        train_population_epoch(pop, optimizer, data.train_x, data.train_y, first(2), batch, losses)
        warm = time.perf_counter() - start
        start = time.perf_counter()
        train_population_epoch(pop, optimizer, data.train_x, data.train_y, orders, batch, losses)
        per_step = (time.perf_counter() - start) / args.steps * 1e3
        print(f"{name:<8} {per_step:6.1f} ms per step of {len(members)} members (first two steps: {warm:.1f} s)")

    pop, optimizer = fresh()
    with profile() as prof:
        train_population_epoch(pop, optimizer, data.train_x, data.train_y, first(50), batch)
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events)
    print("\nshare of an eager step (self CPU time):")
    for event in sorted(events, key=lambda e: e.self_cpu_time_total, reverse=True)[:6]:
        print(f"  {event.key:<32} {event.self_cpu_time_total / total:6.1%}")


if __name__ == "__main__":
    main()
