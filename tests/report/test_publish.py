"""A report folder holds only what the last report wrote (actbench.report.publish)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_runner import cli
from fakes import HPARAMS, fake_result

from actbench.report import writers
from actbench.report.publish import MANIFEST, STAGING_PREFIX
from actbench.results.store import ResultStore

ACCS = {"relu": [96.0, 97.0, 97.3], "gelu": [96.5, 97.4, 97.8], "silu": [96.2, 97.1, 97.5]}


def files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture
def results(tmp_path) -> Path:
    with ResultStore(tmp_path / "results") as store:
        for act, accs in ACCS.items():
            for seed in range(4):
                store.add(fake_result(act, seed, [a + 0.1 * seed * (act == "gelu") for a in accs]))
    return tmp_path / "results"


def test_a_second_report_leaves_no_file_of_the_first(results):
    first = cli("report", "--format", "md,csv,json,png")
    assert first.exit_code == 0, first.output
    assert {"mnist-mini/compare.csv", "mnist-mini/curves.png"} <= files(results)
    second = cli("report", "--baseline", "gelu", "--format", "md")
    assert second.exit_code == 0, second.output
    assert files(results) == {"actbench.sqlite", MANIFEST, "mnist-mini/summary.md", "mnist-mini/compare.md"}
    assert "## mnist-mini: activations against gelu" in (results / "mnist-mini" / "compare.md").read_text()
    assert json.loads((results / MANIFEST).read_text()) == {
        "complete": True,
        "files": ["mnist-mini/compare.md", "mnist-mini/summary.md"],
        "replacing": [],
    }


def test_a_second_protocol_removes_the_plain_names_of_the_first(results):
    assert cli("report", "--format", "md").exit_code == 0
    assert "mnist-mini/summary.md" in files(results)
    with ResultStore(results) as store:
        for act in ("relu", "gelu"):
            for seed in range(3):
                store.add(fake_result(act, seed, ACCS[act], hparams={**HPARAMS, "lr": 0.01}))
    assert cli("report", "--format", "md").exit_code == 0
    names = files(results)
    assert "mnist-mini/summary.md" not in names and "mnist-mini/compare.md" not in names
    assert len([n for n in names if n.startswith("mnist-mini/summary-")]) == 2  # one per protocol, by hash


def test_files_of_an_older_release_are_replaced_and_other_commands_files_kept(results):
    task = results / "mnist-mini"
    task.mkdir()
    kept = [
        "mnist-mini/tune-1a2b3c4d.md",
        "mnist-mini/decisions-1a2b3c4d.md",
        "mnist-mini/sensitivity-1a2b.png",
        "mnist-mini/my-notes.txt",
        "notes.md",
    ]
    stale = [
        "mnist-mini/compare.csv",
        "mnist-mini/curves-0123abcd.png",
        "mnist-mini/tuned-0123abcd.md",
        "across-tasks.md",
        "report.html",
    ]
    for name in kept + stale:
        (results / name).write_text("old")
    assert cli("report", "--format", "md").exit_code == 0
    assert files(results) == {"actbench.sqlite", MANIFEST, "mnist-mini/summary.md", "mnist-mini/compare.md", *kept}


def test_an_out_folder_keeps_what_actbench_did_not_write(results, tmp_path):
    out = tmp_path / "paper"
    (out / "mnist-mini").mkdir(parents=True)
    (out / "mnist-mini" / "curves.svg").write_text("the user's own figure")
    assert cli("report", "--format", "md", "--out", str(out)).exit_code == 0
    assert (out / "mnist-mini" / "curves.svg").read_text() == "the user's own figure"
    assert cli("report", "--format", "csv", "--out", str(out)).exit_code == 0
    assert files(out) == {MANIFEST, "mnist-mini/curves.svg", "mnist-mini/summary.csv", "mnist-mini/compare.csv"}


def test_a_report_that_fails_while_writing_leaves_the_last_one_whole(results, monkeypatch):
    assert cli("report", "--format", "md,csv").exit_code == 0
    before = {name: (results / name).read_bytes() for name in files(results)}

    def half_written(report, folder, several_configs):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "summary.md").write_text("half of a report")
        raise OSError("No space left on device")

    monkeypatch.setattr(writers, "write_report", half_written)
    failed = cli("report", "--baseline", "gelu", "--format", "md")
    assert failed.exit_code != 0
    assert {name: (results / name).read_bytes() for name in files(results)} == before
    assert not [p for p in results.iterdir() if p.name.startswith(STAGING_PREFIX)]


def test_an_interrupted_publication_is_cleaned_by_the_next_report(results):
    assert cli("report", "--format", "md").exit_code == 0
    # As if the last report died between its renames: the manifest lists both sets.
    (results / "mnist-mini" / "compare.csv").write_text("from the interrupted report")
    manifest = {
        "complete": False,
        "files": ["mnist-mini/compare.md", "mnist-mini/summary.md"],
        "replacing": ["mnist-mini/compare.csv"],
    }
    (results / MANIFEST).write_text(json.dumps(manifest))
    assert cli("report", "--format", "json").exit_code == 0
    assert files(results) == {"actbench.sqlite", MANIFEST, "mnist-mini/summary.json", "mnist-mini/compare.json"}


def test_a_report_of_one_task_keeps_the_other_tasks_files_and_replaces_the_folders_own(results):
    with ResultStore(results) as store:
        for act, accs in ACCS.items():
            for seed in range(3):
                store.add(fake_result(act, seed, accs, task="fashion-mnist"))
    assert cli("report", "--format", "md,html").exit_code == 0
    assert {"fashion-mnist/compare.md", "report.html"} <= files(results)
    one = cli("report", "--task", "mnist-mini", "--format", "csv")
    assert one.exit_code == 0, one.output
    assert files(results) == {
        "actbench.sqlite",
        MANIFEST,
        "mnist-mini/summary.csv",
        "mnist-mini/compare.csv",
        "fashion-mnist/summary.md",
        "fashion-mnist/compare.md",
    }
    listed = json.loads((results / MANIFEST).read_text())["files"]
    assert sorted(listed) == [
        "fashion-mnist/compare.md",
        "fashion-mnist/summary.md",
        "mnist-mini/compare.csv",
        "mnist-mini/summary.csv",
    ]
    # The next report of every task replaces them all.
    assert cli("report", "--format", "json").exit_code == 0
    assert not any(name.endswith((".md", ".csv")) for name in files(results))


def test_a_folder_it_cannot_write_is_one_line(results, tmp_path, monkeypatch):
    def refused(destination):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(writers, "staging_folder", refused)  # as a read-only folder does (root writes anywhere)
    result = cli("report", "--format", "md", "--out", str(tmp_path / "locked"))
    assert (result.exit_code, result.stderr) == (
        1,
        f"error: cannot write the report into {tmp_path / 'locked'}: Permission denied\n",
    )
