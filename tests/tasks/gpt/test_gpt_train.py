"""One GPT trial: the windows, the schedule, the optimiser's groups, the evaluation, paired
seeds, divergence and bit-identical resume (the mini task, shortened)."""

import contextlib
import io
import math

import pytest
import torch
import torch.nn.functional as F

from actbench.api import TrainContext
from actbench.seeding import generator
from actbench.tasks import get_task
from actbench.tasks.gpt import GPTTask
from actbench.tasks.gpt.data import load_corpus
from actbench.tasks.gpt.model import build_gpt
from actbench.tasks.gpt.recipe import HYPERPARAMS_MINI
from actbench.tasks.gpt.train import WindowSampler, evaluate_text, lr_at, make_optimizer, text_splits

CPU = TrainContext(torch.device("cpu"), None)
MINI = "shakespeare-char-mini"


def hparams(**overrides):
    return get_task(MINI).resolve_hparams(overrides)


def test_the_schedule_at_its_key_steps():
    hp = {**hparams(), "lr": 1e-3, "min_lr_ratio": 0.1, "warmup_iters": 100, "max_iters": 5000}
    assert lr_at(0, hp) == pytest.approx(1e-3 / 101)
    assert lr_at(99, hp) == pytest.approx(1e-3 * 100 / 101)
    assert lr_at(100, hp) == pytest.approx(1e-3)
    assert lr_at(2550, hp) == pytest.approx((1e-3 + 1e-4) / 2)  # half way through the cosine
    assert lr_at(100 + 4900 // 4, hp) == pytest.approx(1e-4 + 0.5 * (1 + math.cos(math.pi / 4)) * 9e-4)
    assert lr_at(5000, hp) == pytest.approx(1e-4)
    assert lr_at(6000, hp) == pytest.approx(1e-4)


def test_weight_decay_on_matrices_and_embeddings_only():
    hp = hparams()
    model = build_gpt(hp, 65, "ralu", seed=0)
    decay, no_decay = make_optimizer(model, hp, torch.device("cpu")).param_groups
    names = {id(p): n for n, p in model.named_parameters()}
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert decay["betas"] == (0.9, 0.99)
    assert sorted({names[id(p)].split(".")[-2] for p in decay["params"]}) == ["down", "proj", "qkv", "up", "wpe", "wte"]
    assert sorted({names[id(p)].split(".")[-2] for p in no_decay["params"]}) == ["act", "ln1", "ln2", "ln_f"]


def test_windows_and_their_targets():
    ids = torch.arange(1000)
    x, y = WindowSampler(ids, 32, 16, generator(0, "data_order")).batch()
    assert x.shape == y.shape == (16, 32)
    assert torch.equal(y, x + 1)  # each target the next character
    assert torch.equal(x[:, 1:], x[:, :-1] + 1)  # contiguous windows


def test_the_validation_split_is_the_training_texts_tail():
    corpus = load_corpus(None)
    training, evaluation = text_splits(corpus, "validation")
    assert len(evaluation) == round(len(corpus.train) * 0.1)
    assert torch.equal(torch.cat([training, evaluation]), corpus.train)
    training, evaluation = text_splits(corpus, "test")
    assert training is corpus.train and evaluation is corpus.val


def test_evaluation_equals_a_loop_over_the_windows():
    hp = hparams()
    model = build_gpt(hp, 65, "gelu", seed=0)
    ids = load_corpus(None).val[:1000]  # 999 predictions: 31 windows of 32 and one of 7
    loss, acc = evaluate_text(model, ids, hp["block_size"], contextlib.nullcontext())
    assert model.training  # back in training mode
    losses, correct = [], 0
    model.eval()
    with torch.no_grad():
        for start in range(0, 999, 32):
            x, y = ids[start : min(start + 32, 999)], ids[start + 1 : start + 33]
            logits = model(x[None])[0]
            losses.append(F.cross_entropy(logits, y, reduction="sum").item())
            correct += (logits.argmax(1) == y).sum().item()
    assert loss == pytest.approx(sum(losses) / 999, rel=1e-6)
    assert acc == pytest.approx(100 * correct / 999)


def windows_drawn(monkeypatch, activation, seed, hp):
    """The windows a trial draws, and the global RNG (the dropout masks) at its first batch."""
    drawn, rng = [], []
    batch = WindowSampler.batch

    def recording_batch(self):
        if not drawn:
            rng.append(torch.get_rng_state())
        x, y = batch(self)
        drawn.append(x)
        return x, y

    monkeypatch.setattr(WindowSampler, "batch", recording_batch)
    list(get_task(MINI).train(activation, seed, hp, CPU))
    return torch.stack(drawn), rng[0]


def test_two_activations_on_one_seed_draw_the_same_windows_and_dropout_masks(monkeypatch, short_evaluation):
    hp = hparams(max_iters=4, eval_interval=4, dropout=0.1)
    gelu, gelu_rng = windows_drawn(monkeypatch, "gelu", 7, hp)
    swiglu, swiglu_rng = windows_drawn(monkeypatch, "swiglu", 7, hp)
    other, _ = windows_drawn(monkeypatch, "gelu", 8, hp)
    assert gelu.shape == (4, 16, 32)
    assert torch.equal(gelu, swiglu) and torch.equal(gelu_rng, swiglu_rng)
    assert not torch.equal(gelu, other)


def test_a_trial_yields_its_evaluation_points(short_evaluation):
    points = list(get_task(MINI).train("relu2", 0, hparams(max_iters=25, eval_interval=10), CPU))
    assert [p.epoch for p in points] == [1, 2, 3]  # after steps 10, 20 and 25
    for p in points:
        assert p.finite and 0 <= p.test_acc <= 100
        assert p.extra == {"bpc": pytest.approx(p.test_loss / math.log(2))}
    assert points[-1].test_loss < math.log(65)  # better than uniform over the 65 characters


def test_a_diverging_trial_stops_at_its_first_non_finite_point(short_evaluation):
    points = list(get_task(MINI).train("gelu", 0, hparams(max_iters=20, eval_interval=5, lr=1e30), CPU))
    assert not points[-1].finite and all(p.finite for p in points[:-1]) and len(points) < 4
    assert math.isnan(points[-1].test_loss) and "bpc" not in points[-1].extra


class MemoryCheckpoint:
    """A Checkpoint kept as torch.save bytes, as the run's files are."""

    def __init__(self):
        self.blob = None

    def load(self):
        return None if self.blob is None else torch.load(io.BytesIO(self.blob), weights_only=True)

    def save(self, state):
        buffer = io.BytesIO()
        torch.save(state, buffer)
        self.blob = buffer.getvalue()


def test_a_resumed_trial_is_bit_identical(monkeypatch, short_evaluation):
    hp = hparams(max_iters=12, eval_interval=6, dropout=0.1)  # dropout: the global RNG is resumed too
    straight = MemoryCheckpoint()
    uninterrupted = list(get_task(MINI).train("ralu", 3, hp, CPU, straight))

    interrupted = MemoryCheckpoint()
    first = get_task(MINI).train("ralu", 3, hp, CPU, interrupted)
    next(first)
    first.close()
    torch.manual_seed(123)  # whatever ran in between
    fresh = GPTTask(MINI, "a fresh task object", HYPERPARAMS_MINI)
    batches = []
    batch = WindowSampler.batch
    monkeypatch.setattr(WindowSampler, "batch", lambda self: batches.append(1) or batch(self))
    resumed = list(fresh.train("ralu", 3, hp, CPU, interrupted))
    assert len(batches) == 6  # the second interval's steps only

    assert resumed == uninterrupted
    assert uninterrupted[-1].activation_params  # RaLU's α per block, trained
    a, b = straight.load(), interrupted.load()
    assert a["step"] == b["step"] == 12
    assert a["model"].keys() == b["model"].keys()
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    assert torch.equal(a["rng"], b["rng"]) and torch.equal(a["windows"], b["windows"])
