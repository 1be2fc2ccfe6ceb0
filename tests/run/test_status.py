"""actbench status: stored, claimed (by whom, since when) and pending trials."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from actbench.cli import app
from actbench.results.store import Owner, ResultStore
from fakes import HPARAMS, fake_result

runner = CliRunner()


def test_status_shows_stored_claimed_and_pending_trials():
    remote = Owner("gpu-node-7:4242:abcd1234", "gpu-node-7", 4242, "another-machine")
    with ResultStore(Path("results")) as store:
        store.add(fake_result("relu", 0, [90.0]))
        store.add(fake_result("relu", 1, [90.0], diverged_at=1))
        store.claim([fake_result("gelu", 0, [90.0]).trial], remote, 600)
    # The fakes' hyperparameters are mnist-mini's with 3 epochs: the same config hash.
    args = ["--task", "mnist-mini", "--acts", "relu,gelu", "--repeats", "2", "--epochs", str(HPARAMS["epochs"])]
    result = runner.invoke(app, ["status", *args])
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
    result = runner.invoke(app, ["status"])
    assert result.exit_code == 1
    assert result.stderr.strip().startswith("error: no results database at results/actbench.sqlite")
