"""The report never pools two definitions of one activation, and says when its trials
come from several actbench code revisions (build_reports on fake stores)."""

from __future__ import annotations

import dataclasses

import pytest
from fakes import fake_result

from actbench.activations import stored_spec
from actbench.errors import UsageError
from actbench.report.build import CompareSpec, build_reports
from actbench.results.store import ResultStore

OLD, NEW = "0f" * 32, "a1" * 32  # two definitions of gelu
REV_A, REV_B = "git:" + "3f2a" * 10, "git:" + "9c0b" * 10 + "+dirty:" + "77" * 8


def result(activation: str, seed: int, acc: float, definition: str | None, revision: str = REV_A):
    return dataclasses.replace(fake_result(activation, seed, [acc]), definition=definition, code_revision=revision)


@pytest.fixture
def store(tmp_path):
    """relu seeds 0-3; gelu seeds 0-1 of one definition, 2-3 of another."""
    with ResultStore(tmp_path) as store:
        for seed in range(4):
            store.add(result("relu", seed, 97.0 + seed / 10, "ee" * 32))
            store.add(result("gelu", seed, 90.0 if seed < 2 else 98.0, OLD if seed < 2 else NEW))
        yield store


def test_two_definitions_of_one_activation_are_two_rows(store):
    (report,) = build_reports(store, None, None, CompareSpec())
    old, new = "gelu [def 0f0f0f0f]", "gelu [def a1a1a1a1]"
    assert report.summary["activation"].tolist() == ["relu", old, new]
    assert report.summary["n"].tolist() == [4, 2, 2]
    by_row = report.values.groupby("activation")
    assert by_row["seed"].apply(list).to_dict() == {"relu": [0, 1, 2, 3], old: [0, 1], new: [2, 3]}
    assert by_row["value"].mean()[new] == 98.0  # not the 94.0 of the four pooled
    assert report.notices == [
        f"gelu was trained under 2 definitions, shown as separate rows, never pooled: {old} (2 trials), "
        f"{new} (2 trials)."
    ]


def test_unrecorded_definitions_are_a_row_of_their_own_beside_two_recorded(tmp_path):
    with ResultStore(tmp_path) as store:
        for seed, definition in enumerate([None, OLD, NEW]):
            store.add(result("gelu", seed, 95.0, definition))
        (report,) = build_reports(store, None, None, CompareSpec())
    assert report.summary["activation"].tolist() == ["gelu [def unknown]", "gelu [def 0f0f0f0f]", "gelu [def a1a1a1a1]"]
    assert report.notices[0].endswith("('def unknown': stored before actbench recorded definitions).")


def test_trials_from_before_definitions_were_recorded_pool_with_one_definition_and_say_so(tmp_path):
    """An upgraded store: seeds stored before schema 6 and seeds after stay one row, paired."""
    with ResultStore(tmp_path) as store:
        for seed in range(4):
            store.add(result("relu", seed, 97.0, None if seed < 3 else "ee" * 32))
            store.add(result("gelu", seed, 98.0, None if seed < 3 else NEW))
        (report,) = build_reports(store, None, None, CompareSpec())
    assert report.summary["activation"].tolist() == ["relu", "gelu"]
    assert report.comparisons[1].test == "paired" and report.comparisons[1].n == 4
    assert report.notices == [
        "relu: 3 trials stored before actbench recorded definitions are pooled with 1 of definition eeeeeeee, "
        "on the assumption that it did not change.",
        "gelu: 3 trials stored before actbench recorded definitions are pooled with 1 of definition a1a1a1a1, "
        "on the assumption that it did not change.",
    ]


def test_one_definition_keeps_the_name_and_adds_no_notice(tmp_path):
    with ResultStore(tmp_path) as store:
        for seed in range(2):
            store.add(result("relu", seed, 97.0, "ee" * 32))
            store.add(result("gelu", seed, 98.0, NEW))
        (report,) = build_reports(store, None, None, CompareSpec())
    assert report.summary["activation"].tolist() == ["relu", "gelu"] and report.notices == []


def test_activations_and_baseline_name_definitions(store):
    every = build_reports(store, None, [stored_spec("gelu")], CompareSpec())[0]
    assert every.summary["activation"].tolist() == ["gelu [def 0f0f0f0f]", "gelu [def a1a1a1a1]"]
    one = build_reports(store, None, ["relu", stored_spec("gelu [def a1a1a1a1]")], CompareSpec())[0]
    assert one.summary["activation"].tolist() == ["relu", "gelu [def a1a1a1a1]"]
    against = build_reports(store, None, None, CompareSpec(baseline="gelu [def a1a1a1a1]"))[0]
    assert against.baseline == "gelu [def a1a1a1a1]"
    with pytest.raises(UsageError) as info:
        build_reports(store, None, None, CompareSpec(baseline="gelu"))
    assert str(info.value) == (
        f"baseline gelu names 2 activations in mnist-mini [{every.config_hash[:8]}]: "
        "gelu [def 0f0f0f0f], gelu [def a1a1a1a1]; give one of them"
    )


def test_trials_from_several_code_revisions_are_named_with_what_each_made(tmp_path):
    with ResultStore(tmp_path) as store:
        for seed in range(2):
            store.add(result("relu", seed, 97.0, "ee" * 32))
            store.add(result("gelu", seed, 98.0, NEW))
        store.add(result("gelu", 2, 98.0, NEW, revision=REV_B))
        store.add(result("relu", 2, 97.0, "ee" * 32, revision=None))  # stored before schema 3
        (report,) = build_reports(store, None, None, CompareSpec())
    assert report.notices == [
        "Trials from 3 code revisions: git:3f2a3f2a (relu, gelu: 4 trials), git:9c0b9c0b+dirty:77777777 "
        "(gelu: 1 trial), unknown (relu: 1 trial)."
    ]
