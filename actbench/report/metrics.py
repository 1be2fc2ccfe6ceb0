"""The metrics a report can compare activations by: the ones every task's loss and
accuracy give, and each task's own (actbench.api.Metric). No pandas or scipy here:
the command line's help lists them.
"""

from __future__ import annotations

from actbench.api import Metric
from actbench.tasks import TASKS

# What every task's per-epoch loss and accuracy give, for every task alike; tasks add
# their own (Task.metrics), compared under their own names.
COMMON_METRICS = (
    Metric("final_acc", "final test accuracy (%)", "final test acc (%)", "score"),
    Metric("best_acc", "best-epoch test accuracy (%), selected on the test set", "best-epoch test acc (%) †", "score"),
    Metric("late_mean", "mean test accuracy over the last half of the epochs (%)", "late mean (%)", "score"),
    Metric("final_loss", "final test loss", "final test loss", "score", higher_is_better=False),
)


def comparable_metrics(task_metrics: tuple[Metric, ...]) -> dict[str, Metric]:
    """The metrics a report can compare activations by on a task: the common ones and the
    task's own scores (costs, such as seconds, are shown, never compared)."""
    return {m.name: m for m in (*COMMON_METRICS, *task_metrics) if m.kind == "score"}


def known_metrics() -> list[str]:
    """Every metric a report can compare by, on some registered task."""
    names = [m.name for m in COMMON_METRICS]
    for task in TASKS.names():
        names += [m for m in comparable_metrics(TASKS.get(task).metrics) if m not in names]
    return names
