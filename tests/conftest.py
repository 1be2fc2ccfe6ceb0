"""Shared fixtures. Tests never touch the user's real state: results and data folders
point into tmp_path, the decoded cache into the session's temporary folder, and the
working directory is tmp_path (so ./results is too)."""

from pathlib import Path

import pytest

# The local HTTP server fixture of the download tests (tests/local_http.py).
pytest_plugins = ["local_http"]

# ../shared/data beside the repository: real MNIST files in CI and development.
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(autouse=True)
def isolated(tmp_path, tmp_path_factory, monkeypatch):
    monkeypatch.setenv("ACTBENCH_DATA", str(tmp_path / "user-data"))
    # One decoded cache per test session, outside tmp_path: safe to share (it is keyed by
    # MD5 and checks what it serves), and each dataset is decoded once per session.
    monkeypatch.setenv("ACTBENCH_CACHE", str(tmp_path_factory.getbasetemp() / "decoded-cache"))
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def shared_mnist() -> Path:
    folder = SHARED_DATA / "mnist"
    if not (folder / "train-images-idx3-ubyte.gz").exists():
        pytest.skip(f"real MNIST files not found in {folder}")
    return folder
