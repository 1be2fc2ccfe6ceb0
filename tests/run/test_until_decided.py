"""run --until-decided: the looks, the decisions read back from the store, their file, the
rerun that reaches the same decisions, and its one-line errors."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_runner import cli
from scipy import stats as scipy_stats

from actbench.api import Metric
from actbench.report.sequential import Design, spent
from actbench.run.stopping import StoppingRule
from actbench.run.until_decided import decide, rule_text


def synthetic(shift: dict[str, float], seeds: int, sd: float = 0.3) -> pd.DataFrame:
    """Per-seed values: the baseline around 97, each activation shifted, noise per seed."""
    rng = np.random.default_rng(4)
    base = 97 + rng.normal(0, 0.5, seeds)
    rows = [("relu", s, v) for s, v in enumerate(base)]
    for act, delta in shift.items():
        rows += [(act, s, v + delta + rng.normal(0, sd)) for s, v in enumerate(base)]
    return pd.DataFrame(rows, columns=["activation", "seed", "value"])


def test_a_clear_difference_is_decided_at_an_early_look_and_a_small_one_is_not():
    design = Design(0.025, (4, 8, 12), margin=None)
    values = synthetic({"identity": -2.5, "gelu": 0.1}, 12)
    early = decide(values, "identity", "relu", 1, design, higher_is_better=True)
    assert (early.verdict, early.look, early.pairs) == ("worse", 2, 8)
    assert early.low < early.delta_mean < early.high < 0
    close = decide(values, "gelu", "relu", 2, design, higher_is_better=True)
    assert (close.verdict, close.look) == ("inconclusive", None) and close.low < 0 < close.high


def test_a_lower_loss_is_decided_better_where_lower_is_better():
    design = Design(0.025, (4, 8, 12), margin=None)
    values = synthetic({"gelu": -2.5}, 12).assign(value=lambda v: v["value"] / 60)  # losses near 1.6, gelu's lower
    loss = decide(values, "gelu", "relu", 1, design, higher_is_better=False)
    assert (loss.verdict, loss.look, loss.pairs) == ("better", 2, 8)
    assert loss.low < loss.delta_mean < loss.high < 0
    assert decide(values, "gelu", "relu", 1, design, higher_is_better=True).verdict == "worse"


def test_the_rule_says_which_way_a_loss_is_better():
    rule = StoppingRule(max_repeats=12, look_every=4, baseline="relu")
    loss = Metric("final_loss", "final test loss", "final test loss", "score", higher_is_better=False)
    assert rule_text(rule, Design(0.05, (4, 8, 12)), loss, 1).startswith(
        "Metric: final test loss (lower is better). Seeds in blocks of 4 up to 12, looks at 4, 8, 12 pairs."
    )
    accuracy = Metric("final_acc", "final test accuracy (%)", "final acc", "score")
    assert rule_text(rule, Design(0.05, (4, 8, 12)), accuracy, 1).startswith(
        "Metric: final test accuracy (%). Seeds in blocks"
    )


def test_only_the_pairs_among_the_looks_seeds_count():
    design = Design(0.025, (4, 8, 12))
    values = synthetic({"gelu": 0.0}, 12)
    values = values[~((values["activation"] == "gelu") & (values["seed"] == 2))]  # a failed trial
    assert decide(values, "gelu", "relu", 0, design, True).pairs == 3
    few = decide(values[values["seed"] < 3], "gelu", "relu", 0, design, True)
    assert (few.verdict, few.pairs, math.isnan(few.low)) == ("inconclusive", 2, True)


def issue_example(missing_seed: int) -> pd.DataFrame:
    """6 baseline seeds, the activation's trial on ``missing_seed`` lost: 5 pairs whose
    differences are 1, 1.3, 0.9, 1.2, 0.2 (t = 4.757 on 4 df)."""
    base = [("relu", s, 90.0) for s in range(6)]
    seeds = [s for s in range(6) if s != missing_seed]
    other = [("gelu", s, 90.0 + d) for s, d in zip(seeds, [1, 1.3, 0.9, 1.2, 0.2])]
    return pd.DataFrame(base + other, columns=["activation", "seed", "value"])


def test_a_look_with_a_lost_pair_is_judged_against_the_boundary_for_the_pairs_it_has():
    design = Design(0.05, (3, 6, 9, 12))
    t = np.mean([1, 1.3, 0.9, 1.2, 0.2]) / (np.std([1, 1.3, 0.9, 1.2, 0.2], ddof=1) / math.sqrt(5))
    assert t == pytest.approx(4.757, abs=1e-3) and t > design.boundaries[1]  # the planned 6 pairs' boundary
    late = decide(issue_example(5), "gelu", "relu", 1, design, True)  # looks had 3, then 5 pairs
    assert (late.verdict, late.pairs, late.boundary) == ("inconclusive", 5, design.boundaries_at((3, 5))[1])
    assert late.boundary > t
    early = decide(issue_example(0), "gelu", "relu", 1, design, True)  # 2 pairs at the first look: untested
    assert early.boundary == pytest.approx(scipy_stats.t.isf(spent(5 / 12, 0.05) / 2, 4), rel=1e-12)
    assert early.verdict == "inconclusive" and early.low < 0 < early.high


def test_the_rule_says_which_number_of_plan_to_use():
    rule = StoppingRule(max_repeats=12, look_every=4, baseline="relu")
    metric = Metric("final_acc", "final test accuracy (%)", "final acc", "score")
    text = rule_text(rule, Design(0.05, (4, 8, 12)), metric, 1)
    assert text.endswith(
        "Inconclusive: undecided after the last look. The looks cost power: for --max-repeats use the "
        "until-decided budget of actbench plan --look-every 4, not its fixed-design seeds."
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (["--until-decided"], "--until-decided needs --max-repeats N, the most seeds it may use"),
        (
            ["--until-decided", "--max-repeats", "6", "--repeats", "2"],
            "--until-decided chooses the seeds itself: give --max-repeats, not --repeats or --seeds",
        ),
        (["--margin", "0.5"], "--margin applies to --until-decided only"),
        (
            ["--until-decided", "--max-repeats", "6", "--baseline", "silu"],
            "--baseline silu is not among the run's activations: relu, gelu",
        ),
        (["--until-decided", "--max-repeats", "2"], "--max-repeats must be at least 3, got 2"),
        (
            ["--until-decided", "--max-repeats", "6", "--look-every", "7"],
            "--look-every must be between 1 and --max-repeats (6), got 7",
        ),
        (
            ["--until-decided", "--max-repeats", "6", "--metric", "tta_acc"],
            "task mnist-mini records no metric 'tta_acc'; compare one of: final_acc, best_acc, late_mean, final_loss",
        ),
    ],
)
def test_bad_stopping_rules_are_one_line_before_anything_trains(args, message):
    result = cli("run", "--task", "mnist-mini", "--acts", "relu,gelu", *args)
    assert (result.exit_code, result.stderr.strip()) == (2, f"error: {message}")
    assert not Path("results").exists()


@pytest.mark.slow
def test_identity_stops_early_against_relu_while_gelu_gets_every_seed():
    args = [
        "run",
        "--task",
        "mnist-mini",
        "--acts",
        "relu,identity,gelu",
        "--epochs",
        "3",
        "--until-decided",
        "--max-repeats",
        "12",
        "--look-every",
        "4",
        "-q",
    ]
    first = cli(*args)
    assert first.exit_code == 0, first.output
    (written,) = Path("results/mnist-mini").glob("decisions-*.json")
    decisions = {d["activation"]: d for d in json.loads(written.read_text())["decisions"]}
    assert decisions["identity"]["verdict"] == "worse" and decisions["identity"]["look"] < 3
    assert decisions["gelu"]["pairs"] == 12  # not decided early: it had every seed
    from actbench.results.store import ResultStore

    with ResultStore(Path("results"), create=False) as store:
        counts = store.trials().groupby("activation")["seed"].nunique().to_dict()
    identity_seeds = 4 * decisions["identity"]["look"]
    assert counts == {"relu": 12, "gelu": 12, "identity": identity_seeds}  # the baseline keeps every seed
    again = cli(*args[:-1])  # without -q: it says what it trained
    assert again.exit_code == 0
    assert json.loads(written.read_text())["decisions"] == list(decisions.values())  # the same decisions
    assert "done: 0 trial(s) stored" in again.stderr
    report = cli("report", "--format", "md")
    assert "run --until-decided" in report.stdout and "| identity | worse | " in report.stdout
