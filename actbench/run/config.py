"""A run's configuration: a TOML file, overridden by command-line options, validated once.

Everything is checked here, before anything trains or is written: task, activation specs,
seeds, hyperparameters, engine, executor and device. The result, ``RunConfig``, expands
into ``Trial``s.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

import torch

from actbench.activations import parse_activation, split_specs
from actbench.activations.builtin import Gated
from actbench.activations.probe import probe_activation
from actbench.api import TUNED_KEY, Task, Trial
from actbench.errors import UsageError
from actbench.run.engines import ENGINES
from actbench.run.executors import EXECUTORS, OPTION_KEYS
from actbench.tasks import get_task

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

# Keys of a run config file. Hyperparameter shortcuts sit at the top level too, so that a
# file reads like the command line; any task hyperparameter can go in [hparams].
HPARAM_SHORTCUTS = ("epochs", "batch_size", "lr", "weight_decay")
RUN_KEYS = (
    "task",
    "acts",
    "repeats",
    "seeds",
    "device",
    "data_dir",
    "results_dir",
    "verify",
    "hparams",
    "engine",
    "executor",
    "memory_budget_gb",
    "compile",
    "checkpoint",
    "checkpoint_dir",
    "tuned",
    "threads",
    *HPARAM_SHORTCUTS,
    *OPTION_KEYS,
)
# Hyperparameters every activation must share in a tuned run: the budget (epochs; a GPT's
# max_iters), what the metrics are measured on, and the GPT's MLP form (plain or gated:
# the architecture compared, not a setting of it).
UNTUNABLE = ("epochs", "max_iters", "split", "mlp")

DEVICES = ("auto", "cpu", "cuda", "mps")

# A seed is stored in an SQLite INTEGER, a signed 64-bit number; the seeding itself
# (actbench.seeding: numpy's SeedSequence) takes any non-negative integer.
SEED_LIMIT = 2**63

# What the plain keys of a run config must hold (the others are checked where they are
# read): a wrong type is one line naming the key, not a traceback, and "false" is not
# taken for true.
ACTS_TYPE = 'a comma-separated string ("relu,gelu") or a list of activation specs (["relu", "gelu"])'
STRING_KEYS = ("task", "device", "engine", "executor", "address")
PATH_KEYS = ("data_dir", "results_dir", "checkpoint_dir")
BOOL_KEYS = ("verify", "compile", "checkpoint")


@dataclass(frozen=True)
class RunConfig:
    task: str
    activations: list[str]  # canonical specs, in the order given
    seeds: list[int]
    hparams: dict[str, Any]  # the task's full, resolved hyperparameters, shared by every activation
    # Each activation's hyperparameters: ``hparams``, or in a tuned run (a config file's
    # [tuned] table, written by actbench tune) with its chosen settings and the tuned marker.
    activation_hparams: dict[str, dict[str, Any]]
    device: torch.device | None  # None: the executor picks it when it connects (Ray: cuda where the cluster has GPUs)
    data_dir: Path | None  # None: $ACTBENCH_DATA or the user cache (see actbench.datasets.files)
    results_dir: Path
    verify: bool
    engine: str  # a name in ENGINES ("population" or "sequential"), resolved from auto
    executor: str  # a name in EXECUTORS: where the units of work run
    executor_options: dict[str, Any]  # checked by the executor: address, gpus_per_trial, ... (see OPTION_KEYS)
    memory_budget: int | None  # bytes a population may use; None: the engine's default
    compile: bool  # torch.compile the training step
    checkpoint: bool  # save each unit's state after every epoch, to resume from
    checkpoint_dir: Path | None  # where (None: RESULTS/checkpoints); a shared folder lets cluster retries resume
    # torch's intra-op threads while this process trains (local executor); None: torch's default
    # (OMP_NUM_THREADS, else one per core). Not part of a trial: it changes the time, not the experiment.
    threads: int | None

    @property
    def checkpoints(self) -> Path | None:
        """The folder of this run's checkpoints; None: --no-checkpoint."""
        if not self.checkpoint:
            return None
        return self.checkpoint_dir or self.results_dir / "checkpoints"

    def trials(self) -> list[Trial]:
        """Seed-major order: an interrupted run leaves complete, paired seeds behind."""
        return [
            Trial(self.task, act, seed, self.activation_hparams[act]) for seed in self.seeds for act in self.activations
        ]

    @property
    def protocol(self) -> str:
        """The experiment's hash (actbench.api.protocol_hash): the same for every activation."""
        return Trial(self.task, self.activations[0], 0, self.activation_hparams[self.activations[0]]).protocol


def load_config_file(path: Path) -> dict[str, Any]:
    """The key/value pairs of a TOML run config; unknown keys are a UsageError."""
    try:
        values = tomllib.loads(Path(path).read_text())
    except FileNotFoundError:
        raise UsageError(f"config file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read config file {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: invalid TOML: {exc}") from None
    unknown = sorted(set(values) - set(RUN_KEYS))
    if unknown:
        raise UsageError(
            f"{path}: unknown key {', '.join(map(repr, unknown))}; valid keys: {', '.join(sorted(RUN_KEYS))}"
        )
    if "hparams" in values and not isinstance(values["hparams"], dict):
        raise UsageError(f"{path}: 'hparams' must be a table ([hparams])")
    check_types(values, where=str(path))
    tuned = values.get("tuned")
    if tuned is not None and not (
        isinstance(tuned, dict)
        and isinstance(tuned.get("by"), str)
        and isinstance(tuned.get("settings"), dict)
        and all(isinstance(v, dict) for v in tuned["settings"].values())
    ):
        raise UsageError(
            f"{path}: 'tuned' must be a table with by = \"ID\" and [tuned.settings] of activation = {{key = value}}"
        )
    return values


def check_types(values: dict[str, Any], where: str | None = None) -> None:
    """UsageError naming the key (and ``where`` it was given) whose value is of the wrong type."""
    prefix = f"{where}: " if where else ""
    for key, value in values.items():
        if value is None:
            continue
        if key == "acts":
            ok, requirement = _is_specs(value), ACTS_TYPE
        elif key in STRING_KEYS:
            ok, requirement = isinstance(value, str), "a string"
        elif key in PATH_KEYS:
            ok, requirement = isinstance(value, (str, PurePath)), "a path (a string)"
        elif key in BOOL_KEYS:
            ok, requirement = isinstance(value, bool), "true or false"
        else:
            continue
        if not ok:
            raise UsageError(f"{prefix}'{key}' must be {requirement}, got {value!r}")


def _is_specs(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value))


def parse_assignment(text: str) -> tuple[str, Any]:
    """``key=value`` from ``--set``; the value is read as TOML (numbers, true/false, [lists]),
    else kept as a string."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise UsageError(f"--set expects key=value, got {text!r}")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return key.strip(), value


def parse_assignments(items: list[str] | None) -> dict[str, Any] | None:
    """Repeated ``--set`` items as a run config's hparams; None: none given."""
    return dict(parse_assignment(item) for item in items or []) or None


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA, then Apple's MPS, then the CPU; an unavailable device is a UsageError."""
    base = name.split(":")[0]
    if base not in DEVICES:
        raise UsageError(f"unknown device {name!r}; choose from: {', '.join(DEVICES)} (or cuda:N)")
    if base == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if base == "cuda" and not torch.cuda.is_available():
        raise UsageError(f"device {name!r} asked for, but this torch build sees no CUDA GPU")
    if base == "mps" and not torch.backends.mps.is_available():
        raise UsageError(f"device {name!r} asked for, but MPS is not available here")
    try:
        return torch.device(name)
    except RuntimeError:
        raise UsageError(f"invalid device {name!r}") from None


def _activations(value: Any, task: Task) -> list[str]:
    specs = split_specs(value) if isinstance(value, str) else list(value)
    if not specs:
        raise UsageError("no activations given: pass --acts relu,gelu or set acts in the config file")
    canonical: list[str] = []
    for spec in specs:
        parsed = parse_activation(str(spec))
        if parsed.canonical in canonical:
            raise UsageError(f"activation listed twice: {parsed.canonical}")
        module = probe_activation(parsed)
        # A task whose MLP has a gated form says so (gated_mlp); any other would use the gate alone.
        if isinstance(module, Gated) and not getattr(task, "gated_mlp", False):
            raise UsageError(
                f"activation {parsed.unversioned} is a gated MLP (GLU) form, which task {task.name} does not have; "
                "the shakespeare-char tasks do"
            )
        canonical.append(parsed.canonical)
    return canonical


def _seeds(layer: dict[str, Any], where: str) -> list[int] | None:
    """Seeds from one layer (file or command line): ``seeds`` or ``repeats``, not both."""
    if layer.get("seeds") is not None and layer.get("repeats") is not None:
        raise UsageError(f"{where}: give either seeds or repeats, not both")
    if layer.get("repeats") is not None:
        repeats = layer["repeats"]
        if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
            raise UsageError(f"repeats must be a positive integer, got {repeats!r}")
        if repeats > SEED_LIMIT:  # before the seeds are listed: that many overflow range()
            raise UsageError(f"repeats {repeats} is too large: seeds must be below 2**63")
        return list(range(repeats))
    if layer.get("seeds") is not None:
        seeds = layer["seeds"]
        if isinstance(seeds, str):
            try:
                seeds = [int(s) for s in seeds.split(",") if s.strip()]
            except ValueError:
                raise UsageError(f"seeds must be integers like 0,3,7, got {layer['seeds']!r}") from None
        if (
            not isinstance(seeds, (list, tuple))
            or not seeds
            or any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in seeds)
        ):
            raise UsageError(f"seeds must be non-negative integers, got {layer['seeds']!r}")
        too_large = [s for s in seeds if s >= SEED_LIMIT]
        if too_large:
            raise UsageError(f"seed {too_large[0]} is too large: seeds must be below 2**63")
        if len(set(seeds)) != len(seeds):
            raise UsageError(f"seeds must not repeat, got {layer['seeds']!r}")
        return list(seeds)
    return None


def _hparam_overrides(layer: dict[str, Any]) -> dict[str, Any]:
    overrides = dict(layer.get("hparams") or {})
    overrides.update({k: layer[k] for k in HPARAM_SHORTCUTS if layer.get(k) is not None})
    return overrides


def build_run_config(file_values: dict[str, Any], cli_values: dict[str, Any]) -> RunConfig:
    """Merge the config file with the command line (the command line wins) and validate all.

    ``cli_values`` uses the same keys as the file; ``None`` means "not given".
    """
    check_types(cli_values)
    merged = {**file_values, **{k: v for k, v in cli_values.items() if v is not None}}
    task = get_task(str(merged.get("task", "mnist")))
    activations = _activations(merged.get("acts", []), task)
    seeds = _seeds(cli_values, "command line") or _seeds(file_values, "config file") or [0]
    overrides = {**_hparam_overrides(file_values), **_hparam_overrides(cli_values)}
    hparams = task.resolve_hparams(overrides)
    data_dir = merged.get("data_dir")
    executor = EXECUTORS.primary(str(merged.get("executor", "local")))
    options, device = EXECUTORS.get(executor).configure(
        {key: merged[key] for key in OPTION_KEYS if merged.get(key) is not None}, str(merged.get("device", "auto"))
    )
    return RunConfig(
        task=task.name,
        activations=activations,
        seeds=seeds,
        hparams=hparams,
        activation_hparams=_activation_hparams(task, activations, overrides, hparams, file_values.get("tuned")),
        device=device,
        data_dir=Path(data_dir).expanduser() if data_dir else None,
        results_dir=Path(merged.get("results_dir") or "results").expanduser(),
        verify=bool(merged.get("verify", True)),
        engine=resolve_engine(str(merged.get("engine", "auto")), task.name),
        executor=executor,
        executor_options=options,
        memory_budget=_memory_budget(merged.get("memory_budget_gb")),
        compile=bool(merged.get("compile", False)),
        checkpoint=bool(merged.get("checkpoint", True)),
        checkpoint_dir=Path(merged["checkpoint_dir"]).expanduser() if merged.get("checkpoint_dir") else None,
        threads=_threads(merged.get("threads"), executor),
    )


def _activation_hparams(
    task, activations: list[str], overrides: dict[str, Any], hparams: dict[str, Any], tuned: dict[str, Any] | None
) -> dict[str, dict[str, Any]]:
    """Each activation's hyperparameters: the shared ones, or with a [tuned] table its chosen
    settings over them (the command line's overrides still win for the rest) and the
    tuned marker (actbench.api.TUNED_KEY), which keeps the run one experiment to compare."""
    if not tuned:
        return {act: hparams for act in activations}
    settings = {parse_activation(spec).canonical: values for spec, values in tuned["settings"].items()}
    missing = [act for act in activations if act not in settings]
    if missing:
        raise UsageError(
            f"the tuned settings ({tuned['by']}) have none for {', '.join(missing)}; "
            f"they have: {', '.join(settings)}; tune it too or leave it out of acts"
        )
    keys = sorted({key for act in activations for key in settings[act]})
    fixed = [key for key in keys if key in UNTUNABLE or key == TUNED_KEY]
    if fixed:
        raise UsageError(f"{', '.join(fixed)} cannot be tuned per activation: every activation gets the same")
    return {
        act: {**task.resolve_hparams({**overrides, **settings[act]}), TUNED_KEY: {"by": tuned["by"], "keys": keys}}
        for act in activations
    }


def resolve_engine(name: str, task: str) -> str:
    """auto -> population where the task has a population trainer, else sequential."""
    has_population = get_task(task).population is not None
    if name.strip().lower() == "auto":
        return "population" if has_population else "sequential"
    engine = ENGINES.primary(name)
    if engine == "population" and not has_population:
        raise UsageError(f"task {task} has no population engine; use --engine sequential")
    return engine


def _threads(value: Any, executor: str) -> int | None:
    """--threads checked: a whole number of threads, at most one per CPU of this machine (more
    only oversubscribe them), for the local executor (a Ray unit's threads are its CPUs)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UsageError(f"--threads must be a positive integer, got {value!r}")
    # The CPUs this process may use (a Slurm job, a container, taskset), not the host's.
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    if value > cpus:
        raise UsageError(
            f"--threads {value} is more than this machine's {cpus} CPU(s): more threads only oversubscribe them"
        )
    if executor != "local":
        raise UsageError(
            f"--threads applies to the local executor; with --executor {executor} a unit's torch threads are "
            "its --cpus-per-trial"
        )
    return value


def _memory_budget(gigabytes: Any) -> int | None:
    if gigabytes is None:
        return None
    if isinstance(gigabytes, bool) or not isinstance(gigabytes, (int, float)) or not 0 < gigabytes < float("inf"):
        raise UsageError(f"memory budget must be a positive number of GB, got {gigabytes!r}")
    return int(gigabytes * 2**30)
