"""Activation registry: look up, parse and build activations from spec strings.

    get_activation("ralu(alpha=2)")        # a fresh RaLU module
    canonical_spec("swish")                # "silu"
    canonical_spec("myact:Swish")          # "myact:Swish@1a2b3c4d": a plug-in's source version
    canonical_spec("../myact.py:Swish")    # the same: a plug-in file is known by its module name
    split_specs("relu,ralu(alpha=2),gelu") # ["relu", "ralu(alpha=2)", "gelu"]

Importing this package registers the built-ins (catalog.py) without importing torch;
the module classes (builtin.py) are imported when first built or asked for by name.
"""

from actbench.activations import catalog as _catalog  # noqa: F401  (registers the built-ins)
from actbench.activations.registry import (
    ACTIVATIONS,
    ActivationInfo,
    ActivationSpec,
    ParamInfo,
    PluginVersionError,
    canonical_spec,
    default_baseline,
    get_activation,
    get_info,
    list_activations,
    names_stored,
    parse_activation,
    register_activation,
    split_specs,
    stored_spec,
    stored_specs,
)

_MODULE_CLASSES = ("RaLU", "SReLU", "Squareplus")  # the custom ones, by name


def __getattr__(name: str):
    if name in _MODULE_CLASSES:
        from actbench.activations import builtin

        return getattr(builtin, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ACTIVATIONS",
    "ActivationInfo",
    "ActivationSpec",
    "ParamInfo",
    "PluginVersionError",
    "RaLU",
    "SReLU",
    "Squareplus",
    "canonical_spec",
    "default_baseline",
    "get_activation",
    "get_info",
    "list_activations",
    "names_stored",
    "parse_activation",
    "register_activation",
    "split_specs",
    "stored_spec",
    "stored_specs",
]
