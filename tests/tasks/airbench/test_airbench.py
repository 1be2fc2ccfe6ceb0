"""The airbench CIFAR-10 tasks against the recipe (../shared/AIRBENCH.md): network shapes and
parameter counts, whitening, augmentation, test-time augmentation, optimiser, schedule,
lookahead, and training on small synthetic data."""

from __future__ import annotations

import io
import math
from pathlib import Path

import pandas as pd
import pytest
import torch
from cifar_files import write_synthetic_cifar10
from cli_runner import cli
from torch import nn

from actbench.activations import get_activation, list_activations
from actbench.tasks import get_task
from actbench.tasks.airbench import augment
from actbench.tasks.airbench import data as cifar
from actbench.tasks.airbench.augment import TrainBatches, cutout, random_crop, tta_logits
from actbench.tasks.airbench.net import BatchNorm, ConvGroup, build_net, init_whitening_, patch_covariance
from actbench.tasks.airbench.optim import Lookahead, lr_multiplier, make_optimizer, param_groups, total_steps

TASK_NAMES = ("cifar10-airbench94", "cifar10-airbench95", "cifar10-airbench96")


def net_for(task_name: str, activation: str = "gelu", seed: int = 0, widths: list[int] | None = None) -> nn.Sequential:
    task = get_task(task_name)
    hp = task.hyperparams
    return build_net(widths or hp["widths"], activation, seed, task.residual, hp["bn_momentum"])


# --- network -------------------------------------------------------------------------


def weights_by_recipe(widths: list[int], convs_per_group: int) -> int:
    """Conv and linear weights layer by layer (biases and BatchNorm excluded): the whitening
    conv 3 -> 24 (2x2), per group one conv C_in -> C (3x3) and the others C -> C, the head C -> 10."""
    count = 24 * 3 * 2 * 2
    c_in = 24
    for c in widths:
        count += c * c_in * 9 + (convs_per_group - 1) * c * c * 9
        c_in = c
    return count + widths[-1] * 10


def conv_linear_weights(net: nn.Module) -> int:
    return sum(m.weight.numel() for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear)))


@pytest.mark.parametrize(
    "task_name, count, convs_per_group",
    [("cifar10-airbench94", 1_970_464, 2), ("cifar10-airbench95", 4_602_912, 2), ("cifar10-airbench96", 12_714_272, 3)],
)
def test_parameter_counts_match_the_recipe(task_name, count, convs_per_group):
    net = net_for(task_name)
    assert weights_by_recipe(get_task(task_name).hyperparams["widths"], convs_per_group) == count
    assert conv_linear_weights(net) == count
    # Besides those weights: the whitening bias (24) and one BatchNorm shift per conv channel.
    widths = get_task(task_name).hyperparams["widths"]
    trainable = sum(p.numel() for p in net.parameters() if p.requires_grad)
    assert trainable == count - 24 * 12 + 24 + convs_per_group * sum(widths)


def test_shapes_through_the_airbench94_network():
    net = net_for("cifar10-airbench94").eval()
    shapes = []
    for module in net.children():
        module.register_forward_hook(lambda m, i, out: shapes.append(tuple(out.shape)))
    net(torch.randn(2, 3, 32, 32))
    assert shapes == [
        (2, 24, 31, 31),
        (2, 24, 31, 31),  # whitening (2x2, no padding), activation
        (2, 64, 15, 15),
        (2, 256, 7, 7),
        (2, 256, 3, 3),  # the three groups, each pooling by 2
        (2, 256, 1, 1),
        (2, 256),
        (2, 10),
        (2, 10),  # MaxPool(3), flatten, head, x 1/9
    ]


@pytest.mark.parametrize("task_name, sites", [("cifar10-airbench94", 7), ("cifar10-airbench96", 10)])
def test_the_activation_replaces_gelu_at_every_site_with_its_own_parameters(task_name, sites):
    net = net_for(task_name, "prelu")
    assert not any(isinstance(m, nn.GELU) for m in net.modules())
    prelus = [name for name, m in net.named_modules() if isinstance(m, nn.PReLU)]
    assert len(prelus) == sites
    assert prelus[:3] == ["act", "group1.act1", "group1.act2"]
    assert len({id(p) for p in net.parameters() if p.numel() == 1}) == sites


def test_initial_weights_depend_on_the_seed_not_on_the_activation():
    relu, gelu, other_seed = (net_for("cifar10-airbench94", a, s) for a, s in (("relu", 3), ("gelu", 3), ("relu", 4)))
    for (name, a), b in zip(relu.state_dict().items(), gelu.state_dict().values()):
        assert torch.equal(a, b), name
    assert not torch.equal(relu.group2.conv1.weight, other_seed.group2.conv1.weight)


def test_convs_start_with_identity_filters_and_default_uniform_weights():
    net = net_for("cifar10-airbench94")
    conv = net.group2.conv1.weight  # (256, 64, 3, 3)
    dirac = torch.zeros(64, 64, 3, 3)
    dirac[range(64), range(64), 1, 1] = 1
    assert torch.equal(conv[:64], dirac)
    rest = conv[64:]
    bound = 1 / math.sqrt(64 * 9)
    assert rest.abs().max() <= bound and rest.abs().max() > 0.95 * bound
    assert torch.equal(net.whiten.bias, torch.zeros(24))
    # A square conv (C -> C) is all identity filters: it starts as the identity map.
    square = net.group2.conv2.weight  # (256, 256, 3, 3)
    assert torch.equal(square, torch.nn.init.dirac_(torch.empty_like(square)))


def test_batchnorm_follows_the_recipe():
    net = net_for("cifar10-airbench94")
    norms = [m for m in net.modules() if isinstance(m, BatchNorm)]
    assert len(norms) == 6
    for norm in norms:
        assert norm.eps == 1e-12 and norm.momentum == pytest.approx(0.4)  # airbench's 0.6
        assert not norm.weight.requires_grad and torch.equal(norm.weight, torch.ones_like(norm.weight))
        assert norm.bias.requires_grad
    assert not net.whiten.weight.requires_grad and net.whiten.bias.requires_grad


def test_airbench96_groups_apply_the_activation_before_the_residual_add():
    torch.manual_seed(0)
    group = ConvGroup(4, 6, "silu", residual=True, bn_momentum=0.4).eval()
    with torch.no_grad():
        for norm in (group.norm1, group.norm2, group.norm3):  # non-trivial eval statistics
            norm.running_mean.uniform_(-1, 1)
            norm.running_var.uniform_(0.5, 2)
        x = torch.randn(2, 4, 8, 8)
        x0 = nn.functional.silu(group.norm1(group.pool(group.conv1(x))))
        y = nn.functional.silu(group.norm2(group.conv2(x0)))
        expected = x0 + nn.functional.silu(group.norm3(group.conv3(y)))
        assert torch.allclose(group(x), expected, atol=1e-6)
        # ... which is not the later recipe's act(x0 + BN(conv(y))).
        assert not torch.allclose(group(x), nn.functional.silu(x0 + group.norm3(group.conv3(y))), atol=1e-3)


# --- whitening -----------------------------------------------------------------------


def test_whitening_filters_whiten_the_patches():
    gen = torch.Generator().manual_seed(0)
    # Correlated channels and smooth images: a far-from-white patch covariance.
    base = torch.randn(300, 1, 33, 33, generator=gen)
    smooth = (base[..., 1:, 1:] + base[..., :-1, :-1] + base[..., 1:, :-1]) / 3  # (300, 1, 32, 32)
    images = torch.cat([smooth, 0.5 * smooth + torch.randn(300, 1, 32, 32, generator=gen), smooth**2], dim=1)
    conv = nn.Conv2d(3, 24, 2, bias=False)
    eps = 5e-4
    init_whitening_(conv, images, eps=eps)
    raw = patch_covariance(images, 2)
    assert not torch.allclose(raw, torch.eye(12, dtype=raw.dtype), atol=0.1)
    with torch.no_grad():
        out = conv(images).double()  # (300, 24, 31, 31)
    flat = out[:, :12].permute(0, 2, 3, 1).reshape(-1, 12)
    covariance = flat.T @ flat / len(flat)
    eigenvalues = torch.linalg.eigvalsh(raw).flip(0)  # largest first, as the filters
    assert torch.allclose(covariance, torch.diag(eigenvalues / (eigenvalues + eps)), atol=1e-5)
    assert torch.allclose(covariance, torch.eye(12, dtype=torch.float64), atol=0.05)
    assert torch.equal(conv.weight[12:], -conv.weight[:12])


# --- augmentation --------------------------------------------------------------------


def distinct_images(n: int, size: int = 32) -> torch.Tensor:
    """(n, 3, size, size) with every pixel value distinct and nonzero: positions are recognisable."""
    return torch.arange(1, n * 3 * size * size + 1, dtype=torch.float32).reshape(n, 3, size, size)


def test_random_crop_takes_every_window_within_the_translation_range():
    r, size = 2, 32
    padded = distinct_images(400, size + 2 * r)
    out = random_crop(padded, size, torch.Generator().manual_seed(0))
    assert out.shape == (400, 3, size, size)
    offsets = set()
    for image, crop in zip(padded, out):
        # The crop's top-left value locates it in the padded image.
        y, x = divmod((image[0] == crop[0, 0, 0]).flatten().nonzero().item(), size + 2 * r)
        assert 0 <= y <= 2 * r and 0 <= x <= 2 * r
        assert torch.equal(crop, image[:, y : y + size, x : x + size])
        offsets.add((y, x))
    assert len(offsets) == (2 * r + 1) ** 2  # every translation in [-2, 2] x [-2, 2] occurs


def test_cutout_zeroes_one_square_that_fits():
    images = distinct_images(50)
    out = cutout(images, 12, torch.Generator().manual_seed(1))
    for image in out:
        zero = image[0] == 0
        rows, cols = zero.any(1).nonzero().flatten(), zero.any(0).nonzero().flatten()
        assert zero.sum() == 144 and len(rows) == 12 and len(cols) == 12
        assert rows[-1] - rows[0] == 11 and cols[-1] - cols[0] == 11  # one contiguous square
        assert torch.equal(zero, image[1] == 0) and torch.equal(zero, image[2] == 0)  # all channels


def make_batches(n: int = 64, translate: int = 0, cutout_size: int = 0, seed: int = 0) -> TrainBatches:
    images = torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(9))
    return TrainBatches(
        images,
        torch.arange(n) % 10,
        dtype=torch.float32,
        batch_size=16,
        translate=translate,
        cutout_size=cutout_size,
        augment_gen=torch.Generator().manual_seed(seed),
        order_gen=torch.Generator().manual_seed(seed + 1),
    )


def test_pre_flip_mirrors_about_half_the_images_once():
    batches = make_batches(n=400)
    normalised = augment.normalise(
        torch.randint(0, 256, (400, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(9)),
        torch.float32,
    )
    flipped = [not torch.equal(a, b) and torch.equal(a, b.flip(-1)) for a, b in zip(batches.padded, normalised)]
    kept = [torch.equal(a, b) for a, b in zip(batches.padded, normalised)]
    assert all(f or k for f, k in zip(flipped, kept))
    assert 160 < sum(flipped) < 240


def test_alternating_flip_mirrors_every_image_on_odd_epochs():
    batches = make_batches()
    epoch0, epoch1, epoch2 = (batches.augmented(e) for e in range(3))
    assert torch.equal(epoch1, epoch0.flip(-1))
    assert torch.equal(epoch2, epoch0)


def test_an_epoch_is_a_permutation_in_full_batches():
    batches = make_batches(n=70)  # 4 batches of 16, 6 images dropped
    seen = list(batches.epoch(0))
    assert [len(x) for x, _ in seen] == [16] * 4
    labels = torch.cat([y for _, y in seen])
    assert len(labels) == 64


def test_augmentation_depends_on_the_seed_alone():
    a, b, c = (
        make_batches(translate=2, cutout_size=4, seed=5),
        make_batches(translate=2, cutout_size=4, seed=5),
        make_batches(translate=2, cutout_size=4, seed=6),
    )
    assert torch.equal(a.augmented(0), b.augmented(0))
    assert not torch.equal(a.augmented(0), c.augmented(0))


# --- test-time augmentation ------------------------------------------------------------


def test_tta_weights_the_six_views_as_airbench():
    images = distinct_images(3)
    top_left = lambda x: x[:, 0, 0, 0:1]  # noqa: E731 - a "network" whose logit is the top-left pixel
    x = images[:, 0]
    assert torch.equal(tta_logits(top_left, images, 0), x[:, 0, 0:1])
    assert torch.allclose(tta_logits(top_left, images, 1), 0.5 * x[:, 0, 0:1] + 0.5 * x[:, 0, 31:32])
    # Reflect-padded by 1, the up-left window's corner is x[1, 1] and its mirror's x[1, 30];
    # the down-right window's corner is x[1, 1] too, its mirror's x[1, 30] (reflection of x[1, 32]).
    expected = 0.25 * (x[:, 0, 0] + x[:, 0, 31]) + 0.125 * (2 * x[:, 1, 1] + 2 * x[:, 1, 30])
    assert torch.allclose(tta_logits(top_left, images, 2)[:, 0], expected)


def test_tta_views_of_a_linear_map_average_to_the_weighted_inputs():
    images = torch.randn(4, 3, 32, 32)
    weight = torch.randn(3 * 32 * 32, 5)
    linear = lambda x: x.flatten(1) @ weight  # noqa: E731
    padded = nn.functional.pad(images, (1, 1, 1, 1), mode="reflect")
    views = [
        images,
        images.flip(-1),
        padded[..., :32, :32],
        padded[..., :32, :32].flip(-1),
        padded[..., 2:, 2:],
        padded[..., 2:, 2:].flip(-1),
    ]
    weights = [0.25, 0.25, 0.125, 0.125, 0.125, 0.125]
    expected = sum(w * linear(v) for w, v in zip(weights, views))
    assert torch.allclose(tta_logits(linear, images, 2), expected, atol=1e-3)


# --- optimiser, schedule, lookahead ------------------------------------------------------


def test_decoupled_hyperparameters_become_these_sgd_settings():
    net = net_for("cifar10-airbench94", "ralu")
    hp = get_task("cifar10-airbench94").hyperparams
    groups = {g["name"]: g for g in param_groups(net, hp)}
    lr = 11.5 / (1024 * (1 + 1 / 0.15))  # 1.4648e-3 per step
    assert groups["weights"]["lr"] == pytest.approx(lr) == pytest.approx(1.46484e-3, rel=1e-5)
    # torch decays by lr x weight_decay per step: 0.0153 x 1024 / 7850.67 for every group.
    decay = 0.0153 * 1024 / (1024 * (1 + 1 / 0.15))
    assert groups["weights"]["lr"] * groups["weights"]["weight_decay"] == pytest.approx(decay)
    assert groups["batchnorm"]["lr"] == pytest.approx(64 * lr)
    assert groups["batchnorm"]["lr"] * groups["batchnorm"]["weight_decay"] == pytest.approx(decay)
    assert groups["activation"]["lr"] == pytest.approx(lr) and groups["activation"]["weight_decay"] == 0.0
    named = {id(p): n for n, p in net.named_parameters()}
    assert sorted(named[id(p)] for p in groups["activation"]["params"])[:2] == ["act.alpha", "group1.act1.alpha"]
    assert len(groups["activation"]["params"]) == 7
    assert all(
        named[id(p)].endswith("norm1.bias") or named[id(p)].endswith("norm2.bias")
        for p in groups["batchnorm"]["params"]
    )
    grouped = {id(p) for g in groups.values() for p in g["params"]}
    frozen = {n for n, p in net.named_parameters() if id(p) not in grouped}
    assert frozen == {"whiten.weight"} | {f"group{i}.norm{j}.weight" for i in (1, 2, 3) for j in (1, 2)}
    optimizer = make_optimizer(net, hp)
    assert all(g["nesterov"] and g["momentum"] == 0.85 for g in optimizer.param_groups)


def test_schedule_values_at_chosen_steps():
    hp = get_task("cifar10-airbench94").hyperparams
    steps = total_steps(48, 9.9)
    assert steps == 476  # ceil(48 x 9.9)
    warmup = int(476 * 0.23)  # 109
    assert lr_multiplier(0, steps, hp) == pytest.approx(0.2)
    assert lr_multiplier(54, steps, hp) == pytest.approx(0.2 + 0.8 * 54 / 109)
    assert lr_multiplier(warmup, steps, hp) == pytest.approx(1.0)
    assert lr_multiplier(292, steps, hp) == pytest.approx(1 - 0.93 * (292 - 109) / (476 - 109))
    assert lr_multiplier(475, steps, hp) == pytest.approx(0.07 + 0.93 / 367)
    assert total_steps(48, 40.0) == 1920 and total_steps(48, 15.0) == 720


def tiny_net() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3))


def test_lookahead_pulls_towards_a_slow_copy_every_five_steps():
    net = tiny_net()
    lookahead = Lookahead(net, total_steps=100, start_epoch=0, sync_each_epoch=False)
    slow = net[0].weight.detach().clone()
    for step in range(1, 11):
        with torch.no_grad():
            net[0].weight.add_(1.0)  # a "training step"
            net[1].running_mean.add_(1.0)
        fast = net[0].weight.detach().clone()
        lookahead.after_step(net, step, epoch=0)
        if step % 5:
            assert torch.equal(net[0].weight, fast)  # untouched between pulls
        else:
            decay = 0.95**5 * (step / 100) ** 3
            slow = decay * slow + (1 - decay) * fast
            assert torch.allclose(net[0].weight, slow, atol=1e-6)
    assert lookahead.decay(100) == pytest.approx(0.7737809375)
    assert "1.num_batches_tracked" not in lookahead.slow and "1.running_mean" in lookahead.slow


def test_lookahead_sets_the_network_to_the_slow_copy_at_the_end():
    net = tiny_net()
    lookahead = Lookahead(net, total_steps=10, start_epoch=0, sync_each_epoch=False)
    lookahead.after_step(net, 5, epoch=0)
    slow = {k: v.clone() for k, v in lookahead.slow.items()}
    with torch.no_grad():
        net[0].weight.add_(3.0)
    lookahead.end_of_epoch(net, last=False)
    assert not torch.equal(net[0].weight, slow["0.weight"])  # airbench94: only after the last epoch
    lookahead.end_of_epoch(net, last=True)
    assert torch.equal(net[0].weight, slow["0.weight"])


def test_airbench96_lookahead_starts_late_and_syncs_every_epoch():
    net = tiny_net()
    lookahead = Lookahead(net, total_steps=100, start_epoch=3, sync_each_epoch=True)
    lookahead.after_step(net, 5, epoch=2)
    assert lookahead.slow is None
    with torch.no_grad():
        net[0].weight.add_(1.0)
    taken = net[0].weight.detach().clone()
    lookahead.after_step(net, 10, epoch=3)  # the first multiple of 5 in epoch 3: a snapshot, no pull
    assert torch.equal(lookahead.slow["0.weight"], taken) and torch.equal(net[0].weight, taken)
    with torch.no_grad():
        net[0].weight.add_(1.0)
    lookahead.end_of_epoch(net, last=False)
    assert torch.equal(net[0].weight, taken)


def test_learnable_activation_parameters_stay_float32_out_of_decay_and_inside_their_range():
    net = net_for("cifar10-airbench94", "ralu", widths=[8, 8, 8])
    hp = {**get_task("cifar10-airbench94").hyperparams, "widths": [8, 8, 8]}
    alphas = [p for n, p in net.named_parameters() if n.endswith("alpha")]
    assert all(p.dtype == torch.float32 for p in alphas)
    lookahead = Lookahead(net, total_steps=10, start_epoch=0, sync_each_epoch=False)
    history = []
    for step in range(1, 11):
        with torch.no_grad():
            for p in alphas:
                p.add_(0.1)
        history.append(alphas[0].item())
        lookahead.after_step(net, step, epoch=0)
    lookahead.end_of_epoch(net, last=True)
    assert min(history) - 1e-6 <= alphas[0].item() <= max(history) + 1e-6  # a convex combination
    groups = {g["name"]: g for g in param_groups(net, hp)}
    assert groups["activation"]["weight_decay"] == 0


def test_every_activation_can_sit_at_every_site():
    x = torch.randn(2, 3, 32, 32)
    for name in (info.name for info in list_activations()):
        # BatchNorm normalising the batch, as in training: with its initial running statistics
        # (eval) nothing rescales between sites, and relu2's x² at 7 sites overflows float32.
        net = net_for("cifar10-airbench94", name, widths=[4, 4, 4]).train()
        assert torch.isfinite(net(x)).all(), name
        assert all(
            isinstance(m, type(get_activation(name)))
            for n, m in net.named_modules()
            if n.split(".")[-1].startswith("act")
        ), name


# --- the command line, end to end on synthetic CIFAR-10 files --------------------------

SMOKE_CONFIG = Path(__file__).resolve().parents[3] / "configs" / "smoke-cifar.toml"


@pytest.fixture
def synthetic_cifar(tmp_path) -> Path:
    """torchvision's layout: DIR/cifar-10-batches-py with 2000 training and 500 test images."""
    write_synthetic_cifar10(tmp_path / "cifar" / "cifar-10-batches-py")
    return tmp_path / "cifar"


def run_smoke(data_dir: Path, results: str, *extra: str):
    return cli(
        "run", "--config", str(SMOKE_CONFIG), "--data-dir", str(data_dir), "--results-dir", results, "-q", *extra
    )


def test_smoke_config_runs_stores_tta_and_reports_it(synthetic_cifar):
    result = run_smoke(synthetic_cifar, "results")
    assert result.exit_code == 0, result.output

    report = cli("report")
    assert report.exit_code == 0, report.output
    summary = pd.read_csv("results/cifar10-airbench94/summary.csv")
    assert list(summary["activation"]) == ["relu", "gelu"] and list(summary["n"]) == [2, 2]
    assert summary["tta_acc_mean"].between(0, 100).all() and (summary["tta_acc_std"] >= 0).all()
    assert "TTA test acc (%)" in Path("results/cifar10-airbench94/summary.md").read_text()

    rows = pd.read_csv(io.StringIO(cli("export", "--format", "csv").stdout))
    # 1.5 epochs of 2000 images in batches of 200: a full epoch of 10 steps, then 5 steps.
    assert len(rows) == 2 * 2 * 2 and list(rows["epoch"]) == [1, 2] * 4
    assert rows["tta_acc"].isna().tolist() == [True, False] * 4  # TTA after the last epoch only
    assert (rows["timed_s"] > 0).all()
    rows = rows[rows["epoch"] == 2]
    # The synthetic classes are easy: far above chance (10%) unless images and labels are
    # mismatched by the augmentation or the shuffle, or the TTA views are wrong.
    assert (rows["test_acc"] > 60).all() and (rows["tta_acc"] > 60).all()
    # The headline is the mean and unbiased std of the stored per-seed TTA accuracies
    # (summary.csv keeps 6 significant digits).
    by_act = rows.groupby("activation", sort=False)["tta_acc"]
    assert summary.set_index("activation")["tta_acc_mean"].to_dict() == pytest.approx(by_act.mean().to_dict(), abs=1e-4)
    assert summary.set_index("activation")["tta_acc_std"].to_dict() == pytest.approx(
        by_act.std(ddof=1).to_dict(), abs=1e-4
    )


def test_the_same_seed_trains_the_same_numbers(synthetic_cifar):
    metrics = ["activation", "seed", "train_loss", "test_loss", "test_acc", "tta_acc"]
    exports = []
    for folder in ("a", "b"):
        assert run_smoke(synthetic_cifar, folder, "--acts", "prelu", "--repeats", "1").exit_code == 0
        exports.append(pd.read_csv(io.StringIO(cli("export", "--results-dir", folder).stdout))[metrics])
    pd.testing.assert_frame_equal(*exports)


def test_a_batch_larger_than_the_data_is_one_line(synthetic_cifar):
    result = run_smoke(synthetic_cifar, "results", "--batch-size", "4096")
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: batch_size 4096 is larger than the 2000 training images"


def test_missing_cifar_files_name_the_folder_and_the_download(tmp_path, monkeypatch):
    # Offline: the mirror is a closed port on this machine, so the download fails at once.
    monkeypatch.setattr(cifar, "MIRRORS", ("http://127.0.0.1:9/",))
    nowhere = tmp_path / "nowhere"
    result = run_smoke(nowhere, "results")
    assert result.exit_code == 1
    line = result.stderr.strip()
    assert "\n" not in line
    assert line.startswith(
        "error: CIFAR-10 files not found: data_batch_1, data_batch_2, data_batch_3, data_batch_4, data_batch_5, "
        f"test_batch (looked in {nowhere} and {nowhere / 'cifar-10-batches-py'}); "
        "download of cifar-10-python.tar.gz from http://127.0.0.1:9/ failed"
    )


def test_tasks_lists_the_cifar_tasks_and_their_hyperparameters():
    listing = cli("tasks")
    assert listing.exit_code == 0
    assert all(name in listing.stdout for name in TASK_NAMES)
    one = cli("tasks", "cifar10-airbench96")
    assert one.exit_code == 0
    assert "  widths = [128, 512, 512]\n" in one.stdout and "  cutout = 12\n" in one.stdout
    unknown = cli("tasks", "cifar10-airbench69")
    assert unknown.exit_code == 2 and "did you mean" in unknown.stderr


def test_fractional_epochs_only_where_the_task_takes_them():
    result = cli("run", "--task", "mnist-mini", "--acts", "relu", "--epochs", "2.5", "-q")
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: epochs must be an integer, got 2.5"
