"""The results database: embedded SQLite, one row per finished trial, one per epoch.

Schema and migrations are in actbench.results.migrations. Task metrics beyond loss and
accuracy (actbench.api.Metric) are rows of ``metric_values``, read back as one column
each, so the store never names a task's metrics.

Durability and concurrency come from SQLite itself: each trial is written in one
transaction the moment it finishes (WAL journal, synchronous=FULL), so a killed run loses
at most the trials in flight; a UNIQUE key on (task, activation, seed, config_hash) makes
a second writer of the same trial (another process on the same folder, or a resumed run)
a no-op instead of a duplicate. A run claims the trials it is about to train (``claims``,
under a lease it renews while training), so several runs on one folder split the work
instead of repeating it; a claim whose lease lapsed, or whose owner process on this
machine is gone, is free again.

SQLite's locking is safe on a local disk (ext4, xfs, btrfs, APFS, NTFS, tmpfs), not on
network filesystems (NFS, SMB/CIFS, sshfs): there WAL cannot work and locks may be
ignored. ``network_filesystem`` detects those on Linux, and the runner warns.
"""

from __future__ import annotations

import json
import math
import os
import platform
import sqlite3
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import pandas as pd

from actbench.api import Trial, TrialResult
from actbench.errors import ActbenchError
from actbench.results.migrations import MIGRATIONS, SCHEMA_VERSION, TABLES

DB_NAME = "actbench.sqlite"

TRIAL_COLUMNS = [
    "task", "activation", "seed", "config_hash", "hparams", "status", "diverged_epoch",
    "epochs_run", "wall_time_s", "engine", "device", "torch_version", "actbench_version", "host",
    "finished_at", "code_revision", "error", "node", "definition",
]
EPOCH_VALUES = ["train_loss", "test_loss", "test_acc"]


class StoreError(ActbenchError):
    """The results database is missing, unreadable, unwritable or from an incompatible version."""


def _machine_id() -> str:
    """This boot of this machine (Linux's boot id), so that a claim's pid is only ever
    checked on the machine it names: host names repeat across containers."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


@dataclass(frozen=True)
class Owner:
    """One run of actbench, as its claims name it."""

    id: str  # "host:pid:random"
    host: str
    pid: int
    machine: str

    @classmethod
    def this_process(cls) -> Owner:
        host, pid = platform.node(), os.getpid()
        return cls(f"{host}:{pid}:{uuid.uuid4().hex[:8]}", host, pid, _machine_id())

    def is_gone(self) -> bool:
        """Known to be dead: a process of this machine that no longer exists. A process
        of another machine is never known to be gone; its lease decides."""
        if not self.machine or self.machine != _machine_id():
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:  # alive, another user's
            return False
        return False


# Filesystem types (the last part: fuse.sshfs is sshfs) on which SQLite's locks are unreliable.
NETWORK_FILESYSTEMS = {"nfs", "nfs4", "cifs", "smbfs", "smb3", "sshfs", "9p", "afs", "glusterfs", "lustre", "gpfs", "ceph"}


def network_filesystem(folder: Path) -> str | None:
    """The filesystem type of ``folder`` if it is a network one (Linux: /proc/mounts), else None."""
    try:
        mounts = [line.split() for line in Path("/proc/mounts").read_text().splitlines()]
    except OSError:
        return None
    where = str(Path(folder).resolve())
    best = max(
        (m for m in mounts if len(m) > 2 and (where == m[1] or where.startswith(m[1].rstrip("/") + "/"))),
        key=lambda m: len(m[1]),
        default=None,
    )
    kind = best[2] if best else ""
    return kind if kind.split(".")[-1] in NETWORK_FILESYSTEMS else None



def _finite_or_none(value: float | None) -> float | None:
    # SQLite has no NaN: a diverged epoch's losses are stored as NULL.
    return value if value is not None and math.isfinite(value) else None


class ResultStore:
    """The results folder's database. Opening it for writing creates the folder and schema."""

    def __init__(self, results_dir: Path, *, create: bool = True):
        self.path = Path(results_dir) / DB_NAME
        if not create and not self.path.exists():
            raise StoreError(
                f"no results database at {self.path}; run 'actbench run' first "
                f"or pass --results-dir DIR"
            )
        if create:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except (FileExistsError, NotADirectoryError):
                raise StoreError(f"--results-dir {results_dir}: a file is in the way, not a folder") from None
            except OSError as exc:
                raise StoreError(f"cannot create the results folder {results_dir}: {exc.strerror or exc}") from None
        # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE below).
        self._conn = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        try:
            self._conn.execute("PRAGMA busy_timeout = 60000")
            if create:
                self._init_schema()
            self._check_version()
        except sqlite3.OperationalError as exc:
            self._conn.close()
            raise StoreError(f"{self.path}: cannot open the results database ({exc})") from None
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise StoreError(f"{self.path}: not a readable actbench database ({exc})") from None

    def _init_schema(self) -> None:
        self._conn.execute("PRAGMA journal_mode = WAL")  # readers never block the writer
        with self._transaction():
            if self._conn.execute("SELECT name FROM sqlite_master WHERE name = 'meta'").fetchone():
                return  # an existing store: _check_version migrates it if it is older
            for statement in TABLES.values():
                self._conn.execute(statement)
            self._conn.execute(
                "INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )

    def _version(self) -> int | None:
        row = self._conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        return None if row is None else int(row[0])

    def _check_version(self) -> None:
        found = self._version()
        if found is not None and found < SCHEMA_VERSION:
            self._migrate()
        elif found != SCHEMA_VERSION:
            raise StoreError(
                f"{self.path}: schema version {'none' if found is None else found}, "
                f"this actbench reads version {SCHEMA_VERSION}"
            )

    def _migrate(self) -> None:
        """Apply each migration above the store's version, each in its own transaction
        (re-reading the version inside it: another process may have migrated meanwhile)."""
        for target, migration in MIGRATIONS:
            with self._transaction():
                if self._version() < target:
                    migration(self._conn)
                    self._conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(target),))

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        # IMMEDIATE takes the write lock up front, so two writers queue (busy_timeout)
        # instead of failing halfway with SQLITE_BUSY. A write SQLite refuses (disk full,
        # read-only file or folder) rolls back whole: what was stored stays as it was.
        try:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise StoreError(
                f"cannot write to {self.path}: {exc}; nothing stored before was changed. "
                "Free space or make the folder writable, then rerun: stored trials are kept"
            ) from None

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- writing ---------------------------------------------------------------------------

    def add(self, result: TrialResult) -> bool:
        """Store one finished trial and its epochs atomically; False if it was already stored."""
        trial = result.trial
        row = (
            trial.task, trial.activation, trial.seed, trial.config_hash,
            json.dumps(trial.hparams, sort_keys=True), result.status, result.diverged_epoch,
            len(result.epochs), result.wall_time_s, result.engine, result.device, result.torch_version,
            result.actbench_version, result.host, result.finished_at, result.code_revision, result.error,
            result.node, result.definition,
        )
        with self._transaction():
            cursor = self._conn.execute(
                f"INSERT OR IGNORE INTO trials ({', '.join(TRIAL_COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(TRIAL_COLUMNS))})",
                row,
            )
            self._conn.execute(
                "DELETE FROM claims WHERE task = ? AND activation = ? AND seed = ? AND config_hash = ?", trial.key
            )
            if cursor.rowcount == 0:
                return False
            trial_id = cursor.lastrowid
            self._conn.executemany(
                "INSERT INTO epochs (trial_id, epoch, train_loss, test_loss, test_acc, activation_params, elapsed_s) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (trial_id, m.epoch, *(_finite_or_none(getattr(m, v)) for v in EPOCH_VALUES),
                     json.dumps(m.activation_params), m.elapsed_s)
                    for m in result.epochs
                ],
            )
            self._conn.executemany(
                "INSERT INTO metric_values VALUES (?, ?, ?, ?)",
                [(trial_id, m.epoch, name, _finite_or_none(v)) for m in result.epochs for name, v in m.extra.items()],
            )
        return True

    # -- reading ---------------------------------------------------------------------------

    def stored_keys(self, trials: Iterable[Trial]) -> set[tuple[str, str, int, str]]:
        """The (task, activation, seed, config_hash) keys among ``trials`` that are stored."""
        wanted = {t.key for t in trials}
        rows = self._conn.execute("SELECT task, activation, seed, config_hash FROM trials")
        return wanted & set(rows)

    def stored_definitions(self, trials: Iterable[Trial]) -> dict[tuple[str, str, str], dict[str | None, int]]:
        """(task, activation, config_hash) of each of ``trials`` -> the definitions its stored
        trials (any seed) were made by, each with its number of trials; None: not recorded."""
        wanted = {(t.task, t.activation, t.config_hash) for t in trials}
        found: dict[tuple[str, str, str], dict[str | None, int]] = {}
        rows = self._conn.execute(
            "SELECT task, activation, config_hash, definition, COUNT(*) FROM trials "
            "GROUP BY task, activation, config_hash, definition"
        )
        for task, activation, config_hash, definition, count in rows:
            if (task, activation, config_hash) in wanted:
                found.setdefault((task, activation, config_hash), {})[definition] = count
        return found

    # -- claims ----------------------------------------------------------------------------

    def _drop_lapsed(self, now: float) -> None:
        """Free the claims whose lease lapsed or whose owner is known to be gone."""
        self._conn.execute("DELETE FROM claims WHERE lease_until < ?", (now,))
        rows = self._conn.execute("SELECT DISTINCT owner, host, pid, machine FROM claims").fetchall()
        gone = [owner for owner, host, pid, machine in rows if Owner(owner, host, pid, machine).is_gone()]
        self._conn.executemany("DELETE FROM claims WHERE owner = ?", [(owner,) for owner in gone])

    def unclaimed(self, trials: Iterable[Trial]) -> list[Trial]:
        """The trials among ``trials`` that are neither stored nor claimed by a live run."""
        with self._transaction():
            self._drop_lapsed(time.time())
        trials = list(trials)
        stored = self.stored_keys(trials)
        claimed = set(self._conn.execute("SELECT task, activation, seed, config_hash FROM claims"))
        return [t for t in trials if t.key not in stored and t.key not in claimed]

    def claim(self, trials: Iterable[Trial], owner: Owner, lease_s: float) -> bool:
        """Claim every one of ``trials`` for ``owner``, or none (False) if another live run
        holds one of them or one is stored already."""
        trials = list(trials)
        now = time.time()
        with self._transaction():
            self._drop_lapsed(now)
            keys = {t.key for t in trials}
            rows = self._conn.execute("SELECT task, activation, seed, config_hash, owner FROM claims")
            taken = {tuple(row[:4]) for row in rows if row[4] != owner.id}
            if keys & (taken | self.stored_keys(trials)):
                return False
            self._conn.executemany(
                "INSERT OR REPLACE INTO claims VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(*t.key, owner.id, owner.host, owner.pid, owner.machine, now, now, now + lease_s) for t in trials],
            )
        return True

    def renew(self, owner: Owner, lease_s: float) -> None:
        """Extend every lease ``owner`` holds to ``lease_s`` seconds from now."""
        with self._transaction():
            now = time.time()
            self._conn.execute(
                "UPDATE claims SET renewed_at = ?, lease_until = ? WHERE owner = ?", (now, now + lease_s, owner.id)
            )

    def release(self, owner: Owner) -> None:
        """Drop every claim ``owner`` holds (its trials are stored, or it stops)."""
        with self._transaction():
            self._conn.execute("DELETE FROM claims WHERE owner = ?", (owner.id,))

    def claims(self) -> pd.DataFrame:
        """The live claims: trial key, owner, host, pid, claimed_at, renewed_at, lease_until (Unix seconds)."""
        with self._transaction():
            self._drop_lapsed(time.time())
        return pd.read_sql_query(
            "SELECT task, activation, seed, config_hash, owner, host, pid, claimed_at, renewed_at, lease_until FROM claims "
            "ORDER BY claimed_at, task, activation, seed",
            self._conn,
        )

    def trials(self) -> pd.DataFrame:
        """One row per stored trial, oldest first."""
        return pd.read_sql_query(
            f"SELECT id, {', '.join(TRIAL_COLUMNS)} FROM trials ORDER BY id", self._conn
        )

    def epochs(self) -> pd.DataFrame:
        """One row per (trial, epoch) with the trial's key columns, and one column per task
        metric stored (NaN where that trial or epoch has none); NaN where a value was not finite."""
        epochs = pd.read_sql_query(
            "SELECT t.id AS trial_id, t.task, t.activation, t.seed, t.config_hash, t.status, "
            "e.epoch, e.train_loss, e.test_loss, e.test_acc, e.activation_params, e.elapsed_s "
            "FROM epochs e JOIN trials t ON t.id = e.trial_id ORDER BY t.id, e.epoch",
            self._conn,
        )
        values = pd.read_sql_query("SELECT trial_id, epoch, metric, value FROM metric_values", self._conn)
        if values.empty:
            return epochs
        wide = values.pivot(index=["trial_id", "epoch"], columns="metric", values="value")
        wide = wide.reindex(columns=sorted(wide.columns)).astype(float)
        return epochs.merge(wide.reset_index(), on=["trial_id", "epoch"], how="left")
