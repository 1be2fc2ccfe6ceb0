"""The settings a tuning tries: ``--grid lr=1e-4,1e-3,1e-2`` (repeatable), their product."""

from __future__ import annotations

import itertools
from typing import Any

from actbench.errors import UsageError
from actbench.run.config import UNTUNABLE, parse_assignment


def parse_grid(items: list[str]) -> dict[str, list[Any]]:
    """{key: [values]} from ``key=v1,v2,...`` items; each value read as TOML (numbers,
    true/false, strings), in the order given."""
    grid: dict[str, list[Any]] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key or not raw.strip():
            raise UsageError(f"--grid expects key=value1,value2,..., got {item!r}")
        if key in grid:
            raise UsageError(f"--grid {key} given twice; list all its values in one: {key}=a,b,c")
        if key in UNTUNABLE:
            raise UsageError(f"--grid {key}: {key} cannot be tuned, every activation gets the same")
        values = [parse_assignment(f"{key}={part.strip()}")[1] for part in _split_values(raw)]
        if len(set(map(repr, values))) != len(values):
            raise UsageError(f"--grid {key} lists a value twice: {raw}")
        grid[key] = values
    if not grid:
        raise UsageError("nothing to tune: give --grid, e.g. --grid lr=3e-4,1e-3,3e-3")
    return grid


def _split_values(raw: str) -> list[str]:
    """Comma-separated values; commas inside [lists] belong to the value (hidden=[256,128])."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(raw):
        depth += {"[": 1, "]": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(raw[start:i])
            start = i + 1
    parts.append(raw[start:])
    if any(not part.strip() for part in parts):
        raise UsageError(f"--grid has an empty value in {raw!r}")
    return parts


def settings(grid: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Every combination of the grid's values, the first key varying slowest."""
    keys = list(grid)
    return [dict(zip(keys, combo)) for combo in itertools.product(*grid.values())]


def setting_label(setting: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in setting.items())
