"""Decoded dataset files kept on disk, so that a run does not decode the same files again.

Decoding MNIST's gzipped training images takes 0.2-0.3 s on a CPU, every run. A reader
that passes its decoder to ``cached_array`` gets the decoded array from the cache
instead, once it has been decoded from a verified file. The cache is a folder
(``cache_dir``) with two files per source file, named by its published MD5:

    <md5>.bin    the decoded array's bytes, C order
    <md5>.json   its dtype and shape, the CRC-32 of those bytes, and the (path, size,
                 mtime, inode) of each file seen to have that MD5 ("verified stamps")

What is and is not trusted:

- the decoded bytes only if their CRC-32 matches: a corrupt, truncated or missing cache
  file is decoded again from the source (after the source's MD5 check) and rewritten;
- the source file without reading it only where its (path, size, mtime, inode) is a
  verified stamp. Any other source file is read and its MD5 checked, as without a cache,
  so a changed file fails with the same error. A file modified less than RACY_S seconds
  before it was verified gets no stamp (a later change within the file system's
  timestamp granularity could leave its mtime unchanged: git's "racily clean" entries),
  so it is hashed again next time. A rewrite that keeps size, mtime and inode (an
  in-place edit followed by ``touch -r``) is not noticed, as by git.

Writing is best effort: where the cache folder cannot be written, only the time is
lost. Concurrent writers are harmless: each file is replaced atomically, and two
processes write the same bytes for the same MD5.
"""

from __future__ import annotations

import json
import os
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from actbench.datasets.files import check_md5, read_bytes

__all__ = ["FORMAT", "RACY_S", "cache_dir", "cached_array"]

FORMAT = 1  # of the .json record; a record of another format is ignored (and rewritten)
RACY_S = 2.0  # seconds: a file changed more recently than this when verified gets no stamp
MAX_STAMPS = 8  # verified stamps kept per MD5 (the same file in a few folders)


def cache_dir() -> Path:
    """$ACTBENCH_CACHE if set (and not empty), else the user cache: <cache>/actbench/decoded."""
    env = os.environ.get("ACTBENCH_CACHE", "").strip()
    if env:
        return Path(env).expanduser()
    import platformdirs  # imported here: only needed when no folder was given

    return Path(platformdirs.user_cache_dir("actbench")) / "decoded"


def cached_array(path: Path, md5: str, decode: Callable[[bytes], np.ndarray], *, packaged: bool = False) -> np.ndarray:
    """The decoded contents of the file at ``path``, whose MD5 must be ``md5``: from the cache
    where it holds them (see the module docstring), else ``decode(bytes)`` after the MD5
    check (``check_md5``: DataError on a mismatch; ``packaged`` as there), then cached.
    Errors are those of reading, checking and decoding the file without a cache."""
    path = Path(path)
    folder = cache_dir()
    record_path, data_path = folder / f"{md5}.json", folder / f"{md5}.bin"
    record = _read_record(record_path, md5)
    try:
        st = path.stat()
    except OSError:
        st = None  # read_bytes below raises the reader's usual error
    stamp = [str(path.resolve()), st.st_size, st.st_mtime_ns, st.st_ino] if st is not None else None
    if record is not None and stamp in record["stamps"]:
        array = _read_array(data_path, record)
        if array is not None:
            return array
    raw = read_bytes(path)
    check_md5(raw, path, md5, packaged=packaged)
    array = _read_array(data_path, record) if record is not None else None
    changed = False
    if array is None:
        array = decode(raw)
        contiguous = np.ascontiguousarray(array)
        record = {
            "format": FORMAT,
            "md5": md5,
            "dtype": contiguous.dtype.str,
            "shape": list(contiguous.shape),
            "crc32": zlib.crc32(contiguous.data),
            "stamps": record["stamps"] if record is not None else [],  # about the source files: still true
        }
        changed = _write_atomically(data_path, contiguous.data)
        if not changed:
            return array  # nothing cached: no record either
    assert record is not None
    if stamp is not None and time.time_ns() - st.st_mtime_ns >= RACY_S * 1e9 and stamp not in record["stamps"]:
        record["stamps"] = [stamp, *record["stamps"]][:MAX_STAMPS]
        changed = True
    if changed:
        _write_atomically(record_path, json.dumps(record).encode())
    return array


def _read_record(path: Path, md5: str) -> dict[str, Any] | None:
    """The .json record, or None where it is missing, unreadable, of another format or not for ``md5``."""
    try:
        record = json.loads(path.read_bytes())
        if record.get("format") != FORMAT or record.get("md5") != md5:
            return None
        np.dtype(record["dtype"]), int(record["crc32"])
        record["shape"] = [int(d) for d in record["shape"]]
        record["stamps"] = [list(s) for s in record["stamps"]]
        return record
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None


def _read_array(path: Path, record: dict[str, Any]) -> np.ndarray | None:
    """The cached array of ``record``, or None where its file is missing, of the wrong size or fails the CRC."""
    dtype = np.dtype(record["dtype"])
    size = int(np.prod(record["shape"], dtype=np.int64)) * dtype.itemsize
    try:
        with open(path, "rb") as f:
            if os.fstat(f.fileno()).st_size != size:
                return None
            buffer = bytearray(size)  # writable: torch.from_numpy takes it without a copy or a warning
            if f.readinto(buffer) != size:
                return None
    except OSError:
        return None
    if zlib.crc32(buffer) != record["crc32"]:
        return None
    return np.frombuffer(buffer, dtype=dtype).reshape(record["shape"])


def _write_atomically(path: Path, data: Any) -> bool:
    """Write ``data`` (bytes-like) to ``path`` through a temporary file in its folder; False where that fails."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
        return True
    except OSError:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        return False
