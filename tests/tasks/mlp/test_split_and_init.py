"""The MLP tasks' validation split and initialisation schemes, and the hyperparameters added
after stores existed keeping those stores' config hashes."""

from __future__ import annotations

import hashlib
import math
import shutil
from pathlib import Path

import pytest
import torch

from actbench.api import TrainContext, Trial
from actbench.datasets.split import VALIDATION_FRACTION, validation_split
from actbench.errors import DataError
from actbench.tasks import get_task
from actbench.tasks.mlp.data import load_dataset
from actbench.tasks.mlp.model import build_mlp, device_data
from actbench.tasks.mlp.recipe import MNIST_NORM

SHARED_MNIST = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "mnist"
SIZES = [784, 128, 64, 10]


def test_default_protocol_keeps_the_config_hash_of_the_stores_written_before_init_and_split():
    # The hash every stored mnist trial of the 20-epoch protocol has (schema 1 on): adding
    # the init and split hyperparameters must not move it, or old stores stop resuming.
    hp = get_task("mnist").resolve_hparams({})
    assert "init" not in hp and "split" not in hp
    assert Trial("mnist", "relu", 0, hp).config_hash == "bb70e260ca3f55df"
    assert get_task("mnist").resolve_hparams({"init": "torch", "split": "test"}) == hp  # the defaults, spelt out
    tuned = get_task("mnist").resolve_hparams({"init": "lecun", "split": "validation"})
    assert tuned == {**hp, "init": "lecun", "split": "validation"}


@pytest.mark.parametrize("n", [1, 9, 10, 5000, 60000])
def test_the_validation_split_partitions_the_training_rows_the_same_way_every_time(n):
    train, held_out = validation_split(n, VALIDATION_FRACTION)
    assert len(held_out) == round(n * VALIDATION_FRACTION)
    assert sorted([*train.tolist(), *held_out.tolist()]) == list(range(n))  # disjoint, nothing lost
    assert torch.equal(train, train.sort().values) and torch.equal(held_out, held_out.sort().values)
    again_train, again_held = validation_split(n, VALIDATION_FRACTION)
    assert torch.equal(train, again_train) and torch.equal(held_out, again_held)
    if n >= 5000:  # a random draw, not a block of the file: spread over the whole file
        assert held_out.float().mean().item() == pytest.approx((n - 1) / 2, rel=0.05)


def digests(images: torch.Tensor) -> set[str]:
    return {hashlib.sha1(image.numpy().tobytes()).hexdigest() for image in images}


def test_validation_rows_are_training_images_never_test_images():
    raw = load_dataset("mnist-mini")
    data = device_data("mnist-mini", MNIST_NORM, None, True, torch.device("cpu"), "validation")
    train_rows, held_out = validation_split(len(raw.train_images), VALIDATION_FRACTION)
    # What the task measures on is exactly the held-out training rows, normalised ...
    expected = (raw.train_images[held_out].reshape(len(held_out), -1).float() / 255 - MNIST_NORM.mean) / MNIST_NORM.std
    assert torch.equal(data.test_x, expected) and torch.equal(data.test_y, raw.train_labels[held_out])
    assert len(data.train_x) == len(train_rows) == len(raw.train_images) - len(held_out)
    # ... and none of the test set's images is among them (mnist-mini's 5k/1k share none).
    assert not digests(raw.train_images[held_out]) & digests(raw.test_images)


def test_a_validation_split_never_reads_the_test_files(tmp_path):
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"):
        shutil.copy(SHARED_MNIST / name, tmp_path / name)  # no t10k-* files in the folder
    ctx = TrainContext(torch.device("cpu"), tmp_path, True)
    task = get_task("mnist")
    task.prepare(ctx, task.resolve_hparams({"split": "validation"}))
    data = task.data(ctx, "validation")
    assert (len(data.train_x), len(data.test_x)) == (54000, 6000)
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte.gz"):  # the test split does need them
        task.prepare(ctx, task.resolve_hparams({}))


@pytest.mark.parametrize("scheme, gain", [("lecun", 1.0), ("he", 2.0)])
def test_normal_inits_have_their_variance_and_zero_biases(scheme, gain):
    model = build_mlp(SIZES, "selu", 3, scheme)
    for fc, fan_in in (("fc1", 784), ("fc2", 128), ("fc3", 64)):
        weight = model.get_submodule(fc).weight.detach()
        assert weight.mean().item() == pytest.approx(0.0, abs=4 * math.sqrt(gain / fan_in / weight.numel()))
        # The sample SD of n normal draws is within a few sqrt(1/2n) of the truth.
        assert weight.std().item() == pytest.approx(math.sqrt(gain / fan_in), rel=4 / math.sqrt(2 * weight.numel()))
        assert torch.count_nonzero(model.get_submodule(fc).bias) == 0


def test_the_torch_init_is_the_default_and_every_scheme_depends_on_the_seed_alone():
    default, torch_init = build_mlp(SIZES, "relu", 0), build_mlp(SIZES, "relu", 0, "torch")
    assert torch.equal(default.fc1.weight, torch_init.fc1.weight)
    assert default.fc1.weight.abs().max().item() <= 1 / math.sqrt(784)
    for scheme in ("lecun", "he"):
        relu, gelu = build_mlp(SIZES, "relu", 5, scheme), build_mlp(SIZES, "gelu", 5, scheme)
        assert torch.equal(relu.fc2.weight, gelu.fc2.weight)  # paired: the same start for every activation
        assert not torch.equal(relu.fc2.weight, build_mlp(SIZES, "relu", 6, scheme).fc2.weight)
    he, lecun = build_mlp(SIZES, "relu", 5, "he"), build_mlp(SIZES, "relu", 5, "lecun")
    assert torch.allclose(he.fc1.weight, math.sqrt(2) * lecun.fc1.weight)  # the same draws, scaled
