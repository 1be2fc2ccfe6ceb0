"""What a population member costs: its activation's measured seconds plus an equal share of
the rest (actbench.tasks.costs), not an equal share of everything. A plug-in that computes
ReLU and sleeps trains the same members as relu and must come out dearer, in the store,
the time to target and the Pareto front."""

from __future__ import annotations

import math
import time
from pathlib import Path

import pytest
from cli_runner import cli

from actbench.api import EpochMetrics
from actbench.report import cost
from actbench.report.build import CompareSpec, build_reports
from actbench.results.store import ResultStore
from actbench.run.engines.population import member_seconds
from actbench.tasks.costs import METHOD, OWN_SECONDS, SET_ASIDE_SECONDS

SLEEP_MS = 20  # fakes:Slow's sleep per forward call (one call per hidden layer and step for its whole group)
TRAIN_ROWS, BATCH, HIDDEN_LAYERS, SEEDS = 5000, 64, 2, 2  # mnist-mini's training split and recipe


def test_a_member_is_charged_its_own_seconds_and_an_equal_share_of_the_rest():
    extra = {"tta_acc": 96.0, OWN_SECONDS: 2.0, SET_ASIDE_SECONDS: 4.0}
    # The population's 10 s: 4 set aside (activations and measuring), the other 6 over 3 members.
    charged = member_seconds(EpochMetrics(2, 0.1, 0.2, 97.0, extra=extra, elapsed_s=10.0), 3)
    assert charged.elapsed_s == pytest.approx(6 / 3 + 2)
    assert charged.extra == {"tta_acc": 96.0}  # the cost keys are the engine's, never stored
    unmeasured = EpochMetrics(2, 0.1, 0.2, 97.0, elapsed_s=10.0)
    assert member_seconds(unmeasured, 4).elapsed_s == pytest.approx(2.5)  # a trainer that measures nothing
    # Measured apart from the step, activations could exceed the whole: the rest is never negative.
    overcharged = EpochMetrics(2, 0.1, 0.2, 97.0, elapsed_s=3.0, extra={OWN_SECONDS: 1.5, SET_ASIDE_SECONDS: 4.0})
    assert member_seconds(overcharged, 2).elapsed_s == 1.5


def test_a_slow_plug_in_costs_more_than_relu_in_one_population():
    start = time.perf_counter()
    acts = f"relu,gelu,fakes:Slow(ms={SLEEP_MS})"
    args = ["--repeats", str(SEEDS), "--epochs", "1", "--engine", "population", "-q"]
    ran = cli("run", "--task", "mnist-mini", "--acts", acts, *args)
    population_seconds = time.perf_counter() - start
    assert ran.exit_code == 0, ran.output
    spec = CompareSpec(formats=frozenset({"md"}), targets={"*": 50.0})
    with ResultStore(Path("results")) as store:
        trials, epochs = store.trials(), store.epochs()
        (report,) = build_reports(store, None, None, spec)
    assert set(trials["engine"]) == {"population"} and len(trials) == 3 * SEEDS
    slow = next(a for a in trials["activation"] if a.startswith("fakes:Slow"))
    # Its sleeps alone, over its members: at least this much of its own on top of relu's.
    slept = math.ceil(TRAIN_ROWS / BATCH) * HIDDEN_LAYERS * SLEEP_MS / 1000 / SEEDS
    wall = trials.set_index(["activation", "seed"])["wall_time_s"]
    for seed in range(SEEDS):
        assert wall[slow, seed] - wall["relu", seed] > 0.5 * slept
    # A member's wall time is its last epoch's seconds; together they are the population's
    # time at most (the measuring left out).
    stamped = epochs[["trial_id", "elapsed_s"]].merge(
        trials[["id", "activation", "seed"]], left_on="trial_id", right_on="id"
    )
    last = stamped.set_index(["activation", "seed"])["elapsed_s"]  # one epoch: the last
    assert (last.sort_index() == wall.sort_index()).all()
    assert 0.5 * population_seconds < wall.sum() < population_seconds

    points = cost.cost_points(report.values, higher_is_better=True).set_index("activation")
    # Slow computes ReLU: the same members, the same accuracy, so only its cost tells them apart.
    assert points.loc[slow, "value_mean"] == points.loc["relu", "value_mean"]
    assert points.loc[slow, "seconds_mean"] > points.loc["relu", "seconds_mean"] + 0.5 * slept
    # relu dominates it (gelu may beat relu on both: their costs differ by the measurement's noise)
    assert not points.loc[slow, "on_front"]
    assert points["seconds_mean"].nunique() == 3  # each activation its own cost, no equal shares

    to_target = report.time_to_target.set_index("activation")["seconds_mean"]
    assert to_target[slow] > to_target["relu"] + 0.5 * slept
    rows = {row["activation"]: row for row in cost.target_rows(report.time_to_target, 50.0)}
    assert rows["relu"]["epochs to 50%"] == rows[slow]["epochs to 50%"] == "all at epoch 1"
    assert METHOD in cost.target_note(50.0)
