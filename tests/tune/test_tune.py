"""actbench tune: the grid, the choice, the written run config, and the test set never read."""

from __future__ import annotations

import json
import shutil
import sqlite3
import sys

import pandas as pd
import pytest
from cli_runner import cli

from actbench.api import TUNED_KEY, Trial, protocol_hash
from actbench.errors import UsageError
from actbench.results.store import DB_NAME
from actbench.run.config import build_run_config
from actbench.tune.grid import parse_grid, settings
from actbench.tune.tuning import TUNE_SEED_START, choose

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

# A small, fast network: the procedure is under test here, not the accuracy.
FAST = ("--set", "hidden=[16]", "--set", "batch_size=256", "--epochs", "1")


def stored(results) -> pd.DataFrame:
    with sqlite3.connect(results / DB_NAME) as conn:
        return pd.read_sql_query(
            "SELECT t.activation, t.seed, t.hparams, t.status, e.test_acc FROM trials t "
            "JOIN epochs e ON e.trial_id = t.id AND e.epoch = t.epochs_run",
            conn,
        )


# --- the grid and the choice ------------------------------------------------------------


def test_the_grid_is_every_combination_in_the_order_given():
    grid = parse_grid(["lr=1e-3,3e-3", "hidden=[32,16],[8]", "init=torch,lecun"])
    assert grid == {"lr": [1e-3, 3e-3], "hidden": [[32, 16], [8]], "init": ["torch", "lecun"]}
    combos = settings(grid)
    assert len(combos) == 8 and combos[0] == {"lr": 1e-3, "hidden": [32, 16], "init": "torch"}
    assert combos[1] == {"lr": 1e-3, "hidden": [32, 16], "init": "lecun"}  # the last key varies fastest


@pytest.mark.parametrize(
    "items, message",
    [
        (["lr"], "--grid expects key=value1,value2,..., got 'lr'"),
        (["lr=1e-3", "lr=1e-2"], "--grid lr given twice; list all its values in one: lr=a,b,c"),
        (["epochs=1,2"], "--grid epochs: epochs cannot be tuned, every activation gets the same"),
        (["max_iters=100,200"], "--grid max_iters: max_iters cannot be tuned, every activation gets the same"),
        (["mlp=plain,gated"], "--grid mlp: mlp cannot be tuned, every activation gets the same"),
        (["lr=1e-3,,1e-2"], "--grid has an empty value in '1e-3,,1e-2'"),
        (["lr=0.001,1e-3"], "--grid lr lists a value twice: 0.001,1e-3"),
        ([], "nothing to tune: give --grid, e.g. --grid lr=3e-4,1e-3,3e-3"),
    ],
)
def test_a_bad_grid_is_one_clear_message(items, message):
    with pytest.raises(UsageError) as info:
        parse_grid(items)
    assert str(info.value) == message


def rows(means, ns, trials=3):
    return pd.DataFrame({"activation": "selu", "setting": range(len(means)), "trials": trials, "n": ns, "mean": means})


@pytest.mark.parametrize(
    "means, ns, higher, chosen",
    [
        ([90.0, 91.0, 89.0], [3, 3, 3], True, 1),  # the best mean
        ([90.0, 91.0, 91.0], [3, 3, 3], True, 1),  # a tie: the earlier setting
        ([90.0, 95.0, 89.0], [3, 2, 3], True, 0),  # a setting that lost a seed is not chosen ...
        ([90.0, 95.0, 89.0], [2, 1, 2], True, 0),  # ... when another lost fewer: the best of the most finished
        ([0.30, 0.20, 0.25], [3, 3, 3], False, 1),  # lower is better (a loss)
    ],
)
def test_the_choice_is_the_best_complete_setting(means, ns, higher, chosen):
    assert choose(rows(means, ns), higher) == chosen


def test_an_activation_with_no_finished_trial_has_nothing_to_choose():
    with pytest.raises(UsageError, match="every tuning trial of selu diverged or failed: no setting to choose"):
        choose(rows([float("nan")] * 2, [0, 0]), True)


# --- the tuned run config ---------------------------------------------------------------


def tuned_values(settings_: dict, **extra) -> dict:
    return {"task": "mnist-mini", "acts": list(settings_), "tuned": {"by": "abcd1234", "settings": settings_}, **extra}


def test_a_tuned_config_gives_each_activation_its_setting_and_one_protocol():
    config = build_run_config(
        tuned_values({"relu": {"lr": 0.003}, "selu": {"lr": 0.0003, "init": "lecun"}}), {"epochs": 2}
    )
    relu, selu = config.activation_hparams["relu"], config.activation_hparams["selu"]
    assert (relu["lr"], selu["lr"], selu["init"], relu["epochs"]) == (0.003, 0.0003, "lecun", 2)
    assert "init" not in relu  # its default: not recorded (actbench.tasks.hparams)
    assert relu[TUNED_KEY] == selu[TUNED_KEY] == {"by": "abcd1234", "keys": ["init", "lr"]}
    trials = config.trials()
    assert len({t.config_hash for t in trials}) == 2  # each activation's own settings ...
    assert len({t.protocol for t in trials}) == 1 == len({config.protocol})  # ... one experiment
    untuned = Trial("mnist-mini", "relu", 0, {"lr": 0.001})
    assert protocol_hash(untuned.task, untuned.hparams) == untuned.config_hash


@pytest.mark.parametrize(
    "values, message",
    [
        (
            tuned_values({"relu": {"lr": 0.003}}, acts=["relu", "gelu"]),
            "the tuned settings (abcd1234) have none for gelu; they have: relu; tune it too or leave it out of acts",
        ),
        (
            tuned_values({"relu": {"epochs": 3}}),
            "epochs cannot be tuned per activation: every activation gets the same",
        ),
        (tuned_values({"relu": {"lr": -1}}), "lr must be a positive number, got -1.0"),
    ],
)
def test_a_bad_tuned_table_is_one_clear_message(values, message):
    with pytest.raises(UsageError) as info:
        build_run_config(values, {})
    assert str(info.value) == message


# --- end to end ---------------------------------------------------------------------------


def test_tuning_never_reads_the_test_files(tmp_path, shared_mnist):
    folder = tmp_path / "train-only"
    folder.mkdir()
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"):
        shutil.copy(shared_mnist / name, folder / name)  # no t10k-* files: reading one would fail the run
    result = cli(
        "tune",
        "--task",
        "mnist",
        "--acts",
        "relu,selu",
        "--grid",
        "lr=1e-3,1e-2",
        "--repeats",
        "1",
        *FAST,
        "--data-dir",
        str(folder),
        "--results-dir",
        "res",
        "-q",
    )
    assert result.exit_code == 0, result.output
    trials = stored(tmp_path / "res")
    assert len(trials) == 4 and set(trials["seed"]) == {TUNE_SEED_START}
    assert all(json.loads(h)["split"] == "validation" for h in trials["hparams"])


def test_tune_then_run_the_tuned_config_then_report_default_and_tuned(tmp_path):
    grid = ("--grid", "lr=1e-3,3e-2")
    result = cli(
        "tune",
        "--task",
        "mnist-mini",
        "--acts",
        "relu,selu",
        *grid,
        "--repeats",
        "2",
        *FAST,
        "--final-repeats",
        "3",
        "-q",
    )
    assert result.exit_code == 0, result.output
    (config_file,) = (tmp_path / "results" / "mnist-mini").glob("tune-*.toml")
    tune_id = config_file.stem.removeprefix("tune-")
    for name in (
        f"tune-{tune_id}.md",
        f"tune-{tune_id}.json",
        f"sensitivity-{tune_id}.png",
        f"sensitivity-{tune_id}.svg",
    ):
        assert (config_file.parent / name).stat().st_size > 0
    # The choice, recomputed from the store: each activation's best mean validation accuracy.
    trials = stored(tmp_path / "results")
    trials["lr"] = [json.loads(h)["lr"] for h in trials["hparams"]]
    best = dict(trials.groupby(["activation", "lr"])["test_acc"].mean().groupby("activation").idxmax().tolist())
    written = tomllib.loads(config_file.read_text())
    assert {act: values["lr"] for act, values in written["tuned"]["settings"].items()} == best
    assert (written["acts"], written["repeats"], written["tuned"]["by"]) == (["relu", "selu"], 3, tune_id)
    assert written["hparams"] == {"epochs": 1, "batch_size": 256, "weight_decay": 0.0001, "hidden": [16]}

    assert cli("run", "--config", str(config_file), "-q").exit_code == 0
    assert cli("run", "--task", "mnist-mini", "--acts", "relu,selu", "--repeats", "3", *FAST, "-q").exit_code == 0
    report = cli("report", "--format", "md")
    assert report.exit_code == 0, report.output
    folder = tmp_path / "results" / "mnist-mini"
    summaries = sorted(p.name for p in folder.glob("summary-*.md"))
    assert len(summaries) == 2  # default and tuned; the 8 tuning trials (validation split) in neither
    (side,) = folder.glob("tuned-*.md")
    text = side.read_text()
    assert "| activation | default (lr=0.001) | vs relu | tuned setting | tuned | vs relu (tuned) |" in text
    for act, lr in best.items():
        assert f"| {act} | " in text and f"lr={lr}" in text
    assert "tuned: lr per activation" in report.output and tune_id in text


def test_a_malformed_tuned_table_in_a_config_file_is_one_clear_message(tmp_path):
    from actbench.run.config import load_config_file

    path = tmp_path / "tuned.toml"
    path.write_text('task = "mnist-mini"\n[tuned]\nby = "abcd1234"\nsettings = 3\n')
    with pytest.raises(UsageError) as info:
        load_config_file(path)
    assert str(info.value) == (
        f"{path}: 'tuned' must be a table with by = \"ID\" and [tuned.settings] of activation = {{key = value}}"
    )


def test_the_next_command_printed_writes_where_tune_did(tmp_path):
    result = cli(
        "tune",
        "--task",
        "mnist-mini",
        "--acts",
        "relu",
        "--grid",
        "lr=1e-3",
        "--repeats",
        "1",
        *FAST,
        "--results-dir",
        str(tmp_path / "elsewhere"),
    )
    assert result.exit_code == 0, result.output
    (config_file,) = (tmp_path / "elsewhere" / "mnist-mini").glob("tune-*.toml")
    assert f"next: actbench run --config {config_file} --results-dir {tmp_path / 'elsewhere'}\n" in result.output


# --- the sensitivity figure ---------------------------------------------------------------


def test_the_sensitivity_figure_keeps_long_names_and_settings_inside(monkeypatch, tmp_path):
    from figure_checks import LONG_NAME, assert_legends_off_the_data, assert_ready_to_paste, caught_figures
    from matplotlib.colors import to_hex

    from actbench.tune.outputs import plot_sensitivity
    from actbench.tune.tuning import make_tuning

    grid = {"lr": [1e-3, 1e-2], "hidden": [[128, 64], [256, 128, 64]]}  # two keys: one tick label per setting
    tuning = make_tuning(build_run_config({"task": "mnist-mini", "acts": ["gelu", "relu"]}, {}), grid, None)
    rows = [
        {"activation": act, "setting": i, "trials": 2, "n": 2, "mean": 90.0 + i + k, "sd": 0.5, "chosen": i == 3}
        for k, act in enumerate(["gelu", LONG_NAME])
        for i in range(len(tuning.settings))
    ]
    with caught_figures(monkeypatch) as caught:
        (path,) = plot_sensitivity(tuning, pd.DataFrame(rows), tmp_path / "sensitivity", frozenset({"pdf"}))
    (fig,) = caught
    assert path.suffix == ".pdf"
    assert_ready_to_paste(fig)
    assert_legends_off_the_data(fig)
    ticks = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert "lr=0.01, hidden=[256, 128,\n64]" in ticks  # wrapped, not cut
    (gelu,) = [bars for bars in fig.axes[0].containers if bars.get_label() == "gelu"]
    assert to_hex(gelu.lines[0].get_color()) == "#e69f00"  # as in the report's figures
