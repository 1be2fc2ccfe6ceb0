#!/usr/bin/env python
"""Make actbench/tasks/mlp/mnist-mini: a small, class-balanced, real subset of MNIST.

    python scripts/make_mnist_mini.py /path/to/mnist [--out actbench/tasks/mlp/mnist-mini]

Takes 500 training images per class (5000) from the MNIST training files and 100 test
images per class (1000) from the MNIST test files. The source folder must hold the four
original .gz files (flat or in torchvision's MNIST/raw/ layout); their MD5s are checked.

Deterministic by construction, so re-running gives byte-identical files:
- the choice does not depend on any RNG implementation: each image gets a key
  blake2b("mnist-mini:<seed>:<split>:<index>") and each class keeps its lowest keys;
- chosen images keep their original relative order;
- files are written as IDX inside gzip with mtime=0 and no file name in the header.

After re-making the files, update the MNIST_MINI MD5s in actbench/data.py.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run from a source tree without installing
    sys.path.insert(0, str(REPO))

from actbench.tasks.mlp.data import MNIST_MINI, load_dataset  # noqa: E402

SEED = 1998
TRAIN_PER_CLASS = 500
TEST_PER_CLASS = 100
DEFAULT_OUT = REPO / "actbench" / "tasks" / "mlp" / "mnist-mini"

NOTICE = f"""\
# mnist-mini

A small subset of the MNIST database of handwritten digits, shipped with actbench so
that tests and quick runs work offline.

Source and licence: Y. LeCun, C. Cortes, C. J. C. Burges, "The MNIST database of
handwritten digits", http://yann.lecun.com/exdb/mnist/ . The MNIST database is made
available under the Creative Commons Attribution-Share Alike 3.0 licence
(CC BY-SA 3.0, https://creativecommons.org/licenses/by-sa/3.0/). This subset is a
derivative of it and is distributed under the same licence.

Changes made: images and labels were selected, nothing else. From the original
train-images/train-labels files, {TRAIN_PER_CLASS} images per digit ({TRAIN_PER_CLASS * 10} in
all); from the original t10k-images/t10k-labels files, {TEST_PER_CLASS} images per digit
({TEST_PER_CLASS * 10} in all). Pixels and labels are unchanged; chosen images keep their
original order. Selection is deterministic (seed {SEED}, blake2b keys per image) and made by
scripts/make_mnist_mini.py in the actbench repository from the original files
(MD5-checked); re-running it gives byte-identical files.

Files (same names and IDX format as the originals, gzip-compressed):
train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz,
t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz
"""


def select_balanced(labels: np.ndarray, per_class: int, split: str, seed: int = SEED) -> np.ndarray:
    """Indices of `per_class` items of each class 0..9, ascending. labels: (N,) ints."""
    keys = np.array(
        [
            int.from_bytes(
                hashlib.blake2b(f"mnist-mini:{seed}:{split}:{i}".encode(), digest_size=8).digest(),
                "big",
            )
            for i in range(len(labels))
        ],
        dtype=np.uint64,
    )
    chosen = []
    for cls in range(10):
        idx = np.flatnonzero(labels == cls)
        if len(idx) < per_class:
            raise ValueError(f"class {cls} has only {len(idx)} {split} images, need {per_class}")
        # Stable sort on (key, index): ties are impossible in practice but still ordered.
        order = np.argsort(keys[idx], kind="stable")
        chosen.append(idx[order[:per_class]])
    return np.sort(np.concatenate(chosen))


def idx_bytes(array: np.ndarray) -> bytes:
    """IDX encoding of a uint8 array: 00 00 08 <ndim>, big-endian uint32 dims, data."""
    if array.dtype != np.uint8:
        raise ValueError(f"only uint8 is written, got {array.dtype}")
    header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    return header + np.ascontiguousarray(array).tobytes()


def write_idx_gz(path: Path, array: np.ndarray) -> None:
    # GzipFile over a file object with filename="" and mtime=0: the gzip header holds no
    # name and no time stamp, so the bytes depend only on the data (and zlib).
    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as gz:
        gz.write(idx_bytes(array))


def make_mnist_mini(source_dir: Path, out_dir: Path, seed: int = SEED) -> dict[str, Path]:
    """Write the four mnist-mini .gz files and NOTICE.md into out_dir; role -> path."""
    full = load_dataset("mnist", Path(source_dir), verify=True, download=False)
    train = select_balanced(full.train_labels.numpy(), TRAIN_PER_CLASS, "train", seed)
    test = select_balanced(full.test_labels.numpy(), TEST_PER_CLASS, "test", seed)
    arrays = {
        "train_images": full.train_images.numpy()[train],  # (5000, 28, 28) uint8
        "train_labels": full.train_labels.numpy()[train].astype(np.uint8),  # (5000,)
        "test_images": full.test_images.numpy()[test],  # (1000, 28, 28) uint8
        "test_labels": full.test_labels.numpy()[test].astype(np.uint8),  # (1000,)
    }
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {}
    for role, array in arrays.items():
        path = out_dir / MNIST_MINI.files[role][0]
        write_idx_gz(path, array)
        written[role] = path
    (out_dir / "NOTICE.md").write_text(NOTICE, encoding="utf-8")
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help="folder with the original MNIST .gz files")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    parser.add_argument("--seed", type=int, default=SEED, help=f"selection seed (default {SEED})")
    args = parser.parse_args(argv)
    written = make_mnist_mini(args.source, args.out, args.seed)
    for role, path in written.items():
        md5 = hashlib.md5(path.read_bytes()).hexdigest()
        print(f"{role:13s} {md5}  {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
