"""The shape of an activation: f and f' on a grid, drawn on shared axes.

Values and slopes come from the modules themselves, in float64, the slope by autograd,
so a plug-in is drawn exactly as it trains. Learnable activations are drawn at their
initial parameters, or at the trained ones read from the results store.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt  # noqa: E402  (after actbench.report.figures chose the Agg backend)
import numpy as np
import pandas as pd
import torch

from actbench.activations import parse_activation
from actbench.errors import UsageError
from actbench.report.figures import LINESTYLES, activation_styles, finish, legend_below, save_figure
from actbench.results.store import ResultStore

GRID_POINTS = 2001  # a step of 0.006 on the default [-6, 6]


@dataclass(frozen=True)
class Shape:
    activation: str  # the canonical spec: its style in every figure
    label: str  # the spec as written (no plug-in version), plus where its parameters come from
    x: np.ndarray
    f: np.ndarray
    df: np.ndarray
    f0: float  # f(0) and f'(0), at exactly 0 (a linspace point near 0 is off by 1e-16)
    df0: float


def _values_and_slopes(module: torch.nn.Module, x: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    x = x.detach().requires_grad_()
    f = module(x)
    (df,) = torch.autograd.grad(f.sum(), x)  # elementwise: d(Σf)/dx_i = f'(x_i)
    return f.detach().numpy(), df.numpy()


def shape(module: torch.nn.Module, activation: str, label: str, low: float, high: float) -> Shape:
    """f and f' of ``module``, an ``activation`` (its canonical spec), on GRID_POINTS points
    of [low, high], in float64."""
    module = module.double()
    x = torch.linspace(low, high, GRID_POINTS, dtype=torch.float64)
    f, df = _values_and_slopes(module, x)
    (f0,), (df0,) = _values_and_slopes(module, torch.zeros(1, dtype=torch.float64))
    return Shape(activation, label, x.numpy(), f, df, float(f0), float(df0))


def trained_parameters(results_dir: Path, activation: str, task: str | None) -> dict[str, dict[str, list[float]]]:
    """Per layer ("act1", ...), the learnable parameters after the last epoch, averaged over the
    finished stored trials of ``activation`` (and ``task``); {} when it learns nothing."""
    with ResultStore(results_dir, create=False) as store:
        epochs = store.epochs()
    rows = epochs[(epochs["activation"] == activation) & (epochs["status"] == "ok")]
    if task is not None:
        rows = rows[rows["task"] == task]
    if rows.empty:
        where = f" for task {task}" if task else ""
        raise UsageError(f"no finished trials of {activation}{where} in {store.path}")
    last = rows.sort_values("epoch").groupby("trial_id").tail(1)
    per_trial = [json.loads(params) for params in last["activation_params"]]
    layers: dict[str, dict[str, list[float]]] = {}
    for name in per_trial[0]:
        layer, _, param = name.partition(".")
        mean = np.mean([trial[name] for trial in per_trial], axis=0)
        layers.setdefault(layer, {})[param] = mean.tolist()
    return layers


def shapes(
    specs: list[str], low: float, high: float, results_dir: Path | None = None, task: str | None = None
) -> list[Shape]:
    """The shapes of ``specs``; with ``results_dir``, each learnable one once per trained layer."""
    if not low < high:
        raise UsageError(f"range must have low < high, got {low:g} {high:g}")
    out = []
    for spec in specs:
        parsed = parse_activation(spec)
        layers = trained_parameters(results_dir, parsed.canonical, task) if results_dir else {}
        if not layers:
            out.append(shape(parsed.build(), parsed.canonical, parsed.unversioned, low, high))
        for layer, params in layers.items():
            module = parsed.build()
            with torch.no_grad():
                for name, value in params.items():
                    target = module.get_parameter(name)
                    target.copy_(torch.tensor(value, dtype=target.dtype).reshape(target.shape))
            summary = ", ".join(f"{n}={np.mean(v):.3g}" for n, v in params.items())
            out.append(shape(module, parsed.canonical, f"{parsed.unversioned} {layer} trained ({summary})", low, high))
    return out


def plot_shapes(drawn: list[Shape], stem: Path, formats: frozenset[str] = frozenset({"png", "svg"})) -> list[Path]:
    """Two panels on a shared x axis: f above, f' below, the legend under them; each
    activation in its colour of the report's figures, its trained layers in further line
    styles; in each format of ``formats`` (figure format names)."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(6.4, 6.4), dpi=150, sharex=True)
    styles = activation_styles(s.activation for s in drawn)
    seen: dict[str, int] = {}  # activation -> shapes of it drawn so far
    for s in drawn:
        k = seen[s.activation] = seen.get(s.activation, -1) + 1
        base = styles[s.activation]
        style = {"color": base.colour, "lw": 1.6, "linestyle": LINESTYLES[(LINESTYLES.index(base.linestyle) + k) % 4]}
        top.plot(s.x, s.f, label=s.label, **style)
        bottom.plot(s.x, s.df, **style)
    for axis, name in ((top, "f(x)"), (bottom, "f'(x)")):
        axis.axhline(0, color="black", lw=0.6)
        axis.axvline(0, color="black", lw=0.6)
        axis.grid(alpha=0.3)
        axis.set_ylabel(name)
    bottom.set_xlabel("x")
    top.set_title("activation f and its derivative f' (float64, f' by autograd)", fontsize=10)
    legend_below(fig)
    finish(fig)
    return save_figure(fig, stem, formats)


def describe(drawn: list[Shape]) -> pd.DataFrame:
    """f(0), f'(0) and the minimum on the grid (to the grid's step), for the terminal."""
    rows = []
    for s in drawn:
        low = int(np.argmin(s.f))
        rows.append({"activation": s.label, "f(0)": s.f0, "f'(0)": s.df0, "min f on range": s.f[low], "at x": s.x[low]})
    return pd.DataFrame(rows)
