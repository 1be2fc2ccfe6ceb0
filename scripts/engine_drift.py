#!/usr/bin/env python3
"""How far the two engines' weights drift apart, and how far a tiny nudge drifts one engine.

For each activation, trains seed 0 on full MNIST for up to 900 steps three ways: the
sequential engine, a one-member population, and the sequential engine with one weight
nudged by 7e-6 (the size of the engines' first-step difference). Prints the relative
difference ||W1_a - W1_b|| / ||W1_a|| of the first layer after 1, 10, 100, 300, 900 steps.

    python scripts/engine_drift.py --data-dir ../shared/data/mnist --acts relu,gelu
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from actbench.api import TrainContext
from actbench.seeding import generator
from actbench.tasks import get_task
from actbench.tasks.mlp.model import build_mlp, epoch_order, make_optimizer, train_epoch
from actbench.tasks.mlp.population import Member
from actbench.tasks.mlp.population.model import Population, make_population_optimizer
from actbench.tasks.mlp.population.train import train_population_epoch

REPO = Path(__file__).resolve().parents[1]
CHECKPOINTS = (1, 10, 100, 300, 900)
NUDGE = 7e-6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data" / "mnist")
    parser.add_argument("--acts", default="relu,gelu")
    args = parser.parse_args()
    task = get_task("mnist")
    hp = task.resolve_hparams({})
    data = task.data(TrainContext(torch.device("cpu"), args.data_dir), "test")
    sizes = task.layer_sizes(hp)
    print(f"{'activation':<12}{'steps':>6}{'population vs sequential':>26}{'nudged vs sequential':>22}")
    for act in args.acts.split(","):
        order = epoch_order(generator(0, "data_order"), len(data.train_x))
        reference, nudged = build_mlp(sizes, act, 0), build_mlp(sizes, act, 0)
        with torch.no_grad():
            nudged.fc1.weight[5, 300] += NUDGE
        optimizers = [make_optimizer(reference, hp), make_optimizer(nudged, hp)]
        pop = Population(sizes, [Member(act, 0)], torch.device("cpu"))
        pop_optimizer = make_population_optimizer(pop, hp)
        done = 0
        for steps in CHECKPOINTS:
            rows = order[done * hp["batch_size"] : steps * hp["batch_size"]]
            for model, optimizer in zip((reference, nudged), optimizers):
                train_epoch(model, optimizer, data.train_x, data.train_y, rows, hp["batch_size"])
            train_population_epoch(pop, pop_optimizer, data.train_x, data.train_y, {0: rows}, hp["batch_size"])
            done = steps
            w = reference.fc1.weight.detach()
            drift_pop = ((pop.member_tensors(0)["fc1.weight"] - w).norm() / w.norm()).item()
            drift_nudge = ((nudged.fc1.weight.detach() - w).norm() / w.norm()).item()
            print(f"{act:<12}{steps:>6}{drift_pop:>26.2e}{drift_nudge:>22.2e}")


if __name__ == "__main__":
    main()
