"""What an activation costs: time to a target on stored curves with known answers, the
summary's numbers by hand, the Pareto front by hand and as a property, and the figure."""

import math
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from fakes import fake_result
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as scipy_stats

from actbench.api import EpochMetrics
from actbench.errors import UsageError
from actbench.report import cost
from actbench.report.build import CompareSpec, build_reports
from actbench.report.figures import plot_cost
from actbench.results.store import ResultStore


def stored(activation, seed, accs, elapsed=None, *, status="ok", wall=10.0, losses=None):
    """A trial with these per-epoch accuracies (and test losses) and elapsed seconds (None:
    a store from before they were recorded); a diverged one's last epoch has a NaN loss."""
    losses = losses or [0.5] * len(accs)
    epochs = [
        EpochMetrics(
            i,
            math.nan if status == "diverged" and i == len(accs) else 0.5,
            loss,
            acc,
            elapsed_s=None if elapsed is None else elapsed[i - 1],
        )
        for i, (acc, loss) in enumerate(zip(accs, losses), start=1)
    ]
    result = replace(fake_result(activation, seed, accs, wall=wall), epochs=epochs, status=status)
    if status == "diverged":
        return replace(result, diverged_epoch=len(accs))
    return replace(result, error="RuntimeError: boom") if status == "failed" else result


def frames(*results):
    with ResultStore(Path("results")) as store:
        for result in results:
            store.add(result)
        return store.epochs(), store.trials()


def test_time_to_target_on_curves_with_known_answers():
    epochs, trials = frames(
        stored("relu", 0, [90, 95, 97.5, 98], [2, 4, 6.5, 8]),  # exactly 97.5 at epoch 3
        stored("relu", 1, [90, 96, 97.4], [2, 4, 6]),  # never
        stored("gelu", 0, [96, 97.6, 99], [1.5, 3, 4.5], status="diverged"),  # at 2, before diverging at 3
        stored("gelu", 1, [96, 99], [1.5, 3], status="diverged"),  # only on the epoch it diverged
        stored("silu", 0, [98, 99], [1, 2], status="failed"),  # left out
        stored("mish", 0, [97, 97.6, 98, 98.5], None, wall=20.0),  # old store: 20 s × 2 / 4 epochs
    )
    got = cost.time_to_target(epochs, trials, 97.5)
    expected = pd.DataFrame(
        [
            ("relu", 0, True, 3.0, 6.5, False),
            ("relu", 1, False, math.nan, math.nan, False),
            ("gelu", 0, True, 2.0, 3.0, False),
            ("gelu", 1, False, math.nan, math.nan, False),
            ("mish", 0, True, 2.0, 10.0, True),
        ],
        columns=cost.PER_TRIAL_COLUMNS[1:],
    )
    assert list(got.columns) == cost.PER_TRIAL_COLUMNS
    pd.testing.assert_frame_equal(got.drop(columns="trial_id"), expected)


def test_time_to_a_lower_is_better_target_and_bad_targets():
    # A store from before per-epoch seconds: no elapsed_s and no diverged_epoch anywhere.
    epochs, trials = frames(stored("relu", 0, [90, 91, 92], None, wall=9.0, losses=[0.4, 0.2, 0.1]))
    got = cost.time_to_target(epochs, trials, 0.2, metric="test_loss", higher_is_better=False)
    assert got.loc[0, ["epochs_to_target", "seconds_to_target", "estimated"]].tolist() == [2.0, 6.0, True]
    for bad in (math.nan, math.inf):
        with pytest.raises(UsageError, match=f"the target must be a finite number, got {bad}"):
            cost.time_to_target(epochs, trials, bad)
    with pytest.raises(UsageError, match="no per-epoch metric 'final_acc' stored; the epochs have: trial_id, "):
        cost.time_to_target(epochs, trials, 97.5, metric="final_acc")


def per_trial(table):
    """{activation: [(epochs, seconds, estimated) or None (not reached), ...]} as time_to_target rows."""
    rows = []
    for act, hits in table.items():
        for seed, hit in enumerate(hits):
            epochs, seconds, estimated = hit or (math.nan, math.nan, False)
            rows.append((len(rows), act, seed, hit is not None, epochs, seconds, estimated))
    return pd.DataFrame(rows, columns=cost.PER_TRIAL_COLUMNS)


def test_summary_means_intervals_and_medians_by_hand():
    summary = cost.summarise_time_to_target(
        per_trial(
            {
                "relu": [(3, 6.0, False), (4, 8.0, False), (5, 13.0, False), None],
                "gelu": [(2, 5.0, True), None],
                "silu": [None, None],
                "mish": [(1, 1.0, False)],  # not in the order given: after the others
            }
        ),
        ["relu", "gelu", "silu", "tanh"],
    )
    assert list(summary["activation"]) == ["relu", "gelu", "silu", "tanh", "mish"]
    relu = summary.iloc[0]
    assert (relu["trials"], relu["reached"], relu["estimated"]) == (4, 3, False)
    # Seconds 6, 8, 13: mean 9, sample std √13; t(0.975, 2 df) = 4.302653.
    half = 4.302653 * math.sqrt(13) / math.sqrt(3)
    assert (relu["seconds_low"], relu["seconds_high"]) == pytest.approx((9 - half, 9 + half), abs=1e-5)
    assert (relu["seconds_low"], relu["seconds_high"]) == pytest.approx(
        scipy_stats.t.interval(0.95, 2, loc=9, scale=math.sqrt(13 / 3))
    )
    assert (relu["seconds_mean"], relu["seconds_median"], relu["epochs_mean"], relu["epochs_median"]) == (9, 8, 4, 4)
    assert relu["epochs_high"] - 4 == pytest.approx(4.302653 / math.sqrt(3), rel=1e-6)
    gelu = summary.iloc[1]  # one trial reached it: a mean, no interval
    assert (gelu["reached"], gelu["seconds_mean"], gelu["estimated"]) == (1, 5.0, True)
    assert math.isnan(gelu["seconds_low"]) and math.isnan(gelu["seconds_high"])
    assert summary.iloc[2][["trials", "reached"]].tolist() == [2, 0] and math.isnan(summary.iloc[2]["seconds_mean"])
    assert summary.iloc[3][["trials", "reached"]].tolist() == [0, 0]

    rows = cost.target_rows(summary.iloc[:3], 97.5)
    assert rows == [
        {
            "activation": "relu",
            "reached 97.5%": "3 of 4",
            "epochs to 97.5%": f"4.0 [{4 - 2.484:.1f}, {4 + 2.484:.1f}]",
            "seconds to 97.5%": f"9.0 [{9 - half:.1f}, {9 + half:.1f}]",
        },
        {
            "activation": "gelu",
            "reached 97.5%": "1 of 2",
            "epochs to 97.5%": "2.0 (n=1, no CI)",
            "seconds to 97.5%": "5.0 (n=1, no CI) (estimated)",
        },
        {
            "activation": "silu",
            "reached 97.5%": "0 of 2",
            "epochs to 97.5%": "not reached",
            "seconds to 97.5%": "not reached",
        },
    ]
    assert "over the trials that reached it only, a conditional mean" in cost.target_note(97.5)


def test_trials_that_all_took_the_same_say_so_not_a_zero_width_interval():
    relu = [(4, 0.1, False)] * 3  # 0.1 s three times: a mean of 0.10000000000000002, a std of 1e-17
    gelu = [(3, 2.5, False), (5, 2.5, True)]
    summary = cost.summarise_time_to_target(per_trial({"relu": relu, "gelu": gelu}), ["relu", "gelu"])
    assert summary.loc[0, ["seconds_mean", "seconds_low", "seconds_high"]].tolist() == [0.1, 0.1, 0.1]
    half = 12.706205 * math.sqrt(2) / math.sqrt(2)  # t(0.975, 1 df) × std / √n of epochs 3 and 5
    assert cost.target_rows(summary, 97.5) == [
        {
            "activation": "relu",
            "reached 97.5%": "3 of 3",
            "epochs to 97.5%": "all at epoch 4",
            "seconds to 97.5%": "all at 0.1 s",
        },
        {
            "activation": "gelu",
            "reached 97.5%": "2 of 2",
            "epochs to 97.5%": f"4.0 [{4 - half:.1f}, {4 + half:.1f}]",
            "seconds to 97.5%": "all at 2.5 s (estimated)",
        },
    ]


@pytest.mark.parametrize(
    ("points", "higher", "front"),
    [
        ([(1, 90), (2, 95), (3, 94)], True, [True, True, False]),  # 94 costs more than 95
        ([(1, 90), (2, 95), (2, 95)], True, [True, True, True]),  # equal points dominate neither
        ([(1, 90), (1, 91)], True, [False, True]),  # as fast, better
        ([(1, 90), (2, 90)], True, [True, False]),  # as good, faster
        ([(1, 0.5), (2, 0.3), (3, 0.4)], False, [True, True, False]),  # losses: lower is better
        ([(1, math.nan), (2, 90)], True, [False, True]),
        ([(5, 80)], True, [True]),
    ],
)
def test_pareto_front_hand_cases(points, higher, front):
    assert cost.pareto_front([s for s, _ in points], [v for _, v in points], higher) == front


def dominated_by(a, b, higher):
    """Independently of cost.py: b is as fast and as good as a, and differs."""
    better = b[1] >= a[1] if higher else b[1] <= a[1]
    return b[0] <= a[0] and better and b != a


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4)), min_size=1, max_size=8), st.booleans())
def test_pareto_front_is_undominated_and_dominates_the_rest(points, higher):
    front = cost.pareto_front([float(s) for s, _ in points], [float(v) for _, v in points], higher)
    for point, on in zip(points, front):
        dominators = [other for other, other_on in zip(points, front) if dominated_by(point, other, higher)]
        if on:
            assert not dominators
        else:  # dominance is transitive, so some front point dominates it too
            assert any(other_on for other, other_on in zip(points, front) if other in dominators)


def test_cost_figure_marks_the_front_and_is_byte_identical():
    # relu fast and good enough, gelu slow and best, silu slow and worse: not on the front.
    table = {"relu": (2.0, 97.0), "gelu": (4.0, 98.0), "silu": (4.5, 96.0)}
    with ResultStore(Path("results")) as store:
        for act, (wall, acc) in table.items():
            for seed in range(3):
                store.add(fake_result(act, seed, [90.0, acc + 0.1 * seed], wall=wall + 0.1 * seed))
        (report,) = build_reports(store, None, None, CompareSpec(formats=frozenset({"svg"})))
    points = cost.cost_points(report.values, higher_is_better=True)
    assert points[["activation", "n", "on_front"]].values.tolist() == [
        ["relu", 3, True],
        ["gelu", 3, True],
        ["silu", 3, False],
    ]
    assert points["seconds_mean"].tolist() == pytest.approx([2.1, 4.1, 4.6])
    (first,) = plot_cost(report, Path("a"))
    (second,) = plot_cost(report, Path("b"))
    svg = first.read_text()
    assert first.name == "a.svg" and "Pareto front (not dominated)" in svg
    assert "seconds per trial (training + evaluation)" in svg
    assert first.read_bytes() == second.read_bytes()
