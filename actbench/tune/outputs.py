"""A tuning's files, in RESULTS/TASK/: tune-ID.toml (the run config with each activation's
chosen settings, for ``actbench run --config``), tune-ID.md and .json (every setting's
validation score), sensitivity-ID.png and .svg (score against setting, per activation, each in
its colour of the report's figures)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from actbench.report import render
from actbench.report.metrics import digits, direction, evaluation_axis
from actbench.tune.grid import setting_label
from actbench.tune.tuning import Tuning, chosen_settings, validation_label


def _toml(value: Any) -> str:
    """A TOML value: the JSON spelling of numbers, booleans, strings and lists is TOML's too."""
    return json.dumps(value)


def config_text(tuning: Tuning, frame: pd.DataFrame, repeats: int) -> str:
    """The run config of the tuned comparison: the shared hyperparameters, and each
    activation's chosen settings under [tuned.settings], measured on the test set."""
    base = tuning.base
    shared = {k: v for k, v in base.hparams.items() if k not in tuning.grid}
    lines = [
        f"# Written by actbench tune ({tuning.id}): each activation's settings chosen on the validation",
        f"# split ({tuning.metric.name}, seeds {base.seeds[0]}-{base.seeds[-1]}); see tune-{tuning.id}.md. "
        "The comparison:",
        f"#   actbench run --config {base.results_dir / base.task / f'tune-{tuning.id}.toml'}",
        f"task = {_toml(base.task)}",
        f"acts = {_toml(base.activations)}",
        f"repeats = {repeats}",
        "",
        "[hparams]",
        *(f"{key} = {_toml(value)}" for key, value in shared.items()),
        "",
        "[tuned]",
        f"by = {_toml(tuning.id)}",
        "",
        "[tuned.settings]",
        *(
            f"{_toml(act)} = {{ {', '.join(f'{k} = {_toml(v)}' for k, v in chosen.items())} }}"
            for act, chosen in chosen_settings(tuning, frame).items()
        ),
    ]
    return "\n".join(lines) + "\n"


def _cell(row: pd.Series, places: int) -> str:
    if row["n"] == 0:
        return "–"
    spread = "" if math.isnan(row["sd"]) else f" ± {row['sd']:.{places}f}"
    shortfall = "" if row["n"] == row["trials"] else f" ({row['n']} of {row['trials']})"
    return f"{row['mean']:.{places}f}{spread}{shortfall}"


def score_rows(tuning: Tuning, frame: pd.DataFrame) -> list[dict[str, str]]:
    """One row per activation: its chosen setting, then the score of every setting."""
    rows = []
    for act, group in frame.groupby("activation", sort=False):
        chosen = group[group["chosen"]].iloc[0]
        cells = {"activation": act, "chosen": chosen["label"]}
        cells.update({row["label"]: _cell(row, digits(tuning.metric)) for _, row in group.iterrows()})
        rows.append(cells)
    return rows


def method_text(tuning: Tuning) -> str:
    base = tuning.base
    axis = evaluation_axis(base.task, base.hparams)
    return (
        f"Each activation trained at every setting over seeds {base.seeds[0]}-{base.seeds[-1]} "
        f"({len(base.seeds)} each, disjoint from a comparison's seeds), {axis.total} {axis.name}(s), scored by "
        f"{tuning.metric.name}{direction(tuning.metric)} on the validation split: a fixed 10% of the training set "
        "held out from training, the same for every activation and seed (the test set is not read). Cells: mean ± sd "
        f"over the seeds that finished. Chosen: the {'best' if tuning.metric.higher_is_better else 'lowest'} mean "
        "among the settings with the most seeds finished (all, unless every setting lost some), ties to the earlier "
        "setting."
    )


def markdown_text(tuning: Tuning, frame: pd.DataFrame) -> str:
    table = "\n".join(render.markdown_table(score_rows(tuning, frame), left=(0, 1)))
    title = f"## {tuning.base.task}: tuning {tuning.id}, {validation_label(tuning.metric)}"
    return f"{title}\n\n{table}\n\n{method_text(tuning)}\n"


def json_text(tuning: Tuning, frame: pd.DataFrame) -> str:
    saved = {
        "id": tuning.id,
        "task": tuning.base.task,
        "metric": tuning.metric.name,
        "split": "validation",
        "seeds": tuning.base.seeds,
        "hparams": tuning.base.hparams,
        "grid": tuning.grid,
        "chosen": chosen_settings(tuning, frame),
        "scores": render.json_rows(frame),
    }
    return render.json_text(saved)


def _numeric_axis(tuning: Tuning) -> str | None:
    """The grid's key when it is one numeric hyperparameter (a log axis if it spans 10x)."""
    if len(tuning.grid) != 1:
        return None
    ((key, values),) = tuning.grid.items()
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
    return key if numeric else None


def plot_sensitivity(tuning: Tuning, frame: pd.DataFrame, stem: Path, formats: frozenset[str]) -> list[Path]:
    """Validation score against the setting, one line per activation (in its colour of the
    report's figures) with ± 1 sd over the seeds, each activation's chosen setting ringed."""
    import matplotlib.pyplot as plt

    from actbench.report.figures import WRAP, activation_styles, finish, legend_below, save_figure, wrap_label

    key = _numeric_axis(tuning)
    labels = [wrap_label(setting_label(s), WRAP) for s in tuning.settings]
    styles = activation_styles(frame["activation"])
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=150)
    for act, group in frame.groupby("activation", sort=False):
        x = [tuning.grid[key][s] for s in group["setting"]] if key else list(group["setting"])
        style = styles[act]
        ax.errorbar(
            x,
            group["mean"],
            yerr=group["sd"].fillna(0.0),
            **style.line,
            marker=style.marker,
            ms=4,
            capsize=3,
            label=act,
        )
        chosen = group["chosen"].to_numpy()
        ax.scatter(
            [v for v, c in zip(x, chosen) if c],
            group["mean"][chosen],
            s=120,
            facecolors="none",
            edgecolors=style.colour,
            lw=1.5,
        )
    if key:
        values = tuning.grid[key]
        if min(values) > 0 and max(values) / min(values) >= 10:
            ax.set_xscale("log")
        ax.set_xlabel(key)
    else:
        ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right", rotation_mode="anchor", fontsize=8)
        ax.set_xlabel("setting")
    ax.set_ylabel(validation_label(tuning.metric))
    ax.set_title(f"{tuning.base.task}: mean ± 1 sd over {len(tuning.base.seeds)} seeds; ringed: chosen", fontsize=10)
    ax.grid(alpha=0.3)
    legend_below(fig)
    finish(fig)
    return save_figure(fig, stem, formats)


def write_outputs(tuning: Tuning, frame: pd.DataFrame, repeats: int) -> list[Path]:
    folder = tuning.base.results_dir / tuning.base.task
    folder.mkdir(parents=True, exist_ok=True)
    stem = folder / f"tune-{tuning.id}"
    files = [stem.with_suffix(".toml"), stem.with_suffix(".md"), stem.with_suffix(".json")]
    files[0].write_text(config_text(tuning, frame, repeats))
    files[1].write_text(markdown_text(tuning, frame))
    files[2].write_text(json_text(tuning, frame))
    return files + plot_sensitivity(tuning, frame, folder / f"sensitivity-{tuning.id}", frozenset({"png", "svg"}))
