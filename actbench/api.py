"""The contracts between actbench's stages: what a trial is, what a task offers, what a
trial gives back, and the unit of work an executor runs.

Every stage depends on this module and it depends on nothing of actbench. It imports no
torch at run time (``torch.device`` appears in annotations only), so the command line's
help and listings can load it in milliseconds.

Data flows one way: config -> runner -> executor -> engine -> task; results come back
to the runner, the only writer of the store. Trials and work units are plain data, so
the same unit runs in this process or in another one (a Ray worker) unchanged.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    import torch


# --- metrics ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Metric:
    """A metric a task records beyond the ones every task records (train and test loss,
    test accuracy, after every epoch). The store, the report and the export loop over
    these declarations; nothing outside the task names its metrics.

    kind "score": a quality with a spread across seeds (mean ± std in the summary), one
    the report can compare activations by (``--metric NAME``). kind "cost": a
    measurement of the run (seconds), its mean shown, never compared.
    """

    name: str  # the key in EpochMetrics.extra, the store and --metric: "tta_acc"
    label: str  # what it is, with its unit, as the comparison's method text names it
    column: str  # the summary table's header, with its note's mark: "timed / trial (s) ‡"
    kind: Literal["score", "cost"]
    higher_is_better: bool = True
    note: str = ""  # the sentence under the summary table, mark first where the column has one
    final_only: bool = False  # recorded after the last epoch only


@dataclass(frozen=True)
class EpochMetrics:
    """Metrics after one epoch. ``epoch`` counts from 1; losses are per-example means."""

    epoch: int
    train_loss: float
    test_loss: float
    test_acc: float  # percent, 0..100
    # Learnable activation parameters after this epoch, by module path, flattened
    # (e.g. {"act1.alpha": [1.07]}); empty when the activation learns nothing.
    activation_params: dict[str, list[float]] = field(default_factory=dict)
    # The task's declared metrics (Task.metrics) recorded at this epoch, by name; a
    # final_only metric appears after the last epoch only.
    extra: dict[str, float] = field(default_factory=dict)
    # Training seconds from the trial's start to the end of this epoch, its evaluation
    # included (population members: their activation's measured seconds plus an equal share
    # of the rest, actbench.tasks.costs); stamped by the engine, None until then.
    elapsed_s: float | None = None

    @property
    def finite(self) -> bool:
        return all(math.isfinite(v) for v in (self.train_loss, self.test_loss, self.test_acc))


@dataclass(frozen=True)
class EvaluationAxis:
    """Where a task's evaluation points lie, for a curve's x axis and a time to target: the
    store's "epoch" k (counting from 1) is at k × ``every`` ``name``s of training. A task
    says so with an optional method ``evaluation_axis(hparams) -> EvaluationAxis``; without
    it an evaluation point is an epoch (actbench.report.metrics.evaluation_axis)."""

    name: str  # singular, as a curve's x axis and the cost table name it: "epoch", "iteration"
    every: int = 1  # of them between two evaluation points
    total: int | None = None  # of them in a whole trial (the last point's position); None: not known

    def at(self, point: float) -> float:
        """Where evaluation point ``point`` (the store's epoch) lies: ``point`` × every, the last
        at ``total`` where training ends between two multiples of ``every``."""
        return point * self.every if self.total is None else min(point * self.every, self.total)


# --- trials and their results ----------------------------------------------------------


@dataclass(frozen=True)
class Trial:
    """The identity of one experiment: stored results are keyed by (task, activation, seed, config_hash)."""

    task: str
    activation: str  # canonical spec, e.g. "ralu(alpha=1.0, learnable=true)"
    seed: int
    hparams: dict[str, Any] = field(hash=False)  # resolved: every hyperparameter, JSON data

    @property
    def config_hash(self) -> str:
        """16 hex digits naming the task's full hyperparameter set (seed and activation excluded)."""
        return _hparams_hash(self.task, self.hparams)

    @property
    def protocol(self) -> str:
        """16 hex digits naming the experiment the trial is part of: its config hash, or for a
        tuned trial the hash without the settings tuned per activation (``protocol_hash``)."""
        return protocol_hash(self.task, self.hparams)

    @property
    def key(self) -> tuple[str, str, int, str]:
        return self.task, self.activation, self.seed, self.config_hash

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# The hyperparameter a tuned trial carries beside the task's: {"by": the tuning's id,
# "keys": the hyperparameters chosen per activation} (actbench.tune writes the config).
TUNED_KEY = "tuned"


def _hparams_hash(task: str, hparams: dict[str, Any]) -> str:
    blob = json.dumps({"task": task, "hparams": hparams}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def protocol_hash(task: str, hparams: dict[str, Any]) -> str:
    """The config hash of ``hparams`` without the settings tuned per activation: the
    activations of one tuned run, each with its own learning rate, are one experiment to
    compare; an untuned trial's protocol is its config hash."""
    tuned = hparams.get(TUNED_KEY)
    if not tuned:
        return _hparams_hash(task, hparams)
    return _hparams_hash(task, {k: v for k, v in hparams.items() if k not in tuned["keys"]})


@dataclass(frozen=True)
class TrialResult:
    trial: Trial
    status: str  # "ok", "diverged" or "failed" (training raised: see error)
    diverged_epoch: int | None  # first epoch whose training loss was NaN/inf
    epochs: list[EpochMetrics]  # every epoch run; a diverged trial's last one holds the NaN,
    # a failed trial's are those it finished before it failed (perhaps none)
    wall_time_s: float  # training and per-epoch evaluation, data loading excluded; a population
    # member's: its activation's measured seconds plus an equal share of the rest (actbench.tasks.costs)
    engine: str  # "sequential" or "population"
    device: str  # e.g. "cpu", "cuda (NVIDIA H100 80GB HBM3)"
    torch_version: str
    actbench_version: str
    host: str
    finished_at: str  # ISO 8601, UTC
    # The code that made it (actbench.run.provenance): "git:<commit>", with "+dirty:<hash
    # of the package source>" for uncommitted changes, or "source:<hash>" outside git.
    code_revision: str = "unknown"
    error: str | None = None  # a failed trial's exception, one line: "RuntimeError: boom"
    node: str | None = None  # the Ray node that trained it (its node id); None: run by the local executor
    # What defined its activation (actbench.activations.identity.definition: a plug-in's
    # source hash, a registry entry's behavioural fingerprint), filled in by the runner
    # when it stores the trial; None: not recorded (a store from before schema 6).
    definition: str | None = None


# --- where and how a trial trains -------------------------------------------------------


@dataclass(frozen=True)
class TrainContext:
    """Where a trial runs: not part of its identity, so a result is the same experiment on any machine."""

    device: torch.device
    data_dir: Path | None
    verify: bool = True
    compile: bool = False  # torch.compile the training step
    # Where units of work keep their epoch checkpoints (actbench.run.checkpoints); None:
    # no checkpoints, an interrupted unit starts over.
    checkpoint_dir: Path | None = None


@dataclass(frozen=True)
class WorkUnit:
    """What an executor runs in one go: one trial (sequential engine) or a population
    chunk (population engine), all of one task and hyperparameter set. Plain data."""

    engine: str  # a name in actbench.run.engines.ENGINES
    trials: tuple[Trial, ...]


class Checkpoint(Protocol):
    """The saved state of one unit of work (a trial, or a population chunk) after its last finished epoch.

    A trainer given a checkpoint with saved state resumes from it: it first yields again
    the metrics of the epochs already done (kept in the state, so the engine's record of
    the trial is complete), then trains the rest. After every trained epoch whose
    training loss is finite it saves everything needed to go on (weights, optimiser,
    BatchNorm statistics, every random stream and the step count, the metrics so far),
    then yields that epoch's metrics. A resumed trial gives bit-identical results to
    an uninterrupted one on the same machine. The state is tensors, plain Python data
    and dicts of them (loadable with ``torch.load(weights_only=True)``); its layout is
    the trainer's own. Implementations: actbench.run.checkpoints.
    """

    def load(self) -> dict[str, Any] | None:
        """The saved state, or None: nothing saved, start from scratch."""

    def save(self, state: dict[str, Any]) -> None:
        """Replace the saved state with ``state``, durably (a crash leaves the old or the new one)."""


class PopulationTrainer(Protocol):
    """What a task offers to train many (activation, seed) members as one batched model."""

    def member_bytes(self, hparams: dict[str, Any]) -> int:
        """Peak memory one member adds to a population, in bytes."""

    def train(
        self,
        members: list[tuple[str, int]],
        hparams: dict[str, Any],
        ctx: TrainContext,
        checkpoint: Checkpoint | None = None,
    ) -> Iterator[tuple[tuple[str, int], EpochMetrics]]:
        """Train the members together; yields ((activation, seed), metrics) per member and epoch.
        A member's last yield is its final epoch, or the epoch its training loss stopped being finite.
        ``checkpoint``: the whole population's (see Checkpoint); None trains from scratch, saving nothing."""


class Task(Protocol):
    """A reference network and its training recipe. Declared without torch (name,
    hyperparameters, metrics); the training code is imported when a trial runs."""

    name: str
    description: str
    hyperparams: dict[str, Any]  # the defaults; one dict per task, overridable from config and CLI
    metrics: tuple[Metric, ...]  # recorded beyond train_loss, test_loss and test_acc
    headline: str  # the metric the report compares by default: "final_acc" or a declared score
    population: PopulationTrainer | None  # None: the task trains one model at a time only
    # Optional, read with getattr: ``evaluation_axis(hparams) -> EvaluationAxis``, where a task
    # evaluates other than once an epoch (every 250 iterations, say); absent: once an epoch.

    def resolve_hparams(self, overrides: dict[str, Any]) -> dict[str, Any]:
        """The defaults with ``overrides`` applied, validated; raises UsageError."""

    def prepare(self, ctx: TrainContext, hparams: dict[str, Any]) -> None:
        """Load (and if needed download) the data the trials of ``hparams`` read (the split they
        are measured on, e.g.), so that failures happen before any training."""

    def train(
        self,
        activation: str,
        seed: int,
        hparams: dict[str, Any],
        ctx: TrainContext,
        checkpoint: Checkpoint | None = None,
    ) -> Iterator[EpochMetrics]:
        """Train one trial, yielding metrics after every epoch; the last yield is final.
        ``checkpoint``: see Checkpoint; None trains from scratch, saving nothing."""
