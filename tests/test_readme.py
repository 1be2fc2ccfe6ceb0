"""The README's examples work as written: its Python example runs, and its "compare your own
activation" walk-through, followed literally, gives the table it shows."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def section(title: str) -> str:
    """The README's text from the heading or bold lead ``title`` to the next heading."""
    text = README.read_text()
    start = text.index(title)
    end = text.find("\n## ", start)
    return text[start : end if end >= 0 else None]


def blocks(text: str, language: str) -> list[str]:
    """The fenced code blocks of ``language`` ("" for a bare fence) in ``text``, dedented as
    a list item's are: fences are read in order, so a closing fence never opens a block."""
    found, body, indent, kind = [], None, 0, ""
    for line in text.splitlines():
        stripped = line.lstrip(" ")
        if body is None and stripped.startswith("```"):
            body, indent, kind = [], len(line) - len(stripped), stripped[3:].strip()
        elif body is not None and stripped == "```":
            if kind == language:
                found.append("\n".join(body))
            body = None
        elif body is not None:
            body.append(line[indent:])
    return found


def test_the_python_example_runs_and_gives_the_comparison(capsys):
    (example,) = blocks(section("**From Python**"), "python")
    exec(compile(example, "README.md", "exec"), {})
    printed = capsys.readouterr().out
    rows = dict(re.findall(r"^\d+\s+(\S+)\s+3\s+.*\s(baseline|better|worse|inconclusive)$", printed, re.M))
    assert set(rows) == {"relu", "gelu", "silu"} and rows["gelu"] == "baseline", printed
    assert {p.name for p in Path("results/mnist-mini").iterdir()} >= {"compare.md", "summary.md", "curves.png"}


@pytest.mark.slow
def test_compare_your_own_activation_followed_literally():
    walk = section("## Compare your own activation")
    plugin = blocks(walk, "python")[0]  # the second is the Python API example
    Path("myact.py").write_text(plugin + "\n")
    commands = [line for block in blocks(walk, "bash") for line in block.splitlines() if line.startswith("actbench ")]
    assert [c.split()[1] for c in commands] == ["run", "report"]
    script = Path(sys.executable).with_name("actbench")
    for command in commands:
        done = subprocess.run([str(script), *shlex.split(command)[1:]], capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
    (shown,) = [block for block in blocks(walk, "") if block.startswith("| activation |")]
    written = Path("results/mnist-mini/compare.md").read_text()
    # Numbers depend on the machine's floating point; the table's shape and names must not.
    header, *rows = shown.strip().splitlines()
    assert header in written
    for row in rows[1:]:
        name = row.split(" | ")[0]
        assert re.search(rf"^{re.escape(name)} \| 10 \| ", written, re.M), name
