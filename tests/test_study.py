"""The Python API (actbench.study): the same store and the same numbers as the command line."""

from __future__ import annotations

import pandas as pd
import pytest
from cli_runner import cli

import actbench
from actbench.errors import UsageError

TIMING = ["wall_time_s", "elapsed_s", "finished_at", "id", "trial_id"]


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    """The same comparison through the command line and through actbench.compare."""
    folder = tmp_path_factory.mktemp("study")
    ran = cli(
        "run",
        "--task",
        "mnist-mini",
        "--acts",
        "relu,gelu,silu",
        "--repeats",
        "3",
        "--epochs",
        "1",
        "--results-dir",
        str(folder / "cli"),
        "-q",
    )
    assert ran.exit_code == 0, ran.output
    from_python = actbench.compare(
        task="mnist-mini", acts=["relu", "gelu", "silu"], repeats=3, epochs=1, results_dir=folder / "python"
    )
    return actbench.open_results(folder / "cli"), from_python


def test_compare_trains_the_same_trials_to_the_same_numbers(both):
    from_cli, from_python = both
    a, b = (r.epochs().drop(columns=[c for c in TIMING if c in r.epochs()]) for r in (from_cli, from_python))
    assert len(a) == 9
    pd.testing.assert_frame_equal(a, b)


def test_summary_and_comparison_are_the_report_files(both, tmp_path):
    from_cli, from_python = both
    reported = cli(
        "report", "--results-dir", str(from_cli.path), "--baseline", "gelu", "--format", "csv", "--out", str(tmp_path)
    )
    assert reported.exit_code == 0, reported.output
    written = pd.read_csv(tmp_path / "mnist-mini" / "compare.csv")
    frame = from_python.comparison(baseline="gelu")
    assert list(frame["activation"]) == ["relu", "gelu", "silu"]
    assert (frame["baseline"] == "gelu").all() and (frame["task"] == "mnist-mini").all()
    numbers = ["n", "mean", "delta_mean", "ci_low", "ci_high", "p_ttest", "p_holm"]
    pd.testing.assert_frame_equal(frame[numbers], written[numbers], rtol=1e-5, check_dtype=False)
    summary = from_python.summary()
    assert list(summary["n"]) == [3, 3, 3]
    expected = pd.read_csv(tmp_path / "mnist-mini" / "summary.csv")
    pd.testing.assert_series_equal(summary["final_acc_mean"], expected["final_acc_mean"], rtol=1e-5)


def test_report_writes_the_files_the_command_writes(both, tmp_path):
    _, from_python = both
    paths = from_python.report(formats=["md"], out=tmp_path)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in paths) == [
        "mnist-mini/compare.md",
        "mnist-mini/summary.md",
    ]


def test_bad_input_is_the_command_lines_one_line_error(tmp_path):
    with pytest.raises(UsageError, match=r"^unknown option 'epoch'; did you mean: epochs\?$"):
        actbench.compare(task="mnist-mini", acts="relu", epoch=1)
    with pytest.raises(UsageError, match="unknown activation 'gleu'; did you mean: gelu"):
        actbench.compare(task="mnist-mini", acts="relu,gleu", results_dir=tmp_path)
    with pytest.raises(UsageError, match=r"^unknown report option 'baseline_'; did you mean: baseline\?$"):
        actbench.Results(tmp_path).summary(baseline_="relu")
    with pytest.raises(actbench.errors.ActbenchError, match="no results database at"):
        actbench.open_results(tmp_path / "nowhere")
