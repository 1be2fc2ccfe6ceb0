"""The GPT tasks from the command line: listed, run, reported; gated forms refused elsewhere."""

import math

import pandas as pd
import pytest
from cli_runner import cli

GPT_TASKS = ("shakespeare-char", "shakespeare-char-cpu", "shakespeare-char-mini")


def test_the_three_tasks_are_listed():
    listing = cli("tasks")
    assert listing.exit_code == 0
    assert all(name in listing.stdout for name in GPT_TASKS)


def test_a_mini_run_and_its_report(short_evaluation):
    run = cli(
        "run",
        "--task",
        "shakespeare-char-mini",
        "--acts",
        "gelu,relu2,swiglu",
        "--repeats",
        "2",
        "-q",
        "--set",
        "max_iters=10",
        "--set",
        "eval_interval=5",
    )
    assert run.exit_code == 0, run.output
    report = cli("report")
    assert report.exit_code == 0, report.output
    summary = pd.read_csv("results/shakespeare-char-mini/summary.csv")
    assert list(summary["activation"]) == ["gelu", "relu2", "swiglu"]
    assert list(summary["n"]) == [2, 2, 2] and list(summary["epochs"]) == [2, 2, 2]
    assert summary["bpc_mean"].to_numpy() == pytest.approx(
        summary["final_loss_mean"].to_numpy() / math.log(2), rel=1e-5
    )


@pytest.mark.parametrize("task", ["mnist-mini", "cifar10-airbench94"])
def test_a_task_without_a_gated_mlp_refuses_a_gated_form(task):
    result = cli("run", "--task", task, "--acts", "relu,swiglu")
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"error: activation swiglu is a gated MLP (GLU) form, which task {task} does not have; "
        "the shakespeare-char tasks do"
    )
