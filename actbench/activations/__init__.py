"""Activation registry: look up, parse and build activations from spec strings.

    get_activation("ralu(alpha=2)")        # a fresh RaLU module
    canonical_spec("swish")                # "silu"
    split_specs("relu,ralu(alpha=2),gelu") # ["relu", "ralu(alpha=2)", "gelu"]
"""

# Importing builtin registers the built-in entries, so every lookup below sees them.
from actbench.activations.builtin import RaLU, Squareplus, SReLU
from actbench.activations.registry import (
    ActivationInfo,
    ActivationSpec,
    ParamInfo,
    canonical_spec,
    get_activation,
    get_info,
    list_activations,
    parse_activation,
    register_activation,
    split_specs,
)

__all__ = [
    "ActivationInfo",
    "ActivationSpec",
    "ParamInfo",
    "RaLU",
    "SReLU",
    "Squareplus",
    "canonical_spec",
    "get_activation",
    "get_info",
    "list_activations",
    "parse_activation",
    "register_activation",
    "split_specs",
]
