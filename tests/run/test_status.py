"""actbench status: stored, claimed (by whom, since when) and pending trials."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from cli_runner import cli
from fakes import HPARAMS, fake_result

from actbench.results.store import Owner, ResultStore

# The fakes' hyperparameters are mnist-mini's with 3 epochs: the same config hash.
RUN = ["--task", "mnist-mini", "--acts", "relu,gelu", "--repeats", "2", "--epochs", str(HPARAMS["epochs"])]


@pytest.fixture
def busy():
    """relu seed 0 stored, seed 1 diverged; gelu seed 0 claimed by a run on another machine."""
    remote = Owner("gpu-node-7:4242:abcd1234", "gpu-node-7", 4242, "another-machine")
    with ResultStore(Path("results")) as store:
        store.add(fake_result("relu", 0, [90.0]))
        store.add(fake_result("relu", 1, [90.0], diverged_at=1))
        store.claim([fake_result("gelu", 0, [90.0]).trial], remote, 600)


def test_status_shows_stored_claimed_and_pending_trials(busy):
    result = cli("status", *RUN)
    assert result.exit_code == 0, result.output
    lines = [line.strip("│ ").split("│") for line in result.stdout.splitlines()]
    cells = [[cell.strip() for cell in line] for line in lines]
    config = fake_result("relu", 0, [90.0]).trial.config_hash[:8]
    assert [f"mnist-mini [{config}]", "relu", "1", "1", "0"] in cells  # ok, diverged, failed
    assert "claimed, being trained: 1 trial(s)" in result.stdout
    claim = next(row for row in cells if "gpu-node-7:4242:abcd1234" in row)
    assert claim[:3] == ["mnist-mini", "gelu", "0"] and re.fullmatch(r"\d+ s ago", claim[4])
    assert "pending, neither stored nor claimed: 1 trial(s)" in result.stdout
    assert ["gelu", "1"] in cells


def test_status_without_a_store_is_one_line():
    result = cli("status")
    assert result.exit_code == 1
    assert result.stderr.strip().startswith("error: no results database at results/actbench.sqlite")


def test_status_as_json_holds_what_the_tables_show(busy):
    result = cli("status", *RUN, "--format", "json")
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    config = fake_result("relu", 0, [90.0]).trial.config_hash
    assert found["stored"] == [
        {"task": "mnist-mini", "config": config[:8], "activation": "relu", "ok": 1, "diverged": 1, "failed": 0}
    ]
    (claim,) = found["claims"]
    assert (claim["activation"], claim["seed"], claim["owner"], claim["config_hash"]) == (
        "gelu",
        0,
        "gpu-node-7:4242:abcd1234",
        config,
    )
    assert found["pending"] == [{"activation": "gelu", "seeds": [1]}]
    bad = cli("status", "--format", "xml")
    assert (bad.exit_code, bad.stderr) == (2, "error: unknown --format 'xml'; choose from: table, json\n")
