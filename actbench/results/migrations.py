"""The store's schema, and the numbered migrations that bring an older store up to it.

A new store is created at SCHEMA_VERSION directly. A store from an earlier release is
upgraded in place by each migration numbered above its version, in order, each in one
transaction: a store from any release opens, and keeps every value it holds.

History: 1, the first release (trials and per-epoch loss and accuracy); 2, two
task-specific per-epoch columns on ``epochs``; 3, task metrics moved out of ``epochs``
into ``metric_values`` (one row per trial, epoch and metric name, for whatever metrics
a task declares), ``trials.code_revision``, the 'failed' status with ``trials.error``,
and ``claims`` (which run is training which trial, under a lease); 4, ``trials.node``
(the Ray node that trained a trial); 5, ``epochs.elapsed_s`` (training seconds at each
epoch's end); 6, ``trials.definition`` (what defined the activation: a plug-in's source
hash or a built-in's behavioural fingerprint, actbench.activations.identity).

Adding a migration: a function taking the connection (inside the transaction), appended
to MIGRATIONS with the version it brings the store to, and TABLES updated to match.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

SCHEMA_VERSION = 6

# Table name -> its CREATE statement, in creation order.
TABLES = {
    "meta": """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)
""",
    "trials": """
CREATE TABLE IF NOT EXISTS trials (
    id INTEGER PRIMARY KEY,
    task TEXT NOT NULL,
    activation TEXT NOT NULL,          -- canonical spec
    seed INTEGER NOT NULL,
    config_hash TEXT NOT NULL,         -- hash of the task's full hyperparameters
    hparams TEXT NOT NULL,             -- JSON: the resolved hyperparameters
    status TEXT NOT NULL CHECK (status IN ('ok', 'diverged', 'failed')),
    diverged_epoch INTEGER,
    epochs_run INTEGER NOT NULL,
    wall_time_s REAL NOT NULL,         -- population members: their share of the population's time
    engine TEXT NOT NULL,              -- 'sequential' or 'population': the same experiment either way
    device TEXT NOT NULL,
    torch_version TEXT NOT NULL,
    actbench_version TEXT NOT NULL,
    host TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    code_revision TEXT,                -- the code that made it (actbench.run.provenance); NULL before schema 3
    error TEXT,                        -- why a 'failed' trial failed: the exception, one line
    node TEXT,                         -- the Ray node id that trained it; NULL: a local run (or before schema 4)
    definition TEXT,                   -- what defined the activation (a plug-in's source hash, a built-in's
                                       -- behavioural fingerprint: actbench.activations.identity); NULL before schema 6
    UNIQUE (task, activation, seed, config_hash)
)
""",
    "epochs": """
CREATE TABLE IF NOT EXISTS epochs (
    trial_id INTEGER NOT NULL REFERENCES trials(id),
    epoch INTEGER NOT NULL,            -- from 1
    train_loss REAL,                   -- NULL where the value was NaN/inf
    test_loss REAL,
    test_acc REAL,                     -- percent
    activation_params TEXT NOT NULL,   -- JSON: learnable activation parameters after this epoch
    elapsed_s REAL,                    -- training seconds from the trial's start to this epoch's end
                                       -- (its evaluation included; population: the member's share); NULL before schema 5
    PRIMARY KEY (trial_id, epoch)
)
""",
    "metric_values": """
CREATE TABLE IF NOT EXISTS metric_values (
    trial_id INTEGER NOT NULL REFERENCES trials(id),
    epoch INTEGER NOT NULL,
    metric TEXT NOT NULL,              -- a name the task declares (actbench.api.Metric)
    value REAL,                        -- NULL where the value was NaN/inf
    PRIMARY KEY (trial_id, epoch, metric)
)
""",
    "claims": """
CREATE TABLE IF NOT EXISTS claims (
    task TEXT NOT NULL,
    activation TEXT NOT NULL,
    seed INTEGER NOT NULL,
    config_hash TEXT NOT NULL,
    owner TEXT NOT NULL,               -- "host:pid:random": one run of actbench
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    machine TEXT NOT NULL,             -- the owner's boot id: its pid is checked on that machine only
    claimed_at REAL NOT NULL,          -- Unix time, seconds
    renewed_at REAL NOT NULL,          -- its lease's last renewal (or the claim)
    lease_until REAL NOT NULL,         -- the claim lapses then unless its owner renews it
    PRIMARY KEY (task, activation, seed, config_hash)
)
""",
}

# The columns every task records per epoch; any other column a store's epochs table has
# holds a task's own metric (schema 2) and moves to metric_values.
EPOCH_COLUMNS = ("trial_id", "epoch", "train_loss", "test_loss", "test_acc", "activation_params")


def _rebuild(conn: sqlite3.Connection, table: str, columns: list[str]) -> None:
    """``table`` recreated from TABLES with the given columns of its rows copied over:
    SQLite before 3.35 cannot drop a column, and no version can change a CHECK. SQLite's
    own recipe: create the new table under another name, copy, drop the old, rename, so
    the other tables' references to ``table`` stay as written."""
    conn.execute(TABLES[table].replace(f"EXISTS {table} (", f"EXISTS {table}_new (", 1))
    kept = ", ".join(columns)
    conn.execute(f"INSERT INTO {table}_new ({kept}) SELECT {kept} FROM {table}")
    conn.execute(f"DROP TABLE {table}")
    conn.execute(f"ALTER TABLE {table}_new RENAME TO {table}")


def _to_3(conn: sqlite3.Connection) -> None:
    """Per-epoch task metrics to metric_values; the code revision, the failed status and
    its error; the claims."""
    conn.execute(TABLES["metric_values"])
    conn.execute(TABLES["claims"])
    columns = [row[1] for row in conn.execute("PRAGMA table_info(epochs)")]
    for metric in (c for c in columns if c not in EPOCH_COLUMNS):
        # Names come from the store's own schema, quoted as identifiers.
        conn.execute(
            f'INSERT INTO metric_values SELECT trial_id, epoch, ?, "{metric}" FROM epochs '
            f'WHERE "{metric}" IS NOT NULL',
            (metric,),
        )
    _rebuild(conn, "epochs", list(EPOCH_COLUMNS))
    _rebuild(conn, "trials", [row[1] for row in conn.execute("PRAGMA table_info(trials)")])


def _to_4(conn: sqlite3.Connection) -> None:
    """The node a trial ran on (Ray executor); NULL for every trial stored before. A store
    that came through _to_3 has the column already: that rebuild uses today's TABLES."""
    if "node" not in [row[1] for row in conn.execute("PRAGMA table_info(trials)")]:
        conn.execute("ALTER TABLE trials ADD COLUMN node TEXT")


def _to_5(conn: sqlite3.Connection) -> None:
    """The training seconds at each epoch's end, for the time to a target accuracy; NULL
    for every epoch stored before (the report then says the time is not known)."""
    if "elapsed_s" not in [row[1] for row in conn.execute("PRAGMA table_info(epochs)")]:
        conn.execute("ALTER TABLE epochs ADD COLUMN elapsed_s REAL")


def _to_6(conn: sqlite3.Connection) -> None:
    """What defined each trial's activation; NULL for every trial stored before (the report
    pools such trials with a single recorded definition, saying so, and shows them apart,
    'def unknown', beside several: actbench.report.build)."""
    if "definition" not in [row[1] for row in conn.execute("PRAGMA table_info(trials)")]:
        conn.execute("ALTER TABLE trials ADD COLUMN definition TEXT")


# (version it brings the store to, migration), in order. Versions 1 and 2 both take _to_3:
# what version 2 added is moved out by it again.
MIGRATIONS: list[tuple[int, Callable[[sqlite3.Connection], None]]] = [
    (3, _to_3), (4, _to_4), (5, _to_5), (6, _to_6)
]
