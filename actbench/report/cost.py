"""What an activation costs: the epochs and seconds each trial took to reach a target
metric, summarised per activation, and the activations on the time–metric Pareto front.

Seconds are the store's ``elapsed_s``: training seconds from the trial's start to the
end of an epoch, its evaluation included. A sequential trial's are its own; a population
member's are its activation's measured seconds plus an equal share of the rest of its
population's (actbench.tasks.costs; SECONDS_NOTE says so under the table). A store
written before per-epoch seconds were recorded has NaN there; the seconds are then
estimated as the trial's wall time × epoch / epochs run (every epoch taken as equally
long) and flagged ``estimated``.

A mean time to target is taken over the trials that reached the target only: it is a
conditional mean, and means nothing without the "k of n reached" beside it (a slow
activation that reaches the target once in ten looks as fast as its one lucky seed).
Its 95% interval is Student's t over those trials: with the 3 to 10 seeds of a typical
run a percentile bootstrap is too narrow, and the t-interval needs no resampling seed.
Where every trial took the same (all reached the target at epoch 4, say), the cell says
so ("all at epoch 4") instead of a zero-width interval that looks like certainty.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from actbench.api import EvaluationAxis, Metric
from actbench.errors import UsageError
from actbench.report.metrics import TEST_ACC, goal_text
from actbench.tasks.costs import METHOD

# Trials that trained and count towards "k of n": finished, or diverged (having reached
# the target, or not, before their weights went non-finite). Failed ones raised an
# error: their epochs say nothing about the activation, so they are left out.
COUNTED = ("ok", "diverged")
LEVEL = 0.95  # of the t-intervals

EPOCHS = EvaluationAxis("epoch")  # an evaluation point once an epoch, the axis of every task that declares none

PER_TRIAL_COLUMNS = ["trial_id", "activation", "seed", "reached", "epochs_to_target", "seconds_to_target", "estimated"]


def time_to_target(
    epochs: pd.DataFrame, trials: pd.DataFrame, target: float, metric: str = "test_acc", higher_is_better: bool = True
) -> pd.DataFrame:
    """One row per ok or diverged trial of ``trials``, in their order (PER_TRIAL_COLUMNS).

    ``epochs``: ResultStore.epochs() rows; ``trials``: ResultStore.trials() rows (id,
    activation, seed, status, diverged_epoch, epochs_run, wall_time_s) of the same store.
    ``target`` is in ``metric``'s unit (test_acc: percent). A trial reaches it at the
    first epoch whose metric is at least the target (at most, where lower is better;
    equal counts). A diverged trial's last epoch, the one whose values went non-finite,
    never counts: it reached the target only if it did so before diverging.
    """
    if not math.isfinite(target):
        raise UsageError(f"the target must be a finite number, got {target!r}")
    if metric not in epochs.columns:
        raise UsageError(f"no per-epoch metric {metric!r} stored; the epochs have: {', '.join(epochs.columns)}")
    counted = trials[trials["status"].isin(COUNTED)]
    rows = epochs.merge(
        counted[["id", "diverged_epoch", "epochs_run", "wall_time_s"]], left_on="trial_id", right_on="id"
    )
    # A column SQLite returned all NULL comes back as None objects: as floats, NaN.
    rows = rows.astype({"diverged_epoch": float, "elapsed_s": float, metric: float})
    before_diverging = rows["diverged_epoch"].isna() | (rows["epoch"] < rows["diverged_epoch"])
    reached = (rows[metric] >= target) if higher_is_better else (rows[metric] <= target)  # NaN: False
    first = rows[reached & before_diverging].sort_values(["trial_id", "epoch"]).groupby("trial_id").head(1)
    first = first.set_index("trial_id")
    estimate = first["wall_time_s"] * first["epoch"] / first["epochs_run"]
    out = counted[["id", "activation", "seed"]].rename(columns={"id": "trial_id"})
    ids = out["trial_id"]
    out["reached"] = ids.isin(first.index)
    out["epochs_to_target"] = ids.map(first["epoch"]).astype(float)
    out["seconds_to_target"] = ids.map(first["elapsed_s"].fillna(estimate)).astype(float)
    out["estimated"] = ids.isin(first.index[first["elapsed_s"].isna()])
    return out.reset_index(drop=True)[PER_TRIAL_COLUMNS]


def _t_interval(values: np.ndarray) -> tuple[float, float]:
    """The LEVEL t-interval of the mean of ``values``; NaN below two values."""
    if len(values) < 2:
        return math.nan, math.nan
    half = scipy_stats.t.ppf((1 + LEVEL) / 2, len(values) - 1) * values.std(ddof=1) / math.sqrt(len(values))
    return float(values.mean() - half), float(values.mean() + half)


def summarise_time_to_target(per_trial: pd.DataFrame, activations_order: Sequence[str]) -> pd.DataFrame:
    """One row per activation, those of ``activations_order`` first in that order (the
    report's), then any others as they come: trials (n), reached (k), and for epochs and
    seconds to the target the mean, its 95% t-interval (NaN below two trials; low = high =
    mean exactly when all are equal) and the median, all over the k trials that reached
    it (NaN where k = 0); ``estimated``: some of those seconds are estimates from the
    trial's wall time."""
    rows = []
    for activation in dict.fromkeys([*activations_order, *per_trial["activation"]]):
        group = per_trial[per_trial["activation"] == activation]
        hit = group[group["reached"]]
        row = {"activation": activation, "trials": len(group), "reached": len(hit)}
        for name in ("epochs", "seconds"):
            values = hit[f"{name}_to_target"].to_numpy(dtype=float)
            low, high = _t_interval(values)
            mean, median = (values.mean(), np.median(values)) if len(values) else (math.nan, math.nan)
            if len(values) > 1 and values.min() == values.max():  # exactly, not the mean's rounding of it
                low = high = mean = values[0]
            row.update({f"{name}_mean": mean, f"{name}_low": low, f"{name}_high": high, f"{name}_median": median})
        row["estimated"] = bool(hit["estimated"].any())
        rows.append(row)
    return pd.DataFrame(rows)


def pareto_front(seconds: Sequence[float], values: Sequence[float], higher_is_better: bool) -> list[bool]:
    """Per point (mean seconds per trial, mean metric): whether it is on the Pareto front,
    i.e. no other point is at least as good on both (as fast or faster, as good or better)
    and strictly better on one. Equal points do not dominate each other, so both stay on
    it. A point with a NaN is never on the front and dominates nothing."""
    sign = 1.0 if higher_is_better else -1.0
    points = [(float(s), sign * float(v)) for s, v in zip(seconds, values)]
    finite = [math.isfinite(s) and math.isfinite(v) for s, v in points]

    def dominates(a: tuple[float, float], b: tuple[float, float]) -> bool:
        return a[0] <= b[0] and a[1] >= b[1] and (a[0] < b[0] or a[1] > b[1])

    return [
        finite[i] and not any(finite[j] and dominates(points[j], p) for j in range(len(points)))
        for i, p in enumerate(points)
    ]


def cost_points(values: pd.DataFrame, higher_is_better: bool) -> pd.DataFrame:
    """One row per activation of ``values`` (TaskReport.values: finished trials' activation,
    value, wall_time_s), in its order: n, mean seconds per trial, mean metric, and
    ``on_front``: on the Pareto front of those two means."""
    means = values.groupby("activation", sort=False).agg(
        n=("value", "size"), seconds_mean=("wall_time_s", "mean"), value_mean=("value", "mean")
    )
    means["on_front"] = pareto_front(means["seconds_mean"], means["value_mean"], higher_is_better)
    return means.reset_index()


PARETO_NOTE = (
    "Pareto front: the activations no other beats on both mean seconds per trial (training + evaluation; "
    "how they are measured: see Seconds) and the mean metric, i.e. none is at least as good on both and "
    "strictly better on one; means over the finished trials."
)
# How the seconds were measured, under the cost table (the method text of actbench.tasks.costs).
SECONDS_NOTE = (
    f"Seconds: a sequential trial's own; {METHOD}. The activations are timed apart from the training step, "
    "so an activation of a few microseconds is the least exact; measured on the machine that ran the "
    "trials, they compare activations within one run, not across machines."
)


def _interval_cell(mean: float, low: float, high: float, unit: str) -> str:
    """The cell "mean [low, high]"; "all at epoch 4" (``unit``: the evaluation axis's name) or
    "all at 2.5 s" (``unit`` "seconds") where every trial took the same."""
    if math.isnan(low):
        return f"{mean:.1f} (n=1, no CI)"
    if low == high:
        return f"all at {mean:.1f} s" if unit == "seconds" else f"all at {unit} {mean:g}"
    return f"{mean:.1f} [{low:.1f}, {high:.1f}]"


def target_rows(
    summary: pd.DataFrame, target: float, series: Metric = TEST_ACC, axis: EvaluationAxis = EPOCHS
) -> list[dict[str, str]]:
    """summarise_time_to_target as table cells: "k of n" reached, then the axis's units (epochs,
    or k × axis.every iterations at evaluation point k) and seconds to the target of ``series``
    as "mean [95% CI]" ("not reached" where no trial did; "all at epoch 4" where every trial
    that reached it took the same; "(estimated)" after seconds that are partly wall-time estimates)."""
    goal = goal_text(series, target)
    rows = []
    for row in summary.to_dict(orient="records"):
        cells = {"activation": row["activation"], f"reached {goal}": f"{row['reached']} of {row['trials']}"}
        steps = f"{axis.name}s to {goal}"
        if row["reached"] == 0:
            cells[steps] = cells[f"seconds to {goal}"] = "not reached"
        else:
            # Evaluation points to the axis's units: point k is k × axis.every, exact where every trial
            # took the same (axis.at places a last point short of a multiple); a spread's mean and
            # interval scale as they are.
            points = [row[f"epochs_{part}"] for part in ("mean", "low", "high")]
            same = points[1] == points[2]
            scaled = [axis.at(points[0])] * 3 if same else [value * axis.every for value in points]
            cells[steps] = _interval_cell(*scaled, axis.name)
            seconds = _interval_cell(row["seconds_mean"], row["seconds_low"], row["seconds_high"], "seconds")
            cells[f"seconds to {goal}"] = seconds + (" (estimated)" if row["estimated"] else "")
        rows.append(cells)
    return rows


def target_note(target: float, series: Metric = TEST_ACC, axis: EvaluationAxis = EPOCHS) -> str:
    """The sentence under a target_rows table."""
    goal = goal_text(series, target)
    if series.higher_is_better:
        reached = f"whose metric reached {goal} (equal counts)"
    else:
        reached = f"whose {series.label} got down to {target:g} or below (lower is better; equal counts)"
    evaluated = f" (evaluated every {axis.every})" if axis.every > 1 else ""
    unit = axis.name
    return (
        f"Time to {goal}: the first {unit}{evaluated} {reached}, and the training seconds "
        f"(evaluation included) from the trial's start to that {unit}'s end. Means [95% t-interval] are over the "
        f"trials that reached it only, a conditional mean: read them beside k of n. n counts finished and diverged "
        f"trials (a diverged trial counts as reaching it only before diverging); failed ones are left out. "
        f"(estimated): stored before per-epoch seconds were recorded, so estimated as the trial's wall time × "
        f"{unit} / {unit}s run. {SECONDS_NOTE}"
    )
