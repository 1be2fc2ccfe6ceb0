"""The local executor: every unit in this process, in the order planned."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from actbench.api import TrainContext, TrialResult, WorkUnit
from actbench.run.engines import ENGINES, EpochCallback, StartCallback

if TYPE_CHECKING:
    from actbench.run.config import RunConfig


class LocalExecutor:
    @classmethod
    def from_config(cls, config: RunConfig) -> LocalExecutor:
        return cls()  # nothing to set up: this process is the worker

    def run(
        self,
        units: list[WorkUnit],
        ctx: TrainContext,
        on_start: StartCallback | None,
        on_epoch: EpochCallback | None,
    ) -> Iterator[TrialResult]:
        for unit in units:
            yield from ENGINES.get(unit.engine).run(unit, ctx, on_start, on_epoch)
