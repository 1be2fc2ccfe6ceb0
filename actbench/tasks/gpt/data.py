"""Tiny Shakespeare -> character ids, split as nanoGPT's shakespeare_char does.

One job: find the text (the copy shipped in the package, or one in --data-dir), check its
SHA-256, and hand back the characters as int64 ids, the first 90% for training and the
last 10% for validation. Ids number the distinct characters of the whole text in sorted
order (nanoGPT's ``chars = sorted(list(set(data)))``): 65 of them, "\\n" is 0.

A data folder holds the text as ``DIR/tinyshakespeare/input.txt`` or ``DIR/input.txt``,
plain or gzipped (``input.txt.gz``; decided by content). The checksum is of the text, so
any gzip of the original passes. A file is read once per process: every trial of a run
gets the same tensors.

Source: A. Karpathy's char-rnn, data/tinyshakespeare/input.txt (public domain), the file
nanoGPT downloads (TINY_SHAKESPEARE_URL). See tinyshakespeare/NOTICE.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from actbench.datasets.files import check_sha256, gunzip, locate, read_bytes, warn_unverified
from actbench.errors import DataError

__all__ = ["CORPUS_SHA256", "TINY_SHAKESPEARE_URL", "CharCorpus", "device_corpus", "load_corpus"]

TITLE = "Tiny Shakespeare"
CORPUS_SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"  # of input.txt, 1,115,394 chars
TINY_SHAKESPEARE_URL = "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"
FOLDER = "tinyshakespeare"
FILENAMES = ("input.txt", "input.txt.gz")  # looked for in this order, each in DIR/FOLDER, then in DIR
PACKAGED = Path(__file__).resolve().parent / FOLDER / "input.txt.gz"  # gzip -9 -n of the original
TRAIN_FRACTION = 0.9  # nanoGPT: train = data[: int(n * 0.9)], val = the rest


@dataclass(frozen=True, eq=False)  # eq=False: comparing tensors with == is not a bool
class CharCorpus:
    """The whole text as character ids. The tensors are shared by every caller (cached): read them, never
    write to them."""

    vocab: str  # the distinct characters, sorted; id i is vocab[i]
    train: torch.Tensor  # (N_train,) int64: the first 90% of the characters
    val: torch.Tensor  # (N_val,) int64: the last 10%
    source: Path  # the file read


def load_corpus(data_dir: Path | None, verify: bool = True) -> CharCorpus:
    """Tiny Shakespeare as CPU tensors, read once per process and file.

    data_dir: None for the copy shipped in the package, else a folder holding
    tinyshakespeare/input.txt or input.txt (or .txt.gz). verify: check the text's SHA-256
    (False warns). DataError naming the file if it is missing, unreadable, not UTF-8 or
    not the original."""
    if data_dir is None:
        path = PACKAGED
        if not path.is_file():
            raise DataError(f"{TITLE} missing from the installed package: {path} not found; reinstall actbench.")
    else:
        path = _find(Path(data_dir).expanduser())
    if not verify:
        warn_unverified(TITLE, "SHA-256")
    return _read(path, verify)


def device_corpus(data_dir: Path | None, verify: bool, device: torch.device) -> CharCorpus:
    """load_corpus's corpus with train and val on ``device``, moved once per process and device."""
    # torch.device(...): "cuda" and torch.device("cuda") are one cache entry.
    return _on_device(data_dir, verify, torch.device(device))


@lru_cache(maxsize=2)
def _on_device(data_dir: Path | None, verify: bool, device: torch.device) -> CharCorpus:
    corpus = load_corpus(data_dir, verify)
    return CharCorpus(corpus.vocab, corpus.train.to(device), corpus.val.to(device), corpus.source)


def _find(data_dir: Path) -> Path:
    dirs = (data_dir / FOLDER, data_dir)
    for filename in FILENAMES:
        path = locate(filename, dirs)
        if path is not None:
            return path
    raise DataError(
        f"{TITLE} not found: no {' or '.join(FILENAMES)} in {dirs[0]} or {dirs[1]}; get input.txt from "
        f"{TINY_SHAKESPEARE_URL} and put it there, or leave out --data-dir to use the copy shipped with actbench."
    )


@lru_cache(maxsize=4)  # keyed by the file (and whether it was checked): every trial reads the same one
def _read(path: Path, verify: bool) -> CharCorpus:
    raw = gunzip(read_bytes(path), path)
    if verify:
        fix = "Reinstall actbench" if path == PACKAGED else f"Get the original from {TINY_SHAKESPEARE_URL}"
        check_sha256(raw, path, CORPUS_SHA256, fix)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc})") from exc
    # One code point per character; np.unique sorts them (as sorted() sorts characters) and
    # numbers each character by its place among them: the ids, (n,).
    codepoints = np.frombuffer(text.encode("utf-32-le"), dtype="<u4")
    distinct, ids = np.unique(codepoints, return_inverse=True)
    ids = torch.from_numpy(ids.astype(np.int64))
    n_train = int(len(ids) * TRAIN_FRACTION)
    return CharCorpus(vocab="".join(map(chr, distinct)), train=ids[:n_train], val=ids[n_train:], source=path)
