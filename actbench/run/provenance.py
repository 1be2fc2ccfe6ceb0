"""The code that made a result, stored with every trial (as airbench keeps its own
source beside its results), so a number can be traced to the code that produced it.

    git:3f2a...e1                          a clean checkout at that commit
    git:3f2a...e1+dirty:9c0b...7d          that commit with uncommitted changes to the package;
                                           the hash names the package source as it ran
    source:9c0b...7d                       not a git checkout (an installed wheel)

The source hash is SHA-256 (16 hex digits) over the package's .py files, their paths
and contents, in sorted order. Only the package (actbench/) counts: a changed README
or results folder does not make a result dirty.
"""

from __future__ import annotations

import hashlib
import subprocess
from functools import lru_cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1]  # actbench/


def source_hash(package: Path = PACKAGE) -> str:
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _git(package: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(package), *args], capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):  # no git, not a checkout, or git hung
        return None
    return done.stdout.strip()


def describe_revision(package: Path = PACKAGE) -> str:
    # The package must be tracked by the checkout it sits in: an installed copy inside
    # some other project's (ignored) virtual environment is not that project's code.
    tracked = _git(package, "ls-files", "--", "__init__.py")
    commit = _git(package, "rev-parse", "HEAD") if tracked else None
    if not commit:
        return f"source:{source_hash(package)}"
    changes = _git(package, "status", "--porcelain", "--untracked-files=all", "--", ".")
    if changes:
        return f"git:{commit}+dirty:{source_hash(package)}"
    return f"git:{commit}"


@lru_cache(maxsize=1)
def code_revision() -> str:
    """This process's code revision, computed once (git takes a few milliseconds)."""
    return describe_revision()
