"""What a population member costs: its activation's own seconds, measured in the population,
plus an equal share of the rest of the population's time.

A population trains several activations' members as one batched model. Its clock alone
cannot tell them apart: an equal share of it makes every activation cost the same. So a
population trainer measures what each activation adds and reports it with every
EpochMetrics it yields, in ``extra`` under two keys that the engine
(actbench.run.engines.population) takes out before anything is recorded:

- OWN_SECONDS: the member's own seconds so far: its activation's measured seconds over the
  members of that activation, summed over the epochs trained;
- SET_ASIDE_SECONDS: the population's seconds so far that are not shared equally: every
  activation's measured seconds, and the time the measuring itself took.

A member's seconds are then (population seconds - set aside) / members + own, so the
members' seconds add up to the population's, the measuring left out. METHOD says how the
MLP population measures (actbench.tasks.mlp.population.activation_costs); the report
cites it (actbench.report.cost), so this module imports torch only where it times.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    import torch

OWN_SECONDS = "_own_seconds"
SET_ASIDE_SECONDS = "_set_aside_seconds"

METHOD = (
    "population members: each activation's forward and backward timed once per epoch on copies of its "
    "modules at the training step's own shapes (median of 3, times the epoch's steps) and its evaluation "
    "forward timed in place, divided among that activation's members; the rest of the population's time "
    "(matrix products, optimiser, data) shared equally"
)

T = TypeVar("T")


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work (a CPU's ops finish before they return: nothing to wait for)."""
    if device.type == "cuda":
        import torch

        torch.cuda.synchronize(device)


def timed(device: torch.device, run: Callable[[], T]) -> tuple[T, float]:
    """``run()`` and the seconds it took, its queued device work included."""
    synchronize(device)
    start = time.perf_counter()
    out = run()
    synchronize(device)
    return out, time.perf_counter() - start
