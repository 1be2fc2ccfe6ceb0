"""actbench: honest, fast, reproducible comparisons of activation functions.

The public API is loaded on first use, so that ``import actbench.cli`` starts without
torch: activations (``get_activation``, ``list_activations``, ``register_activation``)
and comparisons from Python (``compare``, ``open_results``, ``Results``: actbench.study).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("actbench")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

_PUBLIC = {
    "get_activation": "activations",
    "list_activations": "activations",
    "register_activation": "activations",
    "compare": "study",
    "open_results": "study",
    "Results": "study",
}


def __getattr__(name: str):
    if name in _PUBLIC:
        from importlib import import_module

        return getattr(import_module(f"actbench.{_PUBLIC[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["__version__", *_PUBLIC]
