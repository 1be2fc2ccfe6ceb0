"""actbench check across parameter ranges: what it reports must not depend on where a
breakpoint, a dip or a boundary falls relative to its sampling grid.

Each test draws parameters with Hypothesis and compares with facts derived by hand:
for SReLU, ELU, Squareplus and RaLU from their definitions, and for synthetic
piecewise plug-ins from their construction. Values are drawn on purpose where a grid
misleads: exactly on grid points, between them, near 0, near the grid's ends, and a
hair beyond a parameter's boundary. Derandomized, so CI always runs the same examples.
"""

import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from scipy import optimize
from scipy import stats as scipy_stats
from torch import nn

from actbench.activations import ActivationSpec, parse_activation
from actbench.inspect.check import GRID_HALF_WIDTH, GRID_POINTS, QUANTILES, monotone_range, properties

GRID = np.linspace(-GRID_HALF_WIDTH, GRID_HALF_WIDTH, GRID_POINTS)


def deterministic(examples: int) -> settings:
    """The same ``examples`` examples on every run (no example database, no clock): CI
    cannot flake. The autouse fixture only moves the working directory into tmp_path,
    which the examples of one test can share."""
    return settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )


def on_grid(low: float, high: float) -> st.SearchStrategy[float]:
    """Points of check's own sampling grid in [low, high]: where splitting a jump over two
    grid steps used to hide it."""
    first, last = np.searchsorted(GRID, [low, high])
    return st.integers(int(first), int(last) - 1).map(lambda i: float(GRID[i]))


def near(value: float, closest: float) -> st.SearchStrategy[float]:
    """value ± closest .. 0.01, log-uniform: a hair on either side of a boundary."""
    sides, exponents = st.sampled_from([-1.0, 1.0]), st.floats(math.log10(closest), -2)
    return st.tuples(sides, exponents).map(lambda s: value + s[0] * 10 ** s[1])


def check(spec: str):
    return properties(parse_activation(spec))


def breaks(p) -> list[tuple[float, str]]:
    return [(b.x, b.order) for b in p.breakpoints]


def jumps(p) -> list[float]:
    return [b.jump for b in p.breakpoints]


# --- SReLU ------------------------------------------------------------------------------

# With u = a·x and a = π/(2t), f(x) = (u/a)·(sin u + 1)/2: the minimum sits at the same u*
# for every t, the root of d/du [u·(sin u + 1)] = sin u + 1 + u·cos u in (-π/2, 0).
U_STAR = optimize.brentq(lambda u: math.sin(u) + 1 + u * math.cos(u), -1.5, -0.1, xtol=1e-15)


@deterministic(80)
@given(t=st.one_of(st.floats(0.01, 20.0), on_grid(0.01, 20.0)))
@example(t=2.0)  # the SReLU module's own example, reported C2+ before issue 16
@example(t=2.21)
@example(t=20.0)  # breakpoints at the grid's ends
def test_srelu_is_c1_with_f2_jumps_of_a2t_over_2_at_plus_minus_t(t):
    p = check(f"srelu(t={t!r})")
    assert p.smoothness == "C1"
    assert breaks(p) == [(pytest.approx(-t, abs=1e-9), "f''"), (pytest.approx(t, abs=1e-9), "f''")]
    # For |x| < t, f''(x) = a·cos(a·x) - a²·x·sin(a·x)/2: -a²t/2 at both ends, 0 outside.
    a = math.pi / (2 * t)
    assert jumps(p) == pytest.approx([-(a**2) * t / 2, a**2 * t / 2], rel=1e-6)
    scale = 2 * t / math.pi
    assert p.argmin == pytest.approx(U_STAR * scale, rel=1e-6)
    assert p.min_value == pytest.approx(scale * U_STAR * (math.sin(U_STAR) + 1) / 2, rel=1e-9)
    assert not p.monotone and p.bounded_below and not p.bounded_above
    assert (p.slope_neg_inf, p.slope_pos_inf) == (0.0, 1.0) and (p.f0, p.df0) == (0.0, 0.5)
    assert p.dead_fraction == pytest.approx(scipy_stats.norm.cdf(-t), abs=1.5 / QUANTILES) and p.gradcheck


# --- ELU --------------------------------------------------------------------------------


@deterministic(60)
@given(alpha=st.one_of(st.floats(0.01, 10.0), near(1.0, 1e-5)))
@example(alpha=1.0)
def test_elu_is_c1_at_alpha_1_and_c0_otherwise(alpha):
    assume(alpha == 1.0 or abs(alpha - 1) >= 1e-5)  # a jump in f' below JUMP is rounding
    p = check(f"elu(alpha={alpha!r})")
    # f' = α·eˣ for x < 0 and 1 for x > 0; f'' = α·eˣ and 0.
    if alpha == 1.0:
        assert p.smoothness == "C1" and breaks(p) == [(0.0, "f''")] and jumps(p) == pytest.approx([-1.0])
    else:
        assert p.smoothness == "C0" and breaks(p) == [(0.0, "f'")]
        assert jumps(p) == pytest.approx([1 - alpha], rel=1e-6)
    assert p.monotone and p.bounded_below and not p.bounded_above
    assert p.min_value == pytest.approx(-alpha, rel=1e-9) and p.argmin is None  # approached as x → -∞
    assert (p.slope_neg_inf, p.slope_pos_inf) == (0.0, 1.0)


# --- Squareplus -------------------------------------------------------------------------


@deterministic(60)
@given(b=st.floats(1e-10, 1e4))
@example(b=4.0)
@example(b=9.0)  # unbounded below, with minimum -inf, before issue 16
def test_squareplus_is_smooth_monotone_and_bounded_below_by_0_for_b_above_0(b):
    p = check(f"squareplus(b={b!r})")
    assert p.bounded_below and not p.bounded_above and p.monotone
    assert p.min_value == pytest.approx(0.0, abs=1e-9) and p.argmin is None  # b/(4|x|) → 0 as x → -∞
    assert p.smoothness == "C2+" and p.breakpoints == []
    assert p.f0 == pytest.approx(math.sqrt(b) / 2, rel=1e-12) and p.df0 == pytest.approx(0.5)
    assert p.slope_neg_inf == pytest.approx(0.0, abs=1e-12) and p.slope_pos_inf == pytest.approx(1.0)


# --- RaLU -------------------------------------------------------------------------------


@deterministic(60)
@given(alpha=st.one_of(st.floats(-3.0, 15.0), near(0.0, 1e-10), near(9.0, 1e-10)))
@example(alpha=0.0)
@example(alpha=9.0)
def test_ralu_is_smooth_and_monotone_exactly_for_alpha_in_0_to_9(alpha):
    assume(alpha in (0.0, 9.0) or min(abs(alpha), abs(alpha - 9)) >= 1e-10)  # f' > -FLAT
    p = check(f"ralu(alpha={alpha!r})")
    alpha = float(np.float32(alpha))  # the module keeps α as a float32 parameter
    # f'(x) = (x⁴ + (3-α)x² + α)/(x² + 1)²: f'(0) = α, and for α = 9 + ε the numerator's
    # minimum, at x² = 3 + ε/2, is -2ε - ε²/4.
    assert p.monotone == (0 <= alpha <= 9)
    assert p.smoothness == "C2+" and p.breakpoints == []
    assert p.df0 == pytest.approx(alpha, abs=1e-12) and p.odd and p.gradcheck
    assert p.slope_neg_inf == pytest.approx(1.0) and p.slope_pos_inf == pytest.approx(1.0)
    assert p.min_value == -math.inf and not p.bounded_below and not p.bounded_above


# --- synthetic piecewise plug-ins -------------------------------------------------------

ORDERS = ("f", "f'", "f''")
LABELS = ("discontinuous", "C0", "C1", "C2+")  # by the lowest order that jumps


class Piecewise(nn.Module):
    """slope·x + bend·tanh(x), plus, for each (order, at, jump) part, jump·(x - at)₊^order/order!:
    a jump of size ``jump`` in f (order 0), f' (order 1) or f'' (order 2) at x = at."""

    def __init__(self, slope: float, bend: float, parts: tuple[tuple[int, float, float], ...]) -> None:
        super().__init__()
        self.slope, self.bend, self.parts = slope, bend, parts

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.slope * x + self.bend * torch.tanh(x)
        for order, at, jump in self.parts:
            beyond = torch.relu(x - at)
            piece = (x > at).to(x.dtype) if order == 0 else beyond if order == 1 else beyond**2 / 2
            y = y + jump * piece
        return y


def piecewise(slope: float, bend: float, parts) -> ActivationSpec:
    """The plug-in spec, built directly: its parts are a tuple, which no spec string spells."""
    kwargs = (("bend", bend), ("parts", tuple(parts)), ("slope", slope))
    return ActivationSpec(None, f"{__name__}:Piecewise", kwargs)


WHERE = st.one_of(
    st.floats(-GRID_HALF_WIDTH, GRID_HALF_WIDTH),
    on_grid(-GRID_HALF_WIDTH, GRID_HALF_WIDTH),
    st.sampled_from([0.0, 1e-9, -2.5e-4, GRID_HALF_WIDTH, -GRID_HALF_WIDTH, float(GRID[-2]), 19.99999]),
)
SIZE = st.tuples(st.sampled_from([-1.0, 1.0]), st.floats(-3, 1)).map(lambda s: s[0] * 10 ** s[1])  # |jump| 1e-3..10
PARTS = st.lists(st.tuples(st.integers(0, 2), WHERE, SIZE), max_size=3, unique_by=lambda part: part[1]).filter(
    lambda parts: all(abs(p[1] - q[1]) >= 0.01 for i, p in enumerate(parts) for q in parts[:i])
)


@deterministic(200)
@given(slope=st.floats(0.1, 2.0), bend=st.floats(0.0, 2.0), parts=PARTS)
@example(slope=1.0, bend=0.0, parts=[(0, 0.0, 1.0)])  # a unit step at 0: never looked for before
@example(slope=0.5, bend=1.0, parts=[(1, -GRID_HALF_WIDTH, 0.3), (2, 2.0, 1e-3), (0, GRID_HALF_WIDTH, -0.5)])
def test_synthetic_breakpoints_are_found_wherever_they_fall(slope, bend, parts):
    p = properties(piecewise(slope, bend, parts))
    expected = sorted(parts, key=lambda part: part[1])
    assert p.smoothness == LABELS[min((order for order, _, _ in parts), default=3)]
    assert breaks(p) == [(pytest.approx(at, abs=1e-9), ORDERS[order]) for order, at, _ in expected]
    assert jumps(p) == pytest.approx([jump for _, _, jump in expected], rel=1e-6)
    if all(jump > 0 for order, _, jump in parts if order > 0):
        # f' = slope + bend·sech²(x) + the ramps' positive jumps > 0: only a step down in f
        # can make f decrease.
        assert p.monotone == all(jump > 0 for _, _, jump in parts)


# --- the monotone range of a sweep ------------------------------------------------------


@pytest.mark.slow  # each sweep checks ~100 parameter values: seconds apiece
@deterministic(12)
@given(low=st.floats(-20.0, 8.5), width=st.floats(0.5, 40.0))
def test_ralu_sweep_finds_the_part_of_0_to_9_inside_any_range(low, width):
    high = low + width
    inside = [max(low, 0.0), min(high, 9.0)]
    # The sweep samples 57 values: an overlap narrower than their spacing can fall between them.
    assume(inside[1] - inside[0] >= width / 56)
    found = monotone_range(parse_activation("ralu"), "alpha", low, high)
    assert found == pytest.approx(inside, abs=2e-5)  # ends bisected to 1e-6, printed to 5 decimals
