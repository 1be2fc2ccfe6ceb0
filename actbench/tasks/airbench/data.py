"""CIFAR-10 files -> in-memory tensors.

One job: find (or extract, or download) the python-pickle batches of CIFAR-10, check them
against their published MD5s, unpickle them safely and hand back the whole dataset as CPU
tensors, images (N, 3, 32, 32) uint8 in channel order R, G, B. No normalisation here.

Each of the six files (data_batch_1..5, test_batch) is looked for, like MNIST's, first in
the data folder itself (flat: the folder *is* the batches folder) and then in
``DIR/cifar-10-batches-py/``, where ``torchvision.datasets.CIFAR10(root=DIR)`` keeps
them; the first hit wins. When some are missing, ``DIR/cifar-10-python.tar.gz`` (the
archive torchvision leaves in its root) is MD5-checked and extracted into
``DIR/cifar-10-batches-py/``; when it is missing too, it is downloaded there first.

A batch is a pickled dict: b"data" a uint8 array (N, 3072), each row an image's red,
green and blue planes of 32x32 pixels, row-major, one after the other; b"labels" a list
of N ints in 0..9; also b"batch_label" and b"filenames". The originals are Python 2
pickles, hence encoding="bytes". Unpickling calls whatever functions a pickle names, so
the files are read by an unpickler that allows only the numpy names an array needs.

Source: A. Krizhevsky, "Learning Multiple Layers of Features from Tiny Images" (2009),
https://www.cs.toronto.edu/~kriz/cifar.html .
"""

from __future__ import annotations

import gzip
import io
import os
import pickle
import tarfile
import zlib
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

import numpy as np
import torch

from actbench.datasets.download import download_files, one_line
from actbench.datasets.files import (
    ImageData,
    check_md5,
    default_data_dir,
    known_file,
    locate,
    missing_error,
    read_bytes,
    warn_unverified,
)
from actbench.errors import DataError

__all__ = [
    "ARCHIVE",
    "ARCHIVE_MD5",
    "BATCHES",
    "BATCHES_FOLDER",
    "BATCH_MD5",
    "MIRRORS",
    "load_cifar10",
]

NAME, TITLE = "cifar10", "CIFAR-10"
BATCHES_FOLDER = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
BATCHES = (*TRAIN_BATCHES, TEST_BATCH)  # in the order they are read

# The published MD5s, as torchvision.datasets.CIFAR10 lists them.
BATCH_MD5 = {
    "data_batch_1": "c99cafc152244af753f735de768cd75f",
    "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
    "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
    "data_batch_4": "634d18415352ddfa80567beed471001a",
    "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
    "test_batch": "40351d587109b95175f43aff81a1287e",
}
ARCHIVE = "cifar-10-python.tar.gz"  # 163 MB; holds BATCHES_FOLDER/ and its files
ARCHIVE_MD5 = "c58f30108f718f92721af3b95e74349a"
MIRRORS = ("https://www.cs.toronto.edu/~kriz/",)  # base URLs of ARCHIVE, tried in order
for _name, _md5 in [*BATCH_MD5.items(), (ARCHIVE, ARCHIVE_MD5)]:
    known_file(_md5, "CIFAR-10", _name)

IMAGE_SHAPE = (3, 32, 32)  # channels R, G, B; rows; columns
NUM_CLASSES = 10
ROW_BYTES = 3 * 32 * 32  # 3072: one image in b"data"


# ---------------------------------------------------------------------------------------
# Unpickling, safely
# ---------------------------------------------------------------------------------------

# numpy's own array-unpickling helpers, taken from this numpy itself: numpy >= 2 keeps
# them in numpy._core, older ones (and the original files) name numpy.core. Protocols
# up to 4 rebuild an array with _reconstruct; protocol 5 with _frombuffer.
_RECONSTRUCT = np.empty(0).__reduce__()[0]
_FROMBUFFER = np.empty(0).__reduce_ex__(5)[0]
_NUMPY_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy.core.numeric", "_frombuffer"): _FROMBUFFER,
    ("numpy._core.numeric", "_frombuffer"): _FROMBUFFER,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class _BatchUnpickler(pickle.Unpickler):
    """Unpickles what a CIFAR-10 batch is made of and nothing else.

    Every function a pickle can call is looked up through find_class, so refusing all
    but an allow-list there means a hostile file cannot run code. Allowed: the numpy
    names an array is rebuilt from, and the two builtins through which Python 3 writes
    bytes at protocol 2 (_codecs.encode(text, "latin1"), and bytes() for b""), each
    wrapped so it can do only that."""

    def __init__(self, file: io.BytesIO, path: Path):
        super().__init__(file, encoding="bytes")  # Python 2 str -> bytes, as written
        self.path = path

    def find_class(self, module: str, name: str):
        if (module, name) == ("_codecs", "encode"):
            return self._latin1_bytes
        # Protocol 2 names the builtins by their Python 2 name, __builtin__.
        if module in ("__builtin__", "builtins") and name == "bytes":
            return self._empty_bytes
        found = _NUMPY_GLOBALS.get((module, name))
        if found is None:
            raise DataError(
                f"{self.path}: refused to unpickle {module}.{name}: a CIFAR-10 batch holds "
                "only numpy arrays, lists, bytes and ints. The file is not a CIFAR-10 "
                "batch; do not use it."
            )
        return found

    def _latin1_bytes(self, text: object, encoding: object) -> bytes:
        if not isinstance(text, str) or encoding != "latin1":
            raise DataError(f"{self.path}: refused to unpickle _codecs.encode({encoding!r})")
        return text.encode("latin1")

    def _empty_bytes(self, *args: object) -> bytes:
        if args:
            raise DataError(f"{self.path}: refused to unpickle bytes() with arguments")
        return b""


def _unpickle(raw: bytes, path: Path) -> object:
    buffer = io.BytesIO(raw)
    try:
        obj = _BatchUnpickler(buffer, path).load()
    except DataError:
        raise
    except Exception as exc:
        # Damaged bytes make an unpickler fail in many ways (EOFError, UnpicklingError,
        # ValueError, KeyError, TypeError...); the allow-list means none of them ran code.
        raise DataError(
            f"{path}: not a readable CIFAR-10 batch (corrupt or truncated pickle: "
            f"{type(exc).__name__}: {one_line(exc)})"
        ) from exc
    if buffer.tell() != len(raw):
        extra = len(raw) - buffer.tell()
        raise DataError(f"{path}: {extra} trailing bytes after the pickle (corrupt file)")
    return obj


def _parse_batch(obj: object, path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(images (n, 3, 32, 32) uint8, labels (n,) int64) from an unpickled batch."""
    if not isinstance(obj, dict):
        raise DataError(f"{path}: expected a pickled dict, got {type(obj).__name__}")
    # The originals have bytes keys; a batch re-pickled by Python 3 may have str keys.
    entries = {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in obj.items()}
    for key in ("data", "labels"):
        if key not in entries:
            raise DataError(f"{path}: no {key!r} entry in the batch")
    data, labels = entries["data"], entries["labels"]
    if not (isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 2 and data.shape[1] == ROW_BYTES):
        got = f"{data.dtype} {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise DataError(f"{path}: expected 'data' as uint8 of shape (N, {ROW_BYTES}), got {got}")
    if not isinstance(labels, list) or not all(type(v) is int for v in labels):
        raise DataError(f"{path}: expected 'labels' as a list of ints")
    if len(labels) != len(data):
        raise DataError(f"{path}: {len(labels)} labels but {len(data)} images")
    bad = [v for v in labels if not 0 <= v < NUM_CLASSES]
    if bad:
        raise DataError(f"{path}: label {bad[0]} outside 0..{NUM_CLASSES - 1}")
    # Row = R plane, G plane, B plane, each 32x32 row-major: exactly NCHW in C order.
    return data.reshape(-1, *IMAGE_SHAPE), np.array(labels, dtype=np.int64)


# ---------------------------------------------------------------------------------------
# The archive: safe extraction
# ---------------------------------------------------------------------------------------


def _unsafe(member: tarfile.TarInfo) -> str | None:
    """Why `member` must not be extracted, or None for a regular file directly in
    BATCHES_FOLDER/ (or that folder itself)."""
    path = PurePosixPath(member.name)
    parts = path.parts
    if path.is_absolute():
        return "an absolute path"
    if ".." in parts:
        return "a path with '..'"
    if "\\" in member.name:
        return "a backslash in the path"
    if not parts or parts[0] != BATCHES_FOLDER or len(parts) > 2:
        return f"not directly in {BATCHES_FOLDER}/"
    if member.issym() or member.islnk():
        return "a link"
    if len(parts) == 1:
        return None if member.isdir() else f"{BATCHES_FOLDER} itself is not a folder"
    return None if member.isreg() else "not a regular file"


def _extract(archive: Path, verify: bool) -> None:
    """Extract the regular files in archive's BATCHES_FOLDER/ next to it, never
    overwriting a file; DataError if any member is unsafe or a batch is missing.

    No tarfile.extract(): every member is checked first (nothing is written if one
    fails), then only its bytes are copied, to a name built here from its base name,
    through a .part file renamed into place. No link, path or mode from the archive is
    ever applied, so tarfile's extraction filters would have nothing left to do."""
    raw = read_bytes(archive)  # read once: hashed and extracted from the same bytes
    if verify:
        check_md5(raw, archive, ARCHIVE_MD5)
    target = archive.parent / BATCHES_FOLDER
    try:
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:gz") as tar:
            members = tar.getmembers()
            for member in members:
                why = _unsafe(member)
                if why is not None:
                    raise DataError(
                        f"{archive}: refused to extract {member.name!r} ({why}); nothing "
                        "was extracted. Delete the archive to re-download it."
                    )
            files = {PurePosixPath(m.name).name: m for m in members if m.isreg()}
            lacking = [name for name in BATCHES if name not in files]
            if lacking:
                raise DataError(
                    f"{archive}: no {', '.join(lacking)} in {BATCHES_FOLDER}/ of the "
                    "archive; it is not the CIFAR-10 python archive. Delete it to "
                    "re-download it."
                )
            for name, member in files.items():
                dest = target / name
                if not dest.exists():
                    _write_atomic(dest, tar.extractfile(member).read())
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise DataError(
            f"{archive}: corrupt or truncated archive ({one_line(exc)}). Delete it to re-download it."
        ) from exc


def _write_atomic(dest: Path, payload: bytes) -> None:
    """Write dest via dest.part and a rename, so a partial file never has the final
    name; DataError naming the folder if it cannot be written."""
    part = dest.with_name(dest.name + ".part")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        part.write_bytes(payload)
        os.replace(part, dest)  # atomic within one folder
    except OSError as exc:
        raise DataError(f"cannot write {dest} ({exc.strerror or exc})") from exc
    finally:
        part.unlink(missing_ok=True)


# ---------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------


def _locate_batches(dirs: Sequence[Path], names: Sequence[str] = BATCHES) -> dict[str, Path | None]:
    return {name: locate(name, dirs) for name in names}


def _join(arrays: dict[str, np.ndarray], names: Sequence[str]) -> torch.Tensor:
    # np.concatenate copies, even one array: contiguous memory the tensor owns.
    return torch.from_numpy(np.concatenate([arrays[name] for name in names]))


def load_cifar10(
    data_dir: Path | None = None, *, verify: bool = True, download: bool = True, test: bool = True
) -> ImageData:
    """Load the whole of CIFAR-10 into CPU tensors: images (N, 3, 32, 32) uint8, NCHW,
    contiguous, channels R, G, B; labels (N,) int64 in 0..9.

    data_dir: defaults to default_data_dir(); searched flat, then in
    data_dir/cifar-10-batches-py/ (each file on its own, first hit wins).
    verify: check each batch's MD5, and the archive's before extracting it (downloads
    are always checked); False warns with a DataWarning.
    download: fetch the archive into data_dir when neither the batches nor the archive
    are there. test: also the test batch; False neither needs nor reads it (test_images
    and test_labels are None). Raises DataError, one line, for anything wrong with the files."""
    wanted = BATCHES if test else TRAIN_BATCHES
    data_dir = Path(data_dir).expanduser() if data_dir is not None else default_data_dir()
    dirs = (data_dir, data_dir / BATCHES_FOLDER)  # flat first, as for MNIST
    paths = _locate_batches(dirs, wanted)
    if None in paths.values():
        archive = data_dir / ARCHIVE
        failures: list[str] = []
        downloaded = False
        if not archive.is_file() and download:
            got, failures = download_files({ARCHIVE: ARCHIVE_MD5}, MIRRORS, data_dir, TITLE)
            downloaded = ARCHIVE in got
            # "from <mirror> failed: ..." -> "of <archive> from <mirror> failed: ...": the
            # user learns which one file to fetch by hand.
            failures = [f"of {ARCHIVE} {failure}" for failure in failures]
        if not archive.is_file():
            raise missing_error(
                TITLE,
                [name for name, path in paths.items() if path is None],
                dirs,
                [mirror.rstrip("/") + "/" + ARCHIVE for mirror in MIRRORS],
                download,
                failures,
            )
        # A download was checked as it arrived; a file found here is checked now.
        _extract(archive, verify=verify and not downloaded)
        paths = _locate_batches(dirs, wanted)  # all found now: _extract made sure

    if not verify:
        warn_unverified(TITLE)

    images: dict[str, np.ndarray] = {}
    labels: dict[str, np.ndarray] = {}
    for name, path in paths.items():
        raw = read_bytes(path)  # read once: hashed and parsed from the same bytes
        if verify:
            check_md5(raw, path, BATCH_MD5[name])
        images[name], labels[name] = _parse_batch(_unpickle(raw, path), path)

    return ImageData(
        train_images=_join(images, TRAIN_BATCHES),  # (N, 3, 32, 32) uint8
        train_labels=_join(labels, TRAIN_BATCHES),  # (N,) int64
        test_images=_join(images, (TEST_BATCH,)) if test else None,  # (M, 3, 32, 32) uint8
        test_labels=_join(labels, (TEST_BATCH,)) if test else None,  # (M,) int64
        source=NAME,
        title=TITLE,
        paths=dict(paths),
        verified=verify,
    )
