"""The Ray executor without a Ray cluster: its options and their messages, the worker's
choice of data and checkpoint folders, the progress it relays, and which plug-in
modules it ships. The cluster itself is tested in test_ray_cluster.py (slow)."""

from __future__ import annotations

import importlib.util
import sys
import threading
from pathlib import Path

import pytest
import torch
from cli_runner import cli

from actbench.api import TrainContext, Trial, WorkUnit
from actbench.errors import DataError, UsageError
from actbench.run.executors.ray import RayExecutor, _local_plugin_modules
from actbench.run.executors.worker import EventRelay, train_unit, worker_context
from actbench.tasks import get_task

MINI = ["run", "--task", "mnist-mini", "--acts", "relu", "--epochs", "1"]


def error_line(args: list[str]) -> tuple[int, str]:
    result = cli(*args)
    return result.exit_code, result.stderr.strip()


def test_without_ray_the_executor_says_how_to_install_it(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ray" else real(name, *a))
    assert error_line([*MINI, "--executor", "ray"]) == (
        2,
        'error: --executor ray needs Ray, which is not installed: pip install "actbench[ray]"',
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (["--address", "10.0.0.1:6379"], "--address applies to --executor ray only; this run uses the local executor"),
        (
            ["--gpus-per-trial", "1"],
            "--gpus-per-trial applies to --executor ray only; this run uses the local executor",
        ),
        (["--executor", "ray", "--gpus-per-trial", "-1"], "--gpus-per-trial must be a number >= 0, got -1.0"),
        (
            ["--executor", "ray", "--cpus-per-trial", "0"],
            "--cpus-per-trial must be above 0: a trial needs a CPU to drive it",
        ),
        (["--executor", "ray", "--max-retries", "-2"], "--max-retries must be a number >= 0, got -2"),
        (
            ["--executor", "ray", "--device", "cpu", "--gpus-per-trial", "1"],
            "--device cpu with --gpus-per-trial 1.0: give one or the other",
        ),
        (
            ["--executor", "ray", "--device", "cuda", "--gpus-per-trial", "0"],
            "--device cuda with --gpus-per-trial 0: a CUDA trial needs a GPU",
        ),
        (
            ["--executor", "ray", "--device", "mps"],
            "--device mps does not apply to --executor ray: Ray gives each trial its GPUs; use auto, cpu or cuda, "
            "with --gpus-per-trial",
        ),
        (
            ["--executor", "ray", "--address", " "],
            "--address must not be empty (omit it to start a local Ray instance)",
        ),
        (
            ["--executor", "ray", "--address", "10.0.0.1"],
            "--address must be HOST:PORT (as 'ray start --head' prints it) or auto, got '10.0.0.1'",
        ),
        (
            ["--executor", "ray", "--address", "headnode:ray"],
            "--address must be HOST:PORT (as 'ray start --head' prints it) or auto, got 'headnode:ray'",
        ),
    ],
)
def test_bad_executor_options_are_one_line_before_anything_starts(args, message):
    assert error_line([*MINI, *args]) == (2, f"error: {message}")


@pytest.mark.parametrize(
    "device, options, gpus, expected",
    [
        ("auto", {}, None, None),  # decided on connecting: a GPU per trial if the cluster has any
        ("auto", {"gpus_per_trial": 0}, 0.0, "cpu"),
        ("auto", {"gpus_per_trial": 0.25}, 0.25, "cuda"),
        ("cpu", {}, 0.0, "cpu"),
        ("cuda", {}, 1.0, "cuda"),
        ("cuda", {"gpus_per_trial": 2}, 2, "cuda"),
    ],
)
def test_the_device_follows_the_gpus_asked_for(device, options, gpus, expected):
    checked, resolved = RayExecutor.configure(options, device)
    assert checked.get("gpus_per_trial") == gpus
    assert (resolved and resolved.type) == expected


def test_a_config_file_carries_the_executor_options(tmp_path):
    from actbench.run.config import build_run_config, load_config_file

    path = tmp_path / "run.toml"
    path.write_text('task = "mnist-mini"\nacts = ["relu"]\nexecutor = "ray"\naddress = "auto"\ncpus_per_trial = 2\n')
    config = build_run_config(load_config_file(path), {})
    assert config.executor_options == {"address": "auto", "cpus_per_trial": 2}
    assert config.device is None


def test_a_worker_uses_the_driver_folders_only_where_it_sees_them(tmp_path):
    shared = tmp_path / "checkpoints"
    shared.mkdir()
    (shared / ".ray-driver-abc").write_text("1\n")
    ctx = TrainContext(torch.device("cpu"), tmp_path, checkpoint_dir=shared)
    seen, source = worker_context(ctx, ".ray-driver-abc")
    assert (seen.data_dir, seen.checkpoint_dir, source) == (tmp_path, shared, f"--data-dir {tmp_path}")
    # Another machine: neither folder exists there, so its own data cache and no checkpoints.
    far = TrainContext(torch.device("cpu"), tmp_path / "not-here", checkpoint_dir=tmp_path / "nor-here")
    seen, source = worker_context(far, ".ray-driver-abc")
    assert (seen.data_dir, seen.checkpoint_dir) == (None, None)
    assert source == f"this node's data cache (--data-dir {tmp_path / 'not-here'} does not exist here)"
    # The folder exists but holds no marker of this run: not the driver's folder.
    assert worker_context(ctx, ".ray-driver-other")[0].checkpoint_dir is None


class Inbox:
    """A stand-in for the Ray queue: what the relay sends, batch by batch."""

    def __init__(self):
        self.batches: list[list[tuple]] = []
        self.lock = threading.Lock()

    def put_nowait_batch(self, items):
        with self.lock:
            self.batches.append(list(items))


@pytest.fixture
def keep_threads():
    """train_unit sets torch's thread count, as a worker should; give the test process its own back."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def mini_trials(acts, epochs=2):
    hp = get_task("mnist-mini").resolve_hparams({"epochs": epochs})
    return tuple(Trial("mnist-mini", act, 0, hp) for act in acts)


def test_a_worker_trains_its_unit_relays_progress_and_tags_the_node(keep_threads):
    trials = mini_trials(["relu", "gelu"])
    inbox = Inbox()
    results = train_unit(
        WorkUnit("population", trials), TrainContext(torch.device("cpu"), None), None, 1, inbox, "n0de"
    )
    assert [r.trial for r in results] == list(trials) and {r.node for r in results} == {"n0de"}
    events = [event for batch in inbox.batches for event in batch]
    assert [e[:2] for e in events if e[0] == "start"] == [("start", t.key) for t in trials]
    epochs = {(e[1], e[2].epoch) for e in events if e[0] == "epoch"}
    assert epochs == {(t.key, epoch) for t in trials for epoch in (1, 2)}
    assert all(r.epochs[-1] in [e[2] for e in events if e[0] == "epoch" and e[1] == r.trial.key] for r in results)


def test_a_worker_without_the_data_names_its_node_and_where_it_looked(monkeypatch, keep_threads):
    task = get_task("mnist-mini")

    def missing(ctx):
        raise DataError("MNIST files not found: train-images-idx3-ubyte.gz (looked in /cache).")

    monkeypatch.setattr(type(task), "prepare", lambda self, ctx, hparams: missing(ctx))
    ctx = TrainContext(torch.device("cpu"), Path("/no/such/folder"))
    with pytest.raises(DataError) as info:
        train_unit(WorkUnit("sequential", mini_trials(["relu"])), ctx, None, 1, Inbox(), "0123456789")
    message = str(info.value)
    assert message.startswith("on Ray node ")
    assert "(01234567), data from this node's data cache (--data-dir /no/such/folder does not exist here): " in message
    assert message.endswith(
        "(looked in /cache). On a cluster, give --data-dir a folder every node mounts at the same path, "
        "or put the files in each node's cache"
    )


def test_the_relay_sends_every_event_in_order_and_nothing_after_close():
    inbox = Inbox()
    relay = EventRelay(inbox)
    trial = mini_trials(["relu"])[0]
    relay.started(trial)
    for _ in range(50):
        relay.epoch_done(trial, None)
    relay.close()
    sent = [event for batch in inbox.batches for event in batch]
    assert sent == [("start", trial.key)] + [("epoch", trial.key, None)] * 50
    assert not relay._thread.is_alive()


def test_only_plug_ins_that_are_not_installed_are_shipped(tmp_path, monkeypatch):
    (tmp_path / "besideme.py").write_text("from torch.nn import ReLU as Mine\n")
    (tmp_path / "mypkg").mkdir()
    (tmp_path / "mypkg" / "__init__.py").write_text("")
    (tmp_path / "mypkg" / "acts.py").write_text("from torch.nn import GELU as Mine\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        for name in ("besideme", "mypkg.acts"):
            importlib.import_module(name)  # as probing the activations does on the driver
        specs = ["relu", "besideme:Mine", "mypkg.acts:Mine", "torch.nn:SiLU", "besideme:Mine(inplace=false)"]
        shipped = _local_plugin_modules(specs)
    finally:
        for name in ("besideme", "mypkg", "mypkg.acts"):
            sys.modules.pop(name, None)
    # The file, the whole package, once each; torch is installed, relu is built in.
    assert shipped == [str((tmp_path / "besideme.py").resolve()), str((tmp_path / "mypkg").resolve())]


def test_configure_rejects_options_it_does_not_take():
    with pytest.raises(UsageError, match="does not take"):
        RayExecutor.configure({"nodes": 3}, "auto")
