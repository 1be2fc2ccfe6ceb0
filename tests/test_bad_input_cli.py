"""Inputs that once ended in a traceback, a hang or a silent default: one line, the right exit code."""

from __future__ import annotations

from cli_runner import cli
from fakes import fake_result

from actbench.results.store import ResultStore


def stored(tmp_path):
    with ResultStore(tmp_path / "results") as store:
        for act in ("relu", "gelu"):
            for seed in range(3):
                store.add(fake_result(act, seed, [95.0 + seed, 96.0 + 0.1 * seed]))


def test_export_into_a_missing_folder_or_onto_a_folder_is_one_line(tmp_path):
    stored(tmp_path)
    missing = cli("export", "--out", "nowhere/trials.csv")
    assert (missing.exit_code, missing.stderr) == (
        2,
        "error: --out nowhere/trials.csv: the folder nowhere does not exist\n",
    )
    (tmp_path / "folder").mkdir()
    folder = cli("export", "--format", "jsonl", "--out", "folder")
    assert (folder.exit_code, folder.stderr) == (
        2,
        "error: --out folder is a folder; give a file name, e.g. folder/trials.jsonl\n",
    )
    assert list((tmp_path / "folder").iterdir()) == []


def test_an_export_leaves_no_part_file_behind(tmp_path):
    stored(tmp_path)
    done = cli("export", "--out", "trials.csv")
    assert done.exit_code == 0, done.output
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["trials.csv"]
    assert (tmp_path / "trials.csv").read_text().count("\n") == 13  # header and 6 trials x 2 epochs


def test_report_out_naming_a_file_is_one_line_and_the_file_is_kept(tmp_path):
    stored(tmp_path)
    (tmp_path / "paper.md").write_text("my paper")
    result = cli("report", "--out", "paper.md")
    assert (result.exit_code, result.stderr) == (
        2,
        "error: --out paper.md is a file, not a folder: a report is a folder of files (--out DIR)\n",
    )
    assert (tmp_path / "paper.md").read_text() == "my paper"


def test_look_every_zero_is_refused_not_taken_as_the_default():
    result = cli(
        "run",
        "--task",
        "mnist-mini",
        "--acts",
        "relu,gelu",
        "--until-decided",
        "--max-repeats",
        "6",
        "--look-every",
        "0",
    )
    assert (result.exit_code, result.stderr) == (
        2,
        "error: --look-every must be between 1 and --max-repeats (6), got 0\n",
    )


def test_report_of_a_task_the_folder_lacks_says_what_it_holds(tmp_path):
    from fakes import HPARAMS

    with ResultStore(tmp_path / "results") as store:
        store.add(fake_result("relu", 0, [95.0], hparams={**HPARAMS, "split": "validation"}, task="mnist-mini"))
        alone = cli("report", "--task", "mnist-mini")
        assert (alone.exit_code, alone.stderr) == (
            2,
            (
                "error: no stored trials for task mnist-mini in results/actbench.sqlite "
                "(only tuning trials, measured on "
                "the validation split: see actbench tune's reports)\n"
            ),
        )
        other = cli("report", "--task", "mnist")
        assert other.stderr == (
            "error: no stored trials for task mnist in results/actbench.sqlite; it holds only "
            "tuning trials, of mnist-mini (see actbench tune's reports)\n"
        )
        store.add(fake_result("relu", 0, [95.0], task="fashion-mnist"))
        held = cli("report", "--task", "mnist")
        assert (
            held.stderr
            == "error: no stored trials for task mnist in results/actbench.sqlite; it holds fashion-mnist (1 trial)\n"
        )


def test_plan_as_json_holds_the_table_s_numbers(tmp_path):
    import json

    stored(tmp_path)
    given = cli("plan", "--delta", "0.5", "--sd", "0.5", "--format", "json")
    assert given.exit_code == 0, given.output
    (plan,) = json.loads(given.stdout)
    assert plan["settings"] == {
        "delta": 0.5,
        "alpha": 0.05,
        "power": 0.8,
        "comparisons": 1,
        "margin": None,
        "look_every": 5,
    }
    (row,) = plan["rows"]
    assert (row["seeds"], row["sd_low"], row["seeds_until_decided"]) == (10, None, 11)  # 10: statsmodels' solve_power
    piloted = json.loads(cli("plan", "--delta", "1", "--format", "json", "--look-every", "3").stdout)
    assert [(p["task"], p["baseline"], [r["activation"] for r in p["rows"]]) for p in piloted] == [
        ("mnist-mini", "relu", ["gelu"])
    ]
    bad = cli("plan", "--delta", "1", "--format", "xml")
    assert (bad.exit_code, bad.stderr) == (2, "error: unknown --format 'xml'; choose from: table, json\n")


def test_report_quiet_writes_the_files_and_prints_nothing(tmp_path):
    stored(tmp_path)
    result = cli("report", "-q", "--format", "md")
    assert (result.exit_code, result.stdout, result.stderr) == (0, "", "")
    assert sorted(p.name for p in (tmp_path / "results" / "mnist-mini").iterdir()) == ["compare.md", "summary.md"]
