"""What ``actbench plan`` plans: the seeds a comparison needs (design.py), for an SD given
by hand or per report of a pilot store, each activation against the report's baseline."""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from actbench.activations import stored_specs
from actbench.bounds import require_positive, require_probability
from actbench.errors import UsageError
from actbench.report.build import build_reports
from actbench.report.design import PlanRow, PlanSettings, plan_from_values, plan_row
from actbench.report.options import compare_spec
from actbench.results.store import ResultStore
from actbench.tasks import TASKS


@dataclass(frozen=True)
class Plan:
    title: str  # e.g. "mnist: seeds needed against relu"
    label: str  # the compared metric's label; "as given" with a given SD
    settings: PlanSettings
    rows: list[PlanRow]
    where: dict[str, str]  # a pilot report's task, config_hash and baseline; empty with a given SD


@dataclass(frozen=True)
class PlanOptions:
    """What a plan is asked for, checked when made (before any store is read)."""

    delta: float
    alpha: float
    power: float
    look_every: int
    sd: float | None = None  # given by hand: no pilot store is read
    comparisons: int | None = None  # None: a pilot report's activations − 1; 1 with a given SD
    margin: float | None = None

    def __post_init__(self) -> None:
        for flag, value in (("--delta", self.delta), ("--sd", self.sd), ("--margin", self.margin)):
            require_positive(flag, value)
        for flag, value in (("--alpha", self.alpha), ("--power", self.power)):
            require_probability(flag, value)
        if self.comparisons is not None and self.comparisons < 1:
            raise UsageError(f"--comparisons must be at least 1, got {self.comparisons}")
        if self.look_every < 1:
            raise UsageError(f"--look-every must be at least 1, got {self.look_every}")

    def settings(self, others: int) -> PlanSettings:
        """The settings for a table of ``others`` activations against the baseline."""
        comparisons = self.comparisons or others
        return PlanSettings(self.delta, self.alpha, self.power, comparisons, self.margin, self.look_every)


def plans(
    options: PlanOptions,
    results_dir: Path,
    task: str | None = None,
    acts: str | None = None,
    baseline: str | None = None,
    metric: str | None = None,
) -> tuple[list[Plan], list[str]]:
    """The plan for a given SD, else one per report of the pilot store in ``results_dir``
    (only ``task``, ``acts``; against ``baseline``, on ``metric``); and a note for each
    report with nothing to plan."""
    if options.sd is not None:
        settings = options.settings(1)
        rows = [plan_row("(given SD)", options.sd, settings)]
        return [Plan(f"seeds needed, SD {options.sd:g} given", "as given", settings, rows, {})], []
    activations = stored_specs(acts) if acts else None
    spec = compare_spec({"metric": metric, "baseline": baseline, "alpha": options.alpha})
    with ResultStore(results_dir, create=False) as store:
        reports = build_reports(store, TASKS.primary(task) if task else None, activations, spec)
    found, notes = [], []
    for report in reports:
        others = report.values["activation"].nunique() - 1
        if others < 1:
            notes.append(f"{report.title}: only {report.baseline} has finished trials: nothing to plan")
            continue
        settings = options.settings(others)
        found.append(
            Plan(
                f"{report.title}: seeds needed against {report.baseline}",
                report.compared.label,
                settings,
                plan_from_values(report.values, report.baseline, settings),
                {"task": report.task, "config_hash": report.config_hash, "baseline": report.baseline},
            )
        )
    return found, notes


def plans_json(plans: list[Plan]) -> str:
    payload = [
        {
            **plan.where,
            "metric": plan.label,
            "settings": dataclasses.asdict(plan.settings),
            "rows": [dataclasses.asdict(row) for row in plan.rows],
        }
        for plan in plans
    ]
    return json.dumps(_json_safe(payload), indent=2, allow_nan=False)


def _json_safe(value: Any) -> Any:
    """``value`` with every float that is not finite as None: JSON has no NaN (an SD given by
    hand has no interval) and no infinity."""
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_safe(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
