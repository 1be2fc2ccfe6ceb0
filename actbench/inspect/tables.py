"""Terminal tables of the inspection commands: plot, check, speed and flow."""

from __future__ import annotations

from rich.table import Table

from actbench.inspect.check import Breakpoint, Properties
from actbench.inspect.flow import Flow
from actbench.inspect.plot import Shape, describe
from actbench.inspect.speed import Timing
from actbench.report.render import rich_table


def shapes_table(drawn: list[Shape], low: float, high: float) -> Table:
    frame = describe(drawn)
    rows = [
        {"activation": row[0], **{column: f"{v:.4g}" for column, v in zip(frame.columns[1:], row[1:])}}
        for row in frame.itertuples(index=False)
    ]
    return rich_table(rows, f"on [{low:g}, {high:g}], float64")


def _jumps(breakpoints: list[Breakpoint]) -> str:
    """E.g. "Δf'' -0.558 at -2.21, +0.558 at 2.21": right minus left limit, each order
    named where it changes (the column is narrow)."""
    texts = []
    for before, b in zip([None, *breakpoints], breakpoints):
        named = before is None or before.order != b.order
        texts.append(f"{'Δ' + b.order + ' ' if named else ''}{b.jump:+.3g} at {b.x:g}")
    return ", ".join(texts)


def properties_table(rows: list[Properties]) -> Table:
    cells = []
    for p in rows:
        where = "as x→±∞" if p.argmin is None else f"at {p.argmin:.4g}"
        monotone = ("yes" if p.monotone else "no") + (f" (for {p.monotone_range})" if p.monotone_range else "")
        bounded = "/".join(b for b, ok in (("below", p.bounded_below), ("above", p.bounded_above)) if ok) or "no"
        breaks = _jumps(p.breakpoints)
        cells.append(
            {
                "activation": p.activation,
                "f(0)": f"{p.f0:.4g}",
                "f'(0)": f"{p.df0:.4g}",
                "min": f"{p.min_value:.4g} ({where})",
                "monotone": monotone,
                "mean N(0,1)": f"{p.mean_output:.3g}",
                "bounded": bounded,
                "slope -inf/+inf": f"{p.slope_neg_inf:.3g}/{p.slope_pos_inf:.3g}",
                "smoothness": p.smoothness + (f" ({breaks})" if breaks else ""),
                "gradcheck": "ok" if p.gradcheck else "FAILED",
                "finite fp16/bf16": f"{'yes' if p.finite_float16 else 'NO'}/{'yes' if p.finite_bfloat16 else 'NO'}",
                "dead": f"{p.dead_fraction:.3g}",
            }
        )
    title = "properties, computed numerically in float64 (N(0, 1) for mean and dead fraction)"
    return rich_table(cells, title, left=(0, 8))  # activation, smoothness


def speed_table(rows: list[Timing], title: str) -> Table:
    cells = [
        {
            "activation": r.activation,
            "variant": r.variant,
            "pass": r.pass_,
            "Gelem/s": f"{r.elements_per_s / 1e9:.3f}",
            "of roofline": f"{r.roofline_fraction:.0%}",
            "saved for backward (bytes/elem)": f"{r.saved_bytes_per_element:g}",
        }
        for r in rows
    ]
    return rich_table(cells, title, left=(0, 1, 2))


def flow_table(flows: list[Flow], title: str) -> Table:
    cells = [
        {
            "activation": f.activation,
            "init": f.init,
            "signal std ratio": f"{f.signal_ratio:.3g}",
            "gradient ratio": f"{f.grad_ratio:.3g}",
            "dead units (last)": f"{f.dead_last:.0%}",
            "verdict": f.verdict,
        }
        for f in flows
    ]
    return rich_table(cells, title, left=(0, 1, 5))
