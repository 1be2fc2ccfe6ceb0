"""Task hyperparameters: defaults overridden from the config file and the command line,
each value coerced to its default's type and checked; the form a trial stores and hashes,
and the full form its trainer reads. No torch: tasks are declared (and their
hyperparameters listed by ``actbench tasks``) without it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from actbench.errors import UsageError

# A hyperparameter check: (predicate, what the value must be), e.g. (lambda v: v > 0, "> 0").
Check = tuple[Callable[[Any], bool], str]

# Every task's "split" hyperparameter (tuning sets it to "validation"): where a trial's metrics
# after each epoch are measured, the test set or a fixed share of the training set held out
# from training (actbench.datasets.split; the test set is then never read).
SPLITS = ("test", "validation")
SPLIT_CHECK: Check = (lambda v: v in SPLITS, f"one of {', '.join(SPLITS)}")


def listed_hparams(defaults: dict[str, Any], later: dict[str, Any]) -> dict[str, Any]:
    """Every hyperparameter with its default (``later`` ones included), lists copied so that
    a caller may change them: a task's ``hyperparams``."""
    return {key: list(v) if isinstance(v, list) else v for key, v in {**defaults, **later}.items()}


def resolve_hparams(
    task: str,
    defaults: dict[str, Any],
    overrides: dict[str, Any],
    checks: dict[str, Check],
    later: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``defaults`` updated by ``overrides``, each value coerced to its default's type and checked:
    what a trial stores and hashes.

    ``later``: hyperparameters added after trials were stored, with their defaults. One is
    in the result only where it differs from its default, so that a trial stored before it
    existed keeps its config hash (the hash of the resolved dict) and still resumes and
    pairs. Trainers read ``trainer_hparams`` of it, where every key is present.

    The result is what a trial stores, so it must be plain JSON data (tuples become lists).
    """
    later = later or {}
    known = {**defaults, **later}
    unknown = sorted(set(overrides) - set(known))
    if unknown:
        raise UsageError(
            f"task {task} has no hyperparameter {', '.join(map(repr, unknown))}; "
            f"its hyperparameters are: {', '.join(sorted(known))}"
        )
    resolved = {}
    for key, default in known.items():
        value = _coerce(task, key, overrides.get(key, default), default)
        if key in checks:
            ok, requirement = checks[key]
            if not ok(value):
                raise UsageError(f"{key} must be {requirement}, got {value!r}")
        if key not in later or value != default:
            resolved[key] = value
    return resolved


def trainer_hparams(stored: dict[str, Any], later: dict[str, Any]) -> dict[str, Any]:
    """A trial's stored hyperparameters (``resolve_hparams``) with the ``later`` ones it left
    out at their defaults: what a task hands its trainer, which reads every key as ``hp[key]``."""
    return {**later, **stored}


def _coerce(task: str, key: str, value: Any, default: Any) -> Any:
    """``value`` as the type of ``default``; ints are accepted where floats are expected."""
    if isinstance(default, (list, tuple)):
        if not isinstance(value, (list, tuple)) or not value:
            raise UsageError(f"{key} must be a non-empty list like {list(default)}, got {value!r}")
        return [_coerce(task, key, item, default[0]) for item in value]
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise UsageError(f"{key} must be true or false, got {value!r}")
        return value
    if isinstance(default, int):
        # 20.0 is 20 (the command line reads --epochs as a number); 2.5 is not an integer.
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise UsageError(f"{key} must be an integer, got {value!r}")
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise UsageError(f"{key} must be a number, got {value!r}")
        return float(value)
    return value
