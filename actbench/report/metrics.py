"""The metrics a report can compare activations by: the ones every task's loss and
accuracy give, and each task's own (actbench.api.Metric). No pandas or scipy here:
the command line's help lists them.
"""

from __future__ import annotations

from typing import Any

from actbench.api import EvaluationAxis, Metric
from actbench.errors import UsageError
from actbench.tasks import TASKS

# What every task's per-epoch loss and accuracy give, for every task alike; tasks add
# their own (Task.metrics), compared under their own names.
COMMON_METRICS = (
    Metric("final_acc", "final test accuracy (%)", "final test acc (%)", "score"),
    Metric("best_acc", "best-epoch test accuracy (%), selected on the test set", "best-epoch test acc (%) †", "score"),
    Metric("late_mean", "mean test accuracy over the last half of the epochs (%)", "late mean (%)", "score"),
    Metric("final_loss", "final test loss", "final test loss", "score", higher_is_better=False),
)


# The per-epoch series every task records, under their store columns: what a compared
# metric's curves plot and its --target is reached on (per_epoch).
TEST_ACC = Metric("test_acc", "test accuracy (%)", "test acc (%)", "score")
TEST_LOSS = Metric("test_loss", "test loss", "test loss", "score", higher_is_better=False)


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


def per_epoch(compared: Metric) -> Metric:
    """The per-epoch series behind a compared metric: test loss for the final loss, the
    task's own metric where it is recorded at every epoch, else test accuracy (the
    accuracies, and a final-only metric such as airbench's accuracy with TTA)."""
    if compared.name == "final_loss":
        return TEST_LOSS
    if compared.final_only or compared.name in {m.name for m in COMMON_METRICS}:
        return TEST_ACC
    return compared


def is_percent(metric: Metric) -> bool:
    """Whether a metric is a percentage: its label says so, "(%)"."""
    return "(%)" in metric.label


def direction(metric: Metric) -> str:
    """What follows a metric's label where lower is better, " (lower is better)"; nothing where
    higher is, the default every table and verdict assumes unless told."""
    return "" if metric.higher_is_better else " (lower is better)"


def digits(metric: Metric) -> int:
    """Decimals a metric's means and differences are shown with: 2 for a percentage, 4 for
    the rest (losses, bits per character), whose differences that matter are smaller."""
    return 2 if is_percent(metric) else 4


def goal_text(series: Metric, target: float) -> str:
    """A --target as tables name it: "97.5%" to reach, or "≤ 1.5" to get down to where lower is better."""
    if not series.higher_is_better:
        return f"≤ {target:g}"
    return f"{target:g}{'%' if is_percent(series) else ''}"


def check_target(series: Metric, target: float) -> None:
    """A percentage's target lies in 0..100; any other metric's may be any number (cost.time_to_target
    refuses a non-finite one)."""
    if is_percent(series) and not 0 <= target <= 100:
        name = series.label.removesuffix(" (%)")
        raise UsageError(f"--target is a {name} in percent, 0 to 100, got {target:g}")


def evaluation_axis(task: str, hparams: dict[str, Any]) -> EvaluationAxis:
    """Where ``task``'s evaluation points lie under ``hparams`` (actbench.api.EvaluationAxis):
    its own declaration, else one an epoch, ``epochs`` of them where the hyperparameters say."""
    declared = getattr(TASKS.get(task), "evaluation_axis", None) if task in TASKS else None
    if declared is not None:
        return declared(hparams)
    return EvaluationAxis("epoch", 1, hparams.get("epochs"))
