"""What every dataset reader shares: the in-memory dataset, the default data folder,
finding files, gunzipping, the MD5 and SHA-256 checks and the wording of missing-file
errors and warnings.

The readers live with their tasks (actbench.tasks.mlp.data for the IDX files of
MNIST-style datasets, actbench.tasks.airbench.data for CIFAR-10, actbench.tasks.gpt.data
for Tiny Shakespeare) and download through actbench.datasets.download, so every dataset
finds its files, checks them and words its errors the same way.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import warnings
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from actbench.errors import DataError

__all__ = [
    "DataWarning",
    "ImageData",
    "check_md5",
    "check_sha256",
    "default_data_dir",
    "gunzip",
    "known_file",
    "locate",
    "missing_error",
    "read_bytes",
    "warn_unverified",
]


class DataWarning(UserWarning):
    """Data was used without the usual safety checks (e.g. checksums skipped)."""


@dataclass(frozen=True, eq=False)  # eq=False: comparing tensors with == is not a bool
class ImageData:
    """A whole dataset as CPU tensors, exactly as stored (pixels 0..255, not normalised)."""

    # (N, H, W) greyscale (MNIST-style: 28x28) or (N, 3, H, W) colour, channels R, G, B
    # (CIFAR-10: 32x32); uint8, contiguous.
    train_images: torch.Tensor
    train_labels: torch.Tensor  # (N,) int64, values in 0..9
    # (M, H, W) or (M, 3, H, W) uint8, like train_images; None where the test files were
    # not asked for (a run measured on a validation split never reads them).
    test_images: torch.Tensor | None
    test_labels: torch.Tensor | None  # (M,) int64, values in 0..9
    source: str  # dataset name, e.g. "mnist", "cifar10"
    title: str = ""  # e.g. "MNIST", "CIFAR-10"
    # Where each file was read from: role (MNIST-style, see ROLES) or batch file name
    # (CIFAR-10, e.g. "data_batch_1") -> path.
    paths: dict[str, Path] = field(default_factory=dict)
    verified: bool = True  # False when MD5s were skipped (verify=False)


def default_data_dir() -> Path:
    """$ACTBENCH_DATA if set (and not empty), else the user cache: <cache>/actbench/data."""
    env = os.environ.get("ACTBENCH_DATA", "").strip()
    if env:
        return Path(env).expanduser()
    import platformdirs  # imported here: only needed when no folder was given

    return Path(platformdirs.user_cache_dir("actbench")) / "data"


def read_bytes(path: Path) -> bytes:
    """A whole file's bytes; DataError naming the file if it cannot be read."""
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from exc


def gunzip(raw: bytes, path: Path) -> bytes:
    """The content of a file's bytes `raw`: gunzipped if they are a gzip stream, else as they are;
    DataError naming the file if the stream is corrupt."""
    # Decided by content, not by name: gzip streams start with 1f 8b.
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:  # BadGzipFile is an OSError
        raise DataError(f"{path}: corrupt gzip data ({exc})") from exc


def locate(filename: str, dirs: Sequence[Path]) -> Path | None:
    """The first dirs[i] / filename that is a file, else None."""
    for d in dirs:
        candidate = d / filename
        if candidate.is_file():
            return candidate
    return None


def missing_error(
    title: str,
    filenames: Sequence[str],
    dirs: Sequence[Path],
    urls: Sequence[str],
    download: bool,
    failures: Sequence[str],
) -> DataError:
    """Files not found: which, where we looked, why downloading did not help, the fix.

    urls: where the files can be had (mirrors, or the archive's URL); failures: what
    download_files reported ("from <mirror> failed: <reason>")."""
    looked = " and ".join(str(d) for d in dirs)
    if not download:
        how = f"downloading is off; get them from {' or '.join(urls)}"
    elif failures:
        how = "download " + "; ".join(failures)
    else:  # download allowed but nothing to try
        how = "no download mirror is known"
    return DataError(
        f"{title} files not found: {', '.join(filenames)} (looked in {looked}); "
        f"{how}. Put the files there or pass --data-dir DIR (or set ACTBENCH_DATA)."
    )


# Every dataset file actbench knows, by MD5: "MNIST's train-images-idx3-ubyte.gz". The readers
# register theirs (known_file), so a valid file of another dataset, put where this one was
# looked for, is named for what it is rather than called corrupt.
KNOWN_FILES: dict[str, str] = {}


def known_file(md5: str, title: str, filename: str) -> None:
    KNOWN_FILES[md5] = f"{title}'s {filename}"


def check_md5(raw: bytes, path: Path, expected: str, *, packaged: bool = False) -> None:
    """DataError naming the file if the MD5 of its bytes `raw` is not `expected`.

    packaged: the file ships inside actbench, so the fix is to reinstall."""
    got = hashlib.md5(raw).hexdigest()
    if got == expected:
        return
    if got in KNOWN_FILES and expected in KNOWN_FILES:
        wanted = KNOWN_FILES[expected].split("'s ")[0]
        raise DataError(
            f"{path} is {KNOWN_FILES[got]}, not {KNOWN_FILES[expected]} (MD5 {got}): the folder holds another "
            f"dataset's files; pass --data-dir DIR with {wanted}'s files (they download there when missing)."
        )
    fix = "Reinstall actbench" if packaged else "Delete it to re-download"
    raise _mismatch(path, "MD5", expected, got, fix)


def check_sha256(raw: bytes, path: Path, expected: str, fix: str) -> None:
    """DataError naming the file if the SHA-256 of its bytes `raw` is not `expected`.

    fix: how to get a good copy ("Reinstall actbench"). The hashes are shown by their
    first 16 digits, which tell them apart and keep the message on one readable line."""
    got = hashlib.sha256(raw).hexdigest()
    if got != expected:
        raise _mismatch(path, "SHA-256", f"{expected[:16]}...", f"{got[:16]}...", fix)


def _mismatch(path: Path, checksum: str, expected: str, got: str, fix: str) -> DataError:
    return DataError(
        f"{path}: {checksum} mismatch (expected {expected}, got {got}); the file is corrupt or "
        f"not the original. {fix}, or pass --no-verify to use it anyway."
    )


def warn_unverified(title: str, checksum: str = "MD5") -> None:
    """The DataWarning of verify=False, attributed to the caller of the load function."""
    warnings.warn(
        f"{title}: {checksum} checksums not verified (--no-verify); results may come from corrupt or altered files.",
        DataWarning,
        stacklevel=3,
    )
