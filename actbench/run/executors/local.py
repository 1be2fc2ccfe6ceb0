"""The local executor: every unit in this process, one at a time, in the order submitted.

A unit whose training raises (a plug-in activation that fails mid-training, say) does not
end the run: a trial that fails alone is stored as failed, with its error and the epochs
it finished; a population that fails is retrained member by member, sequentially, so that
only the failing members are stored as failed. Errors of actbench's own (missing data,
a bad setting), the machine's (a disk too full for a checkpoint) and Ctrl-C still end
the run. ``run_unit`` is that policy, and Ray's workers run it too.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from actbench.api import EpochMetrics, Task, TrainContext, Trial, TrialResult, WorkUnit
from actbench.errors import ActbenchError, UsageError, describe_exception
from actbench.run.engines import ENGINES, EpochCallback, StartCallback
from actbench.run.engines.results import make_result
from actbench.run.executors import ExecutorSetup, UnitDone

if TYPE_CHECKING:
    import torch


def run_unit(
    unit: WorkUnit, ctx: TrainContext, on_start: StartCallback | None, on_epoch: EpochCallback | None
) -> Iterator[TrialResult]:
    """Train ``unit`` with its engine; one result per trial, failures included (see above)."""
    epochs: dict[tuple, list[EpochMetrics]] = {t.key: [] for t in unit.trials}
    ended: set[tuple] = set()

    def record(trial: Trial, metrics: EpochMetrics) -> None:
        epochs[trial.key].append(metrics)
        if on_epoch:
            on_epoch(trial, metrics)

    start = time.perf_counter()
    try:
        for result in ENGINES.get(unit.engine).run(unit, ctx, on_start, record):
            ended.add(result.trial.key)
            yield result
    except (ActbenchError, KeyboardInterrupt, OSError):
        raise  # actbench's own errors, Ctrl-C, and the machine's (a full disk): not the trial's
    except Exception as exc:  # noqa: BLE001 - the trial's failure is stored, the run goes on
        rest = [t for t in unit.trials if t.key not in ended]
        if len(unit.trials) > 1:
            for trial in rest:
                yield from run_unit(WorkUnit("sequential", (trial,)), ctx, on_start, on_epoch)
            return
        (trial,) = rest
        elapsed = time.perf_counter() - start
        yield make_result(trial, epochs[trial.key], elapsed, unit.engine, ctx, error=describe_exception(exc))


class LocalExecutor:
    """This process is the worker: one unit at a time, trained when collected."""

    @classmethod
    def configure(cls, options: dict[str, Any], device: str) -> tuple[dict[str, Any], torch.device]:
        from actbench.run.config import resolve_device

        if options:
            flag = "--" + next(iter(options)).replace("_", "-")
            raise UsageError(f"{flag} applies to --executor ray only; this run uses the local executor")
        return {}, resolve_device(device)

    def __init__(self, setup: ExecutorSetup, on_start: StartCallback | None, on_epoch: EpochCallback | None):
        self.ctx, self.on_start, self.on_epoch = setup.ctx, on_start, on_epoch
        self.description = str(self.ctx.device)
        self._budget = setup.memory_budget
        self._queue: list[WorkUnit] = []

    def capacity(self) -> int:
        return 1

    def memory_budget(self) -> int | None:
        return self._budget  # None: the engine's default for this machine's device

    def prepare(self, task: Task, hparams: dict[str, Any]) -> None:
        task.prepare(self.ctx, hparams)

    def submit(self, unit: WorkUnit) -> None:
        self._queue.append(unit)

    def collect(self) -> Iterator[TrialResult | UnitDone]:
        if self._queue:
            unit = self._queue.pop(0)
            yield from self.run_unit(unit)
            yield UnitDone(unit)

    def run_unit(self, unit: WorkUnit) -> Iterator[TrialResult]:
        """One unit's results; a test's executor can wrap this to intervene."""
        return run_unit(unit, self.ctx, self.on_start, self.on_epoch)

    def close(self) -> None:
        self._queue.clear()
