"""A task whose headline is a loss (lower is better), evaluated every 50 iterations: the
report, the cost table with a --target to get below, the figures, tune's choice and the
comparison across tasks mixed with an accuracy task, on stored results made without training."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cli_runner import cli
from fakes import fake_result

from actbench.api import EvaluationAxis, Metric
from actbench.report.build import CompareSpec, build_reports
from actbench.results.store import ResultStore
from actbench.run.config import build_run_config
from actbench.tasks import TASKS

NAME = "loss-fake"
BPC = Metric("bpc", "test bits per character", "bpc", "score", higher_is_better=False)


@dataclass(frozen=True)
class LossTask:
    """A task declared as a GPT task is: final_loss its headline, bpc its own metric, an
    evaluation point every ``eval_interval`` iterations. It never trains here."""

    name: str = NAME
    description: str = "a task whose headline is a loss"
    hyperparams: dict[str, Any] = field(
        default_factory=lambda: {"lr": 0.001, "max_iters": 200, "eval_interval": 50, "split": "test"}
    )
    metrics: tuple[Metric, ...] = (BPC,)
    headline: str = "final_loss"
    population: None = None

    def resolve_hparams(self, overrides: dict[str, Any]) -> dict[str, Any]:
        return {**self.hyperparams, **overrides}

    def evaluation_axis(self, hparams: dict[str, Any]) -> EvaluationAxis:
        return EvaluationAxis("iteration", hparams["eval_interval"], hparams["max_iters"])

    def prepare(self, ctx, hparams) -> None:
        pass

    def train(self, activation, seed, hparams, ctx, checkpoint=None):
        raise AssertionError("the tests store results; nothing trains")


# Per seed, the test loss at iterations 50, 100, 150, 200: gelu's ends 0.11-0.13 below relu's at
# every seed (better), and gets down to 1.6 at iteration 100, 150, 100; relu only once, at 200.
LOSSES = {
    "relu": [[2.0, 1.8, 1.7, 1.62], [2.1, 1.85, 1.72, 1.65], [2.05, 1.82, 1.69, 1.60]],
    "gelu": [[1.9, 1.6, 1.52, 1.50], [1.95, 1.62, 1.55, 1.52], [1.92, 1.58, 1.50, 1.49]],
}


@pytest.fixture
def loss_task(monkeypatch) -> LossTask:
    """LossTask registered for the test only."""
    task = LossTask()
    monkeypatch.setitem(TASKS._entries, NAME, task)
    monkeypatch.setitem(TASKS._lookup, NAME, NAME)
    return task


def loss_result(task: LossTask, activation: str, seed: int, losses: list[float], hparams: dict | None = None):
    """A stored trial of ``task`` with these per-point test losses (bpc alike), accuracy rising
    as the loss falls, 2 s per evaluation point."""
    result = fake_result(activation, seed, [100 - 30 * loss for loss in losses], task=task.name)
    epochs = [
        dataclasses.replace(m, test_loss=loss, extra={"bpc": loss / math.log(2)}, elapsed_s=2.0 * m.epoch)
        for m, loss in zip(result.epochs, losses)
    ]
    trial = dataclasses.replace(result.trial, hparams=hparams or task.resolve_hparams({}))
    return dataclasses.replace(result, trial=trial, epochs=epochs)


@pytest.fixture
def stored(loss_task) -> Path:
    with ResultStore(Path("results")) as store:
        for act, curves in LOSSES.items():
            for seed, losses in enumerate(curves):
                store.add(loss_result(loss_task, act, seed, losses))
    return Path("results")


def test_the_lower_loss_is_better_with_its_sign_said(stored):
    result = cli("report", "--task", NAME, "--format", "md")
    assert result.exit_code == 0, result.output
    text = (stored / NAME / "compare.md").read_text()
    # gelu − relu per seed: −0.12, −0.13, −0.11: Δ −0.12 ± 0.01 over 3 seeds.
    assert "| gelu | 3 | 1.5033 ± 0.0153 | -0.1200 [-0.1448, -0.0952] | 0.0023 | 0.2500 | 0.0023 | better |" in text
    assert "| relu | 3 | 1.6233 ± 0.0252 |" in text
    assert (
        "Metric: final test loss (lower is better). Against relu, paired by seed (same initialisation and data "
        "order): Δ = mean per-seed difference (activation − relu), negative where the activation is better, with "
        "its paired t-interval at 95%;"
    ) in text


def test_the_task_s_own_lower_is_better_metric_is_compared_its_way(stored):
    (report,) = build_reports(ResultStore(stored, create=False), NAME, None, CompareSpec(metric="bpc"))
    assert report.compared == BPC and report.series == BPC  # recorded at every point: its own curves
    gelu = next(c for c in report.comparisons if c.activation == "gelu")
    assert gelu.delta_mean == pytest.approx(-0.12 / math.log(2))
    assert report.curves["mean"].iloc[-1] == pytest.approx(sum(c[-1] for c in LOSSES["gelu"]) / 3 / math.log(2))


def test_a_target_loss_is_one_to_get_down_to_in_iterations(stored):
    result = cli("report", "--task", NAME, "--target", "1.6", "--format", "md")
    assert result.exit_code == 0, result.output
    text = (stored / NAME / "summary.md").read_text()
    assert "| activation | reached ≤ 1.6 | iterations to ≤ 1.6 | seconds to ≤ 1.6 |" in text
    # gelu: iterations 100, 150, 100 (points 2, 3, 2 at 2 s each); relu: once, at 200.
    assert "| gelu | 3 of 3 | 116.7 [45.0, 188.4] | 4.7 [1.8, 7.5] |" in text
    assert "| relu | 1 of 3 | 200.0 (n=1, no CI) | 8.0 (n=1, no CI) |" in text
    assert (
        "Time to ≤ 1.6: the first iteration (evaluated every 50) whose test loss got down to 1.6 or below (lower "
        "is better; equal counts), and the training seconds (evaluation included) from the trial's start to that "
        "iteration's end."
    ) in text
    assert "estimated as the trial's wall time × iteration / iterations run" in text
    assert "On the final test loss / seconds-per-trial Pareto front: gelu." in text  # as fast, and lower


def test_a_loss_target_has_no_percent_range_and_an_accuracy_target_keeps_it(stored):
    result = cli("report", "--task", NAME, "--target", "120", "--format", "md")
    assert result.exit_code == 0, result.output
    assert "| gelu | 3 of 3 | all at iteration 50 | all at 2.0 s |" in (stored / NAME / "summary.md").read_text()
    result = cli("report", "--task", NAME, "--metric", "final_acc", "--target", "120")
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == "error: --target is a test accuracy in percent, 0 to 100, got 120"


def test_the_figures_name_the_loss_and_the_iterations(monkeypatch, stored):
    from figure_checks import caught_figures

    with caught_figures(monkeypatch) as caught:
        result = cli("report", "--task", NAME, "--format", "svg")
    assert result.exit_code == 0, result.output
    by_title = {fig.axes[0].get_title(): fig for fig in caught}
    curves = by_title["loss-fake: test loss, mean ± 1 std over seeds (n=3)"]
    assert [ax.get_xlabel() for ax in curves.axes] == ["iteration", "iteration"]
    assert curves.axes[0].get_ylabel() == "test loss"
    assert curves.axes[1].get_title() == "iterations 150–200, zoomed"
    assert list(curves.axes[0].lines[0].get_xdata()) == [50, 100, 150, 200]
    differences = by_title["loss-fake: difference to relu, 95% t-intervals"]
    assert differences.axes[0].get_xlabel() == "difference to relu: final test loss (lower is better)"
    cost = by_title[
        "loss-fake: final test loss against seconds per trial\none point per trial; diamonds: the means; ringed: "
        "the Pareto front of the means"
    ]
    assert cost.axes[0].get_ylabel() == "final test loss (lower is better)"
    drawn = (stored / NAME / "curves.svg").read_text()
    assert "<!-- test loss -->" in drawn and "<!-- iteration -->" in drawn


def test_tune_chooses_the_setting_of_the_lowest_loss(loss_task):
    from actbench.tune.outputs import markdown_text
    from actbench.tune.tuning import make_tuning, scores

    base = build_run_config({"task": NAME, "acts": ["relu", "gelu"], "seeds": [1000, 1001]}, {})
    tuning = make_tuning(base, {"lr": [0.001, 0.01]}, None)
    final = {("relu", 0.001): 1.50, ("relu", 0.01): 1.70, ("gelu", 0.001): 1.65, ("gelu", 0.01): 1.45}
    with ResultStore(Path("results")) as store:
        for (act, lr), loss in final.items():
            hparams = tuning.run_config({"lr": lr}).trials()[0].hparams
            for seed in base.seeds:
                store.add(loss_result(loss_task, act, seed, [2.0, loss + 0.001 * (seed - 1000)], hparams))
    frame = scores(tuning)
    chosen = frame[frame["chosen"]].set_index("activation")["label"].to_dict()
    assert chosen == {"relu": "lr=0.001", "gelu": "lr=0.01"}
    text = markdown_text(tuning, frame)
    assert "## loss-fake: tuning" in text and ", final validation loss\n" in text
    assert "| gelu | lr=0.01 | 1.6505 ± 0.0007 | 1.4505 ± 0.0007 |" in text
    assert "200 iteration(s), scored by final_loss (lower is better) on the validation split" in text
    assert "Chosen: the lowest mean among the settings" in text


def test_across_tasks_mixes_an_accuracy_task_and_a_loss_task(stored):
    with ResultStore(stored) as store:  # mnist-mini: gelu's accuracy 1 point above relu's at every seed
        for seed in range(3):
            store.add(fake_result("relu", seed, [96.0, 97.0 + 0.1 * seed]))
            store.add(fake_result("gelu", seed, [97.0, 98.0 + 0.1 * seed]))
    result = cli("report", "--across-tasks", "--format", "md")
    assert result.exit_code == 0, result.output
    text = (stored / "across-tasks.md").read_text()
    # gelu beats relu at every seed of both: the higher accuracy on one, the lower loss on the other.
    assert "| gelu | 2 | 6 | 1.00 [0.61, 1.00] | 1.00 [1.00, 1.00] | 1 [1–1] |  |" in text
    assert (
        "Metrics, each task's own: loss-fake: final test loss (lower is better); mnist-mini: final test accuracy "
        "(%) (higher is better);"
    ) in text
