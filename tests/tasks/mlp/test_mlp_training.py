"""The MLP task and the sequential engine: paired seeds, determinism, divergence, learned parameters."""

import dataclasses
import math

import pytest
import torch

from actbench.api import TrainContext, Trial
from actbench.errors import UsageError
from actbench.run.engines.sequential import run_trial
from actbench.seeding import generator, stream_seed
from actbench.tasks import get_task
from actbench.tasks.mlp.model import build_mlp, epoch_order, make_optimizer

CPU = TrainContext(device=torch.device("cpu"), data_dir=None)
SIZES = [784, 128, 64, 10]


def mini_trial(activation="relu", seed=0, **overrides):
    task = get_task("mnist-mini")
    return Trial("mnist-mini", activation, seed, task.resolve_hparams({"epochs": 1, **overrides}))


def linear_weights(model):
    return [p for name, p in model.named_parameters() if name.startswith("fc")]


def test_same_seed_gives_same_initial_weights_whatever_the_activation():
    relu, srelu = build_mlp(SIZES, "relu", 3), build_mlp(SIZES, "srelu(t=2.21)", 3)
    for a, b in zip(linear_weights(relu), linear_weights(srelu)):
        assert torch.equal(a, b)
    other_seed = build_mlp(SIZES, "relu", 4)
    assert not torch.equal(linear_weights(relu)[0], linear_weights(other_seed)[0])


def test_initialisation_is_pytorch_default_uniform():
    weight = build_mlp(SIZES, "relu", 0).fc1.weight.detach()  # (128, 784)
    bound = 1 / math.sqrt(784)
    assert weight.abs().max() <= bound
    assert weight.abs().max() > 0.99 * bound
    # U(-b, b) has std b/sqrt(3); 100k draws pin it to well under 1%.
    assert weight.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.01)


def test_build_does_not_disturb_the_global_rng():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    build_mlp(SIZES, "prelu", 0)
    assert torch.equal(torch.rand(3), expected)


def test_data_order_depends_on_the_seed_alone():
    first = epoch_order(generator(5, "data_order"), 1000)
    again = epoch_order(generator(5, "data_order"), 1000)
    assert torch.equal(first, again)
    assert sorted(first.tolist()) == list(range(1000))
    assert not torch.equal(first, epoch_order(generator(6, "data_order"), 1000))
    assert stream_seed(5, "init") != stream_seed(5, "data_order")


def test_a_trial_is_deterministic():
    first, second = run_trial(mini_trial("gelu"), CPU), run_trial(mini_trial("gelu"), CPU)
    untimed = [[dataclasses.replace(m, elapsed_s=None) for m in r.epochs] for r in (first, second)]
    assert untimed[0] == untimed[1]  # every number but the seconds, which are timing
    assert first.status == "ok" and first.diverged_epoch is None


def test_a_short_run_learns():
    result = run_trial(mini_trial("relu", epochs=2), CPU)
    assert [m.epoch for m in result.epochs] == [1, 2]
    assert result.epochs[-1].test_acc > 88.0  # 5k MNIST images, 2 epochs: about 91-93%
    assert result.epochs[1].train_loss < result.epochs[0].train_loss


def test_real_mnist_one_epoch(shared_mnist):
    ctx = TrainContext(device=torch.device("cpu"), data_dir=shared_mnist)
    hparams = get_task("mnist").resolve_hparams({"epochs": 1})
    result = run_trial(Trial("mnist", "relu", 0, hparams), ctx)
    # The MLP reaches ~96% after one epoch of AdamW on full MNIST.
    assert 94.5 < result.epochs[0].test_acc < 98.5


def test_learnable_activation_parameters_are_trained_and_recorded():
    learned = run_trial(mini_trial("ralu(alpha=2.0, learnable=true)"), CPU).epochs[-1]
    assert set(learned.activation_params) == {"act1.alpha", "act2.alpha"}
    assert all(len(v) == 1 and v[0] != 2.0 for v in learned.activation_params.values())
    fixed = run_trial(mini_trial("ralu(alpha=2.0, learnable=false)"), CPU).epochs[-1]
    assert fixed.activation_params == {}


def test_activation_parameters_get_no_weight_decay():
    optimizer = make_optimizer(build_mlp(SIZES, "prelu", 0), {"lr": 1e-3, "weight_decay": 0.1})
    decays = [(len(g["params"]), g["weight_decay"]) for g in optimizer.param_groups]
    assert decays == [(6, 0.1), (2, 0.0)]  # 3 weights + 3 biases; one PReLU slope per hidden layer


def test_divergence_stops_the_trial_and_is_marked():
    # fakes.py sits in tests/, which pytest puts on sys.path: a plug-in activation by import path.
    # 79 training steps per epoch on mnist-mini plus one evaluation: NaN from epoch 2 on.
    result = run_trial(mini_trial("fakes:NanAfter(calls=100)", epochs=4), CPU)
    assert result.status == "diverged"
    assert result.diverged_epoch == 2
    assert len(result.epochs) == 2
    assert result.epochs[0].finite and not result.epochs[1].finite


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"epochs": 0}, "epochs must be >= 1, got 0"),
        ({"batch_size": 2.5}, "batch_size must be an integer, got 2.5"),
        ({"lr": -1.0}, "lr must be a positive number, got -1.0"),
        ({"hidden": []}, "hidden must be a non-empty list like [128, 64], got []"),
        (
            {"momentum": 0.9},
            "task mnist has no hyperparameter 'momentum'; its hyperparameters are: "
            "batch_size, epochs, hidden, init, lr, split, weight_decay",
        ),
        ({"init": "xavier"}, "init must be one of torch, lecun, he, got 'xavier'"),
        ({"split": "train"}, "split must be one of test, validation, got 'train'"),
    ],
)
def test_bad_hyperparameters_are_usage_errors(overrides, message):
    with pytest.raises(UsageError) as info:
        get_task("mnist").resolve_hparams(overrides)
    assert str(info.value) == message


def test_unknown_task_suggests_close_names():
    with pytest.raises(UsageError) as info:
        get_task("mnsit")
    assert str(info.value) == "unknown task 'mnsit'; did you mean: mnist, mnist-mini?"
