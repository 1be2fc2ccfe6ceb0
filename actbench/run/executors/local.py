"""The local executor: every unit in this process, in the order planned."""

from __future__ import annotations

from collections.abc import Iterator

from actbench.api import TrainContext, TrialResult, WorkUnit
from actbench.run.engines import ENGINES, EpochCallback, StartCallback


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
            yield from ENGINES.get(unit.engine).run(unit, ctx, on_start, on_epoch)
