"""Range checks of numeric options, each with the one-line message the command line prints."""

from __future__ import annotations

import math

from actbench.errors import UsageError


def require_positive(flag: str, value: float | None) -> None:
    """``value`` finite and above 0, or None (not given)."""
    if value is not None and not 0 < value < math.inf:
        raise UsageError(f"{flag} must be a positive number, got {value:g}")


def require_probability(flag: str, value: float) -> None:
    """``value`` strictly between 0 and 1: a significance level, a power."""
    if not 0 < value < 1:
        raise UsageError(f"{flag} must be between 0 and 1, got {value:g}")
