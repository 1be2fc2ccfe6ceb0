"""The Ray executor on real Ray, through the command line in real processes: a local
instance, and a two-node cluster on this machine (two `ray start`s, one CPU each) that
the driver joins with --address. Workers and the driver are killed mid-run; plug-ins
reach the workers only by being shipped (the cluster's processes do not have the
tests folder on their path)."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("ray")

from actbench.activations import canonical_spec  # noqa: E402
from actbench.results.store import DB_NAME  # noqa: E402

pytestmark = pytest.mark.slow

TESTS = Path(__file__).resolve().parents[1]
RAY = str(Path(sys.executable).with_name("ray"))
# Token authentication off for this throwaway cluster: every process would need the token.
CLUSTER_ENV = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "RAY_ADDRESS")} | {
    "RAY_AUTH_MODE": "disabled",
    "OMP_NUM_THREADS": "1",
    "RAY_USAGE_STATS_ENABLED": "0",
}
COLUMNS = ["activation", "seed", "epoch", "train_loss", "test_loss", "test_acc", "status"]


def actbench(*args: str, cwd: Path, extra_path: Path | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """The CLI as a user runs it, with the tests folder (fakes) importable by the driver only."""
    paths = [str(TESTS)] + ([str(extra_path)] if extra_path else [])
    env = CLUSTER_ENV | {"PYTHONPATH": os.pathsep.join(paths)}
    done = subprocess.run(
        [sys.executable, "-m", "actbench", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )
    if check:
        assert done.returncode == 0, done.stderr
    return done


def driver(*args: str, cwd: Path) -> subprocess.Popen:
    env = CLUSTER_ENV | {"PYTHONPATH": str(TESTS)}
    return subprocess.Popen(
        [sys.executable, "-m", "actbench", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def exported(folder: Path) -> pd.DataFrame:
    text = actbench("export", "--results-dir", str(folder), cwd=folder.parent).stdout
    return pd.read_csv(io.StringIO(text))[COLUMNS].sort_values(["activation", "seed", "epoch"]).reset_index(drop=True)


def stored(folder: Path, columns: str = "activation, seed") -> list[tuple]:
    import sqlite3

    if not (folder / DB_NAME).exists():
        return []
    with sqlite3.connect(folder / DB_NAME, timeout=30) as conn:
        try:
            return conn.execute(f"SELECT {columns} FROM trials").fetchall()
        except sqlite3.OperationalError:  # the schema is not made yet
            return []


def wait_until(condition, process: subprocess.Popen, what: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def training_workers() -> list[int]:
    """The pids of Ray workers running an actbench unit: Ray titles them after the task."""
    pids = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if cmdline.read_bytes().startswith(b"ray::actbench"):
                pids.append(int(cmdline.parent.name))
        except OSError:  # the process ended meanwhile
            continue
    return pids


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A head and a second node, one CPU each; yields the address and the two node ids."""
    folder = tmp_path_factory.mktemp("cluster")
    subprocess.run([RAY, "stop", "--force"], env=CLUSTER_ENV, capture_output=True)
    head = subprocess.run(
        [RAY, "start", "--head", "--port=0", "--num-cpus=1", "--include-dashboard=false", "--disable-usage-stats"],
        env=CLUSTER_ENV,
        cwd=folder,
        capture_output=True,
        text=True,
        check=True,
    )
    address = re.search(r"--address='([^']+)'", head.stdout + head.stderr)[1]
    subprocess.run(
        [RAY, "start", f"--address={address}", "--num-cpus=1", "--disable-usage-stats"],
        env=CLUSTER_ENV,
        cwd=folder,
        capture_output=True,
        text=True,
        check=True,
    )
    probe = (
        "import json, ray; ray.init(address=%r); print(json.dumps([n['NodeID'] for n in ray.nodes() if n['Alive']]))"
    )
    nodes = subprocess.run(
        [sys.executable, "-c", probe % address], env=CLUSTER_ENV, cwd=folder, capture_output=True, text=True, check=True
    ).stdout
    yield address, set(json.loads(nodes.strip().splitlines()[-1]))
    subprocess.run([RAY, "stop", "--force"], env=CLUSTER_ENV, capture_output=True)


# The plug-ins sleep in every forward (about 4 s a trial, the numbers untouched): a
# trial must outlast a second node's worker start, or Ray hands every unit to the
# head's warm worker and the second node never trains.
MYACTS = """
import time

import torch
from torch import nn


class ScaledSwish(nn.Module):
    def __init__(self, beta: float = 1.5):
        super().__init__()
        self.beta = beta

    def forward(self, x):
        time.sleep(0.025)
        return x * torch.sigmoid(self.beta * x)
"""


def test_trials_spread_over_both_nodes_with_the_numbers_of_a_local_run(cluster, tmp_path):
    address, nodes = cluster
    (tmp_path / "myacts.py").write_text(MYACTS)  # a plug-in beside the user
    elsewhere = tmp_path / "only-the-driver-sees-this"
    elsewhere.mkdir()
    (elsewhere / "shippedacts.py").write_text(MYACTS.replace("ScaledSwish", "Shipped"))
    run = [
        "run",
        "--task",
        "mnist-mini",
        "--acts",
        "relu,myacts:ScaledSwish,shippedacts:Shipped",
        "--repeats",
        "2",
        "--epochs",
        "1",
        "--engine",
        "sequential",
        "-q",
    ]
    actbench(*run, "--results-dir", "local", cwd=tmp_path, extra_path=elsewhere)
    actbench(
        *run, "--results-dir", "ray", "--executor", "ray", "--address", address, cwd=tmp_path, extra_path=elsewhere
    )
    pd.testing.assert_frame_equal(exported(tmp_path / "ray"), exported(tmp_path / "local"))
    assert {node for (node,) in stored(tmp_path / "ray", "node")} == nodes  # both nodes trained
    export = actbench("export", "--results-dir", "ray", cwd=tmp_path).stdout
    assert set(pd.read_csv(io.StringIO(export))["node"]) == nodes  # and the export says which
    assert {node for (node,) in stored(tmp_path / "local", "node")} == {None}


def test_a_worker_killed_mid_trial_is_retried_and_every_trial_stored_once(cluster, tmp_path):
    address, _ = cluster
    run = [
        "run",
        "--task",
        "mnist-mini",
        "--acts",
        "relu,fakes:Slow(ms=4)",
        "--repeats",
        "2",
        "--epochs",
        "3",
        "--engine",
        "sequential",
        "-q",
    ]
    process = driver(*run, "--results-dir", "ray", "--executor", "ray", "--address", address, cwd=tmp_path)
    # A checkpoint on the shared disk: some trial has finished an epoch, and is mid-trial.
    wait_until(lambda: any((tmp_path / "ray" / "checkpoints").glob("*.pt")), process, "a first checkpoint")
    workers = training_workers()
    assert workers, "no Ray worker is training"
    os.kill(workers[0], signal.SIGKILL)
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr
    trials = stored(tmp_path / "ray", "activation, seed, status")
    assert sorted(trials) == sorted({t for t in trials}) and len(trials) == 4  # each once
    assert {status for *_, status in trials} == {"ok"}
    actbench(*run, "--results-dir", "local", cwd=tmp_path)
    pd.testing.assert_frame_equal(exported(tmp_path / "ray"), exported(tmp_path / "local"))
    assert not (tmp_path / "ray" / "checkpoints").exists()  # every unit stored: nothing left to resume


def test_a_driver_killed_mid_run_leaves_a_store_the_rerun_completes(cluster, tmp_path):
    address, _ = cluster
    run = [
        "run",
        "--task",
        "mnist-mini",
        "--acts",
        "relu,fakes:Slow(ms=4)",
        "--repeats",
        "3",
        "--epochs",
        "2",
        "--engine",
        "sequential",
        "-q",
        "--results-dir",
        "ray",
        "--executor",
        "ray",
        "--address",
        address,
    ]
    process = driver(*run, cwd=tmp_path)
    wait_until(lambda: len(stored(tmp_path / "ray")) >= 1, process, "a first stored trial")
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)
    survived = stored(tmp_path / "ray")
    assert 1 <= len(survived) < 6
    rerun = actbench(*run, cwd=tmp_path)
    assert rerun.returncode == 0
    final = stored(tmp_path / "ray")
    assert len(final) == 6 and len(set(final)) == 6  # nothing lost, nothing twice
    assert set(survived) <= set(final)


def test_a_member_that_kills_its_worker_every_time_fails_alone(cluster, tmp_path):
    address, _ = cluster
    run = [
        "run",
        "--task",
        "mnist-mini",
        "--acts",
        "relu,fakes:KillsWorker(calls=30)",
        "--epochs",
        "1",
        "--engine",
        "population",
        "--max-retries",
        "1",
        "--executor",
        "ray",
        "--address",
        address,
    ]
    done = actbench(*run, cwd=tmp_path)
    trials = {act: (status, error) for act, status, error in stored(tmp_path / "results", "activation, status, error")}
    assert trials["relu"] == ("ok", None)
    status, error = trials[canonical_spec("fakes:KillsWorker(calls=30)")]
    assert status == "failed"
    assert error.startswith("the worker died on each of 2 attempt(s): ")
    assert "1 failed" in done.stderr


def test_the_smoke_config_on_a_local_instance_stores_what_local_stores(tmp_path):
    config = str(TESTS.parent / "configs" / "smoke.toml")
    actbench("run", "--config", config, "--results-dir", "local", "-q", cwd=tmp_path)
    # Two CPUs per unit: one unit at a time, so the population is the local run's own.
    ray = actbench(
        "run", "--config", config, "--results-dir", "ray", "--executor", "ray", "--cpus-per-trial", "2", cwd=tmp_path
    )
    assert "with Ray: 1 node(s)" in ray.stderr
    pd.testing.assert_frame_equal(exported(tmp_path / "ray"), exported(tmp_path / "local"))
