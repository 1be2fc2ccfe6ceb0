"""FusedAdamW is torch.optim.AdamW(fused=True), to the bit, state dicts included, without torch._dynamo;
the private kernel it calls has the signature it was written for, and without it the engines fall
back to torch.optim, to the same bits."""

import subprocess
import sys

import pytest
import torch

from actbench.tasks.mlp import optim
from actbench.tasks.mlp.model import build_mlp, make_optimizer, train_epoch
from actbench.tasks.mlp.optim import KERNEL_SCHEMA, FusedAdamW, fused_adamw, private_kernel_matches

DEVICES = [
    "cpu",
    pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")),
]


def params(seed: int = 0, device: str = "cpu") -> list[torch.nn.Parameter]:
    gen = torch.Generator().manual_seed(seed)
    return [torch.nn.Parameter(torch.randn(shape, generator=gen).to(device)) for shape in ((5, 3), (3,), (2, 2), (1,))]


def groups(ps):  # two groups, the second without weight decay, as the engines make them
    return [{"params": ps[:3]}, {"params": ps[3:], "weight_decay": 0.0}]


def run(optimizer, ps, steps: int, gen: torch.Generator | None = None) -> None:
    gen = gen if gen is not None else torch.Generator().manual_seed(1)  # the gradients' noise
    for _ in range(steps):
        optimizer.zero_grad(set_to_none=True)
        sum((p * torch.randn(p.shape, generator=gen).to(p.device)).sum() + (p**2).sum() for p in ps).backward()
        optimizer.step()


@pytest.mark.parametrize("device", DEVICES)
def test_the_same_bits_and_state_dict_as_torch(device):
    ours, theirs = params(device=device), params(device=device)
    a = FusedAdamW(groups(ours), lr=1e-2, weight_decay=1e-2)
    b = torch.optim.AdamW(groups(theirs), lr=1e-2, weight_decay=1e-2, fused=True)
    run(a, ours, 5)
    run(b, theirs, 5)
    assert all(torch.equal(p, q) for p, q in zip(ours, theirs))
    sa, sb = a.state_dict(), b.state_dict()
    assert sa["param_groups"] == sb["param_groups"]
    assert sa["state"].keys() == sb["state"].keys()
    for i in sa["state"]:
        assert sa["state"][i].keys() == sb["state"][i].keys()
        for key in sa["state"][i]:
            x, y = sa["state"][i][key], sb["state"][i][key]
            assert x.dtype == y.dtype and x.shape == y.shape and torch.equal(x, y), (i, key)


@pytest.mark.parametrize("direction", ["torch to ours", "ours to torch"])
def test_a_state_dict_of_either_resumes_in_the_other_to_the_same_bits(direction):
    reference = params()
    run(FusedAdamW(groups(reference), lr=1e-2, weight_decay=1e-2), reference, 6)
    make = {
        "torch": lambda ps, **kw: torch.optim.AdamW(groups(ps), fused=True, **kw),
        "ours": lambda ps, **kw: FusedAdamW(groups(ps), **kw),
    }
    first, second = direction.split(" to ")
    ps, gen = params(), torch.Generator().manual_seed(1)
    before = make[first](ps, lr=1e-2, weight_decay=1e-2)
    run(before, ps, 3, gen)
    after = make[second](ps, lr=0.5, weight_decay=0.5)  # the hyperparameters come from the state dict
    after.load_state_dict(before.state_dict())
    run(after, ps, 3, gen)
    assert all(torch.equal(p, q) for p, q in zip(ps, reference))


def test_a_mismatched_state_dict_is_refused():
    optimizer = FusedAdamW(groups(params()), lr=1e-2, weight_decay=0.0)
    with pytest.raises(ValueError, match="different number of parameter groups"):
        optimizer.load_state_dict({"state": {}, "param_groups": optimizer.state_dict()["param_groups"][:1]})
    other = FusedAdamW([{"params": params()[:2]}, {"params": params()[3:]}], lr=1e-2, weight_decay=0.0)
    with pytest.raises(ValueError, match="doesn't match the size"):
        optimizer.load_state_dict(other.state_dict())


def test_training_does_not_import_torch_dynamo():
    code = (
        "import sys, torch\n"
        "from actbench.tasks.mlp.model import build_mlp, make_optimizer, train_epoch\n"
        "model = build_mlp([784, 16, 10], 'relu', 0)\n"
        "optimizer = make_optimizer(model, {'lr': 1e-3, 'weight_decay': 1e-4})\n"
        "train_epoch(model, optimizer, torch.randn(8, 784), torch.randint(0, 10, (8,)), torch.arange(8), 4)\n"
        "print('torch._dynamo' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_the_private_kernel_has_the_signature_fused_adamw_calls():
    # Fails the day a torch release changes torch._fused_adamw_: the engines would then fall
    # back to torch.optim (slower start-up), and FusedAdamW.step needs looking at.
    schema = torch.ops.aten._fused_adamw_.default._schema
    assert str(schema) == KERNEL_SCHEMA
    positional = ["self", "grads", "exp_avgs", "exp_avg_sqs", "max_exp_avg_sqs", "state_steps"]
    keywords = ["lr", "beta1", "beta2", "weight_decay", "eps", "amsgrad", "maximize", "grad_scale", "found_inf"]
    assert [a.name for a in schema.arguments if not a.kwarg_only] == positional
    assert [a.name for a in schema.arguments if a.kwarg_only] == keywords
    assert callable(torch._fused_adamw_) and private_kernel_matches()


def test_a_kernel_of_another_signature_is_not_called(monkeypatch):
    monkeypatch.setattr(optim, "KERNEL_SCHEMA", KERNEL_SCHEMA.replace("float lr", "Tensor lr"))
    private_kernel_matches.cache_clear()
    try:
        assert not private_kernel_matches()
        assert isinstance(fused_adamw(groups(params()), lr=1e-2, weight_decay=0.0), torch.optim.AdamW)
    finally:
        private_kernel_matches.cache_clear()


@pytest.mark.parametrize("device", DEVICES)
def test_the_fallback_to_torch_optim_trains_to_the_same_bits(monkeypatch, device):
    def trained() -> tuple[dict, dict, type]:
        model = build_mlp([12, 8, 6, 3], "prelu", 0).to(device)  # PReLU: a second, undecayed group
        optimizer = make_optimizer(model, {"lr": 1e-2, "weight_decay": 1e-2})
        gen = torch.Generator().manual_seed(2)
        x, y = torch.randn(40, 12, generator=gen).to(device), torch.randint(0, 3, (40,), generator=gen).to(device)
        for _ in range(3):
            train_epoch(model, optimizer, x, y, torch.randperm(40, generator=gen).to(device), 16)
        return model.state_dict(), optimizer.state_dict(), type(optimizer)

    fast_model, fast_state, fast_type = trained()
    monkeypatch.setattr(optim, "private_kernel_matches", lambda: False)
    slow_model, slow_state, slow_type = trained()
    assert (fast_type, slow_type) == (FusedAdamW, torch.optim.AdamW)
    assert fast_model.keys() == slow_model.keys()
    assert all(torch.equal(fast_model[key], slow_model[key]) for key in fast_model)
    assert fast_state["param_groups"] == slow_state["param_groups"]  # fused=True, the same hyperparameters
    for i, state in fast_state["state"].items():
        assert all(torch.equal(value, slow_state["state"][i][key]) for key, value in state.items())
