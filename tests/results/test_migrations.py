"""A store written by the last schema-2 release (tests/fixtures/schema2, see its README)
opens with this release, keeps every value, and reports the same tables."""

from __future__ import annotations

import dataclasses
import json
import math
import re
import shutil
import sqlite3
from pathlib import Path

import pandas as pd
import pytest

from actbench.report.build import CompareSpec
from actbench.report.writers import make_reports
from actbench.results.store import DB_NAME, ResultStore

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "schema2"
# Summary columns whose name follows the task metric's now (NAME_mean), same values.
RENAMED = {"timed_mean_s": "timed_s_mean"}
# Summary columns that release did not have: trials that failed (training raised), which
# it could not store; 0 for all of its trials.
ADDED = {"failed": 0}
# Wording this release changed: a comparison shown neither better nor worse was "tied";
# it is "inconclusive" now (absence of evidence is not evidence of no difference), and
# the method text says so. Old text is reworded before it is compared.
REWORDED = {
    ", tied otherwise.": "; inconclusive otherwise: neither shown, which is not evidence of no difference "
    "(actbench plan says how many seeds would decide it).",
    "| tied |": "| inconclusive |",
    "tied otherwise": "inconclusive otherwise",
}
VERDICTS = {"tied": "inconclusive"}
INTERVAL = re.compile(r"\[([+-]\d+\.\d+), ([+-]\d+\.\d+)\]")
# The comparison intervals: that release showed 95% BCa bootstrap intervals; this one shows the
# t-intervals the verdicts rest on, simultaneous over a table's comparisons (stats.simultaneous_intervals,
# their coverage tested in tests/report/test_intervals.py). Their ends, their column header and the
# method paragraphs differ by design, and three columns describe them; every other number agrees.
INTERVAL_HEADER = re.compile(r"\[(?:simultaneous )?[\d.]+% CI\]")
INTERVAL_COLUMNS = {"ci_level", "ci_method", "step_down_only"}
INTERVAL_KEYS = {"bootstrap", "intervals", "notices", "method"}  # json: the old description, the new one


@pytest.fixture
def old_store(tmp_path) -> Path:
    shutil.copytree(FIXTURE / "store", tmp_path / "store")
    return tmp_path / "store"


def raw(folder: Path, query: str) -> pd.DataFrame:
    with sqlite3.connect(folder / DB_NAME) as conn:
        return pd.read_sql_query(query, conn)


def test_every_value_of_a_schema_2_store_survives_the_migration(old_store):
    trials_before = raw(old_store, "SELECT * FROM trials ORDER BY id")
    epochs_before = raw(old_store, "SELECT * FROM epochs ORDER BY trial_id, epoch")
    with ResultStore(old_store, create=False) as store:
        trials, epochs = store.trials(), store.epochs()
    assert raw(old_store, "SELECT value FROM meta WHERE key = 'schema_version'")["value"].tolist() == ["6"]
    pd.testing.assert_frame_equal(trials[trials_before.columns], trials_before)
    assert trials["code_revision"].isna().all()  # not recorded before schema 3
    assert trials["node"].isna().all()  # nor the Ray node, before schema 4
    assert epochs["elapsed_s"].isna().all()  # nor the seconds at each epoch, before schema 5
    assert trials["definition"].isna().all()  # nor what defined the activation, before schema 6
    core = ["trial_id", "epoch", "train_loss", "test_loss", "test_acc", "activation_params"]
    pd.testing.assert_frame_equal(epochs[core], epochs_before[core])
    # The two airbench columns of schema 2 are task metrics now: every value, NULL where it was.
    for metric in ("tta_acc", "timed_s"):
        assert epochs[metric].tolist() == pytest.approx(epochs_before[metric].tolist(), nan_ok=True)
    assert len(raw(old_store, "SELECT * FROM metric_values")) == epochs_before[["tta_acc", "timed_s"]].notna().sum().sum()


def test_a_migrated_store_takes_new_trials_and_reopens_without_migrating_again(old_store):
    from fakes import fake_result

    with ResultStore(old_store) as store:
        assert store.add(fake_result("silu", 0, [97.0, 97.5]))
        assert not store.add(fake_result("relu", 0, [1.0, 2.0, 3.0, 4.0]))  # stored by the old release
    with ResultStore(old_store) as store:
        assert len(store.trials()) == len(raw(old_store, "SELECT id FROM trials"))
        assert store.trials()["activation"].tolist().count("silu") == 1


def test_a_schema_3_store_gains_the_node_column_and_keeps_its_trials(tmp_path):
    from fakes import fake_result

    with ResultStore(tmp_path) as store:
        store.add(fake_result("relu", 0, [97.0, 97.5]))
    with sqlite3.connect(tmp_path / DB_NAME) as conn:  # the store as schema 3 wrote it
        conn.execute("ALTER TABLE trials DROP COLUMN node")
        conn.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    with ResultStore(tmp_path) as store:
        assert store.add(fake_result("gelu", 0, [97.1, 97.6]))
        trials = store.trials()
    assert raw(tmp_path, "SELECT value FROM meta WHERE key = 'schema_version'")["value"].tolist() == ["6"]
    assert trials["activation"].tolist() == ["relu", "gelu"]
    assert trials["node"].isna().all()


def test_a_schema_4_store_gains_the_epoch_seconds_and_keeps_its_epochs(tmp_path):
    from fakes import fake_result

    with ResultStore(tmp_path) as store:
        store.add(fake_result("relu", 0, [97.0, 97.5]))
    with sqlite3.connect(tmp_path / DB_NAME) as conn:  # the store as schema 4 wrote it
        conn.execute("ALTER TABLE epochs DROP COLUMN elapsed_s")
        conn.execute("UPDATE meta SET value = '4' WHERE key = 'schema_version'")
    timed = fake_result("gelu", 0, [97.1, 97.6])
    timed.epochs[:] = [dataclasses.replace(m, elapsed_s=1.5 * m.epoch) for m in timed.epochs]
    with ResultStore(tmp_path) as store:
        assert store.add(timed)
        epochs = store.epochs()
    assert raw(tmp_path, "SELECT value FROM meta WHERE key = 'schema_version'")["value"].tolist() == ["6"]
    assert epochs["test_acc"].tolist() == [97.0, 97.5, 97.1, 97.6]
    assert epochs["elapsed_s"].tolist() == pytest.approx([math.nan, math.nan, 1.5, 3.0], nan_ok=True)


def test_a_schema_5_store_gains_the_definitions_and_keeps_its_trials(tmp_path):
    from fakes import fake_result

    with ResultStore(tmp_path) as store:
        store.add(fake_result("gelu", 0, [97.0, 97.5]))
    with sqlite3.connect(tmp_path / DB_NAME) as conn:  # the store as schema 5 wrote it
        conn.execute("ALTER TABLE trials DROP COLUMN definition")
        conn.execute("UPDATE meta SET value = '5' WHERE key = 'schema_version'")
    defined = dataclasses.replace(fake_result("gelu", 1, [97.1, 97.6]), definition="ab" * 32)
    with ResultStore(tmp_path) as store:
        assert not store.add(fake_result("gelu", 0, [1.0, 2.0]))  # stored by schema 5: still the same trial
        assert store.add(defined)
        trials = store.trials()
        found = store.stored_definitions([defined.trial])
    assert raw(tmp_path, "SELECT value FROM meta WHERE key = 'schema_version'")["value"].tolist() == ["6"]
    assert trials[["activation", "seed"]].values.tolist() == [["gelu", 0], ["gelu", 1]]
    with sqlite3.connect(tmp_path / DB_NAME) as conn:
        assert conn.execute("SELECT definition FROM trials ORDER BY id").fetchall() == [(None,), ("ab" * 32,)]
    assert found == {("mnist-mini", "gelu", defined.trial.config_hash): {None: 1, "ab" * 32: 1}}


def _masked(text: str) -> str:
    """A markdown or LaTeX file without what the interval change rewrote (see INTERVAL_HEADER)."""
    kept = [line for line in text.splitlines() if not line.startswith("Metric: ")]  # the method paragraphs
    return INTERVAL_HEADER.sub("[CI]", INTERVAL.sub("[CI]", "\n".join(kept)))


def compare_file(old: Path, new: Path) -> None:
    """md and tex character for character but the intervals (see INTERVAL_HEADER), csv and
    json value for value; a column the old release wrote for every task (empty for those
    without it) may now be absent."""
    if old.suffix in (".md", ".tex"):
        before, after = old.read_text(), new.read_text()
        for old_words, new_words in REWORDED.items():
            before = before.replace(old_words, new_words)
        assert _masked(after) == _masked(before), new.name
        return
    if old.suffix == ".csv":
        before, after = pd.read_csv(old).rename(columns=RENAMED), pd.read_csv(new)
    else:
        before_json, after_json = json.loads(old.read_text()), json.loads(new.read_text())
        key = next(k for k in ("rows", "pairs") if k in before_json)
        same = [{k: v for k, v in saved.items() if k != key and k not in INTERVAL_KEYS} for saved in (before_json, after_json)]
        assert same[0] == same[1], new.name
        before = pd.DataFrame(before_json[key]).rename(columns=RENAMED)
        after = pd.DataFrame(after_json[key])
    if "verdict" in before.columns:
        before["verdict"] = before["verdict"].replace(VERDICTS)
    dropped = set(before.columns) - set(after.columns)
    assert before[sorted(dropped)].isna().all().all(), f"{new.name}: values lost in {sorted(dropped)}"
    for column, value in ADDED.items():
        if column in after.columns and column not in before.columns:
            assert (after.pop(column) == value).all(), new.name
    after = after.drop(columns=[c for c in INTERVAL_COLUMNS if c in after.columns])
    assert set(after.columns) <= set(before.columns), new.name
    ends = [c for c in after.columns if c in ("ci_low", "ci_high")]
    pd.testing.assert_frame_equal(after.drop(columns=ends), before[after.columns].drop(columns=ends), check_dtype=False)
    if ends:  # each new interval around its Δ, where the old one was
        tested = after.dropna(subset=ends)
        assert ((tested["ci_low"] <= tested["delta_mean"]) & (tested["delta_mean"] <= tested["ci_high"])).all()
        assert after[ends].isna().equals(before[ends].isna()), new.name


@pytest.mark.parametrize(
    "folder, task, spec",
    [
        ("report", None, CompareSpec(formats=frozenset({"md", "csv", "tex", "json"}))),
        ("report-pairs", "mnist-mini", CompareSpec(pairs="all", metric="late_mean", formats=frozenset({"md", "csv", "json"}))),
    ],
)
def test_the_report_of_a_schema_2_store_is_the_one_that_release_wrote(old_store, tmp_path, folder, task, spec):
    written = make_reports(old_store, task, None, spec, out=tmp_path / folder)
    expected = sorted(p.relative_to(FIXTURE / folder) for p in (FIXTURE / folder).rglob("*.*"))
    got = sorted(p.relative_to(tmp_path / folder) for _, files in written.reports for p in files)
    assert got == expected
    for relative in expected:
        compare_file(FIXTURE / folder / relative, tmp_path / folder / relative)
