"""The command line as a user meets it: exact messages, exit codes, files, resume after a kill."""

import dataclasses
import io
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from cli_runner import cli

from actbench.results.store import DB_NAME
from actbench.tasks.mlp import data

TESTS = Path(__file__).resolve().parent


def run_mini(*extra: str, results: str = "results"):
    return cli("run", "--task", "mnist-mini", "--epochs", "1", "--results-dir", results, "-q", *extra)


@pytest.mark.parametrize(
    "acts, message",
    [
        ("relu,gleu", "error: unknown activation 'gleu'; did you mean: gelu, reglu, geglu?"),
        ("ralu(alpha=abc)", "error: ralu: alpha must be a number, got 'abc'"),
        ("srelu(t=-1)", "error: srelu(t=-1.0): t must be > 0, got -1.0"),
        ("relu(alpha=1)", "error: relu takes no parameters, got 'alpha'"),
        ("relu,ralu,ralu(alpha=1)", "error: activation listed twice: ralu(alpha=1.0, learnable=true)"),
    ],
)
def test_a_bad_activation_stops_everything_before_anything_is_written(acts, message):
    result = run_mini("--acts", acts)
    assert result.exit_code == 2
    assert result.stderr.strip() == message
    assert not Path("results").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--epochs", "0"], "error: epochs must be >= 1, got 0"),
        (["--repeats", "0"], "error: repeats must be a positive integer, got 0"),
        (
            ["--task", "cifar"],
            "error: unknown task 'cifar'; did you mean: cifar10-airbench94, cifar10-airbench95, cifar10-airbench96?",
        ),
        (["--task", "mnits"], "error: unknown task 'mnits'; did you mean: mnist, mnist-mini?"),
        (
            ["--task", "imagenet"],
            "error: unknown task 'imagenet'; known tasks: mnist, fashion-mnist, mnist-mini, "
            "cifar10-airbench94, cifar10-airbench95, cifar10-airbench96, "
            "shakespeare-char, shakespeare-char-cpu, shakespeare-char-mini",
        ),
        (["--seeds", "1,x"], "error: seeds must be integers like 0,3,7, got '1,x'"),
        (["--device", "tpu"], "error: unknown device 'tpu'; choose from: auto, cpu, cuda, mps (or cuda:N)"),
        (["--set", "hidden"], "error: --set expects key=value, got 'hidden'"),
        (["--config", "missing.toml"], "error: config file not found: missing.toml"),
        (["--engine", "fast"], "error: unknown engine 'fast'; choose from: auto, population, sequential"),
        (["--memory-budget", "0"], "error: memory budget must be a positive number of GB, got 0.0"),
    ],
)
def test_bad_options_are_one_line_and_exit_2(args, message):
    result = cli("run", "--acts", "relu", "--results-dir", "results", *args)
    assert result.exit_code == 2
    assert result.stderr.strip() == message
    assert not Path("results").exists()


def test_missing_data_names_the_files_the_folders_and_the_urls(tmp_path, monkeypatch):
    # Offline: the mirror is a closed port on this machine, so the download fails at once.
    offline = dataclasses.replace(data.SOURCES["mnist"], mirrors=("http://127.0.0.1:9/mnist/",))
    monkeypatch.setitem(data.SOURCES, "mnist", offline)
    empty = tmp_path / "empty"
    empty.mkdir()
    result = cli("run", "--task", "mnist", "--acts", "relu", "--data-dir", str(empty), "-q")
    assert result.exit_code == 1
    line = result.stderr.strip()
    assert "\n" not in line
    assert line.startswith(
        "error: MNIST files not found: train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
        "t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz "
        f"(looked in {empty} and {empty / 'MNIST' / 'raw'}); download from http://127.0.0.1:9/mnist/ failed"
    )
    assert line.endswith("Put the files there or pass --data-dir DIR (or set ACTBENCH_DATA).")


def test_run_report_export_end_to_end():
    result = cli("run", "--task", "mnist-mini", "--acts", "relu,ralu(alpha=2)", "--repeats", "2", "--epochs", "2")
    assert result.exit_code == 0, result.output
    assert "4 trials; 0 already stored (skipped), 4 to run on cpu (population engine)" in result.stderr
    assert "done: 4 trial(s) stored (0 diverged), 0 skipped as already stored. Next: actbench report" in result.stderr

    report = cli("report")
    assert report.exit_code == 0, report.output
    assert "ralu(alpha=2.0, learnable=true)" in report.stdout
    folder = Path("results/mnist-mini")
    assert sorted(p.name for p in folder.iterdir()) == [
        "compare.csv",
        "compare.json",
        "compare.md",
        "cost.png",
        "cost.svg",
        "curves.png",
        "curves.svg",
        "differences.png",
        "differences.svg",
        "seeds.png",
        "seeds.svg",
        "summary.csv",
        "summary.json",
        "summary.md",
        "summary.tex",
    ]
    summary = pd.read_csv(folder / "summary.csv")
    assert list(summary["activation"]) == ["relu", "ralu(alpha=2.0, learnable=true)"]
    assert list(summary["n"]) == [2, 2] and list(summary["diverged"]) == [0, 0]

    exported = cli("export", "--format", "csv")
    assert exported.exit_code == 0
    rows = pd.read_csv(io.StringIO(exported.stdout))
    assert len(rows) == 2 * 2 * 2  # activations x seeds x epochs
    assert {"task", "activation", "seed", "epoch", "train_loss", "test_loss", "test_acc"} <= set(rows.columns)
    # The report's final accuracy is the mean of the exported last-epoch accuracies.
    last = rows[rows["epoch"] == 2].groupby("activation", sort=False)["test_acc"].mean()
    assert summary.set_index("activation")["final_acc_mean"].to_dict() == pytest.approx(last.to_dict())


def test_rerun_skips_what_is_stored_and_runs_only_the_rest():
    assert run_mini("--acts", "relu", "--repeats", "2").exit_code == 0
    result = cli("run", "--task", "mnist-mini", "--epochs", "1", "--acts", "relu,gelu", "--repeats", "2")
    assert result.exit_code == 0
    assert "4 trials; 2 already stored (skipped), 2 to run" in result.stderr
    with sqlite3.connect(f"results/{DB_NAME}") as conn:
        assert conn.execute("SELECT activation, seed FROM trials ORDER BY id").fetchall() == [
            ("relu", 0),
            ("relu", 1),
            ("gelu", 0),
            ("gelu", 1),
        ]


def test_config_file_with_command_line_overrides(tmp_path):
    config = tmp_path / "run.toml"
    config.write_text('task = "mnist-mini"\nacts = ["relu", "silu"]\nrepeats = 3\nepochs = 5\n')
    result = cli("run", "--config", str(config), "--seeds", "7", "--epochs", "1", "--acts", "swish", "-q")
    assert result.exit_code == 0, result.output
    with sqlite3.connect(f"results/{DB_NAME}") as conn:
        assert conn.execute("SELECT activation, seed, epochs_run FROM trials").fetchall() == [("silu", 7, 1)]


def test_unknown_config_key_is_named(tmp_path):
    config = tmp_path / "run.toml"
    config.write_text('task = "mnist-mini"\nactivations = ["relu"]\n')
    result = cli("run", "--config", str(config))
    assert result.exit_code == 2
    assert result.stderr.strip().startswith(f"error: {config}: unknown key 'activations'; valid keys: acts, ")


def test_report_and_export_without_results_exit_1():
    for command in (["report"], ["export"]):
        result = cli(*command)
        assert result.exit_code == 1
        assert result.stderr.strip() == (
            f"error: no results database at {Path('results') / DB_NAME}; run 'actbench run' first "
            f"or pass --results-dir DIR"
        )


def test_report_filters_and_unknown_filters():
    assert run_mini("--acts", "relu,gelu").exit_code == 0
    only = cli("report", "--acts", "gelu")
    assert only.exit_code == 0 and "gelu" in only.stdout and "relu" not in only.stdout
    none = cli("report", "--task", "fashion-mnist")
    assert none.exit_code == 2
    assert none.stderr.strip() == (
        f"error: no stored trials for task fashion-mnist in {Path('results') / DB_NAME}; it holds mnist-mini (2 trials)"
    )


def test_export_jsonl_to_a_file():
    assert run_mini("--acts", "relu").exit_code == 0
    result = cli("export", "--format", "jsonl", "--out", "rows.jsonl")
    assert result.exit_code == 0
    assert result.stderr.strip() == "wrote 1 rows to rows.jsonl"
    record = pd.read_json("rows.jsonl", lines=True).iloc[0]
    assert (record["activation"], record["seed"], record["epoch"]) == ("relu", 0, 1)
    assert cli("export", "--format", "xml").stderr.strip() == (
        "error: unknown export format 'xml'; choose from: csv, jsonl"
    )


def test_acts_lists_every_entry_and_shows_one():
    listing = cli("acts")
    assert listing.exit_code == 0
    for name in (
        "relu",
        "relu2",
        "leaky_relu",
        "prelu",
        "elu",
        "selu",
        "gelu",
        "gelu_tanh",
        "silu",
        "mish",
        "softplus",
        "squareplus",
        "srelu",
        "ralu",
        "tanh",
        "sigmoid",
        "identity",
    ):
        assert f"│ {name} " in listing.stdout
    one = cli("acts", "ralu")
    assert one.exit_code == 0
    assert one.stdout.startswith("ralu(alpha=1.0, learnable=true)\n")
    assert "shimataro/ralu" in one.stdout
    assert "  learnable (bool, default true): train α" in one.stdout  # spelt as a spec writes it
    assert cli("acts", "rulu").exit_code == 2


def test_the_same_command_twice_gives_identical_numbers():
    for folder in ("a", "b"):
        assert run_mini("--acts", "gelu,srelu", "--repeats", "2", results=folder).exit_code == 0
    metrics = ["activation", "seed", "epoch", "train_loss", "test_loss", "test_acc"]
    first, second = (pd.read_csv(io.StringIO(cli("export", "--results-dir", f).stdout))[metrics] for f in "ab")
    pd.testing.assert_frame_equal(first, second)


# -- interrupted and concurrent runs, in real processes ----------------------------------------


def cli_process(*args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(TESTS)}
    return subprocess.Popen(
        [sys.executable, "-m", "actbench", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def stored_trials(results: Path) -> list[tuple]:
    if not (results / DB_NAME).exists():
        return []
    with sqlite3.connect(results / DB_NAME, timeout=30) as conn:
        try:
            return conn.execute("SELECT activation, seed FROM trials").fetchall()
        except sqlite3.OperationalError:  # schema not created yet
            return []


def wait_for_trials(results: Path, count: int, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while len(stored_trials(results)) < count:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "no trial finished in time"
        time.sleep(0.05)


RUN_ARGS = ("run", "--task", "mnist-mini", "--acts", "relu,gelu", "--repeats", "4", "--epochs", "2")


# A population of mnist-mini members needs about 4 MB each: 0.008 GB makes chunks of 2.
SEQUENTIAL, POPULATION_IN_CHUNKS = ("--engine", "sequential"), ("--engine", "population", "--memory-budget", "0.008")


@pytest.mark.parametrize(
    "sig, engine",
    [(signal.SIGKILL, SEQUENTIAL), (signal.SIGINT, SEQUENTIAL), (signal.SIGKILL, POPULATION_IN_CHUNKS)],
    ids=["kill-9", "ctrl-c", "kill-9-population"],
)
def test_a_killed_run_resumes_without_loss_or_duplicates(tmp_path, sig, engine):
    results = tmp_path / "results"
    process = cli_process(*RUN_ARGS, *engine, "--results-dir", str(results))
    wait_for_trials(results, 2, process)
    process.send_signal(sig)
    _, stderr = process.communicate(timeout=60)
    survived = stored_trials(results)
    assert 2 <= len(survived) < 8
    if engine == POPULATION_IN_CHUNKS:
        assert len(survived) % 2 == 0  # whole chunks: its members finish together
    if sig == signal.SIGINT:
        assert process.returncode == 130
        assert (
            stderr.strip()
            .splitlines()[-1]
            .startswith(
                f"error: interrupted: {len(survived)} trial(s) stored by this run, {8 - len(survived)} not run; "
                "rerun the same command to finish them"
            )
        )
    resumed = cli_process(*RUN_ARGS, "--results-dir", str(results))
    _, stderr = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, stderr
    assert f"8 trials; {len(survived)} already stored (skipped), {8 - len(survived)} to run" in stderr
    final = stored_trials(results)
    assert sorted(final) == sorted((a, s) for a in ("relu", "gelu") for s in range(4))
    assert set(survived) <= set(final)


def test_two_runs_on_one_results_folder_at_once(tmp_path):
    results = tmp_path / "results"
    processes = [cli_process(*RUN_ARGS, "--epochs", "1", "--results-dir", str(results)) for _ in range(2)]
    for process in processes:
        _, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, stderr
    assert sorted(stored_trials(results)) == sorted((a, s) for a in ("relu", "gelu") for s in range(4))


def test_a_plugin_beside_the_user_trains_from_the_console_script():
    # The installed `actbench` script, not `python -m` (which puts the folder on sys.path itself).
    script = Path(sys.executable).with_name("actbench")
    if not script.exists():
        pytest.skip(f"console script not installed beside {sys.executable}")
    Path("myacts.py").write_text(
        "import torch\nfrom torch import nn\n\n"
        "class Swishish(nn.Module):\n"
        "    def __init__(self, beta: float = 1.0):\n"
        "        super().__init__()\n"
        "        self.beta = beta\n\n"
        "    def forward(self, x):\n"
        "        return x * torch.sigmoid(self.beta * x)\n"
    )
    done = subprocess.run(
        [str(script), "run", "--task", "mnist-mini", "--acts", "myacts:Swishish(beta=2)", "--epochs", "1", "-q"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    rows = pd.read_csv(io.StringIO(cli("export").stdout))
    assert len(rows) == 1 and rows["activation"].str.fullmatch(r"myacts:Swishish@[0-9a-f]{8}\(beta=2\.0\)").all()


def test_compile_trains_the_same_experiment():
    args = ("--acts", "relu,srelu", "--seeds", "0")
    assert run_mini(*args, "--compile", results="compiled").exit_code == 0
    assert run_mini(*args, results="eager").exit_code == 0
    compiled, eager = (
        pd.read_csv(io.StringIO(cli("export", "--results-dir", d).stdout)) for d in ("compiled", "eager")
    )
    assert list(compiled["activation"]) == list(eager["activation"]) == ["relu", "srelu(t=2.21)"]
    assert compiled["test_acc"].tolist() == pytest.approx(eager["test_acc"].tolist(), abs=0.3)
