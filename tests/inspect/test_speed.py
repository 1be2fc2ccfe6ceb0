"""actbench speed: what it measures, not how fast this machine is (no timed assertions)."""

import json
from pathlib import Path

import pytest
import torch
from cli_runner import cli

from actbench.activations import parse_activation
from actbench.inspect.speed import COMPOSITES, measure, saved_bytes, variants


@pytest.mark.parametrize(
    ("spec", "per_element"),
    [("relu", 4), ("srelu", 8), ("squareplus", 8), ("ralu", 4)],  # output; x + slope; x + slope; x (+ alpha)
)
def test_memory_kept_for_backward(spec, per_element):
    x = torch.randn(4096, requires_grad=True)
    assert saved_bytes(parse_activation(spec).build(), x) / x.numel() == pytest.approx(per_element, abs=0.01)


def test_composites_are_the_same_functions_as_the_modules():
    x = torch.linspace(-5, 5, 1001, dtype=torch.float64)
    for name in COMPOSITES:
        spec = parse_activation(name)
        made = variants(spec, compile_=False)
        assert list(made) == ["eager", "custom-autograd"]
        torch.testing.assert_close(made["eager"](x), made["custom-autograd"].double()(x), rtol=1e-6, atol=1e-9)
    assert list(variants(parse_activation("gelu"), compile_=True)) == ["eager", "compile"]


def test_measure_reports_every_variant_and_pass():
    rows = measure(
        parse_activation("srelu"), 10_000, torch.float32, torch.device("cpu"), repeats=2, bandwidth=1e10, compile_=False
    )
    assert [(r.variant, r.pass_) for r in rows] == [
        ("eager", "forward"),
        ("eager", "forward+backward"),
        ("custom-autograd", "forward"),
        ("custom-autograd", "forward+backward"),
    ]
    for r in rows:
        assert r.elements_per_s > 0
        # Roofline: bandwidth / (4 bytes x elements moved); the fraction is rate over that.
        moved = 2 if r.pass_ == "forward" else 5
        assert r.roofline_fraction == pytest.approx(r.elements_per_s / (1e10 / (4 * moved)))


def test_speed_command_json_and_errors():
    result = cli("speed", "relu,ralu", "--size", "5000", "--repeats", "2", "--no-compile", "--format", "json")
    assert result.exit_code == 0, result.output
    saved = json.loads(result.stdout)
    assert saved["device"] == "cpu" and saved["copy_bandwidth_bytes_per_s"] > 0
    assert {(r["activation"], r["variant"], r["pass"]) for r in saved["rows"]} == {
        (a, v, p)
        for a, v in (
            ("relu", "eager"),
            ("ralu(alpha=1.0, learnable=true)", "eager"),
            ("ralu(alpha=1.0, learnable=true)", "custom-autograd"),
        )
        for p in ("forward", "forward+backward")
    }
    bad = cli("speed", "relu", "--dtype", "int8")
    assert bad.exit_code == 2
    assert bad.stderr.strip() == "error: unknown dtype 'int8'; choose from: float32, float16, bfloat16, float64"


def test_every_inspection_command_takes_a_plugin():
    Path("cubic.py").write_text(
        "from torch import nn\n\nclass Cubic(nn.Module):\n"
        "    def __init__(self, k: float = 0.1):\n        super().__init__()\n        self.k = k\n\n"
        "    def forward(self, x):\n        return x + self.k * x ** 3\n"
    )
    spec = "cubic:Cubic(k=0.5)"
    for args in (
        ["plot", spec, "--out", "c.png"],
        ["check", spec],
        ["flow", spec, "--depth", "4", "--width", "8"],
        ["speed", spec, "--size", "1000", "--repeats", "2", "--no-compile"],
    ):
        result = cli(*args)
        assert result.exit_code == 0, (args, result.output)
        assert "cubic:Cubic(k=0.5)" in result.stdout  # as written: the version names stored trials only
    facts = json.loads(cli("check", spec, "--format", "json").stdout)[0]
    assert facts["df0"] == 1.0 and facts["monotone"] and facts["odd"] and facts["smoothness"] == "C2+"
