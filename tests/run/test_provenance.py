"""The code revision stored with every trial."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from cli_runner import cli

from actbench.run.provenance import code_revision, describe_revision, source_hash

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def git(repo: Path, *args: str) -> str:
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
        "HOME": str(repo),
        "PATH": "/usr/bin:/bin:/usr/local/bin",
    }
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True, env=env
    ).stdout.strip()


def make_package(root: Path) -> Path:
    package = root / "actbench"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("VERSION = 1\n")
    (package / "sub" / "mod.py").write_text("X = 2\n")
    return package


def test_the_source_hash_names_paths_and_contents(tmp_path):
    package = make_package(tmp_path)
    first = source_hash(package)
    assert re.fullmatch(r"[0-9a-f]{16}", first) and source_hash(package) == first
    (package / "sub" / "mod.py").write_text("X = 3\n")
    assert source_hash(package) != first
    (package / "sub" / "mod.py").write_text("X = 2\n")
    (package / "sub" / "mod.py").rename(package / "sub" / "other.py")
    assert source_hash(package) != first  # same bytes, another file


def test_outside_git_the_revision_is_the_source_hash(tmp_path):
    package = make_package(tmp_path)
    assert describe_revision(package) == f"source:{source_hash(package)}"


@needs_git
def test_a_clean_checkout_is_its_commit_and_a_changed_one_is_dirty_with_its_source(tmp_path):
    package = make_package(tmp_path)
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-qm", "first")
    commit = git(tmp_path, "rev-parse", "HEAD")
    assert describe_revision(package) == f"git:{commit}"
    (tmp_path / "README.md").write_text("outside the package: not code\n")
    assert describe_revision(package) == f"git:{commit}"
    (package / "sub" / "mod.py").write_text("X = 3\n")
    assert describe_revision(package) == f"git:{commit}+dirty:{source_hash(package)}"
    (package / "sub" / "mod.py").write_text("X = 2\n")
    (package / "new.py").write_text("Y = 1\n")  # untracked code is code too
    assert describe_revision(package) == f"git:{commit}+dirty:{source_hash(package)}"


@needs_git
def test_a_copy_inside_another_projects_ignored_folder_is_not_that_projects_commit(tmp_path):
    git(tmp_path, "init", "-q")
    (tmp_path / ".gitignore").write_text(".venv/\n")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-qm", "user project")
    package = make_package(tmp_path / ".venv" / "site-packages")
    assert describe_revision(package) == f"source:{source_hash(package)}"


def test_every_stored_trial_records_this_process_revision():
    from actbench.results.store import ResultStore

    assert cli("run", "--task", "mnist-mini", "--acts", "relu", "--epochs", "1", "-q").exit_code == 0
    with ResultStore(Path("results"), create=False) as store:
        assert store.trials()["code_revision"].tolist() == [code_revision()]
    assert re.fullmatch(r"git:[0-9a-f]{40}(\+dirty:[0-9a-f]{16})?|source:[0-9a-f]{16}", code_revision())
