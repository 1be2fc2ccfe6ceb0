"""MNIST-style dataset files -> in-memory tensors, for the MLP tasks.

One job: find (or download) the standard IDX files of MNIST-style datasets, check them
against their published MD5s, parse them and hand back the whole dataset as CPU tensors.
No training logic and no normalisation here: tasks decide how to scale pixels.

Files are looked for flat in the data folder (``DIR/train-images-idx3-ubyte.gz``) and in
torchvision's layout (``DIR/MNIST/raw/train-images-idx3-ubyte.gz``), so a folder that
torchvision has already filled is reused as is; downloads go into the torchvision layout
so that torchvision users share them in turn. What every reader shares (ImageData, the
default data folder, the MD5 check, the messages) is in actbench.datasets.files. A
verified file is decoded once: later loads take the decoded array from the cache of
actbench.datasets.cache instead of gunzipping it on every run.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import torch

from actbench.datasets.cache import cached_array
from actbench.datasets.download import download_files
from actbench.datasets.files import (
    ImageData,
    default_data_dir,
    gunzip,
    known_file,
    locate,
    missing_error,
    read_bytes,
    warn_unverified,
)
from actbench.errors import DataError, UsageError

__all__ = [
    "DATASET_NAMES",
    "MNIST_MINI",
    "MNIST_MINI_DIR",
    "ROLES",
    "SOURCES",
    "DatasetSource",
    "load_dataset",
    "read_idx",
]

# The four files every MNIST-style dataset consists of, in the order they are read.
ROLES = ("train_images", "train_labels", "test_images", "test_labels")

IMAGE_SIZE = 28  # MNIST-style datasets are 28x28 greyscale
NUM_CLASSES = 10  # digits, or Fashion-MNIST's ten kinds of garment


@dataclass(frozen=True)
class DatasetSource:
    """What a dataset is on disk and where it comes from."""

    name: str  # CLI name: "mnist", "fashion-mnist", "mnist-mini"
    title: str  # human name: "MNIST", "Fashion-MNIST"
    torchvision_folder: str  # torchvision's layout is DIR/<torchvision_folder>/raw/
    files: dict[str, tuple[str, str]]  # role -> (filename, md5); roles as in ROLES
    mirrors: tuple[str, ...]  # base URLs, tried in order; empty = never downloaded
    licence: str


_MNIST_FILES = {
    "train_images": ("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
    "train_labels": ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
    "test_images": ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
    "test_labels": ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
}

_MNIST_LICENCE = 'CC BY-SA 3.0; Y. LeCun, C. Cortes, C. J. C. Burges, "The MNIST database of handwritten digits"'

SOURCES: dict[str, DatasetSource] = {
    "mnist": DatasetSource(
        name="mnist",
        title="MNIST",
        torchvision_folder="MNIST",
        files=_MNIST_FILES,
        # Same mirrors, same order as torchvision.datasets.MNIST.
        mirrors=(
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "http://yann.lecun.com/exdb/mnist/",
        ),
        licence=_MNIST_LICENCE,
    ),
    "fashion-mnist": DatasetSource(
        name="fashion-mnist",
        title="Fashion-MNIST",
        torchvision_folder="FashionMNIST",
        files={
            "train_images": ("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
            "train_labels": ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
            "test_images": ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
            "test_labels": ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"),
        },
        mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        licence="MIT; H. Xiao, K. Rasul, R. Vollgraf (Zalando Research)",
    ),
}

# A small class-balanced subset of the real MNIST files (5000 train, 1000 test), shipped
# inside the package so tests and quick runs work offline. Made by
# scripts/make_mnist_mini.py; its NOTICE.md carries MNIST's licence notice.
MNIST_MINI_DIR = Path(__file__).resolve().parent / "mnist-mini"
MNIST_MINI = DatasetSource(
    name="mnist-mini",
    title="MNIST-mini",
    torchvision_folder="MNIST",  # unused: the files only ever live in the package
    files={
        "train_images": ("train-images-idx3-ubyte.gz", "f3f3797d072a6fc88c5a9e3bb5cc37fd"),
        "train_labels": ("train-labels-idx1-ubyte.gz", "061a3d8088474ab1030792e4c9f4b7ae"),
        "test_images": ("t10k-images-idx3-ubyte.gz", "9622622be0b8182b4e0bc0acbdd8a8cc"),
        "test_labels": ("t10k-labels-idx1-ubyte.gz", "22e5d141ec24d81e45ca6ff392290da4"),
    },
    mirrors=(),
    licence=_MNIST_LICENCE + "; subset made by scripts/make_mnist_mini.py",
)

DATASET_NAMES: tuple[str, ...] = ("mnist", "fashion-mnist", "mnist-mini")
for _source in (*SOURCES.values(), MNIST_MINI):
    for _filename, _md5 in _source.files.values():
        known_file(_md5, _source.title, _filename)


# ---------------------------------------------------------------------------------------
# IDX parsing
# ---------------------------------------------------------------------------------------

# IDX type code (third magic byte) -> big-endian numpy dtype of the data that follows.
_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def _parse_idx(data: bytes, path: Path) -> np.ndarray:
    """Parse decompressed IDX bytes. Layout: 00 00 <type> <ndim>, ndim big-endian uint32
    dimensions, then the values big-endian in C order."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise DataError(f"{path}: not an IDX file (bad magic {data[:4].hex() or 'empty'})")
    code, ndim = data[2], data[3]
    if code not in _IDX_DTYPES:
        raise DataError(f"{path}: not an IDX file (unknown type code 0x{code:02x})")
    if ndim == 0:
        raise DataError(f"{path}: IDX header declares 0 dimensions")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{path}: truncated IDX header ({len(data)} bytes)")
    dims = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = _IDX_DTYPES[code]
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    actual = len(data) - header
    if actual != expected:
        what = "truncated" if actual < expected else "trailing bytes"
        raise DataError(
            f"{path}: {what}: dimensions {'x'.join(map(str, dims))} need {expected} bytes of data, file has {actual}"
        )
    # frombuffer gives a read-only view of `data`; the native-order copy is writable,
    # which torch.from_numpy needs to avoid a warning.
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(dims).astype(dtype.newbyteorder("="), copy=True)


def _decode(raw: bytes, path: Path) -> np.ndarray:
    return _parse_idx(gunzip(raw, path), path)


def read_idx(path: Path) -> np.ndarray:
    """Read one IDX file, gzipped or plain; native-order array with the file's dims.

    Raises DataError naming the file on a bad magic number, unknown type code, or
    dimensions that do not match the amount of data (truncated or padded file)."""
    path = Path(path)
    return _decode(read_bytes(path), path)


# ---------------------------------------------------------------------------------------
# Locating, verifying, downloading (through actbench.datasets)
# ---------------------------------------------------------------------------------------


def _search_dirs(source: DatasetSource, data_dir: Path) -> tuple[Path, Path]:
    # Flat first (files the user put there by hand), then torchvision's layout.
    return data_dir, data_dir / source.torchvision_folder / "raw"


def _check_images(arr: np.ndarray, path: Path) -> None:
    if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
        raise DataError(
            f"{path}: expected uint8 images of shape (N, {IMAGE_SIZE}, {IMAGE_SIZE}), "
            f"got {arr.dtype} {tuple(arr.shape)}"
        )


def _check_labels(arr: np.ndarray, path: Path, n_images: int, images_path: Path) -> None:
    if arr.dtype != np.uint8 or arr.ndim != 1:
        raise DataError(f"{path}: expected uint8 labels of shape (N,), got {arr.dtype} {tuple(arr.shape)}")
    if arr.shape[0] != n_images:
        raise DataError(f"{path}: {arr.shape[0]} labels but {images_path.name} has {n_images} images")
    if arr.size and int(arr.max()) >= NUM_CLASSES:
        raise DataError(f"{path}: label {int(arr.max())} outside 0..{NUM_CLASSES - 1}")


def load_dataset(
    name: str,
    data_dir: Path | None = None,
    *,
    verify: bool = True,
    download: bool = True,
    test: bool = True,
) -> ImageData:
    """Load a whole dataset into CPU tensors.

    name: "mnist", "fashion-mnist" or "mnist-mini" (the packaged subset; it ignores
    data_dir and never downloads). data_dir: defaults to default_data_dir().
    verify: check each file's MD5 (downloads are always checked); False warns.
    download: fetch missing files from the mirrors into data_dir/<folder>/raw/.
    test: also the test files; False neither looks for, downloads nor reads them
    (test_images and test_labels are None)."""
    roles = ROLES if test else ROLES[:2]
    if name == MNIST_MINI.name:
        source, dirs, packaged = MNIST_MINI, (MNIST_MINI_DIR,), True
    elif name in SOURCES:
        source, packaged = SOURCES[name], False
        data_dir = Path(data_dir).expanduser() if data_dir is not None else default_data_dir()
        dirs = _search_dirs(source, data_dir)
    else:
        raise UsageError(f"unknown dataset {name!r}; choose from {', '.join(DATASET_NAMES)}")

    paths = {role: locate(source.files[role][0], dirs) for role in roles}
    missing = [role for role in roles if paths[role] is None]
    if missing:
        failures: list[str] = []
        if packaged:
            raise DataError(
                f"{source.title} files missing from the installed package: "
                f"{', '.join(source.files[r][0] for r in missing)} (looked in {dirs[0]}); "
                "reinstall actbench."
            )
        if download and source.mirrors:
            wanted = dict(source.files[role] for role in missing)  # filename -> md5
            got, failures = download_files(wanted, source.mirrors, dirs[-1], source.title)
            for role in missing:
                paths[role] = got.get(source.files[role][0])
            missing = [role for role in missing if paths[role] is None]
        if missing:
            raise missing_error(
                source.title, [source.files[r][0] for r in missing], dirs, source.mirrors, download, failures
            )

    if not verify:
        warn_unverified(source.title)

    arrays: dict[str, np.ndarray] = {}
    for role in roles:
        path = paths[role]
        if verify:  # MD5-checked and decoded once, then from the decoded cache (actbench.datasets.cache)
            arrays[role] = cached_array(path, source.files[role][1], partial(_decode, path=path), packaged=packaged)
        else:
            arrays[role] = _decode(read_bytes(path), path)

    for split in ("train", "test") if test else ("train",):
        img_role, lab_role = f"{split}_images", f"{split}_labels"
        _check_images(arrays[img_role], paths[img_role])
        _check_labels(arrays[lab_role], paths[lab_role], arrays[img_role].shape[0], paths[img_role])

    return ImageData(
        train_images=torch.from_numpy(arrays["train_images"]),  # (N, 28, 28) uint8
        train_labels=torch.from_numpy(arrays["train_labels"].astype(np.int64)),  # (N,)
        test_images=torch.from_numpy(arrays["test_images"]) if test else None,
        test_labels=torch.from_numpy(arrays["test_labels"].astype(np.int64)) if test else None,
        source=source.name,
        title=source.title,
        paths={role: Path(p) for role, p in paths.items()},
        verified=verify,
    )
