"""Where ``actbench run --until-decided`` writes its decisions: beside the report of the
run's protocol, which shows them."""

from __future__ import annotations

from pathlib import Path


def decisions_path(results_dir: Path, task: str, protocol: str) -> Path:
    """RESULTS/TASK/decisions-HASH.md (a .json twin beside it); HASH: the first 8 digits of
    the protocol's hash, as in the report's names."""
    return results_dir / task / f"decisions-{protocol[:8]}.md"


def written_decisions(results_dir: Path, task: str, protocol: str) -> Path | None:
    """The decisions a run --until-decided wrote for this task and protocol; None: none."""
    path = decisions_path(results_dir, task, protocol)
    return path if path.exists() else None
