#!/usr/bin/env python3
"""On a GPU: the cifar10-airbench94 task against the airbench package itself (PyPI
`airbench`, Keller Jordan's code), on the same synthetic CIFAR-10 in one run.

Both train from the same images: synthetic files in CIFAR-10's format, written once, read
by actbench through its own loader and by airbench from the `cifar10/train.pt` and
`test.pt` files its CifarLoader reads (uint8 images, labels). Per activation and seed it
times a whole trial as the wall clock sees it (training, per-epoch evaluation and the TTA
evaluation; CUDA synchronised), after one warm-up trial of each (cuDNN autotuning), and
prints the median seconds per trial and the ratio actbench / airbench. airbench's network
hard-codes nn.GELU; for relu it is built with torch.nn.GELU standing in for nn.ReLU
while its net is made. Accuracies are on synthetic data: a sanity check, not a result.

    python scripts/gpu_check.py --airbench-sdist .wheels/airbench-0.1.8.tar.gz --acts relu,gelu --seeds 3

(scripts/gpu_check.sh runs it on the lent GPU with the MNIST engine comparison.)
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import torch
from cifar_files import write_synthetic_cifar10

from actbench.api import TrainContext
from actbench.tasks import get_task
from actbench.tasks.airbench.data import BATCHES_FOLDER, load_cifar10


def import_airbench(sdist: Path, into: Path):
    """The airbench package from its source archive (pure Python: no build, no network)."""
    with tarfile.open(sdist) as archive:
        archive.extractall(into, filter="data")
    (root,) = into.glob("airbench-*")
    sys.path.insert(0, str(root))
    import airbench

    return airbench


def write_airbench_files(folder: Path, cifar) -> None:
    """airbench's CifarLoader files: images (N, 32, 32, 3) uint8 HWC, labels (N,) int64."""
    folder.mkdir(parents=True, exist_ok=True)
    classes = [str(i) for i in range(10)]
    for name, images, labels in (
        ("train", cifar.train_images, cifar.train_labels),
        ("test", cifar.test_images, cifar.test_labels),
    ):
        torch.save(
            {"images": images.permute(0, 2, 3, 1).contiguous(), "labels": labels, "classes": classes},
            folder / f"{name}.pt",
        )


@contextlib.contextmanager
def airbench_activation(act: str):
    """airbench's nets call nn.GELU(); for relu, nn.ReLU answers that call while a net is built."""
    if act == "gelu":
        yield
        return
    if act != "relu":
        raise SystemExit(f"airbench's network has gelu, or relu by substitution; not {act}")
    original = torch.nn.GELU
    torch.nn.GELU = lambda *args, **kwargs: torch.nn.ReLU()
    try:
        yield
    finally:
        torch.nn.GELU = original


def timed(run) -> tuple[float, object]:
    torch.cuda.synchronize()
    start = time.perf_counter()
    out = run()
    torch.cuda.synchronize()
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--airbench-sdist", type=Path, required=True, help="airbench-*.tar.gz (pip download airbench --no-deps)"
    )
    parser.add_argument("--acts", default="relu,gelu")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--n-train", type=int, default=50_000)
    parser.add_argument("--n-test", type=int, default=10_000)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("no CUDA device: this check compares GPU timings")
    device = torch.device("cuda")
    work = Path(tempfile.mkdtemp(prefix="gpu-check-"))
    airbench = import_airbench(args.airbench_sdist, work / "src")
    write_synthetic_cifar10(work / BATCHES_FOLDER, args.n_train, args.n_test)
    write_airbench_files(work / "cifar10", load_cifar10(work, verify=False))

    task = get_task("cifar10-airbench94")
    hp = task.resolve_hparams({})
    ctx = TrainContext(device, work, verify=False)

    def actbench_trial(act: str, seed: int) -> float:
        return list(task.train(act, seed, hp, ctx))[-1].extra["tta_acc"]

    os.chdir(work)  # airbench reads ./cifar10/{train,test}.pt
    loader = airbench.CifarLoader(
        "cifar10", train=True, batch_size=hp["batch_size"], aug={"flip": True, "translate": 2}, altflip=True
    )
    test_loader = airbench.CifarLoader("cifar10", train=False, batch_size=2000)

    def airbench_trial(act: str, seed: int) -> float:
        torch.manual_seed(seed)
        with airbench_activation(act), contextlib.redirect_stdout(io.StringIO()):
            model = airbench.train94(train_loader=loader, run=seed, verbose=True)
        return 100.0 * airbench.evaluate(model, test_loader, tta_level=2)

    timed(lambda: actbench_trial("gelu", 999))  # warm-ups: cuDNN autotuning, first allocations
    timed(lambda: airbench_trial("gelu", 999))
    print(f"GPU: {torch.cuda.get_device_name(device)}, torch {torch.__version__}, airbench {args.airbench_sdist.name}")
    print(
        f"airbench94, {args.n_train} synthetic training images, {args.seeds} seed(s) each, "
        "wall seconds per trial (median)"
    )
    print(f"{'activation':<12}{'actbench s':>12}{'airbench s':>12}{'ratio':>8}{'actbench acc':>14}{'airbench acc':>14}")
    for act in args.acts.split(","):
        ours = [timed(lambda act=act, s=s: actbench_trial(act, s)) for s in range(args.seeds)]
        theirs = [timed(lambda act=act, s=s: airbench_trial(act, s)) for s in range(args.seeds)]
        t_ours, t_theirs = statistics.median(t for t, _ in ours), statistics.median(t for t, _ in theirs)
        acc_ours, acc_theirs = statistics.mean(a for _, a in ours), statistics.mean(a for _, a in theirs)
        print(
            f"{act:<12}{t_ours:>12.2f}{t_theirs:>12.2f}{t_ours / t_theirs:>7.2f}x{acc_ours:>13.2f}%{acc_theirs:>13.2f}%"
        )


if __name__ == "__main__":
    main()
