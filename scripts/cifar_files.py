"""CIFAR-10's python-format batch files written from arrays, and synthetic stand-ins for
tests and smoke runs: the inverse of actbench.tasks.airbench.data.load_cifar10."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from actbench.tasks.airbench.data import IMAGE_SHAPE, NUM_CLASSES, ROW_BYTES, TEST_BATCH, TRAIN_BATCHES


def _as_split(images, labels, split: str) -> tuple[np.ndarray, np.ndarray]:
    images, labels = np.asarray(images), np.asarray(labels)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1:] != IMAGE_SHAPE:
        raise ValueError(f"{split} images must be uint8 of shape (N, 3, 32, 32), got {images.dtype} {images.shape}")
    if labels.shape != (len(images),) or labels.dtype.kind not in "iu":
        raise ValueError(f"{split} labels must be {len(images)} integers, got {labels.dtype} {labels.shape}")
    if labels.size and not (labels.min() >= 0 and labels.max() < NUM_CLASSES):
        raise ValueError(f"{split} labels must be in 0..{NUM_CLASSES - 1}")
    return images, labels


def _write_batch(
    path: Path,
    batch_label: str,
    images: np.ndarray,
    labels: np.ndarray,
    filenames: list[str],
) -> Path:
    entry = {
        b"batch_label": batch_label.encode(),
        b"labels": labels.tolist(),  # Python ints, as in the originals
        b"data": np.ascontiguousarray(images).reshape(len(images), ROW_BYTES),
        b"filenames": [f.encode() for f in filenames],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(entry, protocol=2))
    return path


def write_cifar10(folder: Path, train_images, train_labels, test_images, test_labels) -> dict[str, Path]:
    """Write the six batch files of CIFAR-10's python format into `folder` (the batches
    folder itself, e.g. DIR/cifar-10-batches-py): the inverse of load_cifar10.

    images: uint8 (N, 3, 32, 32), channels R, G, B; labels: N integers in 0..9; numpy
    arrays or CPU tensors. Each file is a dict with bytes keys b"batch_label", b"labels"
    (a list of ints), b"data" (uint8 (n, 3072)) and b"filenames", pickled at protocol 2;
    the training split is divided over data_batch_1..5 in order, as evenly as possible.
    Returns batch name -> path. Raises ValueError on arrays of the wrong kind."""
    folder = Path(folder)
    train_images, train_labels = _as_split(train_images, train_labels, "train")
    test_images, test_labels = _as_split(test_images, test_labels, "test")
    written = {}
    chunks = np.array_split(np.arange(len(train_images)), len(TRAIN_BATCHES))
    for i, (name, rows) in enumerate(zip(TRAIN_BATCHES, chunks, strict=True), start=1):
        written[name] = _write_batch(
            folder / name,
            f"training batch {i} of {len(TRAIN_BATCHES)}",
            train_images[rows],
            train_labels[rows],
            [f"train_{row:05d}.png" for row in rows],
        )
    written[TEST_BATCH] = _write_batch(
        folder / TEST_BATCH,
        "testing batch 1 of 1",
        test_images,
        test_labels,
        [f"test_{row:05d}.png" for row in range(len(test_images))],
    )
    return written


# Ten well-separated colours (R, G, B), one per synthetic class.
_PALETTE = np.array(
    [
        (230, 25, 75),
        (60, 180, 75),
        (0, 130, 200),
        (255, 225, 25),
        (245, 130, 48),
        (145, 30, 180),
        (70, 240, 240),
        (240, 50, 230),
        (128, 128, 128),
        (170, 110, 40),
    ],
    dtype=np.float32,
)


def write_synthetic_cifar10(folder: Path, n_train: int = 2000, n_test: int = 500, seed: int = 0) -> dict[str, Path]:
    """Write synthetic stand-ins for CIFAR-10, in its format, into `folder` (the batches
    folder itself); returns batch name -> path, as write_cifar10.

    For tests and smoke runs only, never for results: these are not CIFAR-10 images.
    Each class has its own colour and stripe pattern (angle and frequency); an image is
    its class's pattern under a random brightness plus pixel noise, so even a tiny
    network learns them far above chance (10%) within a few steps. Classes are balanced
    (to within one image) and shuffled. Same seed, same numpy: same files. Their MD5s
    are not the published ones, so load them with verify=False (--no-verify)."""
    rng = np.random.default_rng(seed)
    k = np.arange(NUM_CLASSES, dtype=np.float32)[:, None, None]  # (10, 1, 1)
    yy, xx = np.mgrid[0:32, 0:32].astype(np.float32) / 32  # (32, 32) each, in [0, 1)
    angle = k * np.pi / NUM_CLASSES  # stripe direction, radians
    cycles = 2 + k % 3  # stripes per image
    # (10, 32, 32) in [-1, 1], then (10, 3, 32, 32): each class's colour, striped.
    stripes = np.cos(2 * np.pi * cycles * (xx * np.cos(angle) + yy * np.sin(angle)))
    prototypes = _PALETTE[:, :, None, None] * (0.6 + 0.4 * stripes[:, None])

    def split(n: int) -> tuple[np.ndarray, np.ndarray]:
        labels = rng.permutation(np.arange(n) % NUM_CLASSES)  # (n,)
        images = np.empty((n, *IMAGE_SHAPE), np.uint8)
        # In blocks, so the float32 temporaries stay near 50 MB whatever n is.
        for start in range(0, n, 4096):
            block = labels[start : start + 4096]  # (b,)
            brightness = rng.uniform(0.7, 1.1, (len(block), 1, 1, 1)).astype(np.float32)
            noise = 24 * rng.standard_normal((len(block), *IMAGE_SHAPE), dtype=np.float32)
            pixels = prototypes[block] * brightness + noise  # (b, 3, 32, 32)
            images[start : start + len(block)] = np.clip(np.rint(pixels), 0, 255)
        return images, labels

    return write_cifar10(folder, *split(n_train), *split(n_test))
