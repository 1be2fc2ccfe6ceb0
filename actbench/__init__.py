"""actbench: honest, fast, reproducible comparisons of activation functions."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("actbench")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

from actbench.activations import get_activation, list_activations, register_activation  # noqa: E402

__all__ = ["__version__", "get_activation", "list_activations", "register_activation"]
