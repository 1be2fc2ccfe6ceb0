"""The engines: how trials are batched into units of work and how a unit is trained.

``sequential``, the reference, trains one model at a time: one unit per trial.
``population`` trains every trial of a chunk as one batched model, for tasks that offer
a population trainer; tests hold the two to the same numbers. An engine never touches
the store and never chooses where it runs: an executor (actbench.run.executors) hands
it units, the runner commits what comes back.

An engine provides:

    plan(trials: list[Trial], ctx: TrainContext, memory_budget: int | None, workers: int = 1) -> list[WorkUnit]
    run(unit: WorkUnit, ctx: TrainContext, on_start, on_epoch) -> Iterator[TrialResult]

``plan`` makes at least ``workers`` units where there are that many trials, so that an
executor with several idle workers can give each one a unit.

``run`` yields each trial's result the moment it ends; ``on_start(trial)`` and
``on_epoch(trial, metrics)`` (either may be None) follow its progress. Adding one: a
module here and one ``ENGINES.add`` line below; ``--engine NAME`` then selects it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol

from actbench.api import EpochMetrics, TrainContext, Trial, TrialResult, WorkUnit
from actbench.registry import Registry

StartCallback = Callable[[Trial], None]
EpochCallback = Callable[[Trial, EpochMetrics], None]


class Engine(Protocol):
    def plan(
        self, trials: list[Trial], ctx: TrainContext, memory_budget: int | None, workers: int = 1
    ) -> list[WorkUnit]: ...

    def run(
        self, unit: WorkUnit, ctx: TrainContext, on_start: StartCallback | None, on_epoch: EpochCallback | None
    ) -> Iterator[TrialResult]: ...


ENGINES: Registry[Engine] = Registry("engine", listing="choose from: auto, {names}")
ENGINES.add("population", "actbench.run.engines.population:ENGINE")
ENGINES.add("sequential", "actbench.run.engines.sequential:ENGINE")
