"""MkDocs hook: the command-line reference (docs/cli.md) is generated from the commands'
own help by Typer's documentation generator when the site is built, so it is never
written twice and cannot fall behind the code."""

from __future__ import annotations

import subprocess
import sys

MARKER = "<!-- generated: actbench --help -->"


def _reference() -> str:
    done = subprocess.run(
        [sys.executable, "-m", "typer", "actbench.cli", "utils", "docs", "--name", "actbench"],
        capture_output=True,
        text=True,
        check=True,
    )
    lines = done.stdout.splitlines()
    # Typer's first heading names the program; the page has its own title.
    return "\n".join(lines[1:] if lines and lines[0].startswith("# ") else lines)


def on_page_markdown(markdown: str, page, config, files) -> str:
    return markdown.replace(MARKER, _reference()) if MARKER in markdown else markdown
