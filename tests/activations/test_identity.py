"""What defines an activation: a plug-in's source version in its canonical spec, a
built-in's behavioural fingerprint, and the spec forms that name stored trials."""

from __future__ import annotations

import hashlib
import math
import sys
from pathlib import Path

import pytest
import torch
from fakes import reimport
from torch import nn

from actbench.activations import PluginVersionError, canonical_spec, names_stored, parse_activation, stored_spec
from actbench.activations.builtin import RaLU
from actbench.activations.identity import definition, fingerprint, plugin_source_hash
from actbench.errors import SpecError

SWISH = """import torch
from torch import nn


class Swish(nn.Module):
    def __init__(self, beta: float = 1.0):
        super().__init__()
        self.beta = nn.Parameter(torch.tensor(beta))

    def forward(self, x):
        return x * torch.sigmoid(self.beta * x)
"""


def sha256(*parts: bytes) -> str:
    return hashlib.sha256(b"".join(part + b"\0" for part in parts)).hexdigest()


@pytest.fixture
def plugins(tmp_path, monkeypatch) -> Path:
    """A top-level module (idswish.py) and a package (idpkg/) on sys.path, forgotten after the test."""
    (tmp_path / "idswish.py").write_text(SWISH)
    (tmp_path / "idpkg").mkdir()
    (tmp_path / "idpkg" / "__init__.py").write_text("")
    (tmp_path / "idpkg" / "acts.py").write_text("from idpkg.helpers import Swish\n")
    (tmp_path / "idpkg" / "helpers.py").write_text(SWISH)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in ("idswish", "idpkg", "idpkg.acts", "idpkg.helpers"):
        sys.modules.pop(name, None)


def test_a_plugin_canonicalises_to_its_source_version_and_parses_back_to_itself(plugins):
    version = sha256(b"idswish.py", SWISH.encode())[:8]
    assert canonical_spec("idswish:Swish") == f"idswish:Swish@{version}(beta=1.0)"
    assert canonical_spec(f"idswish:Swish@{version}(beta=2)") == f"idswish:Swish@{version}(beta=2.0)"
    for spec in ("idswish:Swish", "idswish:Swish(beta=2)"):
        canonical = canonical_spec(spec)
        assert canonical_spec(canonical) == canonical
    full = plugin_source_hash("idswish")
    assert canonical_spec(f"idswish:Swish@{full}") == f"idswish:Swish@{version}(beta=1.0)"  # the whole hash too
    assert definition(parse_activation("idswish:Swish")) == full


def test_a_package_plugin_is_versioned_by_every_file_of_its_package(plugins):
    files = [("__init__.py", b""), ("acts.py", b"from idpkg.helpers import Swish\n"), ("helpers.py", SWISH.encode())]
    expected = sha256(*(part for name, text in files for part in (name.encode(), text)))
    assert canonical_spec("idpkg.acts:Swish") == f"idpkg.acts:Swish@{expected[:8]}(beta=1.0)"
    # The module named in the spec is unchanged; the helper it imports is edited.
    (plugins / "idpkg" / "helpers.py").write_text(SWISH.replace("self.beta * x", "self.beta * x * 1.5"))
    reimport("idpkg", "idpkg.acts", "idpkg.helpers")
    assert canonical_spec("idpkg.acts:Swish") != f"idpkg.acts:Swish@{expected[:8]}(beta=1.0)"


def test_a_stale_version_is_refused_with_the_current_one(plugins):
    old = canonical_spec("idswish:Swish").split("@")[1][:8]
    (plugins / "idswish.py").write_text(SWISH.replace("self.beta * x)", "self.beta * x) + 0"))
    reimport("idswish")
    new = canonical_spec("idswish:Swish").split("@")[1][:8]
    assert new != old
    with pytest.raises(PluginVersionError) as info:
        parse_activation(f"idswish:Swish@{old}(beta=2)")
    assert str(info.value) == (
        f"plug-in idswish:Swish is at version {new}, not {old}: its source has changed since; "
        f"name it idswish:Swish or idswish:Swish@{new}"
    )
    assert isinstance(info.value, SpecError)  # the CLI's one line and exit code 2


@pytest.mark.parametrize(
    "spec, message",
    [
        (
            "gelu@1a2b3c4d",
            "malformed activation spec 'gelu@1a2b3c4d': only a plug-in (package.module:Name) has an @version",
        ),
        (
            "idswish:Swish@1a2b",
            "malformed activation spec 'idswish:Swish@1a2b': an @version is 8 to 64 hex digits, got '1a2b'",
        ),
        (
            "idswish:Swish(beta=2)@1a2b3c4d",
            "malformed activation spec 'idswish:Swish(beta=2)@1a2b3c4d': unexpected text after ')': '@1a2b3c4d'",
        ),
    ],
)
def test_a_malformed_version_is_one_line(plugins, spec, message):
    with pytest.raises(SpecError) as info:
        parse_activation(spec)
    assert str(info.value) == message


def test_a_spec_naming_stored_trials_is_taken_as_written_and_matches_every_version_it_names(plugins):
    # A plug-in is not imported: its defaults or its file may have changed since the trials were stored.
    assert stored_spec("idswish:Swish") == "idswish:Swish"
    assert stored_spec("idswish:Swish@00000000(beta=2)") == "idswish:Swish@00000000(beta=2)"
    assert stored_spec("sub/idswish.py:Swish(beta=2)") == "idswish:Swish(beta=2)"
    assert stored_spec("swish") == "silu"
    assert stored_spec("ralu [def 1a2b3c4d]") == "ralu(alpha=1.0, learnable=true) [def 1a2b3c4d]"
    assert stored_spec("gelu [def unknown]") == "gelu [def unknown]"
    stored = "idswish:Swish@4d8537cd11(beta=1.0)"
    for item in (
        "idswish:Swish",
        "idswish:Swish@4d8537cd",
        "idswish:Swish(beta=1)",
        "idswish:Swish@4d8537cd(beta=1.0)",
    ):
        assert names_stored(stored_spec(item), stored), item
    for item in ("idswish:Swish(beta=2)", "idswish:Swish@0f0f0f0f", "idswish:Swish(gamma=1)", "other:Swish", "silu"):
        assert not names_stored(stored_spec(item), stored), item


def test_the_source_hash_is_of_the_files_on_disk(plugins):
    """An edit followed by importlib.reload (a notebook's way) keeps the module object: the
    version must follow the file, not the object."""
    before = plugin_source_hash("idswish")
    (plugins / "idswish.py").write_text(SWISH + "# edited\n")
    after = plugin_source_hash("idswish")
    assert after != before and after == sha256(b"idswish.py", (SWISH + "# edited\n").encode())


# --- behavioural fingerprints of registry entries -----------------------------------------


class ReluReformatted(nn.Module):
    """ReLU as a refactoring might write it: same values, same derivative (0 at 0)."""

    def forward(self, inputs):
        positive = inputs > 0
        return inputs * positive


class GeluByFormula(nn.Module):
    def forward(self, x):
        return 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))  # torch computes erf its own way: last bits differ


class SiluTwoWays(nn.Module):
    def forward(self, x):
        return x / (1 + torch.exp(-x))


def test_the_fingerprint_is_what_is_computed_not_how_it_is_written():
    assert fingerprint(ReluReformatted) == definition(parse_activation("relu"))
    assert fingerprint(GeluByFormula) == definition(parse_activation("gelu"))
    assert fingerprint(SiluTwoWays) == definition(parse_activation("swish")) == definition(parse_activation("silu"))
    assert fingerprint(lambda: RaLU(alpha=1.0)) == definition(parse_activation("ralu"))


def test_a_formula_a_constant_or_a_derivative_changes_the_fingerprint():
    relu = definition(parse_activation("relu"))
    assert fingerprint(lambda: nn.Hardtanh(0.0, 1e9)) == relu  # max(0, x) on the grid, derivative 0 at 0
    # clamp's derivative at 0 is 1, ReLU's 0: training sees the difference.
    assert fingerprint(lambda: _Lambda(lambda x: x.clamp(min=0))) != relu
    assert definition(parse_activation("gelu_tanh")) != definition(parse_activation("gelu"))
    assert definition(parse_activation("srelu(t=2.2)")) != definition(parse_activation("srelu"))
    assert fingerprint(lambda: RaLU(alpha=1.0 + 1e-6)) != fingerprint(lambda: RaLU(alpha=1.0))
    # The same function, learnable or fixed: the parameter's gradient is part of what it is.
    assert definition(parse_activation("ralu(learnable=false)")) != definition(parse_activation("ralu"))


def test_a_channelwise_module_is_fingerprinted_on_channels():
    one, many = definition(parse_activation("prelu")), definition(parse_activation("prelu(num_parameters=16)"))
    assert len(many) == 64 and many != one  # 16 weights and their gradients, not 1


def test_the_fingerprint_recipe_is_pinned():
    # Stored trials carry it: changing the grid, the rounding or the order of what is hashed
    # makes every stored built-in "another definition" that a run refuses to resume over.
    assert definition(parse_activation("relu")) == "99978f084afdeed2dafe2340bb04ab171f46b47a7d27911445036cfa0658177c"


class _Lambda(nn.Module):
    def __init__(self, function):
        super().__init__()
        self.function = function

    def forward(self, x):
        return self.function(x)
