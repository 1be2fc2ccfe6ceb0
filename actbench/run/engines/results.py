"""A trained trial's record, as every engine makes it: status, timing, where and with
what code it ran."""

from __future__ import annotations

import platform
import time
from datetime import datetime, timezone

import torch

from actbench.api import EpochMetrics, TrainContext, Trial, TrialResult
from actbench.run.provenance import code_revision
from actbench.tasks.costs import synchronize


def describe_device(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return device.type


def elapsed(start: float, ctx: TrainContext) -> float:
    """Seconds since ``start`` (perf_counter), once the device has finished its queued work."""
    synchronize(ctx.device)
    return time.perf_counter() - start


def make_result(
    trial: Trial,
    epochs: list[EpochMetrics],
    wall_time_s: float,
    engine: str,
    ctx: TrainContext,
    error: str | None = None,
    where: tuple[str, str] | None = None,
) -> TrialResult:
    """The record of a trial that ended: ok, diverged (its last epoch's loss is not
    finite) or, given ``error``, failed after the epochs it finished. ``where``: (device,
    host) when the record is made away from the machine that trained it (a Ray driver
    recording a worker that died); by default this process's device and host."""
    from actbench import __version__

    diverged = bool(epochs) and not epochs[-1].finite
    return TrialResult(
        trial=trial,
        status="failed" if error else "diverged" if diverged else "ok",
        diverged_epoch=epochs[-1].epoch if diverged and not error else None,
        epochs=epochs,
        wall_time_s=wall_time_s,
        engine=engine,
        device=where[0] if where else describe_device(ctx.device),
        torch_version=torch.__version__,
        actbench_version=__version__,
        host=where[1] if where else platform.node(),
        finished_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        code_revision=code_revision(),
        error=error,
    )
