"""The executors: where units of work run. ``local`` runs them in this process, one
after another; ``ray`` sends them to the workers of a Ray cluster, many at once. Either
way the runner commits what comes back: executors and engines never touch the store.

An executor is a class, opened once per run as ``cls(setup, on_start, on_epoch)``
(an ExecutorSetup; ``on_start(trial)`` / ``on_epoch(trial, metrics)`` follow the work as
far as it can), whose instances provide:

    ctx: TrainContext      the context units run with (a cluster picks the device)
    description: str       where the units run, for the run's header line
    capacity() -> int      how many units it runs at once now: the runner keeps that many submitted
    memory_budget() -> int | None   bytes a population may use on one worker; None: the engine's default
    prepare(task)          load the task's data where units will run, so a missing file fails first
    submit(unit)           start a unit (or queue it)
    collect() -> Iterator[TrialResult | UnitDone]
                           waits for work to come back: each result as it arrives, then
                           UnitDone(unit) once all of a unit's results are out (its
                           checkpoint can go); returns after at least one item, or at once
                           when nothing is submitted
    close()                let go of workers and connections (after an error too)

and, on the class, ``configure(options, device) -> (options, torch.device | None)``:
the executor's own options from the config (``address``, ``gpus_per_trial``, ...)
checked, and the device resolved (None: decided when it connects). Units are plain
data (actbench.api.WorkUnit), so they can cross a process boundary. Adding one: a
module here with its class, one ``EXECUTORS.add`` line below; ``--executor NAME`` then
selects it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from actbench.api import Task, TrainContext, TrialResult, WorkUnit
from actbench.registry import Registry
from actbench.run.engines import EpochCallback, StartCallback

if TYPE_CHECKING:
    import torch

# Executor options a run config may carry (top-level keys, and the run command's flags).
# Each executor says which it takes; giving one to an executor that does not is a UsageError.
OPTION_KEYS = ("address", "gpus_per_trial", "cpus_per_trial", "max_retries")


@dataclass(frozen=True)
class ExecutorSetup:
    """What an executor opens with: the run's context, its own options (``configure``d),
    the run's activation specs (a cluster ships their plug-in modules) and its memory
    budget (bytes, None: the engine's default)."""

    ctx: TrainContext
    options: dict[str, Any]
    activations: list[str]
    memory_budget: int | None


@dataclass(frozen=True)
class UnitDone:
    """Every result of ``unit`` has been yielded."""

    unit: WorkUnit


class Executor(Protocol):
    ctx: TrainContext
    description: str

    @classmethod
    def configure(cls, options: dict[str, Any], device: str) -> tuple[dict[str, Any], torch.device | None]: ...

    def __init__(
        self, setup: ExecutorSetup, on_start: StartCallback | None, on_epoch: EpochCallback | None
    ) -> None: ...

    def capacity(self) -> int: ...
    def memory_budget(self) -> int | None: ...
    def prepare(self, task: Task, hparams: dict[str, Any]) -> None: ...
    def submit(self, unit: WorkUnit) -> None: ...
    def collect(self) -> Iterator[TrialResult | UnitDone]: ...
    def close(self) -> None: ...


EXECUTORS: Registry[type[Executor]] = Registry("executor")
EXECUTORS.add("local", "actbench.run.executors.local:LocalExecutor")
EXECUTORS.add("ray", "actbench.run.executors.ray:RayExecutor")
