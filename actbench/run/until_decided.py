"""``actbench run --until-decided``: seeds in blocks, a look after each, until every
activation is decided against the baseline or the seed budget is spent.

Look k trains seeds 0..n_k − 1 of the baseline (every comparison pairs with it) and of
the activations still undecided, then compares each of those with the baseline on its
pairs so far with the group-sequential design of actbench.report.sequential: better,
worse, or equivalent within ±margin, else on to the next block; undecided after the
last look is inconclusive. A seed whose trial failed or diverged is no pair, so the
boundary at each look is the one for the pairs that look and the earlier ones actually
had (those among seeds 0..n_j − 1 at look j). Everything is read back from the store,
so a rerun of the same command trains nothing it has and reaches the same decisions at
the same looks.
The decisions are written beside the report (RESULTS/TASK/decisions-HASH.md, .json).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from actbench.api import Metric
from actbench.report import stats
from actbench.report.decisions import decisions_path
from actbench.report.metrics import direction
from actbench.report.sequential import MIN_PAIRS, Design, look_schedule, verdicts
from actbench.results.store import ResultStore
from actbench.run.config import RunConfig
from actbench.run.runner import Reporter, RunOutcome, execute
from actbench.run.stopping import StoppingRule, check_rule
from actbench.tasks import get_task


@dataclass(frozen=True)
class Decision:
    activation: str
    verdict: str  # better, worse, equivalent, inconclusive
    look: int | None  # 1-based look it was decided at; None: inconclusive
    pairs: int  # paired seeds it was decided on (or had at the end)
    delta_mean: float  # activation − baseline
    low: float  # the repeated confidence interval at that look (covers at every look at once)
    high: float
    boundary: float = math.nan  # on |t| at that look, for the pairs the looks so far had


@dataclass
class Decided:
    """What run_until_decided did: the looks' runs as one outcome (over the distinct trials
    they asked for), the decisions, the design and metric they were made with, and the
    file they were written to (markdown; a JSON twin beside it)."""

    outcome: RunOutcome
    decisions: list[Decision]
    design: Design
    metric: Metric
    path: Path


def run_until_decided(config: RunConfig, rule: StoppingRule, reporter: Reporter) -> Decided:
    """Train look by look, deciding after each (see the module docstring)."""
    metric = check_rule(config, rule)
    comparisons = len(config.activations) - 1  # Bonferroni: each at alpha / comparisons
    design = Design(rule.alpha / comparisons, tuple(look_schedule(rule.look_every, rule.max_repeats)), rule.margin)
    open_ = [a for a in config.activations if a != rule.baseline]
    decided: dict[str, Decision] = {}  # the decisions made, then the last look's for those still open
    asked: set[tuple] = set()
    outcome = RunOutcome(total=0, skipped=0)
    for look, n in enumerate(design.looks):
        this_look = replace(config, activations=[rule.baseline, *open_], seeds=list(range(n)))
        asked |= {t.key for t in this_look.trials()}
        ran = execute(this_look, reporter)
        for field in ("stored", "diverged", "failed", "stored_elsewhere", "by_others"):
            setattr(outcome, field, getattr(outcome, field) + getattr(ran, field))
        values = finished_values(config, metric)
        for act in list(open_):
            decided[act] = decide(values, act, rule.baseline, look, design, metric.higher_is_better)
            if decided[act].verdict != "inconclusive":
                open_.remove(act)
        if not open_:
            break
    decisions = [decided[a] for a in config.activations if a != rule.baseline]
    outcome.total = len(asked)
    outcome.skipped = outcome.total - outcome.stored - outcome.stored_elsewhere - outcome.by_others
    return Decided(outcome, decisions, design, metric, write_decisions(config, rule, design, metric, decisions))


def finished_values(config: RunConfig, metric: Metric) -> pd.DataFrame:
    """activation, seed, value of the run's finished (ok) trials in the store."""
    hashes = {trial.config_hash for trial in config.trials()}  # one per activation in a tuned run
    with ResultStore(config.results_dir, create=False) as store:
        epochs = store.epochs()
    rows = epochs[(epochs["task"] == config.task) & epochs["config_hash"].isin(hashes)]
    trials = stats.per_trial(rows, get_task(config.task).metrics)
    finished = trials[trials["status"] == "ok"]
    return finished.rename(columns={metric.name: "value"})[["activation", "seed", "value"]]


def decide(
    values: pd.DataFrame, activation: str, baseline: str, look: int, design: Design, higher_is_better: bool
) -> Decision:
    """``activation`` against ``baseline`` at ``look`` (0-based), on their pairs among seeds
    0..design.looks[look] − 1, against the boundary for the pairs each look so far had."""
    seeds = design.looks[look]

    def by_seed(act: str) -> pd.Series:
        mine = values[(values["activation"] == act) & (values["seed"] < seeds)]
        return mine.set_index("seed")["value"]

    base, other = by_seed(baseline), by_seed(activation)
    common = other.index.intersection(base.index)
    diff = (other[common] - base[common]).to_numpy(dtype=float)
    if len(diff) < MIN_PAIRS:
        mean = float(diff.mean()) if len(diff) else math.nan
        return Decision(activation, "inconclusive", None, len(diff), mean, math.nan, math.nan)
    # The pairs each look had, from the store as it is: a rerun sees the same history.
    history = tuple(int((common < n).sum()) for n in design.looks[: look + 1])
    boundary = design.boundaries_at(history)[-1]
    low, high, verdict = verdicts(
        np.array([diff.mean()]),
        np.array([diff.std(ddof=1)]),
        np.array([len(diff)]),
        np.array([boundary]),
        design.margin,
        higher_is_better,
    )
    found = str(verdict[0]) or "inconclusive"
    return Decision(
        activation,
        found,
        look + 1 if found != "inconclusive" else None,
        len(diff),
        float(diff.mean()),
        float(low[0]),
        float(high[0]),
        boundary,
    )


def rule_text(rule: StoppingRule, design: Design, metric: Metric, comparisons: int) -> str:
    margin = f", or equivalent when it lies inside ±{rule.margin:g}" if rule.margin is not None else ""
    return (
        f"Metric: {metric.label}{direction(metric)}. Seeds in blocks of {rule.look_every} up to "
        f"{rule.max_repeats}, looks at "
        f"{', '.join(map(str, design.looks))} pairs. Group-sequential design: Lan-DeMets O'Brien-Fleming-type "
        f"spending of α = {rule.alpha:g} / {comparisons} = {design.alpha:.4g} per comparison (Bonferroni over "
        f"{comparisons}), boundaries on the paired t statistic for the pairs each look had (a failed or "
        f"diverged trial's seed is no pair); an activation is better or worse when its repeated confidence "
        f"interval (Jennison & Turnbull 1989), shown, excludes 0{margin}. The intervals cover the true "
        f"difference at every look at once, so each comparison's error is at most {design.alpha:.4g} (pairs "
        f"missing at random). Inconclusive: undecided after the last look. The looks cost power: for "
        f"--max-repeats use the until-decided budget of actbench plan --look-every {rule.look_every}, "
        f"not its fixed-design seeds."
    )


def decisions_rows(decisions: list[Decision], design: Design) -> list[dict[str, str]]:
    rows = []
    level = f"repeated {100 * (1 - design.alpha):.4g}% interval"
    for d in decisions:
        interval = "–" if math.isnan(d.low) else f"[{d.low:+.3f}, {d.high:+.3f}]"
        look = f"{d.look} of {len(design.looks)}" if d.look else "–"
        rows.append(
            {
                "activation": d.activation,
                "decision": d.verdict,
                "look": look,
                "pairs": str(d.pairs),
                "Δ mean": "–" if math.isnan(d.delta_mean) else f"{d.delta_mean:+.3f}",
                level: interval,
            }
        )
    return rows


def write_decisions(
    config: RunConfig, rule: StoppingRule, design: Design, metric: Metric, decisions: list[Decision]
) -> Path:
    from actbench.report.render import markdown_table

    path = decisions_path(config.results_dir, config.task, config.protocol)
    path.parent.mkdir(parents=True, exist_ok=True)
    comparisons = len(config.activations) - 1
    table = "\n".join(markdown_table(decisions_rows(decisions, design)))
    text = f"## {config.task}: against {rule.baseline}\n\n{table}\n"
    path.write_text(text + "\n" + rule_text(rule, design, metric, comparisons) + "\n")
    payload = {
        "rule": asdict(rule),
        "looks": list(design.looks),
        "boundaries": list(design.boundaries),
        "alpha_per_comparison": design.alpha,
        "decisions": [asdict(d) for d in decisions],
    }
    path.with_suffix(".json").write_text(json.dumps(payload, indent=2, allow_nan=True) + "\n")
    return path
