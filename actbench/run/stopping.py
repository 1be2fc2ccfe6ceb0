"""The stopping rule of ``actbench run --until-decided``: its options, their defaults, and
the checks they pass before anything trains (until_decided.py runs the looks). Imports
nothing heavy at load: the command line reads the defaults for its help."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from actbench.activations import default_baseline, parse_activation
from actbench.bounds import require_positive, require_probability
from actbench.errors import UsageError
from actbench.report.metrics import comparable_metrics
from actbench.tasks import get_task

if TYPE_CHECKING:
    from actbench.api import Metric
    from actbench.run.config import RunConfig

LOOK_EVERY = 5  # seeds added between looks
ALPHA = 0.05  # the error rate of the whole table


@dataclass(frozen=True)
class StoppingRule:
    max_repeats: int  # seeds 0..max_repeats − 1 at most
    look_every: int  # seeds added between looks
    baseline: str  # canonical spec, one of the run's activations
    metric: str | None = None  # None: the task's headline
    margin: float | None = None  # equivalence margin, in the metric's unit
    alpha: float = ALPHA  # for the whole table: each comparison at alpha / comparisons


def check_options(until_decided: bool, options: dict[str, Any], repeats: int | None, seeds: Any) -> None:
    """The rule's options (flag -> value; None: not given) against the run's: given only
    with --until-decided, which needs --max-repeats and chooses the seeds itself."""
    if not until_decided:
        given = [flag for flag, value in options.items() if value is not None]
        if given:
            raise UsageError(f"{given[0]} applies to --until-decided only")
    elif options["--max-repeats"] is None:
        raise UsageError("--until-decided needs --max-repeats N, the most seeds it may use")
    elif repeats is not None or seeds is not None:
        raise UsageError("--until-decided chooses the seeds itself: give --max-repeats, not --repeats or --seeds")


def stopping_rule(
    config: RunConfig,
    look_every: int | None = None,
    margin: float | None = None,
    baseline: str | None = None,
    metric: str | None = None,
    alpha: float | None = None,
) -> StoppingRule:
    """The rule for ``config`` (its seeds: 0..max_repeats − 1), None taking the default;
    checked against the run."""
    base = parse_activation(baseline).canonical if baseline else default_baseline(config.activations)
    every = LOOK_EVERY if look_every is None else look_every  # 0 is refused by check_rule, not taken as "not given"
    rule = StoppingRule(len(config.seeds), every, base, metric, margin, ALPHA if alpha is None else alpha)
    check_rule(config, rule)
    return rule


def check_rule(config: RunConfig, rule: StoppingRule) -> Metric:
    """The rule against the run; the metric compared."""
    from actbench.report.sequential import MIN_PAIRS  # with scipy: not at the command line's start

    if rule.baseline not in config.activations:
        raise UsageError(
            f"--baseline {rule.baseline} is not among the run's activations: {', '.join(config.activations)}"
        )
    if len(config.activations) < 2:
        raise UsageError("--until-decided needs at least one activation besides the baseline")
    if rule.max_repeats < MIN_PAIRS:
        raise UsageError(f"--max-repeats must be at least {MIN_PAIRS}, got {rule.max_repeats}")
    if not 1 <= rule.look_every <= rule.max_repeats:
        raise UsageError(
            f"--look-every must be between 1 and --max-repeats ({rule.max_repeats}), got {rule.look_every}"
        )
    require_positive("--margin", rule.margin)
    require_probability("--alpha", rule.alpha)
    task = get_task(config.task)
    comparable = comparable_metrics(task.metrics)
    name = rule.metric or task.headline
    if name not in comparable:
        raise UsageError(f"task {task.name} records no metric {name!r}; compare one of: {', '.join(comparable)}")
    return comparable[name]
