"""Properties of an activation, computed numerically from its module, never copied from a list.

Everything is evaluated in float64 with slopes by autograd, on a dense grid of
[-GRID_HALF_WIDTH, GRID_HALF_WIDTH] refined where it matters (the minimum by SciPy's
bounded scalar minimiser, breakpoints by bisection), and far out at ±FAR for the
asymptotic behaviour. Expectations over x ~ N(0, 1) use the N(0, 1) quantiles of
QUANTILES evenly spaced probabilities: deterministic, and exact for counting how many
inputs fall below 0.
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
FAR = 1e6  # "infinity" for asymptotic slopes
FAR_VALUE = 1e15  # "infinity" for the value an infimum approaches (squareplus: b/(4|x|) = 1e-15)
SATURATED = 5.0
QUANTILES = 100_000
JUMP = 1e-6  # a jump in f, f' or f'' smaller than this is rounding, not a breakpoint
FLAT = 1e-12  # slopes above -FLAT count as non-negative (monotone)
FINITE_PROBES = (1e4, 1e3, 100.0, 10.0, 3.0, 1.0, 0.5, 1e-3, 0.0)


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
    smoothness: str  # "C0", "C1" or "C2+": the order of the first derivative with a jump
    breakpoints: list[tuple[float, str]]  # (x, "f'" or "f''"): where a derivative jumps
    gradcheck: bool  # torch.autograd.gradcheck in float64, away from breakpoints
    finite_float32: bool
    finite_float16: bool
    finite_bfloat16: bool
    dead_fraction: float  # share of N(0, 1) inputs whose slope is exactly 0
    monotone_range: list[float] | None = field(default=None)  # with a sweep: the monotone interval

    def to_dict(self) -> dict:
        """Plain JSON data: infinities as the strings "inf" and "-inf" (JSON has no infinity)."""
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


def _breakpoints(module: torch.nn.Module, x: np.ndarray, derivs: list[np.ndarray]) -> list[tuple[float, str]]:
    """Where f' or f'' jumps: grid steps far above their neighbours, confirmed by bisecting
    the step 60 times (to float64 resolution) and finding the jump still there."""
    found = []
    for order, name in ((1, "f'"), (2, "f''")):
        step = np.abs(np.diff(derivs[order]))
        window = np.maximum.reduce([np.roll(step, s) for s in (-3, -2, -1, 1, 2, 3)])
        for i in np.flatnonzero(step > 10 * window + JUMP):
            lo, hi = x[i], x[i + 1]
            for _ in range(60):
                mid = (lo + hi) / 2
                left = abs(_at(module, mid, order) - _at(module, lo, order))
                right = abs(_at(module, hi, order) - _at(module, mid, order))
                lo, hi = (lo, mid) if left >= right else (mid, hi)
            if abs(_at(module, hi, order) - _at(module, lo, order)) > JUMP:
                where = float(round((lo + hi) / 2, 6)) + 0.0  # + 0.0: no "-0.0"
                if not any(abs(where - w) < 1e-4 for w, _ in found):
                    found.append((where, name))
    return sorted(found)


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
    derivs = _derivatives(module, x, order=2)
    f, df = derivs[0], derivs[1]
    slope_neg = (_at(module, -FAR) - _at(module, -2 * FAR)) / FAR
    slope_pos = (_at(module, 2 * FAR) - _at(module, FAR)) / FAR
    min_value, argmin = _minimum(module, x, f, df, slope_neg, slope_pos)
    quantiles = scipy_stats.norm.ppf((np.arange(QUANTILES) + 0.5) / QUANTILES)
    fq, dfq = _derivatives(module, quantiles)
    breaks = _breakpoints(module, x, derivs)
    orders = {name for _, name in breaks}
    # gradcheck's finite differences need a neighbourhood free of breakpoints.
    probe = torch.linspace(-4, 4, 17, dtype=torch.float64) + 0.0123
    probe = probe[[all(abs(p - b) > 1e-3 for b, _ in breaks) for p in probe.tolist()]].requires_grad_()
    try:
        gradcheck = bool(torch.autograd.gradcheck(module, (probe,)))
    except Exception:  # noqa: BLE001 - a failed check is the answer, whatever the module raised
        gradcheck = False
    odd = bool(np.allclose(f, -f[::-1], rtol=1e-9, atol=1e-12))  # the grid is symmetric about 0
    return Properties(
        activation=spec.canonical,
        f0=_at(module, 0.0),
        df0=_at(module, 0.0, 1),
        min_value=min_value,
        argmin=argmin,
        monotone=bool(df.min() >= -FLAT and slope_neg >= -FLAT and slope_pos >= -FLAT),
        odd=odd,
        mean_output=float(fq.mean()),
        zero_mean=bool(abs(fq.mean()) < 1e-3),
        bounded_below=bool(abs(slope_neg) <= FLAT and slope_pos >= -FLAT),
        bounded_above=bool(abs(slope_pos) <= FLAT and slope_neg >= -FLAT),
        slope_neg_inf=slope_neg,
        slope_pos_inf=slope_pos,
        smoothness="C0" if "f'" in orders else "C1" if "f''" in orders else "C2+",
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
        raise UsageError(f"{spec.canonical} has no parameter {name!r} to sweep; its parameters: {known}")
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
