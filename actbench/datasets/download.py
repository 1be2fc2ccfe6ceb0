"""Downloads of dataset files: one implementation for every dataset reader.

One job: stream each wanted file from the first mirror that delivers it, with a rich
progress bar on stderr, check its MD5, and only then give it its final name (atomic
rename), so a partial or wrong download never looks like a good file. Failures are
collected as short reasons for the caller's one-line error message, not raised.

``urllib.request.urlopen`` is looked up at call time, so tests can monkeypatch it.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["DOWNLOAD_TIMEOUT_S", "download_files"]

DOWNLOAD_TIMEOUT_S = 30.0  # per socket operation, not per file
_CHUNK = 1 << 16


def one_line(text: object) -> str:
    """Text as one line: exception messages may span several, user messages may not."""
    return " ".join(str(text).split())


def _describe_url_error(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return one_line(exc.reason)
    return one_line(exc) or type(exc).__name__


class _DownloadFailed(Exception):
    """One URL could not deliver a good file; `fatal_for_mirror` = do not retry this host."""

    def __init__(self, reason: str, fatal_for_mirror: bool):
        super().__init__(reason)
        self.reason = reason
        self.fatal_for_mirror = fatal_for_mirror


def _download_one(url: str, dest: Path, md5: str, progress, task_name: str) -> None:
    """Stream `url` to dest.part, check its MD5, then atomically rename to dest.

    The .part file is removed on every failure (including Ctrl-C), so neither a partial
    nor a wrong download is ever left under the final name."""
    part = dest.with_name(dest.name + ".part")
    request = urllib.request.Request(url, headers={"User-Agent": "actbench"})
    digest = hashlib.md5()
    try:
        try:
            response = urllib.request.urlopen(request, timeout=DOWNLOAD_TIMEOUT_S)
        except urllib.error.HTTPError as exc:
            # The host answered: other files from it may still be fine.
            raise _DownloadFailed(_describe_url_error(exc), fatal_for_mirror=False) from exc
        except (
            urllib.error.URLError,
            OSError,
            ValueError,
            http.client.HTTPException,
        ) as exc:
            raise _DownloadFailed(_describe_url_error(exc), fatal_for_mirror=True) from exc
        with response:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            task = progress.add_task(task_name, total=total)
            received = 0
            try:
                with open(part, "wb") as out:
                    while chunk := response.read(_CHUNK):
                        out.write(chunk)
                        digest.update(chunk)
                        received += len(chunk)
                        progress.advance(task, len(chunk))
            except (
                OSError,
                http.client.HTTPException,
            ) as exc:  # timeouts, resets, short reads
                raise _DownloadFailed(_describe_url_error(exc), fatal_for_mirror=True) from exc
            # read(n) returns b"" when the server hangs up early instead of raising.
            if total is not None and received != total:
                raise _DownloadFailed(
                    f"connection closed after {received} of {total} bytes",
                    fatal_for_mirror=True,
                )
        got = digest.hexdigest()
        if got != md5:
            raise _DownloadFailed(f"MD5 mismatch (expected {md5}, got {got})", fatal_for_mirror=False)
        os.replace(part, dest)  # atomic within one folder
    finally:
        part.unlink(missing_ok=True)


def download_files(
    files: Mapping[str, str], mirrors: Sequence[str], folder: Path, title: str
) -> tuple[dict[str, Path], list[str]]:
    """Download each file (filename -> expected MD5) into `folder`, trying each mirror
    (a base URL) in order; `title` (e.g. "MNIST") labels the progress bars.

    Returns (filename -> downloaded path, one "from <mirror> failed: <reason>" per mirror
    that failed). A mirror that could not be reached at all is not retried for the
    remaining files, so being offline costs one failure per mirror, not per file."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return {}, [f"cannot create {folder} ({exc.strerror or exc})"]

    got: dict[str, Path] = {}
    failures: dict[str, str] = {}  # mirror -> first reason it failed
    dead: set[str] = set()
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
    )
    with progress:
        for filename, md5 in files.items():
            for mirror in mirrors:
                if mirror in dead:
                    continue
                url = mirror.rstrip("/") + "/" + filename
                try:
                    _download_one(url, folder / filename, md5, progress, f"{title} {filename}")
                except _DownloadFailed as exc:
                    # Per-file failures (HTTP 404, bad MD5) name the file; host-level
                    # ones (refused, timeout, DNS) concern every file alike.
                    reason = exc.reason if exc.fatal_for_mirror else f"{filename}: {exc.reason}"
                    failures.setdefault(mirror, reason)
                    if exc.fatal_for_mirror:
                        dead.add(mirror)
                    continue
                except OSError as exc:  # writing/renaming in folder failed
                    failures.setdefault(mirror, f"cannot write {folder} ({exc.strerror or exc})")
                    continue
                got[filename] = folder / filename
                break
    return got, [f"from {m} failed: {r}" for m, r in failures.items()]
