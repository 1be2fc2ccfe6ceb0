"""The decoded cache: a verified file is decoded once; a changed source or a corrupt cache
file is never trusted."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from actbench.datasets import cache
from actbench.datasets.cache import cache_dir, cached_array
from actbench.errors import DataError
from actbench.tasks.mlp.data import load_dataset

PAYLOAD = bytes(range(256)) * 40


@pytest.fixture(autouse=True)
def fresh_cache(tmp_path, monkeypatch):  # each test its own, empty cache
    monkeypatch.setenv("ACTBENCH_CACHE", str(tmp_path / "cache"))


class Decoder:
    """Bytes -> int16 array (a multi-byte dtype: byte order and shape round-trip), counting calls."""

    def __init__(self):
        self.calls = 0

    def __call__(self, raw: bytes) -> np.ndarray:
        self.calls += 1
        return np.frombuffer(raw, dtype="<i2").reshape(40, -1).copy()


def source(tmp_path: Path, payload: bytes = PAYLOAD, age_s: float = 60.0) -> tuple[Path, str]:
    """A source file last modified ``age_s`` ago, and its MD5."""
    path = tmp_path / "src" / "file.bin"
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(payload)
    then = time.time() - age_s
    os.utime(path, (then, then))
    return path, hashlib.md5(payload).hexdigest()


def no_reading(monkeypatch):
    def refuse(path):
        raise AssertionError(f"read {path}")

    monkeypatch.setattr(cache, "read_bytes", refuse)


def test_a_verified_file_is_decoded_once_then_neither_read_nor_decoded(tmp_path, monkeypatch):
    path, md5 = source(tmp_path)
    decode = Decoder()
    first = cached_array(path, md5, decode)
    assert decode.calls == 1 and sorted(p.name for p in cache_dir().iterdir()) == [f"{md5}.bin", f"{md5}.json"]
    no_reading(monkeypatch)
    again = cached_array(path, md5, decode)
    assert decode.calls == 1
    assert again.dtype == first.dtype and again.shape == (40, 128) and np.array_equal(again, first)
    assert again.flags.writeable  # torch.from_numpy takes it without a warning


def test_a_changed_source_is_checked_again_and_refused(tmp_path):
    path, md5 = source(tmp_path)
    cached_array(path, md5, Decoder())
    changed = bytearray(PAYLOAD)
    changed[5] ^= 1  # same size
    path.write_bytes(bytes(changed))  # a new mtime: not the verified file any more
    with pytest.raises(
        DataError, match=rf"^{path}: MD5 mismatch \(expected {md5}, got {hashlib.md5(changed).hexdigest()}\)"
    ):
        cached_array(path, md5, Decoder())


def test_a_copy_elsewhere_is_verified_then_served_from_the_same_entry(tmp_path):
    path, md5 = source(tmp_path)
    cached_array(path, md5, Decoder())
    other = tmp_path / "other.bin"
    other.write_bytes(PAYLOAD)
    decode = Decoder()
    assert np.array_equal(cached_array(other, md5, decode), Decoder()(PAYLOAD))
    assert decode.calls == 0  # hashed (a new path), not decoded: the cached bytes are the same MD5's


@pytest.mark.parametrize(
    "damage",
    [
        lambda data, record: data.write_bytes(
            bytes([data.read_bytes()[0] ^ 1]) + data.read_bytes()[1:]
        ),  # the CRC fails
        lambda data, record: data.write_bytes(data.read_bytes()[:-2]),  # truncated
        lambda data, record: data.unlink(),
        lambda data, record: record.write_text("{not json"),
    ],
    ids=["bit", "truncated", "missing", "record"],
)
def test_a_corrupt_cache_falls_back_to_decoding_and_is_rewritten(tmp_path, monkeypatch, damage):
    path, md5 = source(tmp_path)
    reference = cached_array(path, md5, Decoder())
    damage(cache_dir() / f"{md5}.bin", cache_dir() / f"{md5}.json")
    decode = Decoder()
    assert np.array_equal(cached_array(path, md5, decode), reference)
    assert decode.calls == 1
    no_reading(monkeypatch)  # repaired: the next load needs neither the source nor the decoder
    assert np.array_equal(cached_array(path, md5, decode), reference) and decode.calls == 1


def test_a_corrupt_cache_of_a_changed_source_is_not_a_way_around_the_check(tmp_path):
    path, md5 = source(tmp_path)
    cached_array(path, md5, Decoder())
    (cache_dir() / f"{md5}.bin").write_bytes(b"\x00" * 8)
    path.write_bytes(PAYLOAD[::-1])
    with pytest.raises(DataError, match="MD5 mismatch"):
        cached_array(path, md5, Decoder())


def test_a_file_changed_just_before_its_check_is_hashed_again_next_time(tmp_path, monkeypatch):
    path, md5 = source(tmp_path, age_s=0)  # its mtime may not tell a change within the clock's tick
    cached_array(path, md5, Decoder())
    reads = []
    original = cache.read_bytes
    monkeypatch.setattr(cache, "read_bytes", lambda p: reads.append(p) or original(p))
    decode = Decoder()
    cached_array(path, md5, decode)
    assert reads == [path] and decode.calls == 0  # hashed again, the decoded bytes reused


def test_an_unwritable_cache_costs_only_the_decoding(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("ACTBENCH_CACHE", str(blocker / "cache"))
    path, md5 = source(tmp_path)
    decode = Decoder()
    for _ in range(2):
        assert np.array_equal(cached_array(path, md5, decode), Decoder()(PAYLOAD))
    assert decode.calls == 2


def test_the_cache_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("ACTBENCH_CACHE", str(tmp_path / "here"))
    assert cache_dir() == tmp_path / "here"
    monkeypatch.delenv("ACTBENCH_CACHE")
    assert cache_dir().parts[-2:] == ("actbench", "decoded")


def test_mnist_mini_loads_the_same_from_the_cache(monkeypatch):
    first = load_dataset("mnist-mini")
    assert len(list(cache_dir().glob("*.bin"))) == 4
    no_reading(monkeypatch)
    second = load_dataset("mnist-mini")
    for name in ("train_images", "train_labels", "test_images", "test_labels"):
        a, b = getattr(first, name), getattr(second, name)
        assert a.dtype == b.dtype and torch.equal(a, b), name
