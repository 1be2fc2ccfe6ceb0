"""A plug-in's code is part of what a trial is: the researcher's loop (write an activation,
compare, edit it, rerun, report) through the command line; a built-in whose definition
changed under a results folder; a Ray worker whose copy of a plug-in differs."""

from __future__ import annotations

import io
import platform
import re
import sqlite3
import sys

import pandas as pd
import pytest
from cli_runner import cli
from fakes import reimport

from actbench.activations import parse_activation
from actbench.activations.identity import definition
from actbench.api import Trial, WorkUnit
from actbench.errors import SpecError
from actbench.results.store import DB_NAME
from actbench.run.checkpoints import unit_name
from actbench.run.executors.worker import check_plugin_versions

MYACT = """import torch
from torch import nn


class LearnableSwish(nn.Module):
    def __init__(self, beta: float = 1.0):
        super().__init__()
        self.beta = nn.Parameter(torch.tensor(beta))

    def forward(self, x):
        return x * torch.sigmoid(self.beta * x)
"""
# The edit a researcher makes between two runs: another formula (and another file size,
# so that Python's bytecode cache cannot serve the old one from the same second).
EDITED = MYACT.replace("x * torch.sigmoid(self.beta * x)", "x * torch.sigmoid(self.beta * x) + 0.01 * x")
MINI = ["run", "--task", "mnist-mini", "--epochs", "1"]
RUN = [*MINI, "--acts", "relu,myact:LearnableSwish", "--repeats", "2"]


@pytest.fixture
def myact(tmp_path, monkeypatch):
    """myact.py beside the user, importable; forgotten after the test."""
    (tmp_path / "myact.py").write_text(MYACT)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path / "myact.py"
    sys.modules.pop("myact", None)


def stored() -> list[tuple]:
    with sqlite3.connect(f"results/{DB_NAME}") as conn:
        return conn.execute("SELECT activation, seed, definition FROM trials ORDER BY id").fetchall()


def test_an_edited_plugin_is_trained_anew_and_reported_apart_never_pooled(myact):
    old = parse_activation("myact:LearnableSwish")
    old_def = definition(old)  # the source hash; its first 8 hex digits are the version in the name
    assert old.canonical == f"myact:LearnableSwish@{old_def[:8]}(beta=1.0)"
    first = cli(*RUN)
    assert first.exit_code == 0, first.output
    assert "done: 4 trial(s) stored (0 diverged), 0 skipped as already stored." in first.stderr

    reimport("myact")
    unchanged = cli(*RUN)
    assert unchanged.exit_code == 0, unchanged.output
    assert "4 trials; 4 already stored (skipped)" in unchanged.stderr
    assert "done: 0 trial(s) stored (0 diverged), 4 skipped as already stored." in unchanged.stderr

    myact.write_text(EDITED)
    reimport("myact")
    new = parse_activation("myact:LearnableSwish")
    assert new.canonical != old.canonical and new.unversioned == old.unversioned == "myact:LearnableSwish(beta=1.0)"
    edited = cli(*RUN)
    assert edited.exit_code == 0, edited.output
    assert "4 trials; 2 already stored (skipped), 2 to run" in edited.stderr  # relu's; the new version trains

    relu, new_def = definition(parse_activation("relu")), definition(new)
    assert sorted(stored()) == sorted(
        [
            ("relu", 0, relu),
            ("relu", 1, relu),
            (old.canonical, 0, old_def),
            (old.canonical, 1, old_def),
            (new.canonical, 0, new_def),
            (new.canonical, 1, new_def),
        ]
    )

    # The report: one row per version, each of its own 2 seeds, each paired with relu.
    report = cli("report", "--format", "csv")
    assert report.exit_code == 0, report.output
    summary = pd.read_csv("results/mnist-mini/summary.csv")
    assert summary[["activation", "n"]].values.tolist() == [["relu", 2], [old.canonical, 2], [new.canonical, 2]]
    compare = pd.read_csv("results/mnist-mini/compare.csv")
    assert compare.loc[compare["activation"] != "relu", "activation"].tolist() == [old.canonical, new.canonical]

    # Named without a version, the plug-in names every stored one: both rows, or an ambiguous baseline.
    chosen = cli("report", "--acts", "myact:LearnableSwish", "--format", "csv")
    assert chosen.exit_code == 0, chosen.output
    assert pd.read_csv("results/mnist-mini/summary.csv")["activation"].tolist() == [old.canonical, new.canonical]
    ambiguous = cli("report", "--baseline", "myact:LearnableSwish", "--format", "csv")
    assert ambiguous.exit_code == 2
    assert ambiguous.stderr.strip() == (
        f"error: baseline myact:LearnableSwish names 2 activations in mnist-mini [{first_protocol()}]: "
        f"{old.canonical}, {new.canonical}; give one of them"
    )
    # The old version by its @version (which no longer parses for a run): the report finds it.
    against_old = cli("report", "--baseline", old.canonical, "--format", "csv")
    assert against_old.exit_code == 0, against_old.output
    compare = pd.read_csv("results/mnist-mini/compare.csv")
    assert compare.loc[compare["activation"] != old.canonical, "activation"].tolist() == ["relu", new.canonical]

    exported = pd.read_csv(io.StringIO(cli("export").stdout))
    assert set(zip(exported["activation"], exported["definition"])) == {
        ("relu", relu),
        (old.canonical, old_def),
        (new.canonical, new_def),
    }


def first_protocol() -> str:
    with sqlite3.connect(f"results/{DB_NAME}") as conn:
        (config_hash,) = conn.execute("SELECT DISTINCT config_hash FROM trials").fetchone()
    return config_hash[:8]


def test_a_run_naming_a_version_the_source_no_longer_has_is_refused(myact):
    old = parse_activation("myact:LearnableSwish").canonical
    myact.write_text(EDITED)
    reimport("myact")
    current = parse_activation("myact:LearnableSwish").canonical.split("@")[1][:8]
    result = cli(*MINI, "--acts", f"relu,{old}")
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"error: plug-in myact:LearnableSwish is at version {current}, not {old.split('@')[1][:8]}: "
        f"its source has changed since; name it myact:LearnableSwish or myact:LearnableSwish@{current}"
    )
    assert not (myact.parent / "results").exists()


def test_a_builtin_whose_definition_changed_is_not_resumed_over(tmp_path):
    first = cli(*MINI, "--acts", "relu,gelu", "-q")
    assert first.exit_code == 0, first.output
    # The store as an actbench whose gelu computed something else left it.
    with sqlite3.connect(f"results/{DB_NAME}") as conn:
        conn.execute("UPDATE trials SET definition = ? WHERE activation = 'gelu'", ("0f" * 32,))
    before = stored()
    again = cli(*MINI, "--acts", "relu,gelu", "--repeats", "2")
    assert again.exit_code == 1
    gelu = definition(parse_activation("gelu"))[:8]
    assert again.stderr.strip() == (
        f"error: gelu: 1 trial(s) of mnist-mini stored in results were made by definition 0f0f0f0f, this actbench's "
        f"gelu is {gelu}; a run cannot resume over another definition: pass a new --results-dir to run this one"
    )
    assert stored() == before  # nothing trained, nothing stored
    # Another hyperparameter set is another experiment: it runs.
    other = cli(*MINI, "--acts", "gelu", "--lr", "0.002", "-q")
    assert other.exit_code == 0, other.output


def test_a_worker_whose_copy_of_a_plugin_differs_stops_the_run(myact):
    driver = parse_activation("myact:LearnableSwish")
    myact.write_text(EDITED)  # this "node" has another copy
    reimport("myact")
    here = parse_activation("myact:LearnableSwish").canonical.split("@")[1][:8]
    unit = WorkUnit("sequential", (Trial("mnist-mini", "relu", 0, {}), Trial("mnist-mini", driver.canonical, 0, {})))
    with pytest.raises(SpecError) as info:
        check_plugin_versions(unit, "f00dfeed" * 7)
    assert str(info.value) == (
        f"on Ray node {platform.node()} (f00dfeed), plug-in myact:LearnableSwish is at version {here}, the driver's "
        f"at {driver.canonical.split('@')[1][:8]}: this worker's copy of myact differs from the driver's; "
        "install the same version on every node"
    )
    check_plugin_versions(WorkUnit("sequential", (Trial("mnist-mini", "relu", 0, {}),)), "f00dfeed" * 7)


def test_each_version_of_a_plugin_has_its_own_checkpoint_file_with_a_safe_name():
    specs = ["myact:Swish@1a2b3c4d(beta=1.0)", "myact:Swish@5e6f7a8b(beta=1.0)"]
    units = [WorkUnit("population", (Trial("mnist-mini", spec, 0, {}),)) for spec in specs]
    names = [unit_name(unit) for unit in units]
    assert all(re.fullmatch(r"population-[0-9a-f]{20}\.pt", name) for name in names) and names[0] != names[1]
