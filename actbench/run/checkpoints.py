"""Epoch checkpoints: a unit of work (a trial, or a population chunk) that is killed
resumes from its last finished epoch, to the same bits as if it had never stopped.

The contract is actbench.api.Checkpoint: a task loads the state at the start, saves it
after every finished epoch, and re-yields the epochs already done. Here are the places
that state lives:

- ``FileCheckpoint(path)``: one file. ``save`` writes atomically (a temporary file in
  the same folder, flushed and fsynced, ``os.replace``d onto the name, the folder
  fsynced), so a crash at any moment leaves the previous checkpoint or the new one,
  never half of one. ``load`` returns None for a missing file; an unreadable one
  (truncated, corrupt, another format) is ignored with a warning naming it, and the
  unit starts over.
- ``NO_CHECKPOINT``: loads nothing, saves nothing (``--no-checkpoint``).
- ``unit_checkpoint(ctx, unit)``: the FileCheckpoint of a WorkUnit in
  ``ctx.checkpoint_dir`` (NO_CHECKPOINT when that is None), named by a SHA-256 of the
  unit's engine and its trials' keys in order, so any process that plans the same unit
  finds it. It holds the code revision that wrote it: another revision starts over,
  since a result names the one code that made it. ``remove_unit_checkpoint`` deletes
  it once the unit's results are stored.

States are tensors, plain Python values and dicts/lists of them, saved with torch.save
and read with ``torch.load(weights_only=True)``: loading a checkpoint runs no pickled
code. Tensors are loaded onto the CPU; the task moves them where it trains.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import torch

from actbench.api import Checkpoint, EpochMetrics, TrainContext, Trial, WorkUnit
from actbench.errors import describe_exception

FORMAT = 1  # the envelope's layout: {"format", "revision", "state"}
SUFFIX = ".pt"


class CheckpointWarning(UserWarning):
    """A checkpoint that exists but cannot be used: the unit starts over."""


class FileCheckpoint:
    """One unit's state in one file, replaced atomically at every save.

    ``revision``: when given, saved with the state, and a file saved under another
    revision is ignored (with a warning) on load.
    """

    def __init__(self, path: Path | str, revision: str | None = None):
        self.path = Path(path)
        self.revision = revision

    def __repr__(self) -> str:
        return f"FileCheckpoint({str(self.path)!r})"

    def load(self) -> dict[str, Any] | None:
        try:
            envelope = torch.load(self.path, map_location="cpu", weights_only=True)
        except FileNotFoundError:
            return None
        except Exception as error:  # truncated, corrupt, not a torch file, or unsafe to load
            self._ignore(f"it cannot be read ({describe_exception(error, limit=120)})")
            return None
        if not (
            isinstance(envelope, dict) and envelope.get("format") == FORMAT and isinstance(envelope.get("state"), dict)
        ):
            self._ignore(f"it is not an actbench checkpoint of format {FORMAT}")
            return None
        if self.revision is not None and envelope.get("revision") != self.revision:
            self._ignore(f"it was written by code {envelope.get('revision')}, this is {self.revision}")
            return None
        return envelope["state"]

    def save(self, state: dict[str, Any]) -> None:
        envelope = {"format": FORMAT, "revision": self.revision, "state": state}
        replace_atomically(self.path, lambda file: torch.save(envelope, file))

    def temporary_files(self) -> list[Path]:
        """Temporary files a killed save left beside the checkpoint."""
        return sorted(self.path.parent.glob(f".{self.path.name}.*.tmp"))

    def remove(self) -> None:
        """Delete the checkpoint and any temporary files a killed save left; missing is fine."""
        for path in (self.path, *self.temporary_files()):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def _ignore(self, why: str) -> None:
        warnings.warn(
            f"ignoring checkpoint {self.path}: {why}; starting the unit over", CheckpointWarning, stacklevel=3
        )


class _NoCheckpoint:
    """Nothing saved, nothing to save: every unit starts from scratch."""

    def __repr__(self) -> str:
        return "NO_CHECKPOINT"

    def load(self) -> None:
        return None

    def save(self, state: dict[str, Any]) -> None:
        pass


NO_CHECKPOINT: Checkpoint = _NoCheckpoint()


def unit_name(unit: WorkUnit) -> str:
    """The file name of a unit's checkpoint: its engine and a SHA-256 (20 hex digits) of the
    engine and its trials' keys (task, activation, seed, config hash) in order. The same
    in every process and on every machine (not Python's salted hash())."""
    blob = json.dumps({"engine": unit.engine, "trials": [list(trial.key) for trial in unit.trials]})
    return f"{unit.engine}-{hashlib.sha256(blob.encode()).hexdigest()[:20]}{SUFFIX}"


def unit_checkpoint_path(checkpoint_dir: Path, unit: WorkUnit) -> Path:
    return Path(checkpoint_dir) / unit_name(unit)


def unit_checkpoint(ctx: TrainContext, unit: WorkUnit) -> Checkpoint:
    """The checkpoint of ``unit`` in ``ctx.checkpoint_dir``; NO_CHECKPOINT when that is None."""
    if ctx.checkpoint_dir is None:
        return NO_CHECKPOINT
    from actbench.run.provenance import code_revision

    return FileCheckpoint(unit_checkpoint_path(ctx.checkpoint_dir, unit), revision=code_revision())


def remove_unit_checkpoint(checkpoint_dir: Path | None, unit: WorkUnit) -> None:
    """Delete ``unit``'s checkpoint (and any temporary file a killed save left) and its
    manifest; missing is fine. Call it once every trial of the unit is stored."""
    if checkpoint_dir is not None:
        FileCheckpoint(unit_checkpoint_path(checkpoint_dir, unit)).remove()
        with contextlib.suppress(FileNotFoundError):
            unit_checkpoint_path(checkpoint_dir, unit).with_suffix(MANIFEST).unlink()


# A unit's manifest, beside its checkpoint: which trials it is, in order. A rerun re-forms
# the unit from it, so a population whose diverged members were stored before a kill
# resumes as the same population (planning only the unstored trials would make another
# chunk, whose checkpoint does not exist).
MANIFEST = ".json"


def write_manifest(checkpoint_dir: Path, unit: WorkUnit) -> None:
    """Record ``unit`` beside its checkpoint, atomically as the checkpoint itself."""
    text = json.dumps({"engine": unit.engine, "trials": [trial.to_dict() for trial in unit.trials]})
    path = unit_checkpoint_path(checkpoint_dir, unit).with_suffix(MANIFEST)
    replace_atomically(path, lambda file: file.write(text.encode()))


def saved_units(checkpoint_dir: Path | None) -> list[WorkUnit]:
    """The units whose manifests are in ``checkpoint_dir``, oldest first; an unreadable
    manifest is skipped with a warning (its unit is planned afresh)."""
    if checkpoint_dir is None:
        return []
    units = []
    for path in sorted(Path(checkpoint_dir).glob(f"*{MANIFEST}"), key=lambda p: p.stat().st_mtime):
        try:
            saved = json.loads(path.read_text())
            units.append(WorkUnit(saved["engine"], tuple(Trial(**trial) for trial in saved["trials"])))
        except (OSError, ValueError, KeyError, TypeError) as error:
            warnings.warn(
                f"ignoring unit manifest {path}: {describe_exception(error, limit=120)}",
                CheckpointWarning,
                stacklevel=2,
            )
    return units


class EngineCheckpoint:
    """A unit's checkpoint as an engine hands it to its task: the task's state saved with
    the engine's clock beside it, so a resumed unit's wall time continues from the
    seconds it had trained before it was stopped (the lost part of an interrupted epoch
    is not counted: it is trained again)."""

    def __init__(self, inner: Checkpoint, clock: Callable[[], float]):
        self.inner = inner
        self.clock = clock  # seconds this process has trained the unit
        self.seconds_before = 0.0  # seconds of training in earlier processes, from the loaded state
        self.at_epoch: dict[tuple[str, int, int], float] = {}  # (activation, seed, epoch) -> unit seconds

    def load(self) -> dict[str, Any] | None:
        saved = self.inner.load()
        if saved is None:
            return None
        self.seconds_before = float(saved["seconds"])
        # A checkpoint from before epochs were timed has none: those epochs are stamped
        # with the time they are yielded again, the seconds trained before.
        self.at_epoch = {(act, seed, epoch): s for act, seed, epoch, s in saved.get("epoch_seconds", [])}
        return saved["task"]

    def save(self, state: dict[str, Any]) -> None:
        stamps = [[*key, s] for key, s in self.at_epoch.items()]
        self.inner.save({"task": state, "seconds": self.seconds_before + self.clock(), "epoch_seconds": stamps})

    def seconds(self) -> float:
        """The unit's training time so far, over every process that trained it."""
        return self.seconds_before + self.clock()

    def stamp(self, trial: Trial, metrics: EpochMetrics) -> EpochMetrics:
        """``metrics`` with ``elapsed_s``: the unit's seconds when the trial's epoch was first
        yielded (a population charges its members from it: engines/population.py). Kept across a resume: an
        epoch yielded again from a checkpoint keeps its first time. A task saves before it
        yields, so the epoch saved last is stamped again on resume: with the seconds
        trained before plus the restore's."""
        key = (trial.activation, trial.seed, metrics.epoch)
        seconds = self.at_epoch.setdefault(key, self.seconds())
        return dataclasses.replace(metrics, elapsed_s=seconds)


def replace_atomically(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """``write`` into a temporary file beside ``path``, flushed and fsynced, then renamed
    onto ``path`` and the folder fsynced: a crash at any moment leaves the old file or the
    new one, never half of one. A failed write removes the temporary file."""
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_folder(folder)  # the rename itself survives a power cut


def _fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # a platform without directory file descriptors (Windows)
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
