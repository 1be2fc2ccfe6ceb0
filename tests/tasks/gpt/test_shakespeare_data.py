"""Tests for actbench.tasks.gpt.data: the shipped Tiny Shakespeare, finding a copy in a data folder,
the SHA-256 check, nanoGPT's split and vocabulary, and the per-process cache."""

from __future__ import annotations

import gzip
import hashlib
import re
from pathlib import Path

import pytest
import torch

from actbench.datasets.files import DataWarning
from actbench.errors import DataError
from actbench.tasks.gpt import data
from actbench.tasks.gpt.data import CORPUS_SHA256, TINY_SHAKESPEARE_URL, device_corpus, load_corpus

SHARED_TEXT = Path(__file__).resolve().parents[4] / "shared" / "data" / "tinyshakespeare" / "input.txt"
TEXT = gzip.decompress(data.PACKAGED.read_bytes())  # the original's bytes, 1,115,394 of them


@pytest.fixture(autouse=True)
def _fresh_cache():
    # Each test reads the files it wrote, not what an earlier test left in the process cache.
    data._read.cache_clear()
    data._on_device.cache_clear()
    yield
    data._read.cache_clear()
    data._on_device.cache_clear()


def decode(corpus: data.CharCorpus, ids: torch.Tensor) -> str:
    return "".join(corpus.vocab[i] for i in ids.tolist())


def corrupted() -> bytes:
    text = bytearray(TEXT)
    text[1000] ^= 0x20  # one letter's case
    return bytes(text)


def test_packaged_copy_is_the_original():
    assert hashlib.sha256(TEXT).hexdigest() == CORPUS_SHA256
    assert len(TEXT) == 1_115_394
    corpus = load_corpus(None)
    assert corpus.source == data.PACKAGED


def test_split_as_nanogpt():
    corpus = load_corpus(None)
    n = len(TEXT)
    assert (len(corpus.train), len(corpus.val)) == (int(n * 0.9), n - int(n * 0.9)) == (1_003_854, 111_540)
    assert corpus.train.dtype == corpus.val.dtype == torch.int64
    assert corpus.train.device.type == corpus.val.device.type == "cpu"
    assert decode(corpus, corpus.train) == TEXT.decode()[:1_003_854]
    assert decode(corpus, corpus.val) == TEXT.decode()[1_003_854:]


def test_vocabulary_sorted_distinct_characters():
    corpus = load_corpus(None)
    text = TEXT.decode()
    assert corpus.vocab == "".join(sorted(set(text)))  # nanoGPT's chars = sorted(list(set(data)))
    assert len(corpus.vocab) == 65
    assert corpus.vocab[0] == "\n" and corpus.vocab[1] == " "
    ids = torch.cat([corpus.train, corpus.val])
    assert int(ids.min()) == 0 and int(ids.max()) == 64
    assert decode(corpus, ids) == text  # round trip, every character


@pytest.mark.skipif(not SHARED_TEXT.is_file(), reason=f"{SHARED_TEXT} not found")
def test_equals_shared_copy():
    packaged = load_corpus(None)
    shared = load_corpus(SHARED_TEXT.parent.parent)  # DIR/tinyshakespeare/input.txt
    assert shared.source == SHARED_TEXT
    assert shared.vocab == packaged.vocab
    assert torch.equal(shared.train, packaged.train) and torch.equal(shared.val, packaged.val)
    assert decode(shared, torch.cat([shared.train, shared.val])) == SHARED_TEXT.read_text()


@pytest.mark.parametrize(
    "relative", ["tinyshakespeare/input.txt", "input.txt", "tinyshakespeare/input.txt.gz", "input.txt.gz"]
)
def test_data_dir_layouts(tmp_path, relative):
    path = tmp_path / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(TEXT, mtime=0) if relative.endswith(".gz") else TEXT)
    corpus = load_corpus(tmp_path)
    packaged = load_corpus(None)
    assert corpus.source == path
    assert corpus.vocab == packaged.vocab
    assert torch.equal(corpus.train, packaged.train) and torch.equal(corpus.val, packaged.val)


def test_tinyshakespeare_folder_first(tmp_path):
    (tmp_path / "tinyshakespeare").mkdir()
    (tmp_path / "tinyshakespeare" / "input.txt").write_bytes(TEXT)
    (tmp_path / "input.txt").write_bytes(b"not read")
    assert load_corpus(tmp_path).source == tmp_path / "tinyshakespeare" / "input.txt"


def test_missing_file_says_where_and_how(tmp_path):
    with pytest.raises(DataError) as err:
        load_corpus(tmp_path)
    assert str(err.value) == (
        f"Tiny Shakespeare not found: no input.txt or input.txt.gz in {tmp_path / 'tinyshakespeare'} or {tmp_path}; "
        f"get input.txt from {TINY_SHAKESPEARE_URL} and put it there, or leave out --data-dir to use the copy "
        "shipped with actbench."
    )


@pytest.mark.parametrize("compressed", [False, True])
def test_sha256_mismatch(tmp_path, compressed):
    bad = corrupted()
    path = tmp_path / ("input.txt.gz" if compressed else "input.txt")
    path.write_bytes(gzip.compress(bad, mtime=0) if compressed else bad)
    with pytest.raises(DataError) as err:
        load_corpus(tmp_path)
    got = hashlib.sha256(bad).hexdigest()  # of the text, also when gzipped
    assert str(err.value) == (
        f"{path}: SHA-256 mismatch (expected {CORPUS_SHA256[:16]}..., got {got[:16]}...); the file is corrupt or "
        f"not the original. Get the original from {TINY_SHAKESPEARE_URL}, or pass --no-verify to use it anyway."
    )
    assert "\n" not in str(err.value)


def test_no_verify_warns_and_reads(tmp_path):
    (tmp_path / "input.txt").write_bytes(corrupted())
    with pytest.warns(DataWarning, match="Tiny Shakespeare: SHA-256 checksums not verified"):
        corpus = load_corpus(tmp_path, verify=False)
    assert decode(corpus, torch.cat([corpus.train, corpus.val])) == corrupted().decode()


def test_packaged_copy_corrupt(tmp_path, monkeypatch):
    path = tmp_path / "input.txt.gz"
    path.write_bytes(gzip.compress(corrupted(), mtime=0))
    monkeypatch.setattr(data, "PACKAGED", path)
    with pytest.raises(
        DataError, match=r"^\S+input\.txt\.gz: SHA-256 mismatch .* Reinstall actbench, or pass --no-verify"
    ):
        load_corpus(None)
    monkeypatch.setattr(data, "PACKAGED", tmp_path / "gone.txt.gz")
    with pytest.raises(DataError, match="Tiny Shakespeare missing from the installed package: .*reinstall actbench"):
        load_corpus(None)


@pytest.mark.parametrize(
    ("content", "message"),
    [(gzip.compress(TEXT, mtime=0)[:-100], "corrupt gzip data"), (b"\xff\xfe text", "not UTF-8 text")],
    ids=["truncated-gzip", "not-utf8"],
)
def test_unreadable_content(tmp_path, content, message):
    (tmp_path / "input.txt").write_bytes(content)
    with (
        pytest.warns(DataWarning),
        pytest.raises(DataError, match=f"^{re.escape(str(tmp_path / 'input.txt'))}: {message}"),
    ):
        load_corpus(tmp_path, verify=False)  # unchecked, so that the content itself is what fails


def test_cached_per_process(tmp_path, monkeypatch):
    (tmp_path / "input.txt").write_bytes(TEXT)
    first = load_corpus(tmp_path)

    def no_reading(path):
        raise AssertionError(f"{path} read again")

    monkeypatch.setattr(data, "read_bytes", no_reading)
    second = load_corpus(tmp_path)
    assert second is first and second.train is first.train and second.val is first.val


def test_device_corpus_cached_per_device(tmp_path, monkeypatch):
    corpus = device_corpus(None, True, torch.device("cpu"))
    packaged = load_corpus(None)
    assert corpus.vocab == packaged.vocab and corpus.source == packaged.source
    assert torch.equal(corpus.train, packaged.train) and torch.equal(corpus.val, packaged.val)
    monkeypatch.setattr(data, "read_bytes", lambda path: pytest.fail(f"{path} read again"))
    assert device_corpus(None, True, "cpu") is corpus  # "cpu" and torch.device("cpu"): one entry
    if torch.cuda.is_available():
        on_gpu = device_corpus(None, True, torch.device("cuda"))
        assert on_gpu.train.is_cuda and torch.equal(on_gpu.train.cpu(), packaged.train)
