"""actbench: honest, fast, reproducible comparisons of activation functions.

The public API (``get_activation``, ``list_activations``, ``register_activation``) is
loaded on first use, so that ``import actbench.cli`` starts without torch.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("actbench")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

_PUBLIC = ("get_activation", "list_activations", "register_activation")


def __getattr__(name: str):
    if name in _PUBLIC:
        from actbench import activations

        return getattr(activations, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["__version__", *_PUBLIC]
