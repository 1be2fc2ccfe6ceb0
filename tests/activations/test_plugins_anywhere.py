"""Plug-ins from anywhere: a .py file named by its path (relative or absolute, in a
subfolder or the parent folder) is the module of its stem, one activation however it is
reached; a plain function of the tensor is an activation as its nn.Module twin is; and
what cannot be a plug-in is refused in one line."""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest
import torch
from cli_runner import cli
from fakes import reimport

from actbench.activations import canonical_spec, parse_activation, stored_spec
from actbench.activations.function_activation import FunctionActivation
from actbench.activations.probe import probe_activation
from actbench.api import Trial, WorkUnit
from actbench.errors import SpecError
from actbench.results.store import DB_NAME
from actbench.run.executors.ray import _local_plugin_modules
from actbench.run.executors.worker import check_plugin_versions

MYACT = '''
import torch
from torch import nn


class Swish(nn.Module):
    def __init__(self, beta: float = 1.0):
        super().__init__()
        self.beta = beta

    def forward(self, x):
        return x * torch.sigmoid(self.beta * x)


class SiLU(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(x)


def swish(x, beta: float = 1.0):
    """Swish as a function.

    Args:
        beta: the slope inside the sigmoid
    """
    return x * torch.sigmoid(beta * x)


def silu(x):
    return x * torch.sigmoid(x)


def make_swish(beta: float = 1.0):
    return Swish(beta)


cube = lambda x: x ** 3


def two(x, y):
    return x * y


def moded(x, mode="fast"):
    return x


def halves(x):
    return x.half()


shared = nn.PReLU()
'''
SOURCE = textwrap.dedent(MYACT)
VERSION = hashlib.sha256(b"myact.py\0" + SOURCE.encode() + b"\0").hexdigest()[:8]  # the identity recipe
MINI = ["run", "--task", "mnist-mini", "--epochs", "1", "--seeds", "0"]


@pytest.fixture(autouse=True)
def fresh_imports(monkeypatch, tmp_path_factory):
    """sys.path as a new process has it: without the folders of earlier tests, which their
    CLI runs put there; restored after the test, its plug-in modules forgotten."""
    base = tmp_path_factory.getbasetemp().resolve()
    monkeypatch.setattr(sys, "path", [p for p in sys.path if not (p and Path(p).resolve().is_relative_to(base))])
    yield
    reimport("myact")


def write(path: Path, source: str = SOURCE) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source)
    return path


def stored() -> list[tuple]:
    with sqlite3.connect(f"results/{DB_NAME}") as conn:
        return conn.execute("SELECT activation, seed FROM trials ORDER BY id").fetchall()


# --- one file, any path -----------------------------------------------------------------


def test_a_file_by_relative_or_absolute_path_is_the_module_of_its_stem(tmp_path):
    file = write(tmp_path / "plugins" / "myact.py")
    expected = f"myact:Swish@{VERSION}(beta=2.0)"
    for spec in ("plugins/myact.py:Swish(beta=2)", "./plugins/myact.py:Swish(beta=2)", f"{file}:Swish(beta=2)"):
        assert canonical_spec(spec) == expected
    assert canonical_spec(f"plugins/myact.py:Swish@{VERSION}(beta=2)") == expected
    # Its folder is now importable (at the end of sys.path), so the canonical form parses back.
    assert sys.path[-1] == str(file.parent) and sys.path.count(str(file.parent)) == 1
    assert canonical_spec(expected) == expected
    assert stored_spec("plugins/myact.py:Swish(beta=2)") == "myact:Swish(beta=2)"  # as written: matched by value


@pytest.mark.parametrize(
    ("cwd", "file", "relative"),
    [("", "plugins/myact.py", "plugins/myact.py"), ("project", "myact.py", "../myact.py")],
    ids=["subfolder", "parent"],
)
def test_runs_by_either_path_store_one_activation_and_report_it(tmp_path, monkeypatch, cwd, file, relative):
    plugin = write(tmp_path / file)
    (tmp_path / cwd).mkdir(exist_ok=True)
    monkeypatch.chdir(tmp_path / cwd)
    canonical = f"myact:Swish@{VERSION}(beta=2.0)"

    first = cli(*MINI, "--acts", f"relu,{relative}:Swish(beta=2)")
    assert first.exit_code == 0, first.output
    assert "done: 2 trial(s) stored (0 diverged), 0 skipped as already stored." in first.stderr
    assert stored() == [("relu", 0), (canonical, 0)]

    reimport("myact")
    again = cli(*MINI, "--acts", f"relu,{plugin}:Swish(beta=2)")  # the same file by its absolute path
    assert again.exit_code == 0, again.output
    assert "done: 0 trial(s) stored (0 diverged), 2 skipped as already stored." in again.stderr
    assert stored() == [("relu", 0), (canonical, 0)]

    report = cli("report", "--format", "csv", "--acts", f"relu,{relative}:Swish(beta=2)")
    assert report.exit_code == 0, report.output
    assert pd.read_csv("results/mnist-mini/summary.csv")[["activation", "n"]].values.tolist() == [
        ["relu", 1],
        [canonical, 1],
    ]


def test_a_missing_file_stops_the_run_before_anything_is_written(tmp_path):
    result = cli(*MINI, "--acts", "relu,../myact.py:Swish")
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: plug-in ../myact.py:Swish: no file ../myact.py (looked from {Path.cwd()})"
    assert not Path("results").exists()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("../nope.py:Swish", "plug-in ../nope.py:Swish: no file ../nope.py (looked from {cwd})"),
        ("/no/such/dir/nope.py:Swish", "plug-in /no/such/dir/nope.py:Swish: no file /no/such/dir/nope.py"),
        ("plugins/myact:Swish", "plug-in plugins/myact:Swish: a plug-in file is a .py file, got plugins/myact"),
        (
            "plugins/my-act.py:Swish",
            "plug-in plugins/my-act.py:Swish: my-act.py cannot be imported as a module named 'my-act'; "
            "rename it (letters, digits and '_', not starting with a digit)",
        ),
        (
            "plugins/class.py:Swish",
            "plug-in plugins/class.py:Swish: class.py cannot be imported as a module named 'class'; "
            "rename it (letters, digits and '_', not starting with a digit)",
        ),
        (
            "plugins/json.py:Swish",
            "plug-in plugins/json.py:Swish: its module name 'json' already names {json}; rename {cwd}/plugins/json.py",
        ),
        (
            "plugins/myact.py:Swish x",
            "malformed activation spec 'plugins/myact.py:Swish x': "
            "a plug-in is written 'package.module:Name' or 'path/to/file.py:Name'",
        ),
    ],
)
def test_a_file_that_cannot_be_a_plugin_is_one_line(tmp_path, spec, message):
    for name in ("myact.py", "my-act.py", "class.py", "json.py"):
        write(tmp_path / "plugins" / name)
    with pytest.raises(SpecError) as info:
        parse_activation(spec)
    assert str(info.value) == message.format(cwd=Path.cwd(), json=json.__file__)


def test_two_files_of_one_name_are_refused_naming_both(tmp_path):
    first, second = write(tmp_path / "a" / "myact.py"), write(tmp_path / "b" / "myact.py", SOURCE + "\n# edited\n")
    assert canonical_spec("a/myact.py:Swish") == f"myact:Swish@{VERSION}(beta=1.0)"
    with pytest.raises(SpecError) as imported:
        parse_activation("b/myact.py:Swish")
    assert str(imported.value) == (
        f"plug-in b/myact.py:Swish: its module name 'myact' already names {first}; rename {second}"
    )

    # Not imported yet, but found first on sys.path (the current folder, as for the CLI).
    reimport("myact")
    beside = write(tmp_path / "myact.py")
    sys.path.insert(0, str(tmp_path))
    with pytest.raises(SpecError) as shadowed:
        parse_activation("a/myact.py:Swish")
    assert str(shadowed.value) == (
        f"plug-in a/myact.py:Swish: its module name 'myact' already names {beside}; rename {first}"
    )
    assert canonical_spec("myact.py:Swish") == f"myact:Swish@{VERSION}(beta=1.0)"  # the one beside the user


# --- a function as a plug-in ------------------------------------------------------------


def test_a_function_of_the_tensor_is_an_activation_with_its_other_parameters_settable(tmp_path):
    write(tmp_path / "myact.py")
    sys.path.insert(0, str(tmp_path))
    parsed = parse_activation("myact:swish(beta=2)")
    assert parsed.canonical == f"myact:swish@{VERSION}(beta=2.0)"
    assert canonical_spec("myact.py:silu") == f"myact:silu@{VERSION}"
    assert canonical_spec("myact:cube") == f"myact:cube@{VERSION}"  # a lambda is a function too
    module = parsed.build()
    assert isinstance(module, FunctionActivation) and list(module.parameters()) == []
    assert repr(module) == "FunctionActivation(myact.swish, beta=2.0)"
    x = torch.linspace(-3, 3, 7)
    assert torch.equal(module(x), x * torch.sigmoid(2 * x))
    assert torch.equal(parse_activation("myact:make_swish(beta=2)").build()(x), module(x))  # a factory, as before
    probe_activation(parsed)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            "myact:two",
            "plug-in myact:two: a function plug-in takes the tensor as its only parameter without a default; "
            "'y' has none",
        ),
        (
            "myact:moded",
            "plug-in myact:moded: parameter 'mode' has default 'fast'; "
            "every parameter needs a float, int or bool default",
        ),
        ("myact:swish(gamma=2)", "myact:swish has no parameter 'gamma'; its parameters are: beta"),
        (
            "myact:shared",
            "plug-in myact:shared: names an nn.Module instance, which every trial would share; name its class, "
            "or a function that builds one",
        ),
        (
            "torch:relu",
            "plug-in torch:relu: its signature cannot be read; write the activation as a def taking the tensor "
            "(def f(x): ...) or as an nn.Module subclass",
        ),
    ],
)
def test_a_function_that_is_no_activation_is_one_line(tmp_path, spec, message):
    write(tmp_path / "myact.py")
    sys.path.insert(0, str(tmp_path))
    with pytest.raises(SpecError) as info:
        parse_activation(spec)
    assert str(info.value) == message


def test_the_probe_checks_a_function_as_it_does_a_module(tmp_path):
    write(tmp_path / "myact.py")
    result = cli(*MINI, "--acts", "relu,myact.py:halves")
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "error: activation myact:halves maps a float32 batch of shape (8, 16) to float16 of shape (8, 16); "
        "an activation must keep its input's shape and dtype"
    )
    assert not Path("results").exists()


def test_a_function_trains_to_the_numbers_of_its_module_twin(tmp_path):
    write(tmp_path / "myact.py")
    twins = ["myact:Swish(beta=2)", "myact:swish(beta=2)", "myact:make_swish(beta=2)", "myact:SiLU", "myact:silu"]
    result = cli(*MINI, "--acts", ",".join(twins), "-q")
    assert result.exit_code == 0, result.output
    rows = pd.read_csv(io.StringIO(cli("export").stdout)).set_index("activation")
    columns = ["train_loss", "test_loss", "test_acc"]
    swish, function, factory, silu, plain = (rows.loc[canonical_spec(spec), columns].tolist() for spec in twins)
    assert swish == function == factory and silu == plain
    assert swish != silu  # beta matters: the comparison above is not of constants


# --- Ray ----------------------------------------------------------------------------------


def test_ray_ships_a_plugin_file_and_its_workers_check_its_version(tmp_path):
    file = write(tmp_path / "plugins" / "myact.py")
    driver = parse_activation("plugins/myact.py:Swish").canonical
    assert _local_plugin_modules(["relu", driver]) == [str(file.resolve())]

    # A worker imports the shipped copy by its module name, from a folder of its own.
    reimport("myact")
    sys.path.remove(str(file.parent))
    (tmp_path / "node").mkdir()
    worker = Path(shutil.copy(file, tmp_path / "node" / "myact.py"))
    sys.path.insert(0, str(worker.parent))
    unit = WorkUnit("sequential", (Trial("mnist-mini", "relu", 0, {}), Trial("mnist-mini", driver, 0, {})))
    check_plugin_versions(unit, "f00dfeed" * 7)

    reimport("myact")
    other = SOURCE + "\n# another copy\n"
    worker.write_text(other)
    with pytest.raises(SpecError) as info:
        check_plugin_versions(unit, "f00dfeed" * 7)
    here = hashlib.sha256(b"myact.py\0" + other.encode() + b"\0").hexdigest()[:8]
    assert str(info.value) == (
        f"on Ray node {platform.node()} (f00dfeed), plug-in myact:Swish is at version {here}, "
        f"the driver's at {VERSION}: this worker's copy of myact differs from the driver's; "
        "install the same version on every node"
    )


@pytest.mark.slow
def test_a_plugin_file_from_another_folder_trains_on_a_local_ray_instance(tmp_path, monkeypatch):
    pytest.importorskip("ray")
    write(tmp_path / "plugins" / "myact.py")
    (tmp_path / "project").mkdir()
    monkeypatch.chdir(tmp_path / "project")
    # A process of its own, without the tests' path: the workers get the plug-in only by shipping.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "RAY_ADDRESS")}
    env |= {"RAY_AUTH_MODE": "disabled", "OMP_NUM_THREADS": "1", "RAY_USAGE_STATS_ENABLED": "0"}
    acts = "../plugins/myact.py:Swish(beta=2),../plugins/myact.py:swish(beta=2)"
    command = [sys.executable, "-m", "actbench", *MINI, "--acts", acts, "--executor", "ray", "-q"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(f"results/{DB_NAME}") as conn:
        rows = conn.execute("SELECT activation, test_acc FROM trials JOIN epochs ON trial_id = trials.id").fetchall()
    (module, module_acc), (function, function_acc) = sorted(rows)
    assert (module, function) == (f"myact:Swish@{VERSION}(beta=2.0)", f"myact:swish@{VERSION}(beta=2.0)")
    assert module_acc == function_acc
