"""The local executor: every unit in this process, in the order planned.

A unit whose training raises (a plug-in activation that fails mid-training, say) does not
end the run: a trial that fails alone is stored as failed, with its error and the epochs
it finished; a population that fails is retrained member by member, sequentially, so that
only the failing members are stored as failed. Errors of actbench's own (missing data,
a bad setting), the machine's (a disk too full for a checkpoint) and Ctrl-C still end
the run.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from actbench.api import EpochMetrics, Trial, TrainContext, TrialResult, WorkUnit
from actbench.errors import ActbenchError, describe_exception
from actbench.run.engines import ENGINES, EpochCallback, StartCallback
from actbench.run.engines.results import make_result


class LocalExecutor:
    """Takes no options: this process is the worker."""

    def run(
        self,
        units: list[WorkUnit],
        ctx: TrainContext,
        on_start: StartCallback | None,
        on_epoch: EpochCallback | None,
    ) -> Iterator[TrialResult]:
        for unit in units:
            yield from self._run_unit(unit, ctx, on_start, on_epoch)

    def _run_unit(
        self, unit: WorkUnit, ctx: TrainContext, on_start: StartCallback | None, on_epoch: EpochCallback | None
    ) -> Iterator[TrialResult]:
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
                    yield from self._run_unit(WorkUnit("sequential", (trial,)), ctx, on_start, on_epoch)
                return
            (trial,) = rest
            elapsed = time.perf_counter() - start
            yield make_result(trial, epochs[trial.key], elapsed, unit.engine, ctx, error=describe_exception(exc))
