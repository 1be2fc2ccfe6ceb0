"""A Ray cluster that cannot be joined ends a run in one line within CONNECT_TIMEOUT_S
(Ray itself retries an address where nothing listens for many minutes, printing its own
warnings): nothing listening, a server that is not Ray, --address auto with no cluster
on this machine or a stale one, a bad RAY_ADDRESS. The command line runs in a process of
its own, as a user runs it, so a hang is a timeout and a process left behind shows; the
probe's other answers are tested on the function. Every address is on 127.0.0.1."""

from __future__ import annotations

import contextlib
import os
import socket
import socketserver
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("ray")

from fakes import fake_result  # noqa: E402

from actbench.errors import ActbenchError  # noqa: E402
from actbench.results.store import DB_NAME, ResultStore  # noqa: E402
from actbench.run.executors import ray as executor  # noqa: E402

WAIT_S = 2.0  # CONNECT_TIMEOUT_S in these tests
STARTUP_S = 30.0  # generous: a Python that imports torch, on a busy machine
MARKER = "ACTBENCH_TEST_PROCESS"  # in the environment of the CLI's process and of any it starts
RUN = ["run", "--task", "mnist-mini", "--acts", "relu", "--epochs", "1", "--executor", "ray"]
LOCAL = "or leave out --address to start a local instance"
NOT_RAY = "check the address ('ray start --head' prints the right one), " + LOCAL
# The CLI with a shorter wait. Ray instances that other tests or users run on this machine
# are hidden from --address auto, which would otherwise find their GCS processes.
DRIVER = """
import sys
import ray._private.services
from actbench.run.executors import ray as executor
executor.CONNECT_TIMEOUT_S = float(sys.argv[1])
ray._private.services._find_address_from_flag = lambda flag: set()
from actbench.cli import app
app(sys.argv[2:], prog_name="actbench")
"""


def free_port() -> int:
    """A port on 127.0.0.1 where nothing listens (it was free a moment ago)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Handler(socketserver.BaseRequestHandler):
    """What a server that is not Ray's GCS does with the probe's HTTP/2 preface; "grpc":
    what a gRPC server (the GCS) does, a SETTINGS frame back."""

    def handle(self) -> None:
        if self.server.behaviour == "closes":
            return
        self.request.recv(1024)
        if self.server.behaviour == "silent":
            while self.request.recv(1024):  # holds the connection until the client gives up
                pass
        elif self.server.behaviour == "http":
            self.request.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        else:
            self.request.sendall(bytes([0, 0, 0, 4, 0, 0, 0, 0, 0]))


@contextlib.contextmanager
def server(behaviour: str, port: int = 0) -> Iterator[int]:
    """A TCP server on 127.0.0.1 that behaves as ``behaviour`` (Handler); yields its port."""
    with socketserver.ThreadingTCPServer(("127.0.0.1", port), Handler) as tcp:
        tcp.behaviour, tcp.daemon_threads = behaviour, True
        thread = threading.Thread(target=tcp.serve_forever, daemon=True)
        thread.start()
        try:
            yield tcp.server_address[1]
        finally:
            tcp.shutdown()
            thread.join()


@pytest.fixture
def results(tmp_path) -> Path:
    """A results folder with a trial stored by an earlier run (not one this run would train)."""
    with ResultStore(tmp_path / "results") as store:
        store.add(fake_result("gelu", 0, [90.0, 91.0]))
    return tmp_path / "results"


def snapshot(folder: Path) -> tuple[list[str], list[str]]:
    """The files in ``folder`` and every row of its store, as SQL."""
    files = sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))
    with contextlib.closing(sqlite3.connect(folder / DB_NAME)) as conn:
        return files, list(conn.iterdump())


def processes_with(marker: str) -> list[int]:
    """The processes (Linux: /proc) whose environment holds ``marker``."""
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        with contextlib.suppress(OSError):  # gone meanwhile, or another user's
            if marker.encode() in environ.read_bytes():
                found.append(int(environ.parent.name))
    return found


def actbench(*args: str, cwd: Path) -> tuple[int, str, float]:
    """Run the CLI in a process of its own (DRIVER), with Ray's temporary folder (where
    `ray start` records its cluster for auto) in ``cwd``; its exit code, stderr (stripped)
    and seconds. No process it started may outlive it."""
    marker = uuid.uuid4().hex
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env |= {"RAY_TMPDIR": str(cwd / "ray-tmp"), "RAY_USAGE_STATS_ENABLED": "0", MARKER: marker}
    command = [sys.executable, "-c", DRIVER, str(WAIT_S), *args]
    start = time.monotonic()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    seconds = time.monotonic() - start
    assert processes_with(f"{MARKER}={marker}") == []
    return done.returncode, done.stderr.strip(), seconds


@pytest.mark.slow  # a CLI process that waits out the (shortened) timeout
def test_nothing_listening_at_the_address_is_one_line_after_the_wait(results):
    port = free_port()
    before = snapshot(results)
    code, stderr, seconds = actbench(*RUN, "--address", f"127.0.0.1:{port}", cwd=results.parent)
    assert (code, stderr) == (
        1,
        f"error: no Ray cluster answers at 127.0.0.1:{port} (waited 2 s): start one with "
        f"'ray start --head --port={port}', check the address, {LOCAL}",
    )
    assert WAIT_S <= seconds < WAIT_S + STARTUP_S
    assert snapshot(results) == before


@pytest.mark.slow  # a CLI process per case
@pytest.mark.parametrize(
    "behaviour, reply",
    [("silent", "no reply; waited 2 s"), ("http", "it speaks another protocol")],
)
def test_a_server_that_is_not_ray_is_one_line(results, behaviour, reply):
    before = snapshot(results)
    with server(behaviour) as port:
        code, stderr, seconds = actbench(*RUN, "--address", f"127.0.0.1:{port}", cwd=results.parent)
    assert (code, stderr) == (1, f"error: 127.0.0.1:{port} answers, but not as a Ray cluster ({reply}): {NOT_RAY}")
    assert seconds < WAIT_S + STARTUP_S
    assert snapshot(results) == before


@pytest.mark.slow  # a CLI process, importing Ray
def test_auto_without_a_cluster_on_this_machine_is_one_line(results):
    before = snapshot(results)
    code, stderr, _ = actbench(*RUN, "--address", "auto", cwd=results.parent)
    assert (code, stderr) == (
        1,
        "error: --address auto found no Ray cluster on this machine: start one with 'ray start --head', "
        f"give the address of one with --address HOST:PORT, {LOCAL}",
    )
    assert snapshot(results) == before


# -- the probe itself ---------------------------------------------------------------------


@pytest.fixture
def quick(monkeypatch):
    monkeypatch.setattr(executor, "CONNECT_TIMEOUT_S", 1.0)


def test_a_server_that_answers_as_grpc_passes_at_once(quick):
    with server("grpc") as port:
        start = time.monotonic()
        executor._check_cluster(f"127.0.0.1:{port}", "--address")
        assert time.monotonic() - start < 0.5


def test_a_head_that_comes_up_during_the_wait_is_joined(monkeypatch):
    monkeypatch.setattr(executor, "CONNECT_TIMEOUT_S", 10.0)
    port = free_port()
    started, joined = threading.Event(), threading.Event()

    def start_late():
        time.sleep(1.0)  # two refused attempts first
        with server("grpc", port):
            started.set()
            joined.wait()

    late = threading.Thread(target=start_late)
    late.start()
    try:
        executor._check_cluster(f"127.0.0.1:{port}", "--address")
        assert started.is_set()
    finally:
        joined.set()
        late.join()


def test_a_server_that_hangs_up_is_not_ray(quick):
    with server("closes") as port:
        with pytest.raises(ActbenchError) as info:
            executor._check_cluster(f"127.0.0.1:{port}", "--address")
    expected = f"127.0.0.1:{port} answers, but not as a Ray cluster (it closed the connection): {NOT_RAY}"
    assert str(info.value) == expected


def test_an_unknown_host_fails_at_once(quick, monkeypatch):
    def unknown(*args, **kwargs):  # as the resolver answers, without asking one
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", unknown)
    start = time.monotonic()
    with pytest.raises(ActbenchError) as info:
        executor._check_cluster("headnode:6379", "--address")
    assert time.monotonic() - start < 0.5
    expected = f"no Ray cluster answers at headnode:6379 (no host headnode is known): check the address, {LOCAL}"
    assert str(info.value) == expected


def test_an_address_from_ray_address_says_so(quick, monkeypatch):
    port = free_port()
    monkeypatch.setenv("RAY_ADDRESS", f"127.0.0.1:{port}")
    joining = executor._cluster_to_join(None)
    assert joining == (f"127.0.0.1:{port}", "RAY_ADDRESS")
    assert executor._cluster_to_join("auto") == joining  # Ray too lets RAY_ADDRESS decide where auto leads
    with pytest.raises(ActbenchError) as info:
        executor._check_cluster(*joining)
    assert str(info.value) == (
        f"no Ray cluster answers at 127.0.0.1:{port} (from RAY_ADDRESS; waited 1 s): start one with "
        f"'ray start --head --port={port}', check RAY_ADDRESS, or unset it to start a local instance"
    )


def test_auto_that_finds_a_stale_address_says_so(quick, monkeypatch, tmp_path):
    import ray._private.services

    port = free_port()
    # What `ray start` leaves in Ray's temporary folder, and a cluster since gone.
    (tmp_path / "ray").mkdir()
    (tmp_path / "ray" / "ray_current_cluster").write_text(f"127.0.0.1:{port}\n")
    monkeypatch.setenv("RAY_TMPDIR", str(tmp_path))
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.setattr(ray._private.services, "_find_address_from_flag", lambda flag: set())
    joining = executor._cluster_to_join("auto")
    assert joining == (f"127.0.0.1:{port}", "auto")
    with pytest.raises(ActbenchError) as info:
        executor._check_cluster(*joining)
    assert str(info.value) == (
        f"no Ray cluster answers at 127.0.0.1:{port} (found by --address auto; waited 1 s): start one with "
        f"'ray start --head --port={port}', check the address, {LOCAL}"
    )


def test_a_local_instance_and_ray_client_addresses_are_not_probed():
    assert executor._cluster_to_join("local") is None
    executor._check_cluster("ray://127.0.0.1:1", "--address")  # Ray Client's to answer: returns at once


@pytest.mark.slow
def test_the_gcs_of_a_real_ray_instance_passes():
    """A local Ray instance in a process of its own; its GCS probed on 127.0.0.1 (it listens
    on every interface), then the instance shut down."""
    hold = (
        "import logging, sys, ray; ray.init(num_cpus=1, include_dashboard=False, logging_level=logging.ERROR); "
        "print(ray.get_runtime_context().gcs_address.rpartition(':')[2], flush=True); sys.stdin.read(); ray.shutdown()"
    )
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"} | {"RAY_USAGE_STATS_ENABLED": "0"}
    command = [sys.executable, "-c", hold]
    with subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env) as instance:
        try:
            port = int(instance.stdout.readline())
            executor._check_cluster(f"127.0.0.1:{port}", "--address")
        finally:
            instance.stdin.close()
            instance.wait(timeout=60)
