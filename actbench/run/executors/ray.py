"""The Ray executor: units of work run as Ray tasks on the workers of a Ray cluster, as
many at once as its resources allow; the driver (this process) alone writes the store.

    actbench run ... --executor ray [--address ADDR] [--gpus-per-trial G] [--cpus-per-trial C]

Without ``--address`` it joins ``RAY_ADDRESS`` if that is set, else starts a new local
instance with every CPU and GPU of this machine (``--address auto`` joins a cluster that
``ray start`` runs on this machine). A cluster to join is probed before Ray connects
(``_check_cluster``): Ray itself retries an address where no cluster listens for many
minutes, so one that does not answer within CONNECT_TIMEOUT_S, or answers in another
protocol than the gRPC of Ray's GCS, ends the run in one line. Each unit is one Ray
task asking for ``cpus_per_trial`` CPUs and ``gpus_per_trial`` GPUs (fractions pack several units on a
GPU); by default 1 CPU, and 1 GPU where the cluster has GPUs. The worker side is
worker.py: where its data and checkpoints come from.

Faults: a task whose worker process dies (killed, out of memory, its node lost) is
retried by Ray up to ``max_retries`` times (default 2); with a shared checkpoint folder
the retry resumes from the last epoch. A population that dies on every attempt is
retried as one-trial units, so a member that kills its worker fails alone; a one-trial
unit that dies on every attempt is stored as failed with the error. A trial that raises
is a failed result at once, as locally (it would fail the same way again). Errors of
actbench's own on a worker (its data missing) end the run, as locally.

Ray is imported only here, when the executor opens; ``configure`` says how to install it.
"""

from __future__ import annotations

import importlib.util
import logging
import math
import os
import socket
import sys
import sysconfig
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from actbench.api import EpochMetrics, Task, TrainContext, Trial, TrialResult, WorkUnit
from actbench.errors import ActbenchError, UsageError, describe_exception
from actbench.run.engines import EpochCallback, StartCallback
from actbench.run.executors import OPTION_KEYS, ExecutorSetup, UnitDone
from actbench.run.executors.worker import memory_budget, train_unit

if TYPE_CHECKING:
    import torch

INSTALL_HINT = '--executor ray needs Ray, which is not installed: pip install "actbench[ray]"'
MAX_RETRIES = 2  # attempts after the first when a worker dies
WAIT_S = 0.25  # how long collect waits for a finished task before it passes on progress
RESOURCES_S = 5.0  # how long the cluster's size is trusted before it is read again (nodes join)
CONNECT_TIMEOUT_S = 30.0  # how long a cluster to join may take to answer before the run ends
RETRY_S = 0.5  # between attempts to connect to a cluster that refuses (its head may still be starting)
# How an HTTP/2 connection opens (RFC 9113 3.4): the client's preface, then an empty SETTINGS
# frame. Ray's GCS speaks gRPC, over HTTP/2, so it answers with a SETTINGS frame of its own.
HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])
HTTP2_SETTINGS = 4  # the frame type, byte 3 of a frame's 9-byte header


def _train_remotely(
    unit: WorkUnit, ctx: TrainContext, checkpoint_marker: str | None, threads: int, events: Any
) -> list[TrialResult]:
    """The Ray task: train one unit on whichever worker Ray chose."""
    import ray

    return train_unit(unit, ctx, checkpoint_marker, threads, events, ray.get_runtime_context().get_node_id())


def _positive(name: str, value: Any, whole: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise UsageError(f"--{name.replace('_', '-')} must be a number >= 0, got {value!r}")
    if whole and value != int(value):
        raise UsageError(f"--{name.replace('_', '-')} must be a whole number, got {value!r}")
    return value


def _local_plugin_modules(specs: list[str]) -> list[str]:
    """The files or package folders of the plug-in activations among ``specs`` that are
    not installed (a module beside the user, as ``mymod:MyAct``): Ray ships them to
    every worker. Installed packages are expected on the workers as actbench is."""
    installed = {Path(sysconfig.get_paths()[key]).resolve() for key in ("stdlib", "platstdlib", "purelib", "platlib")}
    paths = []
    for spec in specs:
        target = spec.split("(")[0]
        if ":" not in target:
            continue  # a registered activation, known to every worker's actbench
        top = target.split(":")[0].split(".")[0]
        module = sys.modules.get(top)
        if module is None or getattr(module, "__file__", None) is None:
            continue
        path = Path(module.__path__[0] if hasattr(module, "__path__") else module.__file__).resolve()
        if not any(path.is_relative_to(root) for root in installed) and str(path) not in paths:
            paths.append(str(path))
    return paths


def _host_port(address: str) -> tuple[str, int] | None:
    """``HOST:PORT`` (``[::1]:PORT`` for IPv6) as (host, port); None: anything else."""
    host, colon, port = address.strip().rpartition(":")
    if not colon or not host or "://" in host or not port.isdigit() or not 0 < int(port) < 65536:
        return None
    return host.strip("[]"), int(port)


def _cluster_to_join(address: str | None) -> tuple[str, str] | None:
    """The address ``ray.init(address=address)`` joins and where it came from (``--address``,
    ``RAY_ADDRESS`` or ``auto``); None: it starts a local instance. ``None`` stands for
    ``RAY_ADDRESS``, as the executor passes it only when that is set."""
    if address == "local":
        return None
    if address not in (None, "auto"):
        return address, "--address"
    if os.environ.get("RAY_ADDRESS"):  # it overrides auto in ray.init too
        return os.environ["RAY_ADDRESS"], "RAY_ADDRESS"
    # Ray has no public API that says where auto leads; this is what ray.init itself calls:
    # the cluster `ray start` last recorded (Ray's temporary folder), else a GCS running here.
    from ray._private.services import get_ray_address_from_environment

    try:
        return get_ray_address_from_environment("auto", None), "auto"
    except ConnectionError:
        raise ActbenchError(
            "--address auto found no Ray cluster on this machine: start one with 'ray start --head', "
            "give the address of one with --address HOST:PORT, or leave out --address to start a local instance"
        ) from None


def _check_cluster(address: str, origin: str) -> None:
    """Return once something at ``address`` answers as a Ray cluster's GCS does (with an
    HTTP/2 SETTINGS frame), else raise ActbenchError within about CONNECT_TIMEOUT_S. A
    refused connection is tried again every RETRY_S until then: a head started at the same
    time as this run (a batch job) has that long to come up. ``origin``: where the address
    came from (_cluster_to_join), for the message. Only HOST:PORT is probed: a ray:// address
    goes through Ray Client, with its own timeouts, and anything else is Ray's to refuse."""
    parsed = _host_port(address)
    if parsed is None:
        return
    host, port = parsed
    where = {"--address": "", "RAY_ADDRESS": "from RAY_ADDRESS; ", "auto": "found by --address auto; "}[origin]
    check, local = ("check the address", "or leave out --address to start a local instance")
    if origin == "RAY_ADDRESS":
        check, local = ("check RAY_ADDRESS", "or unset it to start a local instance")
    deadline = time.monotonic() + CONNECT_TIMEOUT_S
    while True:
        try:
            conn = socket.create_connection((host, port), timeout=max(deadline - time.monotonic(), RETRY_S))
            break
        except socket.gaierror:
            unknown = f"no Ray cluster answers at {address} ({where}no host {host} is known)"
            raise ActbenchError(f"{unknown}: {check}, {local}") from None
        except OSError:  # refused, unreachable, timed out
            if time.monotonic() + RETRY_S >= deadline:
                raise ActbenchError(
                    f"no Ray cluster answers at {address} ({where}waited {CONNECT_TIMEOUT_S:g} s): "
                    f"start one with 'ray start --head --port={port}', {check}, {local}"
                ) from None
            time.sleep(RETRY_S)
    with conn:
        if os.environ.get("RAY_USE_TLS", "0").lower() in ("1", "true"):
            return  # a GCS behind TLS does not answer a plain preface; Ray's own handshake checks it
        # At least RETRY_S to reply: a server that took the whole wait to accept gets a moment.
        conn.settimeout(max(deadline - time.monotonic(), RETRY_S))
        head = b""  # the 9-byte header of the first frame the server sends
        reply: str | None = None  # what was wrong with it
        try:
            conn.sendall(HTTP2_PREFACE)
            while len(head) < 9 and (chunk := conn.recv(9 - len(head))):
                head += chunk
        except TimeoutError:
            reply = f"no reply; waited {CONNECT_TIMEOUT_S:g} s"
        except OSError:  # reset, a broken pipe: as closed
            pass
    if reply is None:
        if not head:
            reply = "it closed the connection"
        elif len(head) < 9 or head[3] != HTTP2_SETTINGS:
            reply = "it speaks another protocol"
        else:
            return
    raise ActbenchError(
        f"{address} answers, but not as a Ray cluster ({where}{reply}): "
        f"{check} ('ray start --head' prints the right one), {local}"
    )


class RayExecutor:
    """Connects to (or starts) Ray when opened; see the module docstring."""

    @classmethod
    def configure(cls, options: dict[str, Any], device: str) -> tuple[dict[str, Any], torch.device | None]:
        """Ray installed, the options valid; the device from ``device`` and the GPUs asked
        for. ``auto`` without --gpus-per-trial: None, decided once connected."""
        import torch

        if importlib.util.find_spec("ray") is None:
            raise UsageError(INSTALL_HINT)
        unknown = sorted(set(options) - set(OPTION_KEYS))  # it takes every executor option
        if unknown:
            raise UsageError(f"--executor ray does not take {', '.join(unknown)}")
        checked = dict(options)
        for name in ("gpus_per_trial", "cpus_per_trial"):
            if name in checked:
                checked[name] = _positive(name, checked[name])
        if "max_retries" in checked:
            checked["max_retries"] = int(_positive("max_retries", checked["max_retries"], whole=True))
        if checked.get("cpus_per_trial") == 0:
            raise UsageError("--cpus-per-trial must be above 0: a trial needs a CPU to drive it")
        if "address" in checked:
            address = str(checked["address"]).strip()
            if not address:
                raise UsageError("--address must not be empty (omit it to start a local Ray instance)")
            if address not in ("auto", "local") and "://" not in address and _host_port(address) is None:
                raise UsageError(
                    f"--address must be HOST:PORT (as 'ray start --head' prints it) or auto, got {address!r}"
                )
        gpus = checked.get("gpus_per_trial")
        name = device.strip().lower()
        if name not in ("auto", "cpu", "cuda"):
            raise UsageError(
                f"--device {device} does not apply to --executor ray: Ray gives each trial its GPUs; "
                "use auto, cpu or cuda, with --gpus-per-trial"
            )
        if name == "cpu" or (name == "auto" and gpus == 0):
            if gpus:
                raise UsageError(f"--device cpu with --gpus-per-trial {gpus}: give one or the other")
            checked["gpus_per_trial"] = 0.0
            return checked, torch.device("cpu")
        if name == "cuda" or gpus:
            if gpus == 0:
                raise UsageError("--device cuda with --gpus-per-trial 0: a CUDA trial needs a GPU")
            checked.setdefault("gpus_per_trial", 1.0)
            return checked, torch.device("cuda")
        return checked, None  # auto: a GPU per trial if the cluster has GPUs

    def __init__(self, setup: ExecutorSetup, on_start: StartCallback | None, on_epoch: EpochCallback | None):
        import ray

        self._ray = ray
        self.on_start, self.on_epoch = on_start, on_epoch
        self._running: dict[Any, WorkUnit] = {}  # ObjectRef -> the unit it trains
        self._submitted: dict[WorkUnit, float] = {}  # unit -> when it was first submitted (perf_counter)
        self._parent: dict[WorkUnit, WorkUnit] = {}  # a one-trial retry -> the population it came from
        self._children_left: dict[WorkUnit, int] = {}
        self._trials: dict[tuple, Trial] = {}  # key -> trial, for progress events
        self._epochs: dict[tuple, list[EpochMetrics]] = {}  # the epochs each trial reported, this attempt
        self._marker: str | None = None
        options = setup.options
        modules = _local_plugin_modules(setup.activations)
        # None: Ray reads RAY_ADDRESS; "local": a new instance, never a cluster found running here.
        address = options.get("address") or (None if os.environ.get("RAY_ADDRESS") else "local")
        if joining := _cluster_to_join(address):
            _check_cluster(*joining)
        try:
            ray.init(
                address=address,
                runtime_env={"py_modules": modules} if modules else None,
                include_dashboard=False,
                logging_level=logging.ERROR,
            )
        except Exception as exc:  # noqa: BLE001 - ConnectionError, RuntimeError, ValueError, ...: one line
            where = f"the Ray cluster at {options['address']}" if options.get("address") else "Ray"
            raise ActbenchError(f"cannot start or reach {where}: {describe_exception(exc)}") from None
        try:
            self._open(setup)
        except BaseException:
            self.close()
            raise

    def _open(self, setup: ExecutorSetup) -> None:
        import torch
        from ray.util.queue import Queue

        ray, options, ctx = self._ray, setup.options, setup.ctx
        total = ray.cluster_resources()
        gpus = options.get("gpus_per_trial")
        if gpus is None:
            gpus = 1.0 if total.get("GPU", 0) > 0 else 0.0
        self.cpus, self.gpus = float(options.get("cpus_per_trial", 1.0)), float(gpus)
        self.max_retries = int(options.get("max_retries", MAX_RETRIES))
        device = ctx.device if ctx.device is not None else torch.device("cuda" if self.gpus else "cpu")
        # Absolute paths: a worker's working folder is not the driver's.
        data_dir, checkpoints = (None if p is None else Path(p).resolve() for p in (ctx.data_dir, ctx.checkpoint_dir))
        self.ctx = TrainContext(device, data_dir, ctx.verify, ctx.compile, checkpoints)
        self._budget: int | None = setup.memory_budget
        self._slots, self._slots_read = 0, -math.inf
        if self.capacity() == 0:
            raise ActbenchError(
                f"no node of the Ray cluster has {self.cpus:g} CPU(s) and {self.gpus:g} GPU(s) for a trial "
                f"(it has {total.get('CPU', 0):g} CPUs and {total.get('GPU', 0):g} GPUs in all); "
                "lower --cpus-per-trial or --gpus-per-trial"
            )
        self._marker = self._leave_checkpoint_marker()
        self._events = Queue(actor_options={"num_cpus": 0})
        self._task = ray.remote(_train_remotely)
        nodes = sum(1 for node in ray.nodes() if node["Alive"])
        self.description = (
            f"{device.type} with Ray: {nodes} node(s), {total.get('CPU', 0):g} CPUs, {total.get('GPU', 0):g} GPUs, "
            f"{self.capacity()} unit(s) at once of {self.cpus:g} CPU and {self.gpus:g} GPU each"
        )

    # -- resources -----------------------------------------------------------------------

    def capacity(self) -> int:
        """Units that fit the live nodes at once: per node, its CPUs (and GPUs) over a
        unit's; read again every RESOURCES_S, as nodes join and leave."""
        if time.monotonic() - self._slots_read > RESOURCES_S:
            slots = 0
            for node in self._ray.nodes():
                if not node["Alive"]:
                    continue
                have = node["Resources"]
                fits = math.floor(have.get("CPU", 0) / self.cpus + 1e-9)
                if self.gpus:
                    fits = min(fits, math.floor(have.get("GPU", 0) / self.gpus + 1e-9))
                slots += fits
            self._slots, self._slots_read = slots, time.monotonic()
        return self._slots

    def memory_budget(self) -> int | None:
        """--memory-budget if given, else measured on a worker with a unit's resources:
        the engine's default there, times the unit's share of the GPU or the node's CPUs."""
        if self._budget is None:
            share = min(self.gpus, 1.0) if self.gpus else self.cpus / max(self._node_cpus(), self.cpus)
            probe = self._ray.remote(memory_budget).options(num_cpus=self.cpus, num_gpus=self.gpus)
            self._budget = self._ray.get(probe.remote(self.ctx.device.type, share))
        return self._budget

    def _node_cpus(self) -> float:
        return max((n["Resources"].get("CPU", 0) for n in self._ray.nodes() if n["Alive"]), default=1.0)

    # -- work ----------------------------------------------------------------------------

    def prepare(self, task: Task, hparams: dict[str, Any]) -> None:
        """Nothing here: each worker loads the data where it runs (worker.py), and a
        missing file ends the run from the first unit."""

    def submit(self, unit: WorkUnit) -> None:
        for trial in unit.trials:
            self._trials[trial.key] = trial
        self._submitted.setdefault(unit, time.perf_counter())
        ref = self._task.options(
            num_cpus=self.cpus,
            num_gpus=self.gpus,
            max_retries=self.max_retries,
            retry_exceptions=False,  # a trial that raises would raise again: it is a failed result at once
            name=f"actbench {unit.engine} of {len(unit.trials)}",
        ).remote(unit, self.ctx, self._marker, max(1, round(self.cpus)), self._events)
        self._running[ref] = unit

    def collect(self) -> Iterator[TrialResult | UnitDone]:
        """Progress as it comes; the results of the first unit(s) to finish, each unit
        followed by UnitDone (a population's retries: once all of them are back)."""
        while self._running:
            ready, _ = self._ray.wait(list(self._running), num_returns=1, timeout=WAIT_S)
            self._relay_progress()
            if not ready:
                continue
            for ref in ready:
                yield from self._finish(ref)
            return

    def _finish(self, ref: Any) -> Iterator[TrialResult | UnitDone]:
        ray = self._ray
        unit = self._running.pop(ref)
        try:
            results = ray.get(ref)
        except ray.exceptions.RayTaskError as exc:  # raised by actbench on the worker: end the run
            cause = exc.cause
            if isinstance(cause, (ActbenchError, OSError)):
                raise cause from None
            raise ActbenchError(f"a Ray worker failed: {describe_exception(cause or exc)}") from None
        except (
            ray.exceptions.WorkerCrashedError,
            ray.exceptions.NodeDiedError,
            ray.exceptions.OutOfMemoryError,
        ) as exc:
            yield from self._died(unit, exc)
            return
        yield from results
        yield from self._done(unit)

    def _died(self, unit: WorkUnit, exc: Exception) -> Iterator[TrialResult | UnitDone]:
        """A unit whose worker died on every attempt: a population is tried again trial by
        trial; a single trial is a failed result with the epochs it last reported."""
        if len(unit.trials) > 1:
            self._children_left[unit] = len(unit.trials)
            for trial in unit.trials:
                child = WorkUnit("sequential", (trial,))
                self._parent[child] = unit
                self.submit(child)
            return
        from actbench.run.engines.results import make_result

        (trial,) = unit.trials
        attempts = self.max_retries + 1
        error = f"the worker died on each of {attempts} attempt(s): {describe_exception(exc, limit=160)}"
        seconds = time.perf_counter() - self._submitted[unit]
        epochs = self._epochs.get(trial.key, [])
        # The worker is gone: the device type it was given, its host unknown.
        yield make_result(trial, epochs, seconds, unit.engine, self.ctx, error, where=(self.ctx.device.type, "unknown"))
        yield from self._done(unit)

    def _done(self, unit: WorkUnit) -> Iterator[UnitDone]:
        self._submitted.pop(unit, None)
        for trial in unit.trials:
            self._epochs.pop(trial.key, None)
        parent = self._parent.pop(unit, None)
        if parent is None:
            yield UnitDone(unit)
            return
        self._children_left[parent] -= 1
        if self._children_left[parent] == 0:
            del self._children_left[parent]
            yield UnitDone(parent)

    def _relay_progress(self) -> None:
        """The progress events the workers sent, to on_start / on_epoch. A retried unit
        starts its trials again, so their epochs are counted afresh."""
        count = self._events.qsize()
        if not count:
            return
        for event in self._events.get_nowait_batch(count):
            trial = self._trials.get(event[1])
            if trial is None:
                continue
            if event[0] == "start":
                self._epochs[trial.key] = []
                if self.on_start:
                    self.on_start(trial)
            else:
                self._epochs.setdefault(trial.key, []).append(event[2])
                if self.on_epoch:
                    self.on_epoch(trial, event[2])

    # -- lifetime ------------------------------------------------------------------------

    def _leave_checkpoint_marker(self) -> str | None:
        """A file in the checkpoint folder that a worker finds only if it sees this very
        folder (worker.worker_context): then its retries resume from checkpoints."""
        if self.ctx.checkpoint_dir is None:
            return None
        name = f".ray-driver-{uuid.uuid4().hex[:12]}"
        Path(self.ctx.checkpoint_dir).mkdir(parents=True, exist_ok=True)
        (Path(self.ctx.checkpoint_dir) / name).write_text(f"{os.getpid()}\n")
        return name

    def close(self) -> None:
        """Cancel what is still running (Ctrl-C, an error), then leave Ray: a local instance
        stops, a cluster stays up for the next run."""
        for ref in self._running:
            self._ray.cancel(ref, force=True)
        self._running.clear()
        if self._marker is not None:
            (Path(self.ctx.checkpoint_dir) / self._marker).unlink(missing_ok=True)
        self._ray.shutdown()
