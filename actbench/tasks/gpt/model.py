"""The GPT of nanoGPT's recipe: a decoder-only transformer over characters. Token and
learned position embeddings, pre-LayerNorm blocks (causal self-attention, then the MLP that
holds the activation), a final LayerNorm and a language-model head tied to the token
embedding; no biases anywhere (LayerNorm included), dropout on the embeddings, the
attention weights and each residual branch.

Initialisation (GPT-2's, as nanoGPT): every matrix and embedding N(0, 0.02), the residual
branches' output projections (attention's and the MLP's down-projection) N(0, 0.02/sqrt(2 L)),
LayerNorm gains 1; drawn from the seed's init stream in the order of ``named_parameters``,
so that two activations on one seed start from the same weights.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from actbench.activations import get_activation
from actbench.activations.builtin import Gated
from actbench.seeding import generator, stream_seed
from actbench.tasks.activation_params import is_activation_param

INIT_STD = 0.02
RESIDUAL_OUTPUTS = ("attn.proj.weight", "mlp.down.weight")  # scaled by 1/sqrt(2 n_layer) at init


def mlp_hidden(n_embd: int, gated: bool) -> int:
    """The MLP's hidden width: 4 d plain; gated, 2/3 of 4 d rounded up to a multiple of 8, so
    that its three matrices (3 d h) hold as many parameters as the plain two (8 d²), as in
    Shazeer 2020: d = 384 gives h = 1024, exactly 8 d²; d = 128 gives 344 (132,096 against
    131,072); d = 64 gives 176 (33,792 against 32,768)."""
    return 8 * ((n_embd + 2) // 3) if gated else 4 * n_embd  # 8 ceil(d / 3) = 2/3 of 4 d, up to a multiple of 8


def parameter_count(hp: dict[str, Any], vocab_size: int) -> int:
    """The parameters of the GPT of ``hp`` (activation parameters, such as RaLU's α, not
    included): the token embedding V d (also the head's), the position embedding T d, per
    block two LayerNorm gains 2 d, attention 4 d² and the MLP (plain 8 d², gated 3 d h), and
    the final LayerNorm d.

    Position embeddings included: nanoGPT's printed count leaves them out (shakespeare-char:
    10,745,088 here, less 256 x 384 = 10,646,784, nanoGPT's "10.65M"; shakespeare-char-cpu:
    804,096 here, 795,904 without them, "0.80M" either way).
    """
    d = hp["n_embd"]
    hidden = mlp_hidden(d, hp["mlp"] == "gated")
    mlp = 3 * d * hidden if hp["mlp"] == "gated" else 2 * d * hidden
    block = 2 * d + 4 * d * d + mlp
    return vocab_size * d + hp["block_size"] * d + hp["n_layer"] * block + d


class CausalSelfAttention(nn.Module):
    def __init__(self, n_embd: int, n_head: int, dropout: float):
        super().__init__()
        self.qkv = nn.Linear(n_embd, 3 * n_embd, bias=False)  # the heads' queries, keys and values at once
        self.proj = nn.Linear(n_embd, n_embd, bias=False)
        self.n_head = n_head
        self.dropout = dropout  # on the attention weights, inside scaled_dot_product_attention
        self.resid_dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, time, width = x.shape  # (B, T, d)
        q, k, v = (
            part.view(batch, time, self.n_head, width // self.n_head).transpose(1, 2)  # (B, heads, T, d / heads)
            for part in self.qkv(x).split(width, dim=2)
        )
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training else 0.0, is_causal=True)
        y = y.transpose(1, 2).reshape(batch, time, width)  # the heads side by side again: (B, T, d)
        return self.resid_dropout(self.proj(y))


class MLP(nn.Module):
    """plain: d -> 4 d -> act -> d; gated (``act`` a Gated module): act(x W) * (x V) -> d, with
    W and V as one up-projection whose output is split in halves, hidden width ``mlp_hidden``."""

    def __init__(self, n_embd: int, act: nn.Module, dropout: float):
        super().__init__()
        self.gated = isinstance(act, Gated)
        hidden = mlp_hidden(n_embd, self.gated)
        self.up = nn.Linear(n_embd, 2 * hidden if self.gated else hidden, bias=False)
        self.act = act
        self.down = nn.Linear(hidden, n_embd, bias=False)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.up(x)  # (B, T, h), gated (B, T, 2 h)
        if self.gated:
            gate, value = h.chunk(2, dim=-1)  # x W, x V: (B, T, h) each
            h = self.act(gate) * value
        else:
            h = self.act(h)
        return self.dropout(self.down(h))


class Block(nn.Module):
    def __init__(self, n_embd: int, n_head: int, act: nn.Module, dropout: float):
        super().__init__()
        self.ln1 = nn.LayerNorm(n_embd, bias=False)
        self.attn = CausalSelfAttention(n_embd, n_head, dropout)
        self.ln2 = nn.LayerNorm(n_embd, bias=False)
        self.mlp = MLP(n_embd, act, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class GPT(nn.Module):
    """Character ids (B, T), T <= block_size, to next-character logits (B, T, vocab)."""

    def __init__(self, vocab_size: int, hp: dict[str, Any], activation: str):
        super().__init__()
        d = hp["n_embd"]
        self.wte = nn.Embedding(vocab_size, d)  # also the head's weight: logits = x wteᵀ
        self.wpe = nn.Embedding(hp["block_size"], d)
        self.drop = nn.Dropout(hp["dropout"])
        self.blocks = nn.ModuleList(
            Block(d, hp["n_head"], mlp_activation(activation, hp["mlp"]), hp["dropout"]) for _ in range(hp["n_layer"])
        )
        self.ln_f = nn.LayerNorm(d, bias=False)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(idx.shape[1], device=idx.device)  # (T,)
        x = self.drop(self.wte(idx) + self.wpe(positions))  # (B, T, d)
        for block in self.blocks:
            x = block(x)
        return F.linear(self.ln_f(x), self.wte.weight)  # (B, T, vocab): the tied head


def mlp_activation(activation: str, mlp: str) -> nn.Module:
    """A block's activation module: the spec's (a Gated one, ``reglu`` say, makes its MLP
    gated whatever ``mlp`` says); with ``mlp`` "gated", any other wrapped as the gate."""
    act = get_activation(activation)
    return Gated(act) if mlp == "gated" and not isinstance(act, Gated) else act


def init_weights_(model: GPT, seed: int, n_layer: int) -> None:
    """GPT-2's initialisation (see the module docstring) from ``seed``'s init stream, on the CPU
    generator whatever the device; activation parameters keep their modules' own values."""
    gen = generator(seed, "init")
    residual_std = INIT_STD / math.sqrt(2 * n_layer)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if is_activation_param(name) or param.dim() < 2:  # LayerNorm gains stay at 1
                continue
            std = residual_std if name.endswith(RESIDUAL_OUTPUTS) else INIT_STD
            param.copy_(torch.empty(param.shape).normal_(0.0, std, generator=gen))


def build_gpt(hp: dict[str, Any], vocab_size: int, activation: str, seed: int) -> GPT:
    """The GPT of ``hp`` on the CPU, ``activation`` in every block's MLP, initialised from ``seed``."""
    # Module construction draws from the global RNG (torch's default inits, overwritten below;
    # plug-in activations that draw at construction): fork it, seeded by the activation stream.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(stream_seed(seed, "activation"))
        model = GPT(vocab_size, hp, activation)
    init_weights_(model, seed, hp["n_layer"])
    return model
