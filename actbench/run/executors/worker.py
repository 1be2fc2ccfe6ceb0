"""What a Ray worker does with a unit of work (plain Python: Ray itself is only in ray.py).

A worker trains the unit as the local executor would (``local.run_unit``: a trial that
raises is a failed result, a failing population is retrained member by member) and
returns its results, tagged with the node that trained them. It decides two things for
itself, since the driver's folders may not exist on its machine:

- data: from ``--data-dir`` when that path exists on this node (a shared filesystem),
  else from this node's own cache ($ACTBENCH_DATA, or the user cache), downloading with
  the MD5 check there if the files are missing;
- checkpoints: in the driver's checkpoint folder when this node sees it (the driver
  leaves a marker file in it for this run), so a unit retried after its worker died
  resumes from its last epoch; else none, and a retried unit starts over.

It trusts nothing about the plug-ins it imports: each one's spec names the version of
its source the driver has (``pkg.mod:Name@1a2b3c4d``), and a worker whose own copy hashes
otherwise (another install of the package on this node) ends the run with one line
before training anything, instead of storing another code's numbers under that version.

Progress (a trial started, an epoch done) goes to the driver through ``events`` (a Ray
queue), sent in batches by a thread, so training never waits on the network.
"""

from __future__ import annotations

import dataclasses
import platform
import threading
from pathlib import Path
from typing import Any, Protocol

from actbench.activations import PluginVersionError, parse_activation
from actbench.api import EpochMetrics, TrainContext, Trial, TrialResult, WorkUnit
from actbench.errors import DataError, SpecError
from actbench.run.executors.local import run_unit
from actbench.tasks import get_task

FLUSH_S = 0.25  # how often a worker sends the progress it has


class EventQueue(Protocol):
    """The part of ray.util.queue.Queue a worker uses."""

    def put_nowait_batch(self, items: list[Any]) -> None: ...


class EventRelay:
    """Collects progress events and sends them every FLUSH_S from a thread; ``close``
    sends what is left. An event is ("start", trial key) or ("epoch", trial key, metrics)."""

    def __init__(self, events: EventQueue):
        self.events = events
        self._pending: list[tuple] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="actbench-progress", daemon=True)
        self._thread.start()

    def started(self, trial: Trial) -> None:
        with self._lock:
            self._pending.append(("start", trial.key))

    def epoch_done(self, trial: Trial, metrics: EpochMetrics) -> None:
        with self._lock:
            self._pending.append(("epoch", trial.key, metrics))

    def _flush(self) -> None:
        with self._lock:
            batch, self._pending = self._pending, []
        if batch:
            self.events.put_nowait_batch(batch)

    def _run(self) -> None:
        while not self._stop.wait(FLUSH_S):
            self._flush()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._flush()


def worker_context(ctx: TrainContext, checkpoint_marker: str | None) -> tuple[TrainContext, str]:
    """The driver's context as this node can use it, and where its data comes from (for
    an error message): see the module docstring."""
    data_dir, source = ctx.data_dir, f"--data-dir {ctx.data_dir}"
    if data_dir is None:
        source = "this node's data cache"
    elif not Path(data_dir).exists():
        data_dir, source = None, f"this node's data cache (--data-dir {ctx.data_dir} does not exist here)"
    checkpoints = ctx.checkpoint_dir
    if checkpoints is None or checkpoint_marker is None or not (Path(checkpoints) / checkpoint_marker).is_file():
        checkpoints = None
    return dataclasses.replace(ctx, data_dir=data_dir, checkpoint_dir=checkpoints), source


def train_unit(
    unit: WorkUnit, ctx: TrainContext, checkpoint_marker: str | None, threads: int, events: EventQueue, node: str
) -> list[TrialResult]:
    """Train ``unit`` on this worker; its results, each with ``node``."""
    import torch

    torch.set_num_threads(threads)
    check_plugin_versions(unit, node)
    ctx, source = worker_context(ctx, checkpoint_marker)
    try:
        first = unit.trials[0]
        get_task(first.task).prepare(ctx, first.hparams)  # loads once per worker process, then cached
    except DataError as exc:
        raise DataError(
            f"on Ray node {platform.node()} ({node[:8]}), data from {source}: {exc} On a cluster, give --data-dir "
            "a folder every node mounts at the same path, or put the files in each node's cache"
        ) from None
    relay = EventRelay(events)
    try:
        results = list(run_unit(unit, ctx, relay.started, relay.epoch_done))
    finally:
        relay.close()
    return [dataclasses.replace(result, node=node) for result in results]


def check_plugin_versions(unit: WorkUnit, node: str) -> None:
    """SpecError unless every plug-in of ``unit`` has here the source version its spec names."""
    for activation in dict.fromkeys(trial.activation for trial in unit.trials):
        try:
            parse_activation(activation)
        except PluginVersionError as exc:
            module = exc.target.partition(":")[0]
            raise SpecError(
                f"on Ray node {platform.node()} ({node[:8]}), plug-in {exc.target} is at version {exc.current}, "
                f"the driver's at {exc.given}: this worker's copy of {module} differs from the driver's; "
                "install the same version on every node"
            ) from None


def memory_budget(device_type: str, share: float) -> int:
    """Bytes a population may use on this worker: the engine's default for its device,
    times the share of the device one unit gets (a fraction of a GPU, or of the CPUs)."""
    import torch

    from actbench.run.engines.population import default_memory_budget

    return int(default_memory_budget(torch.device(device_type)) * share)
