"""The executors: where units of work run. ``local`` runs them in this process, one
after another; a cluster executor sends them to workers. Either way the runner commits
what comes back: executors and engines never touch the store.

An executor is a class, built as ``EXECUTORS.get(name)()`` (a cluster executor will take
its own options, such as an address), whose instances provide:

    run(units: list[WorkUnit], ctx: TrainContext, on_start, on_epoch) -> Iterator[TrialResult]

yielding each trial's result as soon as it is back (in any order), and calling
``on_start(trial)`` / ``on_epoch(trial, metrics)`` as far as it can follow the work.
Units are plain data (actbench.api.WorkUnit), so they can cross a process boundary.
Adding one: a module here with its class, one ``EXECUTORS.add`` line below;
``--executor NAME`` then selects it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from actbench.api import TrainContext, TrialResult, WorkUnit
from actbench.registry import Registry
from actbench.run.engines import EpochCallback, StartCallback


class Executor(Protocol):
    def run(
        self,
        units: list[WorkUnit],
        ctx: TrainContext,
        on_start: StartCallback | None,
        on_epoch: EpochCallback | None,
    ) -> Iterator[TrialResult]: ...


EXECUTORS: Registry[type[Executor]] = Registry("executor")
EXECUTORS.add("local", "actbench.run.executors.local:LocalExecutor")
