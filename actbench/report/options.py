"""The comparison options of ``actbench report`` and ``plan`` (and of ``Results`` in the
Python API) as a CompareSpec: one reading, one set of checks, for every caller."""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Iterable
from typing import Any

from actbench.activations import stored_spec
from actbench.errors import UsageError
from actbench.report.build import CompareSpec
from actbench.tasks import TASKS


def compare_spec(options: dict[str, Any]) -> CompareSpec:
    """CompareSpec's fields by name, ``None`` standing for the default; also ``target``
    (see parse_targets) for ``targets``, and ``formats`` as a comma-separated string too.
    An unknown option is a UsageError."""
    fields = {f.name for f in dataclasses.fields(CompareSpec)} - {"targets"}
    options = dict(options)
    target = options.pop("target", None)
    for key in options:
        if key not in fields:
            close = difflib.get_close_matches(key, [*fields, "target"], n=3)
            raise UsageError(
                f"unknown report option {key!r}" + (f"; did you mean: {', '.join(close)}?" if close else "")
            )
    if options.get("baseline"):
        options["baseline"] = stored_spec(options["baseline"])
    if isinstance(options.get("formats"), str):  # "md,png", as --format takes it
        options["formats"] = [name.strip() for name in options["formats"].split(",") if name.strip()]
    if options.get("formats") is not None:
        options["formats"] = frozenset(options["formats"])
    options["targets"] = parse_targets(target)
    return CompareSpec(**{key: value for key, value in options.items() if value is not None})


def parse_targets(target: float | str | dict[str, float] | Iterable[str] | None) -> dict[str, float] | None:
    """The values to reach, as CompareSpec.targets (task -> value, "*": every task without
    its own): from --target's VALUE and TASK=VALUE items, or from Python a number or a dict
    of task -> value. Each is checked against its task's metric when the report is built
    (actbench.report.metrics.check_target: a percentage's lies in 0..100)."""
    if target is None:
        return None
    if isinstance(target, dict):  # from Python: "*" or a task -> value
        items = [(None if task == "*" else task, value, f"{task}={value}") for task, value in target.items()]
    else:
        items = []
        for item in [str(target)] if isinstance(target, (int, float, str)) else target:
            name, sep, raw = item.rpartition("=")
            items.append((name.strip() if sep else None, raw, item))
    targets: dict[str, float] = {}
    for name, raw, item in items:
        key = TASKS.primary(name) if name is not None else "*"
        try:
            value = float(raw)
        except ValueError:
            raise UsageError(f"--target expects VALUE or TASK=VALUE with VALUE a number, got {item!r}") from None
        targets[key] = value
    return targets or None
