"""The task registry: one module per family of tasks, one entry per task name."""

import difflib

from actbench.errors import UsageError
from actbench.tasks.base import EpochMetrics, Task, TrainContext
from actbench.tasks.airbench import TASKS as _AIRBENCH_TASKS
from actbench.tasks.mlp import TASKS as _MLP_TASKS

TASKS: dict[str, Task] = {**_MLP_TASKS, **_AIRBENCH_TASKS}


def get_task(name: str) -> Task:
    """The task called ``name``; an unknown name is a UsageError naming the close matches."""
    key = name.strip().lower()
    try:
        return TASKS[key]
    except KeyError:
        # A prefix ("cifar") names a family; difflib catches typos ("minst"). Registry order.
        similar = set(difflib.get_close_matches(key, TASKS, n=3, cutoff=0.5))
        close = [task for task in TASKS if task.startswith(key) or task in similar] if key else []
        hint = f"did you mean: {', '.join(close)}?" if close else f"known tasks: {', '.join(TASKS)}"
        raise UsageError(f"unknown task {name!r}; {hint}") from None


__all__ = ["EpochMetrics", "TASKS", "Task", "TrainContext", "get_task"]
