"""What defines an activation, as a hash stored with every trial (``trials.definition``).

A trial's numbers come from the code that computed its activation, so that code is part
of what the trial is:

- a plug-in (``pkg.mod:Name``): SHA-256 of its source files as they are on disk: the
  module's file for a top-level module, or every .py file of its top-level package
  (their relative paths and contents, in sorted order) for ``pkg.mod:Name``, since a
  module of a package may call any other. The first 8 hex digits are its version in the
  canonical spec (``myact:LearnableSwish@1a2b3c4d``: see actbench.activations.registry).
  A plug-in named by its file (``../myact.py:Name``) is the module of that name, its
  file's stem: the same hash wherever the file lies. A helper module the plug-in imports
  from outside its package is not covered.
- a registry entry (built-in or decorator-registered): a behavioural fingerprint,
  SHA-256 of what its module computes in float64 on a fixed grid (GRID: 64 points in
  [-6, 6] and 0): its outputs, the gradients of their sum with respect to the inputs and,
  for a learnable one, its parameters' values and gradients, each rounded to
  SIGNIFICANT digits so that a last-bit difference between machines or torch versions
  does not change it. Reformatting or refactoring a class leaves it as it was; a formula,
  a constant or a default that changes what is computed changes it.

Both are computed in the driver, on the CPU, once per process: plug-in sources per
imported module, fingerprints per canonical spec. This module imports torch only to
fingerprint.
"""

from __future__ import annotations

import hashlib
import importlib
import re
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Protocol

from actbench.errors import SpecError

if TYPE_CHECKING:
    from torch import nn


class Spec(Protocol):
    """What ``definition`` reads of an actbench.activations.registry.ActivationSpec, named by
    its shape: the registry versions plug-ins with this module, which thus cannot import it."""

    info: object | None
    target: str

    @property
    def canonical(self) -> str: ...

    def build(self) -> nn.Module: ...


VERSION_DIGITS = 8  # of a plug-in's source hash, in its canonical spec and in report labels
GRID = (-6.0, 6.0, 64)  # linspace(low, high, points), and 0 (not on an even-sized grid)
SIGNIFICANT = 9  # digits kept of each float64 value
TINY = 1e-12  # |values| below this count as 0: rounding noise of a formula that gives 0 exactly

# A report's row label for one definition of an activation whose stored trials have
# several: "gelu [def 1a2b3c4d]", "gelu [def unknown]" (stored before definitions were).
DEFINITION_LABEL = re.compile(r"\s*\[def ([0-9a-f]{8}|unknown)\]$")


def definition_label(activation: str, definition: str | None) -> str:
    """``activation`` labelled with its definition (see DEFINITION_LABEL)."""
    return f"{activation} [def {definition[:VERSION_DIGITS] if definition else 'unknown'}]"


# Top-level module name -> ((each source file's path, mtime and size), their hash).
_SOURCES: dict[str, tuple[tuple, str]] = {}


def plugin_source_hash(module_name: str) -> str:
    """SHA-256 (64 hex digits) of the source of the plug-in module ``module_name`` (see the
    module docstring); imports it if it is not yet. SpecError if it has no source files."""
    top_name = module_name.partition(".")[0]
    top = sys.modules.get(top_name) or importlib.import_module(top_name)
    files = _source_files(top)
    if not files:
        raise SpecError(f"plug-in module {top_name!r} has no source file to version it by")
    # Hashed anew when a file changed (a notebook's importlib.reload after an edit keeps the
    # module object): the version names the files as they are on disk.
    stamp = tuple((relative, path.stat().st_mtime_ns, path.stat().st_size) for relative, path in files)
    cached = _SOURCES.get(top_name)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    digest = hashlib.sha256()
    for relative, path in files:
        digest.update(relative.encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    _SOURCES[top_name] = (stamp, digest.hexdigest())
    return digest.hexdigest()


def _source_files(top: ModuleType) -> list[tuple[str, Path]]:
    """(relative path, path) of every source file of a top-level module, sorted by the
    relative path: its file, or each .py file under its package folder(s)."""
    if not hasattr(top, "__path__"):
        file = getattr(top, "__file__", None)
        return [(Path(file).name, Path(file))] if file else []
    files = {}
    for root in map(Path, top.__path__):  # several folders for a namespace package
        for path in root.rglob("*.py"):
            files.setdefault(path.relative_to(root).as_posix(), path)
    return sorted(files.items())


# Canonical spec of a registry entry -> its fingerprint.
_FINGERPRINTS: dict[str, str] = {}


def definition(spec: Spec) -> str:
    """What defines ``spec``'s activation (64 hex digits): a plug-in's source hash, a
    registry entry's behavioural fingerprint."""
    if spec.info is None:
        return plugin_source_hash(spec.target.partition(":")[0])
    if spec.canonical not in _FINGERPRINTS:
        _FINGERPRINTS[spec.canonical] = _registered_fingerprint(spec)
    return _FINGERPRINTS[spec.canonical]


def _registered_fingerprint(spec: Spec) -> str:
    try:
        return fingerprint(spec.build)
    except Exception as exc:  # noqa: BLE001 - whatever a registered module raises is one line
        from actbench.errors import describe_exception

        why = describe_exception(exc)
        raise SpecError(f"{spec.canonical}: cannot fingerprint it in float64 on the CPU: {why}") from None


def fingerprint(build: Callable[[], nn.Module]) -> str:
    """SHA-256 (64 hex digits) of what the module ``build()`` computes (see the module
    docstring). The grid is a (65,) vector; a module that wants channels (a channel-wise
    PReLU) gets it as (65, C), every channel the same, C its first parameter's length."""
    import torch

    low, high, points = GRID
    grid = torch.cat([torch.linspace(low, high, points, dtype=torch.float64), torch.zeros(1, dtype=torch.float64)])
    # Seeded and forked: a module that draws random numbers (in __init__, or in forward as
    # RReLU does) draws the same ones every time, and the run's own RNG does not move.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        module = build().to(torch.float64)
        params = list(module.parameters())
        try:
            x, y = _forward(module, grid)
        except RuntimeError:
            if not params:
                raise
            x, y = _forward(module, grid[:, None].repeat(1, params[0].numel()))  # (65, C)
        grads = torch.autograd.grad(y.sum(), [x, *params], allow_unused=True)
    digest = hashlib.sha256()
    for tensor in (y, *grads, *params):
        digest.update((_rounded(tensor) + "\n").encode())
    return digest.hexdigest()


def _forward(module: nn.Module, grid) -> tuple:
    x = grid.clone().requires_grad_()
    return x, module(x)


def _rounded(tensor) -> str:
    """A tensor's values to SIGNIFICANT digits, one text; '-' for an unused gradient."""
    if tensor is None:
        return "-"
    values = tensor.detach().reshape(-1).tolist()
    # + 0.0 turns -0.0 into 0.0: the sign of a zero is not part of what is computed.
    return " ".join(f"{(0.0 if abs(v) < TINY else v) + 0.0:.{SIGNIFICANT}g}" for v in values)
