"""The task registry: one folder per family of tasks, one entry per task name.

A task (actbench.api.Task) is declared without torch: name, description, hyperparameter
defaults and checks, the metrics it records beyond loss and accuracy, its headline
metric, and its population trainer if it has one. Its training code is imported when a
trial runs, so ``actbench tasks`` and ``--help`` list the tasks in milliseconds.

Adding a family of tasks:

1. a folder ``actbench/tasks/NAME/`` whose ``__init__.py`` declares ``TASKS``, a tuple
   of objects meeting actbench.api.Task (see tasks/mlp/ for one with a population
   trainer, tasks/airbench/ for one with its own metrics);
2. its dataset reader beside it (shared file handling is in actbench.datasets);
3. one line below adding its ``TASKS``.
"""

from actbench.api import Task
from actbench.registry import Registry
from actbench.tasks import airbench, gpt, mlp

TASKS: Registry[Task] = Registry("task", listing="known tasks: {names}", cutoff=0.5)
for _task in (*mlp.TASKS, *airbench.TASKS, *gpt.TASKS):
    TASKS.add(_task.name, _task)


def get_task(name: str) -> Task:
    """The task called ``name``; an unknown name is a UsageError naming the close matches."""
    return TASKS.get(name)


__all__ = ["TASKS", "get_task"]
