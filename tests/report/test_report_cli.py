"""actbench report's --target, --across-tasks and --format html, end to end on fake stores."""

from __future__ import annotations

import dataclasses

import pytest
from cli_runner import cli
from fakes import fake_result

from actbench.results.store import ResultStore

# Per seed: relu reaches 97.2 at epoch 2 (seed 0) and 3 (seeds 1, 2); gelu at epoch 1 always.
CURVES = {
    "relu": [[96.0, 97.2, 97.5], [96.0, 97.0, 97.3], [95.0, 96.9, 97.4]],
    "gelu": [[97.2, 97.6, 97.8], [97.3, 97.5, 97.7], [97.4, 97.6, 97.9]],
}


def timed(result, seconds_per_epoch: float):
    result.epochs[:] = [dataclasses.replace(m, elapsed_s=seconds_per_epoch * m.epoch) for m in result.epochs]
    return result


@pytest.fixture
def two_tasks(tmp_path):
    with ResultStore(tmp_path / "results") as store:
        for task, shift in (("mnist-mini", 0.0), ("fashion-mnist", -8.0)):
            for act, curves in CURVES.items():
                for seed, accs in enumerate(curves):
                    store.add(timed(fake_result(act, seed, [a + shift for a in accs], task=task), 2.0))
    return tmp_path / "results"


def test_target_gives_each_activation_its_epochs_and_seconds_to_it(two_tasks):
    result = cli("report", "--task", "mnist-mini", "--target", "97.2", "--format", "md")
    assert result.exit_code == 0, result.output
    text = (two_tasks / "mnist-mini" / "summary.md").read_text()
    # relu: epochs 2, 3, 3 (mean 8/3), seconds 2 s an epoch; gelu: epoch 1 every time.
    assert "| activation | reached 97.2% | epochs to 97.2% | seconds to 97.2% |" in text
    assert "| gelu | 3 of 3 | all at epoch 1 | all at 2.0 s |" in text  # no zero-width interval
    assert "| relu | 3 of 3 | 2.7 [1.2, 4.1] | 5.3 [2.5, 8.2] |" in text  # t(2) interval: 8/3 ± 4.303·0.577/√3


def test_targets_per_task_and_not_reached(two_tasks):
    result = cli("report", "--target", "mnist-mini=97.2", "--target", "99", "--format", "md")
    assert result.exit_code == 0, result.output
    assert "| relu | 3 of 3 |" in (two_tasks / "mnist-mini" / "summary.md").read_text()
    assert "| gelu | 0 of 3 | not reached | not reached |" in (two_tasks / "fashion-mnist" / "summary.md").read_text()


@pytest.mark.parametrize(
    "target, message",
    [
        ("mnist=fast", "error: --target expects VALUE or TASK=VALUE with VALUE a number, got 'mnist=fast'"),
        ("120", "error: --target is a test accuracy in percent, 0 to 100, got 120"),
        ("mnst=97", "error: unknown task 'mnst'; did you mean: mnist, mnist-mini?"),
    ],
)
def test_a_bad_target_is_one_clear_line(two_tasks, target, message):
    result = cli("report", "--target", target)
    assert result.exit_code == 2 and result.output.strip().splitlines()[-1] == message


def test_across_tasks_writes_one_table_for_the_folder(two_tasks):
    result = cli("report", "--across-tasks", "--format", "md,csv,json,svg")
    assert result.exit_code == 0, result.output
    text = (two_tasks / "across-tasks.md").read_text()
    # gelu beats relu at every seed of both tasks: P = 1, its rank 1 on every resample.
    assert "gelu" in text and "1.00" in text and "mnist-mini" in text and "fashion-mnist" in text
    for extension in ("csv", "json", "svg"):
        assert (two_tasks / f"across-tasks.{extension}").stat().st_size > 0
    assert "across 2 tasks: against relu" in result.output


def test_across_tasks_needs_two_tasks(two_tasks):
    result = cli("report", "--across-tasks", "--task", "mnist-mini")
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1].startswith("error: --across-tasks needs at least two tasks, got 1")


def test_html_is_written_only_when_asked_for(two_tasks):
    assert cli("report", "--format", "md").exit_code == 0
    assert not (two_tasks / "report.html").exists()
    result = cli("report", "--format", "html", "--across-tasks", "--target", "97.2")
    assert result.exit_code == 0, result.output
    page = (two_tasks / "report.html").read_text()
    assert "Across 2 tasks: against relu" in page and "reached 97.2%" in page and page.count("<svg") >= 5
