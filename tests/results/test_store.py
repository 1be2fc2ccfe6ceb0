"""The results store: atomic, duplicate-free, safe with several writers, honest about NaN."""

import dataclasses
import math
import multiprocessing
import sqlite3

import pytest

from actbench.results.store import DB_NAME, ResultStore, StoreError
from fakes import fake_result


def test_a_trial_is_stored_once(tmp_path):
    with ResultStore(tmp_path) as store:
        assert store.add(fake_result("relu", 0, [90.0, 91.0, 92.0]))
        assert not store.add(fake_result("relu", 0, [10.0, 10.0, 10.0]))  # same key: kept the first
        assert store.add(fake_result("relu", 1, [90.0, 91.0, 92.0]))
        trials, epochs = store.trials(), store.epochs()
    assert list(trials["seed"]) == [0, 1]
    assert list(epochs.loc[epochs["seed"] == 0, "test_acc"]) == [90.0, 91.0, 92.0]


def test_different_hyperparameters_are_different_trials(tmp_path):
    other = {"batch_size": 32, "epochs": 3, "hidden": [128, 64], "lr": 0.001, "weight_decay": 0.0001}
    with ResultStore(tmp_path) as store:
        assert store.add(fake_result("relu", 0, [90.0] * 3))
        assert store.add(fake_result("relu", 0, [90.0] * 3, hparams=other))
        assert store.trials()["config_hash"].nunique() == 2


def test_stored_keys_answer_for_the_given_trials(tmp_path):
    done, todo = fake_result("gelu", 0, [90.0] * 3), fake_result("gelu", 1, [90.0] * 3)
    with ResultStore(tmp_path) as store:
        store.add(done)
        keys = store.stored_keys([done.trial, todo.trial])
    assert keys == {("mnist-mini", "gelu", 0, done.trial.config_hash)}


def test_each_trial_keeps_its_definition_and_the_store_counts_them_per_activation(tmp_path):
    first, second = (dataclasses.replace(fake_result("gelu", s, [90.0]), definition=d * 64) for s, d in enumerate("ab"))
    other = dataclasses.replace(fake_result("relu", 0, [90.0]), definition="c" * 64)
    with ResultStore(tmp_path) as store:
        for result in (first, second, other, fake_result("gelu", 2, [90.0])):
            store.add(result)
        # Asked for gelu's seed 5 only: every stored seed of gelu counts, relu is not asked for.
        found = store.stored_definitions([fake_result("gelu", 5, [90.0]).trial])
        assert store.trials()["definition"].tolist()[:3] == ["a" * 64, "b" * 64, "c" * 64]
    assert found == {("mnist-mini", "gelu", first.trial.config_hash): {"a" * 64: 1, "b" * 64: 1, None: 1}}


def test_diverged_epochs_are_stored_as_null_and_read_back_as_nan(tmp_path):
    with ResultStore(tmp_path) as store:
        store.add(fake_result("srelu", 0, [90.0, math.nan], diverged_at=2))
        row = store.trials().iloc[0]
        epochs = store.epochs()
    assert (row["status"], row["diverged_epoch"], row["epochs_run"]) == ("diverged", 2, 2)
    assert math.isnan(epochs["train_loss"].iloc[1]) and math.isnan(epochs["test_acc"].iloc[1])
    raw = sqlite3.connect(tmp_path / DB_NAME).execute("SELECT train_loss FROM epochs WHERE epoch = 2").fetchone()
    assert raw == (None,)


def test_reading_a_missing_store_says_how_to_make_one(tmp_path):
    with pytest.raises(StoreError) as info:
        ResultStore(tmp_path / "nowhere", create=False)
    assert str(info.value) == (
        f"no results database at {tmp_path / 'nowhere' / DB_NAME}; run 'actbench run' first "
        f"or pass --results-dir DIR"
    )
    assert not (tmp_path / "nowhere").exists()


def test_a_corrupt_database_is_refused(tmp_path):
    (tmp_path / DB_NAME).write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="not a readable actbench database"):
        ResultStore(tmp_path)


def test_a_database_of_another_schema_version_is_refused(tmp_path):
    ResultStore(tmp_path).close()
    with sqlite3.connect(tmp_path / DB_NAME) as conn:
        conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(StoreError) as info:
        ResultStore(tmp_path)
    assert str(info.value) == f"{tmp_path / DB_NAME}: schema version 99, this actbench reads version 6"


# The first release's tables, as it created them (schema 1).
VERSION_1 = [
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE trials (id INTEGER PRIMARY KEY, task TEXT NOT NULL, activation TEXT NOT NULL, "
    "seed INTEGER NOT NULL, config_hash TEXT NOT NULL, hparams TEXT NOT NULL, status TEXT NOT NULL "
    "CHECK (status IN ('ok', 'diverged')), diverged_epoch INTEGER, epochs_run INTEGER NOT NULL, "
    "wall_time_s REAL NOT NULL, engine TEXT NOT NULL, device TEXT NOT NULL, torch_version TEXT NOT NULL, "
    "actbench_version TEXT NOT NULL, host TEXT NOT NULL, finished_at TEXT NOT NULL, "
    "UNIQUE (task, activation, seed, config_hash))",
    "CREATE TABLE epochs (trial_id INTEGER NOT NULL REFERENCES trials(id), epoch INTEGER NOT NULL, "
    "train_loss REAL, test_loss REAL, test_acc REAL, activation_params TEXT NOT NULL, PRIMARY KEY (trial_id, epoch))",
    "INSERT INTO meta VALUES ('schema_version', '1')",
    "INSERT INTO trials VALUES (1, 'mnist-mini', 'relu', 0, 'abc', '{}', 'ok', NULL, 2, 1.5, 'sequential', "
    "'cpu', '2.4.0', '0.1.0', 'host', '2026-01-01T00:00:00+00:00')",
    "INSERT INTO epochs VALUES (1, 1, 0.5, 0.4, 90.0, '{}'), (1, 2, 0.3, 0.2, 91.0, '{}')",
]


def test_a_version_1_store_is_migrated_and_keeps_its_rows(tmp_path):
    with sqlite3.connect(tmp_path / DB_NAME) as conn:
        for statement in VERSION_1:
            conn.execute(statement)
    with ResultStore(tmp_path, create=False) as store:
        trials, epochs = store.trials(), store.epochs()
        assert store.add(fake_result("relu", 1, [92.0, 93.0], last_extra={"tta_acc": 93.5}))
        after = store.epochs()
    # A task metric is a column where some trial recorded it, NaN elsewhere.
    assert after["tta_acc"].isna().tolist() == [True, True, True, False] and after["tta_acc"].iloc[-1] == 93.5
    assert epochs[["epoch", "train_loss", "test_loss", "test_acc"]].values.tolist() == [[1, 0.5, 0.4, 90.0], [2, 0.3, 0.2, 91.0]]
    assert trials["code_revision"].isna().all()  # not recorded before schema 3
    version = sqlite3.connect(tmp_path / DB_NAME).execute("SELECT value FROM meta WHERE key = 'schema_version'")
    assert version.fetchone() == ("6",)


def _write_all(folder, seeds):
    with ResultStore(folder) as store:
        for seed in seeds:
            store.add(fake_result("relu", seed, [90.0, 91.0, 92.0]))


def test_concurrent_writers_neither_corrupt_nor_duplicate(tmp_path):
    # Four processes write overlapping sets of the same 40 trials at the same time.
    context = multiprocessing.get_context("spawn")
    seeds = list(range(40))
    workers = [context.Process(target=_write_all, args=(tmp_path, seeds[i::2] + seeds)) for i in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
        assert worker.exitcode == 0
    with ResultStore(tmp_path) as store:
        trials, epochs = store.trials(), store.epochs()
    assert sorted(trials["seed"]) == seeds
    assert len(epochs) == 3 * len(seeds)
