"""The actbench command line, run in this process as the tests call it."""

from __future__ import annotations

from click.testing import Result
from typer.testing import CliRunner

from actbench.cli import app


def cli(*args: str) -> Result:
    """`actbench ARGS...` in this process: the Result holds exit_code, stdout and stderr
    apart, output (both, interleaved), and any exception the command raised."""
    return CliRunner().invoke(app, list(args))
