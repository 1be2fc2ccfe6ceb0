"""Comparisons against a baseline: hand-computed cases, SciPy as the reference, Holm by the book."""

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_runner import cli
from fakes import fake_result
from scipy import stats as scipy_stats

from actbench.report import stats
from actbench.results.store import ResultStore

# Per-seed differences of a made-up activation against its baseline, 10 seeds.
DIFFS = np.array([0.1, 0.3, -0.2, 0.4, 0.5, 0.1, 0.2, 0.0, 0.3, 0.25])
BASE = np.array([97.1, 97.4, 96.9, 97.3, 97.0, 97.2, 97.5, 97.1, 96.8, 97.3])


def values(table: dict[str, tuple[list[int], list[float]]]) -> pd.DataFrame:
    return pd.DataFrame(
        [(act, seed, v) for act, (seeds, vals) in table.items() for seed, v in zip(seeds, vals)],
        columns=["activation", "seed", "value"],
    )


def test_paired_comparison_matches_hand_computed_values():
    seeds = list(range(10))
    relu, gelu = stats.compare_to_baseline(
        values({"relu": (seeds, BASE), "gelu": (seeds, BASE + DIFFS)}), "relu", alpha=0.05
    )
    assert relu.test == "baseline" and math.isnan(relu.p_ttest)
    assert gelu.test == "paired" and gelu.n == 10
    assert gelu.delta_mean == pytest.approx(0.195)  # mean of DIFFS
    # t = mean / (sd / √n) = 0.195 / (0.20337 / √10) = 3.0321 on 9 degrees of freedom.
    assert gelu.p_ttest == pytest.approx(0.0141991, abs=1e-6)
    # Wilcoxon: the zero is dropped; of the other 9, |-0.2| ties with 0.2 for ranks 3 and 4
    # (3.5 each) and is the only negative one: W = 3.5, two-sided p = 12/512 = 0.0234375.
    assert gelu.p_wilcoxon == pytest.approx(0.0234375)
    assert gelu.p_holm == gelu.p_ttest  # one comparison: Holm changes nothing
    assert gelu.significant
    # One comparison: the plain 95% paired t-interval, 0.195 ± t(0.975, 9) · se = 0.195 ± 2.26216 · 0.064313.
    assert (gelu.ci_low, gelu.ci_high) == pytest.approx((0.0495148, 0.3404852), abs=1e-6)
    assert gelu.ci_level == 0.95 and gelu.ci_method == "95% t-intervals" and not gelu.step_down_only
    assert gelu.mean == pytest.approx((BASE + DIFFS).mean())
    assert gelu.std == pytest.approx((BASE + DIFFS).std(ddof=1))


def test_paired_comparison_agrees_with_scipy_and_is_reproducible():
    rng = np.random.default_rng(7)
    base, other = rng.normal(97, 0.2, 8), rng.normal(97.1, 0.2, 8)
    table = values({"relu": (list(range(8)), base), "silu": (list(range(8)), other)})
    first = stats.compare_to_baseline(table, "relu", 0.05)[1]
    assert first.p_ttest == pytest.approx(scipy_stats.ttest_rel(other, base).pvalue)
    assert first.p_wilcoxon == pytest.approx(scipy_stats.wilcoxon(other - base).pvalue)
    reference = scipy_stats.ttest_rel(other, base).confidence_interval(0.95)
    assert (first.ci_low, first.ci_high) == pytest.approx((reference.low, reference.high))
    assert stats.compare_to_baseline(table, "relu", 0.05)[1] == first


def test_pairs_follow_the_seed_not_the_row_order():
    shuffled = values({"relu": ([0, 1, 2, 3], [1.0, 2.0, 3.0, 4.0]), "gelu": ([3, 2, 1, 0], [4.5, 3.5, 2.5, 1.5])})
    gelu = stats.compare_to_baseline(shuffled, "relu", 0.05)[1]
    assert gelu.test == "paired" and gelu.delta_mean == pytest.approx(0.5)
    assert gelu.note == "identical differences on every seed: no test" and math.isnan(gelu.p_ttest)


def test_holm_step_down_textbook_example():
    # Holm (1979): sorted p 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 = 0.02, 0.03, 0.06, 0.04,
    # made non-decreasing: 0.02, 0.03, 0.06, 0.06; returned in the input order.
    assert stats.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert stats.holm([0.5, math.nan, 0.6]) == pytest.approx([1.0, math.nan, 1.0], nan_ok=True)
    assert stats.holm([]) == []


def test_different_seed_sets_fall_back_to_welch():
    table = values({"relu": ([0, 1, 2, 3], [97.0, 97.2, 96.9, 97.1]), "gelu": ([0, 1, 2, 4], [97.3, 97.5, 97.2, 97.6])})
    gelu = stats.compare_to_baseline(table, "relu", 0.05)[1]
    assert gelu.test == "welch"
    assert gelu.note == "seed sets differ (gelu: seeds 0–2, 4; relu: 0–3): Welch's t-test, unpaired"
    expected = scipy_stats.ttest_ind([97.3, 97.5, 97.2, 97.6], [97.0, 97.2, 96.9, 97.1], equal_var=False)
    assert gelu.p_ttest == pytest.approx(expected.pvalue)
    assert (gelu.ci_low, gelu.ci_high) == pytest.approx(tuple(expected.confidence_interval(0.95)))
    assert math.isnan(gelu.p_wilcoxon)
    assert gelu.delta_mean == pytest.approx(0.35)


def test_fewer_than_three_seeds_get_no_test():
    table = values({"relu": ([0, 1], [97.0, 97.2]), "gelu": ([0, 1], [97.3, 97.5]), "silu": ([0, 1, 2], [1, 2, 3])})
    _, gelu, silu = stats.compare_to_baseline(table, "relu", 0.05)
    assert gelu.test == silu.test == "none" and gelu.note == "n < 3: no test"
    assert math.isnan(gelu.p_holm) and not gelu.significant


def test_late_mean_is_the_mean_over_the_last_half_of_the_epochs(tmp_path):
    with ResultStore(tmp_path) as store:
        store.add(fake_result("relu", 0, [90.0, 91.0, 92.0, 95.0, 96.0]))  # epochs 3-5 are the last half
        store.add(fake_result("relu", 1, [80.0, 99.0]))  # epoch 2
        per_trial = stats.per_trial(store.epochs()).set_index("seed")
    assert per_trial.loc[0, "late_mean"] == pytest.approx((92 + 95 + 96) / 3)
    assert per_trial.loc[1, "late_mean"] == 99.0
    assert per_trial.loc[0, "best_acc"] == 96.0 and per_trial.loc[0, "final_acc"] == 96.0


# --- the report on the command line --------------------------------------------------------


def store_with(results: Path, table: dict[str, list[list[float]]]) -> None:
    """Stored trials: activation -> one per-epoch accuracy list per seed."""
    with ResultStore(results) as store:
        for act, runs in table.items():
            for seed, accs in enumerate(runs):
                store.add(fake_result(act, seed, accs))


def test_report_writes_the_comparison_and_marks_wins_losses_and_ties():
    store_with(
        Path("results"),
        {
            "relu": [[90.0, 97.0 + d] for d in (0.1, 0.3, -0.1, 0.2, 0.0)],
            "gelu": [[90.0, 97.5 + d] for d in (0.1, 0.35, -0.1, 0.2, 0.05)],  # +0.5 on every seed: better
            "silu": [[90.0, 97.0 + d] for d in (0.2, 0.1, 0.0, 0.3, -0.1)],  # mixed signs: inconclusive
            "tanh": [[90.0, 95.0 + d] for d in (0.1, 0.3, -0.1, 0.2, 0.1)],  # -2 on every seed: worse
        },
    )
    result = cli("report")
    assert result.exit_code == 0, result.output
    compare = pd.read_csv("results/mnist-mini/compare.csv").set_index("activation")
    assert compare["verdict"].to_dict() == {
        "relu": "baseline",
        "gelu": "better",
        "silu": "inconclusive",
        "tanh": "worse",
    }
    assert compare.loc["gelu", "delta_mean"] == pytest.approx(0.52)
    assert list(compare.columns) == [
        "n",
        "mean",
        "std",
        "delta_mean",
        "ci_low",
        "ci_high",
        "ci_level",
        "ci_method",
        "p_ttest",
        "p_wilcoxon",
        "p_holm",
        "significant",
        "step_down_only",
        "test",
        "note",
        "verdict",
    ]
    # Three comparisons: each interval at 1 − 0.05/3, the one the t-test and Holm's first step use.
    assert compare.loc["gelu", "ci_level"] == pytest.approx(1 - 0.05 / 3)
    assert compare.loc["gelu", "ci_method"] == "simultaneous 98.33% t-intervals (Bonferroni over 3)"
    # Holm over three t-tests: the smallest p is multiplied by 3.
    p = compare.loc[["gelu", "silu", "tanh"], "p_ttest"]
    assert compare.loc[p.idxmin(), "p_holm"] == pytest.approx(3 * p.min(), rel=1e-5)
    saved = json.loads(Path("results/mnist-mini/compare.json").read_text())
    assert saved["baseline"] == "relu" and saved["metric"] == "final_acc"
    assert saved["intervals"] == {
        "method": "t-interval (paired; Welch's where seed sets differ)",
        "level": pytest.approx(1 - 0.05 / 3),
        "simultaneous_over": 3,
        "adjustment": "Bonferroni",
    }
    assert [row["activation"] for row in saved["rows"]] == ["relu", "gelu", "silu", "tanh"]
    assert saved["rows"][0]["p_ttest"] is None
    markdown = Path("results/mnist-mini/compare.md").read_text()
    assert "| activation | n | mean ± std | Δ vs relu [simultaneous 98.33% CI] | p (t-test) |" in markdown
    assert "| gelu | 5 | 97.62 ± 0.17 | +0.52 [" in markdown and "Holm's step-down" in markdown
    assert "paired t-interval at 1 − 0.05/3 = 98.33%, simultaneous" in markdown
    assert "against relu" in result.stdout and "inconclusive" in result.stdout


def test_report_options_baseline_metric_alpha_and_uneven_n():
    store_with(
        Path("results"),
        {
            "relu": [[97.0, 96.0], [97.2, 96.1], [96.9, 96.2]],
            "gelu": [[97.1, 96.5], [97.3, 96.6], [97.0, 96.7], [97.2, 96.8]],  # one more seed: unpaired
        },
    )
    result = cli("report", "--baseline", "gelu", "--metric", "best_acc", "--alpha", "0.01")
    assert result.exit_code == 0, result.output
    compare = pd.read_csv("results/mnist-mini/compare.csv").set_index("activation")
    assert compare.loc["gelu", "test"] == "baseline"
    assert compare.loc["relu", "test"] == "welch"
    # The best epoch is epoch 1 on every seed; the CSV keeps 6 significant digits.
    expected = (97.0 + 97.2 + 96.9) / 3 - (97.1 + 97.3 + 97.0 + 97.2) / 4
    assert compare.loc["relu", "delta_mean"] == pytest.approx(expected, abs=1e-5)
    assert "n differs between activations: relu 3, gelu 4." in Path("results/mnist-mini/compare.md").read_text()


def test_tasks_with_test_time_augmentation_report_it_as_the_headline():
    hparams = {"epochs": 2.0, "widths": [8, 8, 8]}  # any hyperparameters: the store does not check them
    tta = {"relu": [93.9, 94.1, 94.0], "gelu": [94.2, 94.5, 94.3]}
    with ResultStore(Path("results")) as store:
        for act, values in tta.items():
            for seed, value in enumerate(values):
                store.add(
                    fake_result(
                        act,
                        seed,
                        [80.0, 92.0 + seed],
                        task="cifar10-airbench94",
                        hparams=hparams,
                        last_extra={"tta_acc": value},
                    )
                )
    result = cli("report")
    assert result.exit_code == 0, result.output
    summary = Path("results/cifar10-airbench94/summary.md").read_text()
    header = "| activation | n | TTA test acc (%) | final test acc (%) | best-epoch test acc (%) † |"
    assert header in summary
    assert "| gelu | 3 | 94.33 ± 0.15 | 93.00 ± 1.00 |" in summary  # unbiased std: sqrt(0.0233)
    compare = json.loads(Path("results/cifar10-airbench94/compare.json").read_text())
    assert compare["metric"] == "tta_acc"
    assert compare["rows"][1]["delta_mean"] == pytest.approx(1.0 / 3)
    # The MLP tasks have no TTA: their summary has no such column, and asking for it is an error.
    store_with(Path("mlp"), {"relu": [[97.0]]})
    assert "TTA" not in cli("report", "--results-dir", "mlp").stdout
    result = cli("report", "--results-dir", "mlp", "--metric", "tta_acc")
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "error: task mnist-mini records no metric 'tta_acc'; compare one of: final_acc, best_acc, late_mean, final_loss"
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--metric", "max_acc"],
            "error: unknown metric 'max_acc'; choose from: final_acc, best_acc, late_mean, final_loss, tta_acc, bpc",
        ),
        (["--alpha", "1.5"], "error: alpha must be between 0 and 1, got 1.5"),
        (["--baseline", "gelu"], "error: baseline gelu has no finished trials in mnist-mini [e30c7bcd]; it has: relu"),
        (["--baseline", "gleu"], "error: unknown activation 'gleu'; did you mean: gelu, reglu, geglu?"),
    ],
)
def test_report_bad_options_are_one_line_and_exit_2(args, message):
    store_with(Path("results"), {"relu": [[97.0]]})
    result = cli("report", *args)
    assert result.exit_code == 2
    assert result.stderr.strip() == message


def test_report_figures_are_written_and_byte_identical_when_rerun():
    store_with(
        Path("results"),
        {act: [[90.0, 97.0 + 0.1 * s + i * 0.05] for s in range(3)] for i, act in enumerate(["relu", "gelu", "silu"])},
    )
    folder = Path("results/mnist-mini")
    assert cli("report").exit_code == 0
    figures = {p.name: p.read_bytes() for p in folder.iterdir() if p.suffix in (".png", ".svg")}
    assert sorted(figures) == [
        "cost.png",
        "cost.svg",
        "curves.png",
        "curves.svg",
        "differences.png",
        "differences.svg",
        "seeds.png",
        "seeds.svg",
    ]
    assert cli("report").exit_code == 0
    assert {name: (folder / name).read_bytes() for name in figures} == figures
    # Every seed moved by the same amount: no test, so no level to adjust (Bonferroni over 0).
    assert "mnist-mini: difference to relu, 95% t-intervals" in figures["differences.svg"].decode()


def test_summary_tex_json_and_the_curve_columns_of_published_tables():
    # Two seeds of 4 epochs: the seed-averaged curve is 90, 92, 94, 95.
    store_with(Path("results"), {"leaky_relu": [[89.0, 92.0, 93.0, 95.5], [91.0, 92.0, 95.0, 94.5]]})
    assert cli("report").exit_code == 0
    summary = pd.read_csv("results/mnist-mini/summary.csv").iloc[0]
    assert summary["curve_mean_all_epochs"] == pytest.approx((90 + 92 + 94 + 95) / 4)
    assert summary["curve_mean_late_epochs"] == pytest.approx(94.5)  # epochs 3 and 4
    assert summary["curve_var_late_epochs"] == pytest.approx(0.25)  # of 94 and 95, ddof=0
    assert summary["final_acc_mean"] == 95.0 and summary["final_acc_std"] == pytest.approx(math.sqrt(0.5))
    tex = Path("results/mnist-mini/summary.tex").read_text()
    assert "\\toprule" in tex and "\\midrule" in tex and "\\bottomrule" in tex
    assert "leaky\\_relu & 2 & 95.00 $\\pm$ 0.71 &" in tex
    assert "best-epoch test acc (\\%)$^\\dagger$" in tex
    saved = json.loads(Path("results/mnist-mini/summary.json").read_text())
    assert saved["hparams"]["epochs"] == 3 and saved["rows"][0]["n"] == 2


def test_ranking_counts_significant_wins_and_ties_the_rest():
    def pair(a, b, delta, significant):
        return stats.PairComparison(
            a, b, 5, 5, delta_mean=delta, p_holm=0.01 if significant else 0.5, significant=significant
        )

    means = {"relu": 97.0, "gelu": 97.6, "silu": 97.1, "tanh": 95.0}
    pairs = [
        pair("relu", "gelu", -0.6, True),
        pair("relu", "silu", -0.1, False),
        pair("relu", "tanh", 2.0, True),
        pair("gelu", "silu", 0.5, False),
        pair("gelu", "tanh", 2.6, True),
        pair("silu", "tanh", 2.1, True),
    ]
    # Nothing beats gelu or silu significantly (they are tied with each other); gelu beats relu;
    # all three beat tanh. Ranks: 1 + the number significantly better.
    assert stats.rank_activations(means, pairs, higher_is_better=True) == {"gelu": 1, "silu": 1, "relu": 2, "tanh": 4}
    # For a loss, lower is better: the same deltas rank the other way round.
    assert stats.rank_activations(means, pairs, higher_is_better=False) == {"tanh": 1, "relu": 2, "silu": 2, "gelu": 3}


def test_report_all_pairs_writes_the_matrix_and_the_ranking():
    store_with(
        Path("results"),
        {
            "relu": [[90.0, 97.0 + d] for d in (0.1, 0.3, -0.1, 0.2, 0.0)],
            "gelu": [[90.0, 97.5 + d] for d in (0.1, 0.35, -0.1, 0.2, 0.05)],  # +0.5 over relu on every seed
            "silu": [[90.0, 97.5 + d] for d in (0.2, 0.2, -0.2, 0.3, 0.0)],  # +0.5 over relu, tied with gelu
        },
    )
    result = cli("report", "--pairs", "all")
    assert result.exit_code == 0, result.output
    saved = json.loads(Path("results/mnist-mini/pairs.json").read_text())
    assert [(r["activation"], r["rank"], r["tied"]) for r in saved["ranking"]] == [
        ("gelu", 1, True),
        ("silu", 1, True),
        ("relu", 3, False),
    ]
    pairs = pd.read_csv("results/mnist-mini/pairs.csv")
    assert list(zip(pairs["a"], pairs["b"])) == [("relu", "gelu"), ("relu", "silu"), ("gelu", "silu")]
    assert pairs["p_holm"].tolist() == pytest.approx(stats.holm(pairs["p_ttest"].tolist()), rel=1e-5)
    markdown = Path("results/mnist-mini/pairs.md").read_text()
    assert "| relu (n=5) |  | " in markdown and "| 1 (tied) | gelu |" in markdown
    assert "every pair" in result.stdout and "ranking" in result.stdout
    assert cli("report", "--pairs", "some").stderr.strip() == (
        "error: unknown --pairs 'some'; choose from: baseline, all"
    )


def test_report_format_and_out_choose_the_files_and_their_folder():
    store_with(Path("results"), {"relu": [[97.0]] * 3, "gelu": [[97.5]] * 3})
    result = cli("report", "--format", "tex,svg", "--out", "paper")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in Path("paper/mnist-mini").iterdir()) == [
        "cost.svg",
        "curves.svg",
        "differences.svg",
        "seeds.svg",
        "summary.tex",
    ]
    assert not Path("results/mnist-mini").exists()
    bad = cli("report", "--format", "md,docx")
    assert bad.exit_code == 2
    assert bad.stderr.strip() == "error: unknown format 'docx'; choose from: csv, html, json, md, pdf, png, svg, tex"


def test_report_on_a_real_tiny_run_tests_every_activation_against_relu():
    ran = cli("run", "--task", "mnist-mini", "--acts", "relu,tanh,gelu", "--repeats", "3", "--epochs", "1", "-q")
    assert ran.exit_code == 0, ran.output
    assert cli("report", "--pairs", "all").exit_code == 0
    compare = pd.read_csv("results/mnist-mini/compare.csv").set_index("activation")
    assert compare["test"].tolist() == ["baseline", "paired", "paired"]
    tested = compare.loc[["tanh", "gelu"]]
    assert tested["n"].tolist() == [3, 3]
    assert tested[["p_ttest", "p_wilcoxon", "p_holm", "ci_low", "ci_high"]].notna().all().all()
    assert (tested["ci_low"] <= tested["delta_mean"]).all() and (tested["delta_mean"] <= tested["ci_high"]).all()
    assert len(pd.read_csv("results/mnist-mini/pairs.csv")) == 3


def test_tost_is_statsmodels_and_a_hand_computed_case():
    from statsmodels.stats.weightstats import ttost_paired

    diff = np.array([0.1, -0.05, 0.2, 0.0, 0.05])
    # By hand: mean 0.06, s = 0.0962, se = 0.0430; t vs -0.3: 8.37, vs +0.3: -5.58; df 4.
    mean, se = diff.mean(), diff.std(ddof=1) / math.sqrt(5)
    by_hand = max(scipy_stats.t.sf((mean + 0.3) / se, 4), scipy_stats.t.cdf((mean - 0.3) / se, 4))
    assert stats.tost_p(diff, 0.3) == pytest.approx(by_hand)
    assert (mean, se) == (pytest.approx(0.06), pytest.approx(0.04301, abs=1e-5))
    rng = np.random.default_rng(0)
    for margin in (0.05, 0.2, 1.0):
        a, b = rng.normal(97, 0.3, 8), rng.normal(97, 0.3, 8)
        assert stats.tost_p(a - b, margin) == pytest.approx(ttost_paired(a, b, -margin, margin)[0], rel=1e-9)


def test_report_with_a_margin_says_equivalent_better_or_inconclusive():
    store_with(
        Path("results"),
        {
            "relu": [[90.0, 97.0 + d] for d in (0.1, 0.3, -0.1, 0.2, 0.0)],
            "gelu": [[90.0, 97.0 + d] for d in (0.15, 0.27, -0.08, 0.16, 0.01)],  # within ±0.05 of relu per seed
            "silu": [[90.0, 97.0 + d] for d in (0.9, -0.8, 0.7, -0.6, 0.0)],  # too noisy to show either
            "tanh": [[90.0, 98.0 + d] for d in (0.1, 0.3, -0.1, 0.2, 0.1)],  # +1: better
        },
    )
    result = cli("report", "--margin", "0.5")
    assert result.exit_code == 0, result.output
    compare = pd.read_csv("results/mnist-mini/compare.csv").set_index("activation")
    assert compare["verdict"].to_dict() == {
        "relu": "baseline",
        "gelu": "equivalent (±0.5)",
        "silu": "inconclusive",
        "tanh": "better",
    }
    assert compare.loc["gelu", "p_tost_holm"] < 0.05 < compare.loc["silu", "p_tost_holm"]
    markdown = Path("results/mnist-mini/compare.md").read_text()
    assert "| p (TOST, Holm) | seeds to decide | verdict |" in markdown
    assert "TOST (two one-sided paired t-tests against ±0.5" in markdown
    # Differences and equivalences: two Holm families at alpha each, said wherever the verdicts are.
    families = (
        "Two families, each Holm-corrected at 0.05: the probability that any better or worse verdict is "
        "false is at most 0.05, and the same holds for the equivalent verdicts; all verdicts together "
        "can err with probability up to 0.1 (--alpha 0.025 holds them to 0.05)."
    )
    saved = json.loads(Path("results/mnist-mini/compare.json").read_text())
    assert families in markdown and families in saved["method"]
    assert families in " ".join(result.stdout.split())  # the terminal wraps the caption
    # silu's row: the seeds plan gives from its own differences, at Holm's first step (0.05 / 3).
    from actbench.report.design import seeds_for_difference, seeds_for_equivalence

    diffs = np.array([0.9, -0.8, 0.7, -0.6, 0.0]) - np.array([0.1, 0.3, -0.1, 0.2, 0.0])
    sd = float(diffs.std(ddof=1))
    expected = f"{seeds_for_difference(0.5, sd, 0.05 / 3, 0.8)} / {seeds_for_equivalence(0.5, sd, 0.05 / 3, 0.8)}"
    silu_row = next(line for line in markdown.splitlines() if line.startswith("| silu "))
    assert silu_row.endswith(f"| {expected} | inconclusive |")
    plain = cli("report")
    assert "equivalent" not in plain.stdout and "p_tost" not in Path("results/mnist-mini/compare.csv").read_text()
    one_family = (
        "Holm controls the familywise error: the probability that any better or worse verdict is false "
        "(a difference declared where there is none) is at most 0.05."
    )
    assert one_family in Path("results/mnist-mini/compare.md").read_text()


# --- marks beside the verdicts: ‡ Holm's step-down alone, § unpaired ------------------------------


def test_a_row_holm_rejects_while_its_interval_touches_0_is_marked():
    # gelu: +1 on every seed, give or take 0.01: p ~ 1e-8, rejected at Holm's first step (0.05 / 2).
    # silu: 0.21 + 0.1·(−2, −1, 0, 1, 2): t = 0.21 / (0.15811 / √5) = 2.970 on 4 df, p = 0.0412:
    # above 0.05 / 2, so its 97.5% interval (half-width t(0.9875, 4) · 0.07071 = 0.247) touches 0;
    # Holm's second step tests it at 0.05 / 1 and rejects it.
    seeds = list(range(5))
    base = [97.0, 97.3, 96.8, 97.1, 97.2]
    table = values(
        {
            "relu": (seeds, base),
            "gelu": (seeds, [b + 1 + e for b, e in zip(base, (0, 0.01, -0.01, 0.01, 0))]),
            "silu": (seeds, [b + 0.21 + 0.1 * k for b, k in zip(base, (-2, -1, 0, 1, 2))]),
        }
    )
    _, gelu, silu = stats.compare_to_baseline(table, "relu", 0.05)
    assert silu.p_ttest == pytest.approx(0.0412, abs=1e-4) and silu.p_holm == silu.p_ttest and silu.significant
    assert silu.ci_low == pytest.approx(0.21 - scipy_stats.t.isf(0.0125, 4) * 0.1 * math.sqrt(2.5 / 5))
    assert silu.ci_low < 0 < silu.ci_high and silu.step_down_only
    assert gelu.ci_low > 0 and gelu.significant and not gelu.step_down_only


def test_step_down_and_unpaired_rows_are_marked_in_md_csv_json_html_and_the_terminal():
    base = [97.0, 97.3, 96.8, 97.1, 97.2, 97.0, 96.9, 97.4, 97.1, 97.3, 97.0, 97.2]
    store_with(
        Path("results"),
        {
            "relu": [[90.0, b] for b in base],  # seeds 0-11
            "gelu": [[90.0, b + 0.1 * (s % 3)] for s, b in enumerate(base[:8])],  # seeds 0-7: unpaired
            "silu": [[90.0, b + 1 + 0.01 * (s % 2)] for s, b in enumerate(base)],  # +1: better at Holm's first step
            # p = 0.0213: Holm's second step (0.05 / 2) rejects it; its 98.33% interval touches 0
            "tanh": [[90.0, b + 0.14 + 0.1 * (s % 5 - 2)] for s, b in enumerate(base)],
        },
    )
    result = cli("report", "--format", "md,csv,json,html")
    assert result.exit_code == 0, result.output
    compare = pd.read_csv("results/mnist-mini/compare.csv").set_index("activation")
    reason = "seed sets differ (gelu: seeds 0–7; relu: 0–11): Welch's t-test, unpaired"
    assert compare.loc["gelu", "test"] == "welch" and compare.loc["gelu", "note"] == reason
    assert compare["step_down_only"].to_dict() == {"relu": False, "gelu": False, "silu": False, "tanh": True}
    assert compare.loc["tanh", "verdict"] == "better"  # the data columns keep the verdict and the mark apart
    saved = json.loads(Path("results/mnist-mini/compare.json").read_text())
    assert saved["rows"][1]["note"] == reason and saved["rows"][3]["step_down_only"] is True
    markdown = Path("results/mnist-mini/compare.md").read_text()
    rows = {line.split(" | ")[0][2:]: line for line in markdown.splitlines() if line.startswith("| ")}
    assert rows["gelu"].endswith("| inconclusive (unpaired §) |") and rows["tanh"].endswith("| better ‡ |")
    assert rows["silu"].endswith("| better |")
    notes = (
        "‡ Holm's step-down rejects; the simultaneous interval, which is more conservative, touches 0.\n\n"
        f"§ {reason}.\n\n"
    )
    assert notes + "Metric: final test accuracy (%). Against relu" in markdown
    page = Path("results/report.html").read_text()
    assert "<td>inconclusive (unpaired §)</td>" in page and "<td>better ‡</td>" in page
    escaped = reason.replace("'", "&#x27;")  # html.escape's apostrophe
    assert f"<p>§ {escaped}.</p>" in page
    assert (
        "<p>‡ Holm&#x27;s step-down rejects; the simultaneous interval, which is more conservative, touches 0.</p>"
    ) in page
    assert "inconclusive (unpaired §)" in result.stdout and "better ‡" in result.stdout and reason in result.stdout


def test_an_unpaired_row_where_neither_seed_set_varies_is_not_tested():
    """SciPy's Welch test says p = 0 when both groups are constant: a 'better' on no evidence."""
    values = pd.DataFrame(
        {"activation": ["relu"] * 4 + ["gelu"] * 3, "seed": [0, 1, 2, 3, 0, 1, 2], "value": [1.0] * 4 + [2.0] * 3}
    )
    _, gelu = stats.compare_to_baseline(values, "relu", 0.05)
    assert (gelu.test, gelu.delta_mean, math.isnan(gelu.p_holm), math.isnan(gelu.ci_low)) == ("welch", 1.0, True, True)
    assert stats.verdict(gelu, True) == (
        "seed sets differ (gelu: seeds 0–2; relu: 0–3): Welch's t-test, unpaired; neither seed set varies: no test"
    )
