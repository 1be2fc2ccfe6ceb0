"""Terminal tables of the inspection commands: plot, check, speed and flow."""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table

from actbench.inspect.check import Breakpoint, Properties
from actbench.inspect.flow import Flow
from actbench.inspect.plot import Shape, describe
from actbench.inspect.speed import Timing


def _table(title: str, columns: tuple[str, ...], left: tuple[str, ...]) -> Table:
    table = Table(title=escape(title))
    for column in columns:
        table.add_column(column, justify="left" if column in left else "right")
    return table


def shapes_table(drawn: list[Shape], low: float, high: float) -> Table:
    frame = describe(drawn)
    table = _table(f"on [{low:g}, {high:g}], float64", tuple(frame.columns), ("activation",))
    for row in frame.itertuples(index=False):
        table.add_row(escape(row[0]), *(f"{v:.4g}" for v in row[1:]))
    return table


def _jumps(breakpoints: list[Breakpoint]) -> str:
    """E.g. "Δf'' -0.558 at -2.21, +0.558 at 2.21": right minus left limit, each order
    named where it changes (the column is narrow)."""
    texts = []
    for before, b in zip([None, *breakpoints], breakpoints):
        named = before is None or before.order != b.order
        texts.append(f"{'Δ' + b.order + ' ' if named else ''}{b.jump:+.3g} at {b.x:g}")
    return ", ".join(texts)


def properties_table(rows: list[Properties]) -> Table:
    columns = (
        "activation",
        "f(0)",
        "f'(0)",
        "min",
        "monotone",
        "mean N(0,1)",
        "bounded",
        "slope -inf/+inf",
        "smoothness",
        "gradcheck",
        "finite fp16/bf16",
        "dead",
    )
    table = _table(
        "properties, computed numerically in float64 (N(0, 1) for mean and dead fraction)",
        columns,
        ("activation", "smoothness"),
    )
    for p in rows:
        where = "as x→±∞" if p.argmin is None else f"at {p.argmin:.4g}"
        monotone = ("yes" if p.monotone else "no") + (f" (for {p.monotone_range})" if p.monotone_range else "")
        bounded = "/".join(b for b, ok in (("below", p.bounded_below), ("above", p.bounded_above)) if ok) or "no"
        breaks = _jumps(p.breakpoints)
        table.add_row(
            escape(p.activation),
            f"{p.f0:.4g}",
            f"{p.df0:.4g}",
            f"{p.min_value:.4g} ({where})",
            monotone,
            f"{p.mean_output:.3g}",
            bounded,
            f"{p.slope_neg_inf:.3g}/{p.slope_pos_inf:.3g}",
            p.smoothness + (f" ({breaks})" if breaks else ""),
            "ok" if p.gradcheck else "FAILED",
            f"{'yes' if p.finite_float16 else 'NO'}/{'yes' if p.finite_bfloat16 else 'NO'}",
            f"{p.dead_fraction:.3g}",
        )
    return table


def speed_table(rows: list[Timing], title: str) -> Table:
    columns = ("activation", "variant", "pass", "Gelem/s", "of roofline", "saved for backward (bytes/elem)")
    table = _table(title, columns, ("activation", "variant", "pass"))
    for r in rows:
        table.add_row(
            escape(r.activation),
            r.variant,
            r.pass_,
            f"{r.elements_per_s / 1e9:.3f}",
            f"{r.roofline_fraction:.0%}",
            f"{r.saved_bytes_per_element:g}",
        )
    return table


def flow_table(flows: list[Flow], title: str) -> Table:
    columns = ("activation", "init", "signal std ratio", "gradient ratio", "dead units (last)", "verdict")
    table = _table(title, columns, ("activation", "init", "verdict"))
    for f in flows:
        table.add_row(
            escape(f.activation),
            f.init,
            f"{f.signal_ratio:.3g}",
            f"{f.grad_ratio:.3g}",
            f"{f.dead_last:.0%}",
            f.verdict,
        )
    return table
