"""Properties of an activation, computed numerically from its module, never copied from a list.

Everything is evaluated in float64 with slopes by autograd, on a dense grid of
[-GRID_HALF_WIDTH, GRID_HALF_WIDTH] refined where it matters (the minimum by SciPy's
bounded scalar minimiser, breakpoints by subdivision and one-sided limits), and far
out at ±FAR for the asymptotic behaviour. Expectations over x ~ N(0, 1) use the
N(0, 1) quantiles of QUANTILES evenly spaced probabilities: deterministic, and exact
for counting how many inputs fall below 0.

Breakpoints must not depend on where they fall relative to the grid: a jump in f, f'
or f'' exactly on a grid point (where autograd returns one side's value, or the mean
of both) or between two points. So the grid only proposes candidates, from fifth
differences that stand out from their neighbours (a jump J leaves at least J/2 in
them wherever it falls; a smooth g leaves step⁵·g⁽⁵⁾, which varies slowly), and each
candidate is settled off the grid: narrowed to float64 resolution, then its jump
measured as the difference of the two one-sided limits, each extrapolated from
x0 ± h and x0 ± 2h. A jump is real when that difference is the same at two very
different h; in a steep but smooth region it shrinks like h³.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from scipy import optimize
from scipy import stats as scipy_stats

from actbench.activations import ActivationSpec
from actbench.errors import UsageError

GRID_HALF_WIDTH, GRID_POINTS = 20.0, 80_001  # step 5e-4
# "Infinity" for asymptotic slopes: far enough that a tail c/|x| (squareplus: b/(4|x|))
# has a chord slope c/(2·FAR²) below FLAT for any c below 1e12. At 1e6, squareplus with
# b >= 8 looked unbounded below.
FAR = 1e12
FAR_VALUE = 1e15  # "infinity" for the value an infimum approaches (squareplus: b/(4|x|) = 1e-15)
SATURATED = 5.0
QUANTILES = 100_000
JUMP = 1e-6  # a jump in f, f' or f'' smaller than this is rounding, not a breakpoint
FLAT = 1e-12  # slopes above -FLAT count as non-negative (monotone)
ORDERS = ("f", "f'", "f''")  # the derivatives searched for jumps, by order
# By the lowest order that jumps anywhere; "C2+" when none does.
SMOOTHNESS = {"f": "discontinuous", "f'": "C0", "f''": "C1"}
DIFFERENCE = 5  # the order of the grid differences that propose breakpoints
NEIGHBOURS = range(7, 11)  # steps to the differences a candidate must stand out from
PAD = 16  # grid steps added beyond each end: a breakpoint at ±GRID_HALF_WIDTH has neighbours
SECTIONS = 32  # steps sampled per round of locating a breakpoint, which keeps 3 of them
FINITE_PROBES = (1e4, 1e3, 100.0, 10.0, 3.0, 1.0, 0.5, 1e-3, 0.0)


@dataclass(frozen=True)
class Breakpoint:
    x: float
    order: str  # "f", "f'" or "f''": the lowest derivative that jumps at x
    jump: float  # that derivative's right limit minus its left limit


@dataclass(frozen=True)
class Properties:
    activation: str
    f0: float
    df0: float
    min_value: float  # -inf when unbounded below
    argmin: float | None  # None when the infimum is only approached as x -> -inf or +inf
    monotone: bool
    odd: bool
    mean_output: float  # E[f(X)], X ~ N(0, 1)
    zero_mean: bool  # |mean_output| < 1e-3
    bounded_below: bool
    bounded_above: bool
    slope_neg_inf: float
    slope_pos_inf: float
    smoothness: str  # "discontinuous", "C0", "C1" or "C2+": by the lowest order with a jump
    breakpoints: list[Breakpoint]  # in [-GRID_HALF_WIDTH, GRID_HALF_WIDTH], by x
    gradcheck: bool  # torch.autograd.gradcheck in float64, away from breakpoints
    finite_float32: bool
    finite_float16: bool
    finite_bfloat16: bool
    dead_fraction: float  # share of N(0, 1) inputs whose slope is exactly 0
    monotone_range: list[float] | None = field(default=None)  # with a sweep: the monotone interval

    def to_dict(self) -> dict:
        """Plain JSON data: infinities as the strings "inf" and "-inf" (JSON has no infinity),
        each breakpoint an object {"x", "order", "jump"}."""
        return {k: (str(v) if isinstance(v, float) and math.isinf(v) else v) for k, v in asdict(self).items()}


def _derivatives(module: torch.nn.Module, x: np.ndarray, order: int = 1) -> list[np.ndarray]:
    """[f, f', f''][: order + 1] at x, in float64, by autograd."""
    t = torch.as_tensor(x, dtype=torch.float64).requires_grad_()
    values = [module(t)]
    for _ in range(order):
        if not values[-1].requires_grad:  # a constant (the slope of identity or ReLU): derivative 0
            values.append(torch.zeros_like(t))
            continue
        (d,) = torch.autograd.grad(values[-1].sum(), t, create_graph=True, allow_unused=True)
        values.append(torch.zeros_like(t) if d is None else d)
    return [v.detach().numpy().astype(float) for v in values]


def _at(module: torch.nn.Module, x: float, order: int = 0) -> float:
    return float(_derivatives(module, np.array([x]), order)[order][0])


def _minimum(module: torch.nn.Module, x: np.ndarray, f: np.ndarray, df: np.ndarray, slope_neg: float, slope_pos: float):
    """(min_value, argmin): refined inside the grid, or the infimum approached far out."""
    if slope_neg > FLAT or slope_pos < -FLAT:
        return -math.inf, None  # still falling towards one end: unbounded below
    i = int(np.argmin(f))
    # A flat minimum (ReLU on x <= 0) has slope exactly 0; tanh near -20 equals -1 in
    # float64 but still has a positive slope, so its -1 is an infimum, not a minimum.
    flat = np.flatnonzero((f <= f[i] + FLAT) & (df == 0))
    if len(flat) > 1:
        j = flat[np.argmin(np.abs(x[flat]))]  # the flat minimum's end nearest to 0
        # Beyond |x| = SATURATED, "flat" is float64 rounding: tanh is -1.0 and its slope
        # 0.0 from x = -19.06 on, yet -1 is only approached.
        if abs(x[j]) < SATURATED:
            return float(f[j]), float(x[j])
    far = min(_at(module, -FAR_VALUE), _at(module, FAR_VALUE))
    if far < f[i] - JUMP or i in (0, len(x) - 1):
        # Lowest at the grid's end, or lower still far out: an infimum approached at infinity.
        return min(far, float(f[i])), None
    best = optimize.minimize_scalar(
        lambda v: _at(module, v), bounds=(x[i - 1], x[i + 1]), method="bounded", options={"xatol": 1e-10}
    )
    return float(best.fun), float(best.x)


def _candidates(values: np.ndarray) -> list[tuple[int, int]]:
    """Grid index ranges [first, last] that may hold a jump of ``values``: where DIFFERENCE-th
    differences exceed JUMP/4 and ten times all their neighbours 7 to 10 steps away on at
    least one side. A jump J leaves at least J/2 in some of the 6 differences that span it,
    wherever it falls; a smooth g leaves step⁵·g⁽⁵⁾, which varies slowly. One clean side
    is enough, so that a second jump nearby does not hide the first."""
    d = np.abs(np.diff(values, DIFFERENCE))  # d[i] spans values[i .. i + DIFFERENCE]
    pad = max(NEIGHBOURS)
    padded = np.pad(d, pad)  # zeros: near the ends, fewer neighbours to stand out from

    def side(sign: int) -> np.ndarray:  # at i, the largest of d[i + sign·n] for n in NEIGHBOURS
        return np.maximum.reduce([padded[pad + sign * n : len(padded) - pad + sign * n] for n in NEIGHBOURS])

    flagged = np.flatnonzero((d > JUMP / 4) & (d > 10 * np.minimum(side(-1), side(1))))
    # One jump flags up to 6 neighbouring differences: flags closer than that are one candidate.
    runs = np.split(flagged, np.flatnonzero(np.diff(flagged) > DIFFERENCE) + 1) if len(flagged) else []
    return [(max(run[0] - 1, 0), min(run[-1] + DIFFERENCE + 1, len(values) - 1)) for run in runs]


def _locate(module: torch.nn.Module, order: int, lo: float, hi: float) -> float:
    """Where in [lo, hi] the order-th derivative g jumps, to 1e-14 relative. Each round
    samples SECTIONS steps and keeps the 3 around the largest third difference: a jump,
    a kink in g, or both, put it within one step of their own, where a smooth g gives
    only step³·g'''."""
    while hi - lo > 1e-14 * max(1.0, abs(lo)):
        x = np.linspace(lo, hi, SECTIONS + 1)
        i = int(np.argmax(np.abs(np.diff(_derivatives(module, x, order)[order], 3))))
        lo, hi = x[i], x[i + 3]
    return float(lo + (hi - lo) / 2)


def _jump(module: torch.nn.Module, order: int, x0: float, h: float) -> float:
    """Right minus left limit of the order-th derivative at x0, each side extrapolated
    linearly from x0 ± h and x0 ± 2h (error O(h²)): never evaluated at x0 itself, whose
    value belongs to one side, or to neither."""
    g = _derivatives(module, x0 + h * np.array([-2.0, -1.0, 1.0, 2.0]), order)[order]
    return float((2 * g[2] - g[3]) - (2 * g[1] - g[0]))


def _confirmed_jump(module: torch.nn.Module, order: int, x0: float) -> float | None:
    """The jump at x0, if it is one: above JUMP, and the same within 0.1% measured 1e-6 or
    1e-9 (relative) from x0. Across a steep but smooth region the difference shrinks like h³."""
    scale = max(1.0, abs(x0))
    near, nearer = _jump(module, order, x0, 1e-6 * scale), _jump(module, order, x0, 1e-9 * scale)
    if abs(nearer) > JUMP and abs(near - nearer) <= 1e-3 * abs(nearer):
        return nearer
    return None


def _breakpoints(module: torch.nn.Module) -> list[Breakpoint]:
    """Where f, f' or f'' jumps in [-GRID_HALF_WIDTH, GRID_HALF_WIDTH]: each with the
    lowest order that jumps there and the size of that jump."""
    step = 2 * GRID_HALF_WIDTH / (GRID_POINTS - 1)
    edge = GRID_HALF_WIDTH + PAD * step
    x = np.linspace(-edge, edge, GRID_POINTS + 2 * PAD)  # the grid, PAD steps wider each side
    found: list[Breakpoint] = []
    for order, values in enumerate(_derivatives(module, x, order=2)):
        for first, last in _candidates(values):
            x0 = _locate(module, order, x[first], x[last])
            # A jump in f or f' also makes the higher derivatives' differences stand out.
            if abs(x0) > GRID_HALF_WIDTH * (1 + 1e-12) or any(abs(x0 - b.x) < 1e-6 for b in found):
                continue
            jump = _confirmed_jump(module, order, x0)
            if jump is not None:
                # x0 is good to ~1e-14 relative: 10 decimals give back 2.21 as 2.21; + 0.0: no "-0.0".
                found.append(Breakpoint(round(x0, 10) + 0.0, ORDERS[order], jump))
    return sorted(found, key=lambda b: b.x)


def _finite_in(module: torch.nn.Module, dtype: torch.dtype) -> bool:
    """f and f' finite in ``dtype`` wherever their float64 values are finite and representable."""
    probes = np.array(sorted({s * p for p in FINITE_PROBES for s in (-1, 1)}))
    f64, df64 = _derivatives(module, probes)
    x = torch.tensor(probes, dtype=dtype, requires_grad=True)
    y = module.to(dtype)(x)  # Module.to converts in place: restored to float64 below
    (dy,) = torch.autograd.grad(y.sum(), x)
    module.double()
    limit = torch.finfo(dtype).max
    expected = np.isfinite(f64) & (np.abs(f64) <= limit) & np.isfinite(df64) & (np.abs(df64) <= limit)
    got = torch.isfinite(y.float()).numpy() & torch.isfinite(dy.float()).numpy()
    return bool(np.all(got[expected]))


def properties(spec: ActivationSpec) -> Properties:
    """Every property of ``spec``'s module, at its initial parameters."""
    module = spec.build().double()
    x = np.linspace(-GRID_HALF_WIDTH, GRID_HALF_WIDTH, GRID_POINTS)
    f, df = _derivatives(module, x)
    slope_neg = (_at(module, -FAR) - _at(module, -2 * FAR)) / FAR
    slope_pos = (_at(module, 2 * FAR) - _at(module, FAR)) / FAR
    min_value, argmin = _minimum(module, x, f, df, slope_neg, slope_pos)
    quantiles = scipy_stats.norm.ppf((np.arange(QUANTILES) + 0.5) / QUANTILES)
    fq, dfq = _derivatives(module, quantiles)
    breaks = _breakpoints(module)
    orders = {b.order for b in breaks}
    # gradcheck's finite differences need a neighbourhood free of breakpoints.
    probe = torch.linspace(-4, 4, 17, dtype=torch.float64) + 0.0123
    probe = probe[[all(abs(p - b.x) > 1e-3 for b in breaks) for p in probe.tolist()]].requires_grad_()
    try:
        gradcheck = bool(torch.autograd.gradcheck(module, (probe,)))
    except Exception:  # noqa: BLE001 - a failed check is the answer, whatever the module raised
        gradcheck = False
    odd = bool(np.allclose(f, -f[::-1], rtol=1e-9, atol=1e-12))  # the grid is symmetric about 0
    return Properties(
        activation=spec.unversioned,  # as written: a plug-in's version names stored trials, not this
        f0=_at(module, 0.0),
        df0=_at(module, 0.0, 1),
        min_value=min_value,
        argmin=argmin,
        monotone=bool(
            df.min() >= -FLAT
            and slope_neg >= -FLAT
            and slope_pos >= -FLAT
            and all(b.jump > 0 for b in breaks if b.order == "f")  # a step down is a decrease
        ),
        odd=odd,
        mean_output=float(fq.mean()),
        zero_mean=bool(abs(fq.mean()) < 1e-3),
        bounded_below=bool(abs(slope_neg) <= FLAT and slope_pos >= -FLAT),
        bounded_above=bool(abs(slope_pos) <= FLAT and slope_neg >= -FLAT),
        slope_neg_inf=slope_neg,
        slope_pos_inf=slope_pos,
        smoothness=next((SMOOTHNESS[o] for o in ORDERS if o in orders), "C2+"),
        breakpoints=breaks,
        gradcheck=gradcheck,
        finite_float32=_finite_in(module, torch.float32),
        finite_float16=_finite_in(module, torch.float16),
        finite_bfloat16=_finite_in(module, torch.bfloat16),
        dead_fraction=float(np.mean(dfq == 0)),
    )


def parse_sweep(text: str) -> tuple[str, float, float]:
    """'alpha=-2:12' -> ("alpha", -2.0, 12.0)."""
    name, _, bounds = text.partition("=")
    low, _, high = bounds.partition(":")
    try:
        lo, hi = float(low), float(high)
    except ValueError:
        raise UsageError(f"--sweep expects NAME=LOW:HIGH like alpha=-2:12, got {text!r}") from None
    if not name.strip() or not lo < hi:
        raise UsageError(f"--sweep expects NAME=LOW:HIGH with LOW < HIGH, got {text!r}")
    return name.strip(), lo, hi


def _is_monotone(spec: ActivationSpec, name: str, value: float) -> bool:
    swept = ActivationSpec(spec.info, spec.target, tuple(sorted({**dict(spec.kwargs), name: float(value)}.items())))
    module = swept.build().double()
    x = np.linspace(-GRID_HALF_WIDTH, GRID_HALF_WIDTH, GRID_POINTS)
    return bool(_derivatives(module, x)[1].min() >= -FLAT)


def monotone_range(spec: ActivationSpec, name: str, low: float, high: float, steps: int = 57) -> list[float] | None:
    """The interval of parameter values in [low, high] where the activation is monotone,
    found on ``steps`` values and its ends refined by bisection to 1e-6; None if nowhere."""
    if name not in dict(spec.kwargs):
        known = ", ".join(k for k, _ in spec.kwargs) or "none"
        raise UsageError(f"{spec.unversioned} has no parameter {name!r} to sweep; its parameters: {known}")
    values = np.linspace(low, high, steps)
    flags = [_is_monotone(spec, name, v) for v in values]
    if not any(flags):
        return None
    first, last = flags.index(True), len(flags) - 1 - flags[::-1].index(True)

    def edge(inside: float, outside: float) -> float:
        while abs(inside - outside) > 1e-6:
            mid = (inside + outside) / 2
            inside, outside = (mid, outside) if _is_monotone(spec, name, mid) else (inside, mid)
        return inside

    lo = values[first] if first == 0 else edge(values[first], values[first - 1])
    hi = values[last] if last == steps - 1 else edge(values[last], values[last + 1])
    return [round(float(lo), 5), round(float(hi), 5)]
