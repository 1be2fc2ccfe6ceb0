"""A tuning: its runs (one per setting of the grid, every activation over the same seeds,
measured on the validation split), their scores and each activation's choice."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

from actbench.api import Metric
from actbench.errors import UsageError
from actbench.report import stats
from actbench.report.metrics import comparable_metrics
from actbench.results.store import ResultStore
from actbench.run.config import RunConfig
from actbench.run.runner import Reporter, RunOutcome, execute
from actbench.tasks import get_task
from actbench.tune.grid import setting_label, settings

# Tuning seeds start here: disjoint from a comparison's seeds 0..N-1, so no trial of the
# final comparison shares its initial weights or batch order with a trial it was tuned on.
TUNE_SEED_START = 1000


@dataclass(frozen=True)
class Tuning:
    """What a tuning tries: ``base`` (the run's options; its hparams the shared ones) at
    every setting of ``grid``, on the validation split, scored by ``metric``."""

    base: RunConfig
    grid: dict[str, list[Any]]
    metric: Metric

    @property
    def settings(self) -> list[dict[str, Any]]:
        return settings(self.grid)

    @property
    def id(self) -> str:
        """8 hex digits naming the tuning (its files are tune-ID.*): task, activations, shared
        hyperparameters, grid, seeds and metric; the same tuning asked again has the same id."""
        blob = json.dumps(
            {
                "task": self.base.task,
                "acts": self.base.activations,
                "hparams": self.base.hparams,
                "grid": self.grid,
                "seeds": self.base.seeds,
                "metric": self.metric.name,
            },
            sort_keys=True,
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:8]

    def run_config(self, setting: dict[str, Any]) -> RunConfig:
        """The run of one setting: every activation at it, on the validation split."""
        task = get_task(self.base.task)
        hparams = task.resolve_hparams({**self.base.hparams, **setting, "split": "validation"})
        return dataclasses.replace(
            self.base, hparams=hparams, activation_hparams={act: hparams for act in self.base.activations}
        )


def validation_label(metric: Metric) -> str:
    """A metric's label as tuning measures it: a task's metrics are measured on the split its
    trials evaluate on, and their labels name the test set, the default."""
    return metric.label.replace("test", "validation")


def make_tuning(base: RunConfig, grid: dict[str, list[Any]], metric: str | None) -> Tuning:
    """The tuning of ``base``'s activations over ``grid``, every setting checked before anything trains."""
    task = get_task(base.task)
    if "split" not in task.hyperparams:
        raise UsageError(f"task {base.task} has no validation split to tune on")
    default_split = task.hyperparams["split"]
    if base.hparams.get("split", default_split) != default_split:
        raise UsageError("tune measures on the validation split itself: do not set split")
    comparable = comparable_metrics(task.metrics)
    name = metric or task.headline
    if name not in comparable:
        raise UsageError(f"task {base.task} records no metric {name!r}; tune by one of: {', '.join(comparable)}")
    tuning = Tuning(base, grid, comparable[name])
    for setting in tuning.settings:
        tuning.run_config(setting)  # a bad value is a UsageError now, not after the first runs
    return tuning


def run_tuning(tuning: Tuning, reporter: Reporter) -> RunOutcome:
    """Train (or find stored) every setting's trials, setting after setting; the outcomes summed."""
    total = RunOutcome(total=0, skipped=0)
    for setting in tuning.settings:
        outcome = execute(tuning.run_config(setting), reporter)
        for field in dataclasses.fields(RunOutcome):
            setattr(total, field.name, getattr(total, field.name) + getattr(outcome, field.name))
    return total


def scores(tuning: Tuning) -> pd.DataFrame:
    """One row per (activation, setting): setting (its index in the grid), label, trials
    (asked), n (finished ok), mean and sd of the metric over those, chosen (bool)."""
    configs = {tuning.run_config(s).trials()[0].config_hash: i for i, s in enumerate(tuning.settings)}
    with ResultStore(tuning.base.results_dir, create=False) as store:
        epochs = store.epochs()
    rows = epochs[
        (epochs["task"] == tuning.base.task)
        & epochs["config_hash"].isin(configs)
        & epochs["activation"].isin(tuning.base.activations)
        & epochs["seed"].isin(tuning.base.seeds)
    ]
    per_trial = stats.per_trial(rows, get_task(tuning.base.task).metrics)
    finished = per_trial[per_trial["status"] == "ok"].assign(setting=lambda f: f["config_hash"].map(configs))
    table = []
    for act in tuning.base.activations:
        for i, setting in enumerate(tuning.settings):
            values = finished.loc[(finished["activation"] == act) & (finished["setting"] == i), tuning.metric.name]
            table.append(
                {
                    "activation": act,
                    "setting": i,
                    "label": setting_label(setting),
                    "trials": len(tuning.base.seeds),
                    "n": len(values),
                    "mean": values.mean() if len(values) else math.nan,
                    "sd": values.std(ddof=1) if len(values) > 1 else math.nan,
                }
            )
    frame = pd.DataFrame(table)
    frame["chosen"] = False
    for act in tuning.base.activations:
        frame.loc[choose(frame[frame["activation"] == act], tuning.metric.higher_is_better), "chosen"] = True
    return frame


def choose(rows: pd.DataFrame, higher_is_better: bool) -> int:
    """The index (in ``rows``) of one activation's chosen setting: the best mean among the
    settings with the most seeds finished (every seed, unless each setting diverged or
    failed on some), ties to the earlier setting in the grid. A setting that loses seeds
    is not chosen for the mean of its lucky ones."""
    candidates = rows[(rows["n"] == rows["n"].max()) & (rows["n"] > 0)]
    if candidates.empty:
        act = rows["activation"].iloc[0]
        raise UsageError(f"every tuning trial of {act} diverged or failed: no setting to choose; widen the grid")
    means = candidates["mean"] if higher_is_better else -candidates["mean"]
    return means.idxmax()  # the first of equal maxima: the earliest setting


def chosen_settings(tuning: Tuning, frame: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """activation -> its chosen setting (the grid's keys and values)."""
    chosen = frame[frame["chosen"]].set_index("activation")["setting"]
    return {act: tuning.settings[int(chosen[act])] for act in tuning.base.activations}
