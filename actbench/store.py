"""The results database: embedded SQLite, one row per finished trial, one per epoch.

Durability and concurrency come from SQLite itself: each trial is written in one
transaction the moment it finishes (WAL journal, synchronous=FULL), so a killed run loses
at most the trials in flight; a UNIQUE key on (task, activation, seed, config_hash) makes
a second writer of the same trial (another process on the same folder, or a resumed run)
a no-op instead of a duplicate.
"""

from __future__ import annotations

import json
import math
import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator

import pandas as pd

from actbench.engine import Trial, TrialResult
from actbench.errors import ActbenchError

DB_NAME = "actbench.sqlite"
SCHEMA_VERSION = 2

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS trials (
    id INTEGER PRIMARY KEY,
    task TEXT NOT NULL,
    activation TEXT NOT NULL,          -- canonical spec
    seed INTEGER NOT NULL,
    config_hash TEXT NOT NULL,         -- hash of the task's full hyperparameters
    hparams TEXT NOT NULL,             -- JSON: the resolved hyperparameters
    status TEXT NOT NULL CHECK (status IN ('ok', 'diverged')),
    diverged_epoch INTEGER,
    epochs_run INTEGER NOT NULL,
    wall_time_s REAL NOT NULL,         -- population members: their share of the population's time
    engine TEXT NOT NULL,              -- 'sequential' or 'population': the same experiment either way
    device TEXT NOT NULL,
    torch_version TEXT NOT NULL,
    actbench_version TEXT NOT NULL,
    host TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    UNIQUE (task, activation, seed, config_hash)
);
CREATE TABLE IF NOT EXISTS epochs (
    trial_id INTEGER NOT NULL REFERENCES trials(id),
    epoch INTEGER NOT NULL,            -- from 1
    train_loss REAL,                   -- NULL where the value was NaN/inf
    test_loss REAL,
    test_acc REAL,                     -- percent
    activation_params TEXT NOT NULL,   -- JSON: learnable activation parameters after this epoch
    tta_acc REAL,                      -- percent, with test-time augmentation (NULL where the task has none)
    timed_s REAL,                      -- seconds of the task's timed stages so far (NULL where it times none)
    PRIMARY KEY (trial_id, epoch)
);
"""

TRIAL_COLUMNS = [
    "task", "activation", "seed", "config_hash", "hparams", "status", "diverged_epoch",
    "epochs_run", "wall_time_s", "engine", "device", "torch_version", "actbench_version", "host",
    "finished_at",
]  # fmt: skip


class StoreError(ActbenchError):
    """The results database is missing, unreadable or from an incompatible version."""


def _finite_or_none(value: float | None) -> float | None:
    # SQLite has no NaN: a diverged epoch's losses are stored as NULL, as are the
    # metrics a task does not give (None: no TTA, no timed stages).
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
            self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE below).
        self._conn = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        try:
            self._conn.execute("PRAGMA busy_timeout = 60000")
            if create:
                self._init_schema()
            self._check_version()
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise StoreError(f"{self.path}: not a readable actbench database ({exc})") from None

    def _init_schema(self) -> None:
        self._conn.execute("PRAGMA journal_mode = WAL")  # readers never block the writer
        with self._transaction():
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    self._conn.execute(statement)
            self._conn.execute(
                "INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )

    def _check_version(self) -> None:
        row = self._conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row is not None and int(row[0]) == 1:
            self._migrate_from_1()
            return
        if row is None or int(row[0]) != SCHEMA_VERSION:
            found = "none" if row is None else row[0]
            raise StoreError(
                f"{self.path}: schema version {found}, this actbench reads version {SCHEMA_VERSION}"
            )

    def _migrate_from_1(self) -> None:
        """Version 2 added two nullable epoch columns: a version-1 store gains them, its rows
        keep every value and read NULL there (MNIST trials have no TTA and no timed stages)."""
        with self._transaction():
            if int(self._conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]) == 1:
                self._conn.execute("ALTER TABLE epochs ADD COLUMN tta_acc REAL")
                self._conn.execute("ALTER TABLE epochs ADD COLUMN timed_s REAL")
                self._conn.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        # IMMEDIATE takes the write lock up front, so two writers queue (busy_timeout)
        # instead of failing halfway with SQLITE_BUSY.
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

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
            result.actbench_version, result.host, result.finished_at,
        )  # fmt: skip
        with self._transaction():
            cursor = self._conn.execute(
                f"INSERT OR IGNORE INTO trials ({', '.join(TRIAL_COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(TRIAL_COLUMNS))})",
                row,
            )
            if cursor.rowcount == 0:
                return False
            self._conn.executemany(
                "INSERT INTO epochs VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        cursor.lastrowid, m.epoch, _finite_or_none(m.train_loss),
                        _finite_or_none(m.test_loss), _finite_or_none(m.test_acc),
                        json.dumps(m.activation_params), _finite_or_none(m.tta_acc), _finite_or_none(m.timed_s),
                    )  # fmt: skip
                    for m in result.epochs
                ],
            )
        return True

    # -- reading ---------------------------------------------------------------------------

    def stored_keys(self, trials: Iterable[Trial]) -> set[tuple[str, str, int, str]]:
        """The (task, activation, seed, config_hash) keys among ``trials`` that are stored."""
        wanted = {(t.task, t.activation, t.seed, t.config_hash) for t in trials}
        rows = self._conn.execute("SELECT task, activation, seed, config_hash FROM trials")
        return wanted & set(rows)

    def trials(self) -> pd.DataFrame:
        """One row per stored trial, oldest first."""
        return pd.read_sql_query(
            f"SELECT id, {', '.join(TRIAL_COLUMNS)} FROM trials ORDER BY id", self._conn
        )

    def epochs(self) -> pd.DataFrame:
        """One row per (trial, epoch) with the trial's key columns; NaN where a value was not finite."""
        return pd.read_sql_query(
            "SELECT t.id AS trial_id, t.task, t.activation, t.seed, t.config_hash, t.status, "
            "e.epoch, e.train_loss, e.test_loss, e.test_acc, e.activation_params, e.tta_acc, e.timed_s "
            "FROM epochs e JOIN trials t ON t.id = e.trial_id ORDER BY t.id, e.epoch",
            self._conn,
        )
