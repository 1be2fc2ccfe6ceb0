"""The GPT of the shakespeare-char tasks: causality, the tied head, the initialisation, the
parameter count, and the gated MLP with its shorthands (reglu, geglu, swiglu)."""

import math

import pytest
import torch

from actbench.activations import get_activation
from actbench.activations.builtin import GELU, Gated, ReLU, SiLU, SquaredReLU
from actbench.tasks import get_task
from actbench.tasks.activation_params import is_activation_param
from actbench.tasks.gpt.model import build_gpt, mlp_hidden, parameter_count

GPT_TASKS = ("shakespeare-char", "shakespeare-char-cpu", "shakespeare-char-mini")
VOCAB = 65


def hparams(task="shakespeare-char-mini", **overrides):
    return get_task(task).resolve_hparams(overrides)


def ids(batch, time, seed=0):
    return torch.randint(VOCAB, (batch, time), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("activation", ["gelu", "swiglu"])
def test_a_position_sees_only_its_predecessors(activation):
    hp = hparams()
    model = build_gpt(hp, VOCAB, activation, seed=0).eval()
    x = ids(2, hp["block_size"])
    t = 10
    changed = x.clone()
    changed[:, t + 1] = (changed[:, t + 1] + 1) % VOCAB
    with torch.no_grad():
        before, after = model(x), model(changed)
    assert before.shape == (2, hp["block_size"], VOCAB)
    torch.testing.assert_close(after[:, : t + 1], before[:, : t + 1], rtol=0, atol=1e-6)
    assert not torch.allclose(after[:, t + 1], before[:, t + 1])


def test_the_head_is_the_token_embedding():
    model = build_gpt(hparams(), VOCAB, "gelu", seed=0)
    assert not any("head" in name for name, _ in model.named_parameters())
    with torch.no_grad():
        model.wte.weight.zero_()  # the head's weight too: every logit is 0
        assert torch.equal(model(ids(1, 8)), torch.zeros(1, 8, VOCAB))


def test_initialisation_per_parameter_group():
    hp = hparams("shakespeare-char-cpu")  # 4 layers: residual outputs at 0.02 / sqrt(8)
    model = build_gpt(hp, VOCAB, "gelu", seed=3)
    residual = 0.02 / math.sqrt(2 * hp["n_layer"])
    for name, param in model.named_parameters():
        if param.dim() == 1:
            assert torch.equal(param, torch.ones_like(param)), name  # LayerNorm gains, no biases anywhere
            continue
        expected = residual if name.endswith(("attn.proj.weight", "mlp.down.weight")) else 0.02
        assert param.mean().item() == pytest.approx(0.0, abs=3 * expected / math.sqrt(param.numel())), name
        assert param.std().item() == pytest.approx(expected, rel=0.05), name
    assert {n.split(".")[-1] for n, _ in model.named_parameters()} == {"weight"}


def test_the_initial_weights_depend_on_the_seed_only():
    hp = hparams()
    gelu, relu2 = (build_gpt(hp, VOCAB, act, seed=5).state_dict() for act in ("gelu", "relu2"))
    assert gelu.keys() == relu2.keys()
    assert all(torch.equal(gelu[k], relu2[k]) for k in gelu)
    other = build_gpt(hp, VOCAB, "gelu", seed=6).state_dict()
    assert not torch.equal(gelu["wte.weight"], other["wte.weight"])


@pytest.mark.parametrize("task", GPT_TASKS)
@pytest.mark.parametrize("mlp", ["plain", "gated"])
def test_parameter_count_is_the_built_models(task, mlp):
    hp = hparams(task, mlp=mlp)
    model = build_gpt(hp, VOCAB, "prelu", seed=0)  # one learnable slope per block: not counted
    counted = sum(p.numel() for n, p in model.named_parameters() if not is_activation_param(n))
    assert parameter_count(hp, VOCAB) == counted
    assert sum(p.numel() for n, p in model.named_parameters() if is_activation_param(n)) == hp["n_layer"]


def test_parameter_counts_match_nanogpts_and_the_gated_form_is_matched():
    # nanoGPT prints its count without the position embeddings: 10.65M and 0.80M.
    char, cpu = hparams("shakespeare-char"), hparams("shakespeare-char-cpu")
    assert parameter_count(char, VOCAB) == 10_745_088
    assert parameter_count(char, VOCAB) - 256 * 384 == 10_646_784
    assert parameter_count(cpu, VOCAB) - 64 * 128 == 795_904
    assert parameter_count({**char, "mlp": "gated"}, VOCAB) == parameter_count(char, VOCAB)  # h = 1024: 3dh = 8d²
    assert parameter_count({**cpu, "mlp": "gated"}, VOCAB) == parameter_count(cpu, VOCAB) + 4 * 1024
    assert [mlp_hidden(d, gated=True) for d in (384, 128, 64, 8)] == [1024, 344, 176, 24]
    assert [mlp_hidden(d, gated=False) for d in (384, 128)] == [1536, 512]


@pytest.mark.parametrize(
    ("shorthand", "gate", "inner"), [("reglu", "relu", ReLU), ("geglu", "gelu", GELU), ("swiglu", "silu", SiLU)]
)
def test_a_shorthand_is_the_gated_mlp_with_its_gate(shorthand, gate, inner):
    plain = hparams()
    short = build_gpt(plain, VOCAB, shorthand, seed=1)
    spelled = build_gpt({**plain, "mlp": "gated"}, VOCAB, gate, seed=1)
    assert short.state_dict().keys() == spelled.state_dict().keys()
    assert all(torch.equal(short.state_dict()[k], spelled.state_dict()[k]) for k in short.state_dict())
    x = ids(2, 16)
    with torch.no_grad():
        assert torch.equal(short(x), spelled(x))
    for model in (short, spelled):
        act = model.blocks[0].mlp.act
        assert isinstance(act, Gated) and type(act.gate) is inner
        assert model.blocks[0].mlp.up.out_features == 2 * mlp_hidden(plain["n_embd"], gated=True)
    # The shorthand is gated whatever mlp says, and never gated twice.
    again = build_gpt({**plain, "mlp": "gated"}, VOCAB, shorthand, seed=1)
    assert type(again.blocks[0].mlp.act.gate) is inner


def test_any_activation_can_be_the_gate():
    model = build_gpt(hparams(mlp="gated"), VOCAB, "relu2", seed=0)
    assert all(isinstance(b.mlp.act, Gated) and isinstance(b.mlp.act.gate, SquaredReLU) for b in model.blocks)
    x = torch.randn(4, 8)
    assert torch.equal(get_activation("swiglu")(x), torch.nn.functional.silu(x))  # alone, it is its gate


def test_the_gated_mlp_is_the_gate_times_the_value():
    mlp = build_gpt(hparams(), VOCAB, "geglu", seed=0).blocks[0].mlp
    x = torch.randn(2, 5, 64)
    w, v = mlp.up.weight.chunk(2, dim=0)  # (h, d) each
    expected = (torch.nn.functional.gelu(x @ w.T) * (x @ v.T)) @ mlp.down.weight.T
    with torch.no_grad():
        torch.testing.assert_close(mlp(x), expected)
