"""--threads (torch's intra-op threads while this process trains), and run inputs that
used to end in a traceback or be taken silently: each is one line and exit code 2, with
nothing written."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd
import pytest
import torch
from cli_runner import cli

import actbench
from actbench.errors import UsageError
from actbench.results.store import DB_NAME, ResultStore
from actbench.run.config import build_run_config
from actbench.run.executors.local import LocalExecutor
from actbench.run.progress import QuietReporter
from actbench.run.runner import execute


def run_mini(*args: str):
    return cli("run", "--task", "mnist-mini", "--epochs", "1", "-q", *args)


def refused(result, message: str) -> None:
    assert (result.exit_code, result.stderr) == (2, f"error: {message}\n")
    assert not Path("results").exists()


@pytest.fixture
def threads_seen(monkeypatch) -> list[int]:
    """torch's threads as each unit starts training in this process; this machine taken to
    have 2 CPUs, so that --threads 2 is accepted on any."""
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    seen: list[int] = []
    real = LocalExecutor.run_unit

    def spying(self, unit):
        seen.append(torch.get_num_threads())
        return real(self, unit)

    monkeypatch.setattr(LocalExecutor, "run_unit", spying)
    return seen


@pytest.fixture
def torch_threads():
    """Sets torch's threads for a test, and puts back the session's after it."""
    before = torch.get_num_threads()
    yield torch.set_num_threads
    torch.set_num_threads(before)


@pytest.mark.parametrize("threads", [1, 2])
def test_threads_are_set_while_training_and_restored_after(threads_seen, torch_threads, threads):
    other = 2 if threads == 1 else 1
    torch_threads(other)  # unlike --threads: the value training sees must come from it
    config = build_run_config({}, {"task": "mnist-mini", "acts": "relu,gelu", "epochs": 1, "threads": threads})
    execute(config, QuietReporter())
    assert threads_seen == [threads]  # one population unit
    assert torch.get_num_threads() == other  # restored for the rest of the notebook


@pytest.mark.parametrize("threads", [1, 2])
def test_without_threads_torch_keeps_the_threads_it_has(threads_seen, torch_threads, threads):
    torch_threads(threads)  # as OMP_NUM_THREADS would
    assert run_mini("--acts", "relu").exit_code == 0
    assert threads_seen == [threads]


def stored(folder: str) -> pd.DataFrame:
    with ResultStore(Path(folder), create=False) as store:
        epochs = store.epochs()
    columns = ["activation", "seed", "epoch", "train_loss", "test_loss", "test_acc"]
    return epochs[columns].sort_values(columns[:3]).reset_index(drop=True)


def test_the_population_engine_gives_the_same_bits_with_1_and_2_threads(threads_seen):
    args = ["--acts", "relu,gelu,ralu", "--repeats", "2", "--engine", "population"]
    assert run_mini(*args, "--threads", "1", "--results-dir", "one").exit_code == 0
    assert run_mini(*args, "--threads", "2", "--results-dir", "two").exit_code == 0
    assert threads_seen == [1, 2]
    # Every bit: the store keeps a float's. (The sequential engine's losses can differ in the
    # last bits: MKL splits the reduction over the batch of the last layer's weight gradient,
    # a (10, B) x (B, 128) product, between threads.)
    pd.testing.assert_frame_equal(stored("one"), stored("two"), check_exact=True)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--threads", "0"], "--threads must be a positive integer, got 0"),
        (["--threads", "-2"], "--threads must be a positive integer, got -2"),
        (["--threads", "3"], "--threads 3 is more than this machine's 2 CPU(s): more threads only oversubscribe them"),
        (
            ["--executor", "ray", "--threads", "1"],
            "--threads applies to the local executor; with --executor ray a "
            "unit's torch threads are its --cpus-per-trial",
        ),
    ],
)
def test_bad_threads_are_one_line(monkeypatch, args, message):
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    refused(run_mini("--acts", "relu", *args), message)


def test_threads_in_a_config_file_and_for_tune_are_checked_alike(tmp_path, monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    config = tmp_path / "run.toml"
    config.write_text("threads = true\n")
    refused(run_mini("--acts", "relu", "--config", str(config)), "--threads must be a positive integer, got True")
    tune = cli("tune", "--task", "mnist-mini", "--acts", "relu", "--grid", "lr=1e-3", "--threads", "4")
    refused(tune, "--threads 4 is more than this machine's 2 CPU(s): more threads only oversubscribe them")


@pytest.mark.parametrize(
    "line, message",
    [
        (
            "acts = 3",
            """'acts' must be a comma-separated string ("relu,gelu") or a list of activation specs """
            """(["relu", "gelu"]), got 3""",
        ),
        (
            "acts = [1, 2]",
            """'acts' must be a comma-separated string ("relu,gelu") or a list of activation specs """
            """(["relu", "gelu"]), got [1, 2]""",
        ),
        ('compile = "false"', "'compile' must be true or false, got 'false'"),
        ("results_dir = 3", "'results_dir' must be a path (a string), got 3"),
        ("task = 3", "'task' must be a string, got 3"),
    ],
)
def test_a_config_value_of_the_wrong_type_names_the_file_and_the_key(tmp_path, line, message):
    config = tmp_path / "run.toml"
    other = "" if line.startswith("acts") else 'acts = ["relu"]\n'
    config.write_text(f"{line}\nepochs = 1\n{other}")
    refused(cli("run", "--config", str(config), "-q"), f"{config}: {message}")


def test_acts_of_the_wrong_type_from_python_is_one_error():
    with pytest.raises(UsageError) as info:
        build_run_config({}, {"task": "mnist-mini", "acts": [1, 2]})
    assert str(info.value) == (
        """'acts' must be a comma-separated string ("relu,gelu") or a list of activation specs """
        """(["relu", "gelu"]), got [1, 2]"""
    )


def test_threads_from_python_too(threads_seen, torch_threads):
    torch_threads(2)
    actbench.compare("mnist-mini", ["relu"], epochs=1, threads=1)
    assert threads_seen == [1] and torch.get_num_threads() == 2


@pytest.mark.parametrize(
    "args, message",
    [
        (["--seeds", "99999999999999999999"], "seed 99999999999999999999 is too large: seeds must be below 2**63"),
        (["--seeds", "0,9223372036854775808"], "seed 9223372036854775808 is too large: seeds must be below 2**63"),
        (["--repeats", "99999999999999999999"], "repeats 99999999999999999999 is too large: seeds must be below 2**63"),
        (["--batch-size", "0"], "batch_size must be >= 1, got 0"),
        (["--lr", "0"], "lr must be a positive number, got 0.0"),
        (["--weight-decay", "-0.1"], "weight_decay must be >= 0, got -0.1"),
        (["--memory-budget", "-1"], "memory budget must be a positive number of GB, got -1.0"),
        (["--executor", "ray", "--cpus-per-trial", "-1"], "--cpus-per-trial must be a number >= 0, got -1.0"),
    ],
)
def test_out_of_range_run_options_are_one_line(args, message):
    refused(run_mini("--acts", "relu", *args), message)


@pytest.mark.parametrize(
    "line, message",
    [
        ("seeds = 3", "seeds must be non-negative integers, got 3"),
        ("seeds = [99999999999999999999]", "seed 99999999999999999999 is too large: seeds must be below 2**63"),
        ("repeats = 99999999999999999999", "repeats 99999999999999999999 is too large: seeds must be below 2**63"),
    ],
)
def test_seeds_in_a_config_file_are_checked_as_on_the_command_line(tmp_path, line, message):
    config = tmp_path / "run.toml"
    config.write_text(f'acts = ["relu"]\n{line}\n')
    refused(run_mini("--config", str(config)), message)


@pytest.mark.parametrize("flag", ["--repeats", "--final-repeats"])
def test_tune_refuses_more_seeds_than_the_store_holds(flag):
    args = ["tune", "--task", "mnist-mini", "--acts", "relu", "--grid", "lr=1e-3", flag, "99999999999999999999"]
    refused(cli(*args), f"{flag} 99999999999999999999 is too large: seeds must be below 2**63")


def test_the_largest_seed_trains_and_is_stored():
    largest = 2**63 - 1  # SQLite's largest INTEGER
    assert run_mini("--acts", "relu", "--seeds", str(largest)).exit_code == 0
    with sqlite3.connect(f"results/{DB_NAME}") as conn:
        assert conn.execute("SELECT seed, status FROM trials").fetchall() == [(largest, "ok")]
