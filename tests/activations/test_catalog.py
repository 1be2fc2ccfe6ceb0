"""The built-ins' torch-free declarations match the classes that compute them."""

import pytest

from actbench.activations import ACTIVATIONS, builtin, get_info
from actbench.activations.registry import _derive_params

BUILTINS = ACTIVATIONS.names()


@pytest.mark.parametrize("name", BUILTINS)
def test_declared_parameters_are_the_class_signature(name):
    info = get_info(name)
    factory = info.load_factory()
    assert factory.__module__ == builtin.__name__
    declared = [(p.name, p.kind, p.default) for p in info.params]
    assert declared == [(p.name, p.kind, p.default) for p in _derive_params(factory)]
    assert all(p.doc for p in info.params)  # every parameter says what it is


def test_all_twenty_builtins_are_declared():
    assert len(BUILTINS) == 20 and ACTIVATIONS.aliases("silu") == ["swish"]
    assert ACTIVATIONS.aliases("relu2") == ["squared_relu"]
