"""The task registry: one module per family of tasks, one entry per task name."""

import difflib

from actbench.errors import UsageError
from actbench.tasks.base import EpochMetrics, Task, TrainContext
from actbench.tasks.mlp import TASKS as _MLP_TASKS

TASKS: dict[str, Task] = {**_MLP_TASKS}


def get_task(name: str) -> Task:
    """The task called ``name``; an unknown name is a UsageError naming the close matches."""
    try:
        return TASKS[name.strip().lower()]
    except KeyError:
        close = difflib.get_close_matches(name.lower(), TASKS, n=3, cutoff=0.5)
        hint = f"did you mean: {', '.join(close)}?" if close else f"known tasks: {', '.join(TASKS)}"
        raise UsageError(f"unknown task {name!r}; {hint}") from None


__all__ = ["EpochMetrics", "TASKS", "Task", "TrainContext", "get_task"]
