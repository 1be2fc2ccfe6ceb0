"""Tests for actbench.cifar: the CIFAR-10 python format, read and written; finding,
extracting and downloading the files; safe unpickling and safe extraction.

Never touches the network (downloads go to a local http.server on 127.0.0.1) or the
user's real cache (ACTBENCH_DATA points into tmp_path for every test)."""

from __future__ import annotations

import hashlib
import importlib.util
import io
import os
import pickle
import re
import shutil
import struct
import tarfile
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from cifar_files import write_cifar10, write_synthetic_cifar10
from local_http import closed_ports

from actbench.datasets.files import DataWarning
from actbench.errors import DataError
from actbench.tasks.airbench import data as cifar
from actbench.tasks.airbench.data import BATCHES, BATCHES_FOLDER, load_cifar10

REPO = Path(__file__).resolve().parents[3]

URL_FIX = "Put the files there or pass --data-dir DIR (or set ACTBENCH_DATA)."


# --------------------------------------------------------------------------- helpers


def md5(b: bytes) -> str:
    return hashlib.md5(b).hexdigest()


def random_split(n: int, rng) -> tuple[np.ndarray, np.ndarray]:
    images = rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)
    labels = rng.permutation(np.arange(n) % 10)
    return images, labels


def random_arrays(n_train=23, n_test=7, seed=0):
    rng = np.random.default_rng(seed)
    return (*random_split(n_train, rng), *random_split(n_test, rng))


def trust(monkeypatch, folder: Path) -> None:
    """Make the files in `folder` the 'published' ones, so verify=True accepts them."""
    md5s = {name: md5((folder / name).read_bytes()) for name in BATCHES}
    monkeypatch.setattr(cifar, "BATCH_MD5", md5s)


def batch_bytes(entry: object) -> bytes:
    return pickle.dumps(entry, protocol=2)


def good_entry(n=4, changes: dict | None = None) -> dict:
    entry = {
        b"batch_label": b"testing batch 1 of 1",
        b"labels": [i % 10 for i in range(n)],
        b"data": np.zeros((n, 3072), np.uint8),
        b"filenames": [b"x.png"] * n,
    }
    entry.update(changes or {})
    return entry


def write_batches(folder: Path, entries: dict[str, object]) -> None:
    """Six batches: `entries` by name, good ones for the rest."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in BATCHES:
        entry = entries.get(name, good_entry())
        payload = entry if isinstance(entry, bytes) else batch_bytes(entry)
        (folder / name).write_bytes(payload)


class Py2Pickler(pickle._Pickler):
    """Pickles bytes as Python 2 pickled its str (SHORT_BINSTRING / BINSTRING), as in
    the original CIFAR-10 files; with numpy.core's name below, that is their format."""

    dispatch = pickle._Pickler.dispatch.copy()

    def save_py2_str(self, obj: bytes) -> None:
        if len(obj) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(obj)]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(obj)) + obj)
        self.memoize(obj)

    dispatch[bytes] = save_py2_str


def py2_pickle(entry: dict) -> bytes:
    out = io.BytesIO()
    Py2Pickler(out, protocol=2).dump(entry)
    # numpy 1.x, which wrote the originals, kept _reconstruct in numpy.core.
    return out.getvalue().replace(b"numpy._core.multiarray\n", b"numpy.core.multiarray\n")


def tar_gz(members: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for info, payload in members:
            if payload is not None:
                info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload) if payload is not None else None)
    return out.getvalue()


def archive_of(folder: Path, extra=()) -> bytes:
    """The archive as the original is laid out: the folder, its files, then `extra`."""
    top = tarfile.TarInfo(BATCHES_FOLDER)
    top.type = tarfile.DIRTYPE
    members = [(top, None)]
    for path in sorted(folder.iterdir()):
        members.append((tarfile.TarInfo(f"{BATCHES_FOLDER}/{path.name}"), path.read_bytes()))
    return tar_gz(members + list(extra))


def check_equal(d, arrays) -> None:
    train_images, train_labels, test_images, test_labels = arrays
    assert torch.equal(d.train_images, torch.from_numpy(train_images))
    assert torch.equal(d.train_labels, torch.from_numpy(train_labels.astype(np.int64)))
    assert torch.equal(d.test_images, torch.from_numpy(test_images))
    assert torch.equal(d.test_labels, torch.from_numpy(test_labels.astype(np.int64)))


def listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


# --------------------------------------------------------------------------- format


def test_round_trip(tmp_path, monkeypatch):
    arrays = random_arrays()
    folder = tmp_path / BATCHES_FOLDER
    written = write_cifar10(folder, *arrays)
    assert list(written) == list(BATCHES)
    trust(monkeypatch, folder)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # verify=True: no DataWarning, no numpy warning
        d = load_cifar10(tmp_path, download=False)
    check_equal(d, arrays)
    for t in (d.train_images, d.test_images):
        assert t.dtype == torch.uint8 and t.is_contiguous() and t.shape[1:] == (3, 32, 32)
    assert d.train_labels.dtype == torch.int64 and d.test_labels.dtype == torch.int64
    assert (d.source, d.title, d.verified) == ("cifar10", "CIFAR-10", True)
    assert d.paths == {name: folder / name for name in BATCHES}

    # The files themselves are the real format: protocol 2, bytes keys, list labels,
    # the 23 training images spread 5/5/5/4/4 in order.
    sizes = []
    for name in BATCHES:
        raw = (folder / name).read_bytes()
        assert raw[:2] == b"\x80\x02"
        entry = pickle.loads(raw, encoding="bytes")
        assert set(entry) == {b"batch_label", b"labels", b"data", b"filenames"}
        assert type(entry[b"labels"]) is list and all(type(v) is int for v in entry[b"labels"])
        assert entry[b"data"].shape == (len(entry[b"labels"]), 3072)
        sizes.append(len(entry[b"labels"]))
    assert sizes == [5, 5, 5, 4, 4, 7]
    assert pickle.loads((folder / "data_batch_2").read_bytes())[b"batch_label"] == b"training batch 2 of 5"


def test_channel_order(tmp_path, monkeypatch):
    # Written by hand, not by write_cifar10: a row is R plane, G plane, B plane, each
    # 32x32 row-major. Image 1: only red at (row 1, column 2); only blue at (31, 0).
    data = np.zeros((2, 3072), np.uint8)
    data[1, 0 * 1024 + 1 * 32 + 2] = 255
    data[1, 2 * 1024 + 31 * 32 + 0] = 7
    write_batches(tmp_path, {"test_batch": good_entry(2, {b"data": data})})
    trust(monkeypatch, tmp_path)
    image = load_cifar10(tmp_path, download=False).test_images[1]  # (3, 32, 32)
    assert image[0, 1, 2] == 255 and image[2, 31, 0] == 7
    assert int(image.sum()) == 255 + 7


def test_python2_pickles_as_in_the_original_files(tmp_path, monkeypatch):
    arrays = random_arrays(n_train=10, n_test=3)
    write_cifar10(tmp_path / "w", *arrays)
    for name in BATCHES:
        entry = pickle.loads((tmp_path / "w" / name).read_bytes(), encoding="bytes")
        raw = py2_pickle(entry)
        assert b"numpy.core.multiarray\n_reconstruct" in raw and b"_codecs" not in raw
        (tmp_path / name).write_bytes(raw)
    trust(monkeypatch, tmp_path)
    check_equal(load_cifar10(tmp_path, download=False), arrays)


@pytest.mark.parametrize("protocol", [4, 5])
def test_python3_pickles_with_str_keys(tmp_path, monkeypatch, protocol):
    entry = {"data": np.full((3, 3072), 9, np.uint8), "labels": [1, 2, 3]}
    write_batches(tmp_path, {"test_batch": pickle.dumps(entry, protocol=protocol)})
    trust(monkeypatch, tmp_path)
    d = load_cifar10(tmp_path, download=False)
    assert d.test_labels.tolist() == [1, 2, 3] and int(d.test_images.min()) == 9


def test_empty_batches(tmp_path, monkeypatch):
    # 3 training images over 5 batches: two are empty, pickled with bytes() for b"".
    arrays = random_arrays(n_train=3, n_test=0)
    write_cifar10(tmp_path, *arrays)
    trust(monkeypatch, tmp_path)
    d = load_cifar10(tmp_path, download=False)
    check_equal(d, arrays)
    assert d.test_images.shape == (0, 3, 32, 32)


def test_write_refuses_wrong_arrays(tmp_path):
    images, labels, _, _ = random_arrays()
    with pytest.raises(
        ValueError,
        match=re.escape("train images must be uint8 of shape (N, 3, 32, 32)"),
    ):
        write_cifar10(tmp_path, images.transpose(0, 2, 3, 1), labels, images, labels)
    with pytest.raises(ValueError, match="test labels must be in 0..9"):
        write_cifar10(tmp_path, images, labels, images, labels + 1)
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- finding


def test_flat_and_torchvision_layouts(tmp_path, monkeypatch):
    flat, tv = random_arrays(seed=1), random_arrays(seed=2)
    write_cifar10(tmp_path / "tv" / BATCHES_FOLDER, *tv)
    trust(monkeypatch, tmp_path / "tv" / BATCHES_FOLDER)
    d = load_cifar10(tmp_path / "tv", download=False)
    check_equal(d, tv)
    assert all(p.parent == tmp_path / "tv" / BATCHES_FOLDER for p in d.paths.values())

    # Both: files in DIR itself win over DIR/cifar-10-batches-py/, as for MNIST.
    write_cifar10(tmp_path / "tv", *flat)
    trust(monkeypatch, tmp_path / "tv")
    d = load_cifar10(tmp_path / "tv", download=False)
    check_equal(d, flat)
    assert all(p.parent == tmp_path / "tv" for p in d.paths.values())


def test_default_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("ACTBENCH_DATA", str(tmp_path / "here"))
    arrays = random_arrays()
    write_cifar10(tmp_path / "here" / BATCHES_FOLDER, *arrays)
    trust(monkeypatch, tmp_path / "here" / BATCHES_FOLDER)
    check_equal(load_cifar10(download=False), arrays)


def test_missing_download_disabled(tmp_path):
    write_batches(tmp_path / BATCHES_FOLDER, {})
    (tmp_path / BATCHES_FOLDER / "data_batch_3").unlink()
    (tmp_path / BATCHES_FOLDER / "test_batch").unlink()
    with pytest.raises(DataError) as err:
        load_cifar10(tmp_path, download=False)
    assert str(err.value) == (
        f"CIFAR-10 files not found: data_batch_3, test_batch (looked in {tmp_path} and "
        f"{tmp_path / BATCHES_FOLDER}); downloading is off; get them from "
        f"https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz. {URL_FIX}"
    )


def test_published_checksums():
    # As torchvision.datasets.CIFAR10 lists them.
    assert cifar.MIRRORS == ("https://www.cs.toronto.edu/~kriz/",)
    assert (cifar.ARCHIVE, cifar.ARCHIVE_MD5) == (
        "cifar-10-python.tar.gz",
        "c58f30108f718f92721af3b95e74349a",
    )
    assert cifar.BATCH_MD5 == {
        "data_batch_1": "c99cafc152244af753f735de768cd75f",
        "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
        "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
        "data_batch_4": "634d18415352ddfa80567beed471001a",
        "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
        "test_batch": "40351d587109b95175f43aff81a1287e",
    }


# --------------------------------------------------------------------------- archive


def test_archive_extracted(tmp_path, monkeypatch):
    arrays = random_arrays()
    write_cifar10(tmp_path / "src", *arrays)
    (tmp_path / "src" / "batches.meta").write_bytes(b"meta")  # extracted too, as torchvision wants
    archive = archive_of(tmp_path / "src")
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / cifar.ARCHIVE).write_bytes(archive)
    monkeypatch.setattr(cifar, "ARCHIVE_MD5", md5(archive))
    trust(monkeypatch, tmp_path / "src")
    d = load_cifar10(data_dir, download=False)  # no network needed
    check_equal(d, arrays)
    assert listing(data_dir) == sorted(
        [cifar.ARCHIVE, BATCHES_FOLDER, f"{BATCHES_FOLDER}/batches.meta"]
        + [f"{BATCHES_FOLDER}/{name}" for name in BATCHES]
    )  # the archive stays, as torchvision leaves it; no .part files


def test_archive_never_overwrites(tmp_path, monkeypatch):
    old, new = random_arrays(seed=1), random_arrays(seed=2)
    write_cifar10(tmp_path / "src", *new)
    (tmp_path / cifar.ARCHIVE).write_bytes(archive_of(tmp_path / "src"))
    write_cifar10(tmp_path / "old", *old)
    (tmp_path / BATCHES_FOLDER).mkdir()
    (tmp_path / "old" / "test_batch").rename(tmp_path / BATCHES_FOLDER / "test_batch")
    with pytest.warns(DataWarning):
        d = load_cifar10(tmp_path, verify=False, download=False)
    assert torch.equal(d.train_images, torch.from_numpy(new[0]))
    assert torch.equal(d.test_images, torch.from_numpy(old[2]))  # the file already there


def test_archive_md5_mismatch(tmp_path, monkeypatch):
    write_batches(tmp_path / "src", {})
    archive = archive_of(tmp_path / "src")
    (tmp_path / cifar.ARCHIVE).write_bytes(archive)
    with pytest.raises(DataError) as err:
        load_cifar10(tmp_path)  # present archive: no download attempted
    assert str(err.value) == (
        f"{tmp_path / cifar.ARCHIVE}: MD5 mismatch (expected {cifar.ARCHIVE_MD5}, got "
        f"{md5(archive)}); the file is corrupt or not the original. Delete it to "
        "re-download, or pass --no-verify to use it anyway."
    )
    assert not (tmp_path / BATCHES_FOLDER).exists()
    with pytest.warns(DataWarning, match="CIFAR-10: MD5 checksums not verified"):
        d = load_cifar10(tmp_path, verify=False, download=False)
    assert d.verified is False and len(d.train_labels) == 20


def reg(name: str) -> tuple[tarfile.TarInfo, bytes]:
    return tarfile.TarInfo(name), b"evil"


def link(name: str, target: str, kind: bytes) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info, None


def fifo(name: str) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = tarfile.FIFOTYPE
    return info, None


@pytest.mark.parametrize(
    "member, why",
    [
        (reg(f"{BATCHES_FOLDER}/../evil"), "a path with '..'"),
        (reg("/tmp/actbench-evil"), "an absolute path"),
        (reg("evil"), f"not directly in {BATCHES_FOLDER}/"),
        (reg(f"{BATCHES_FOLDER}/sub/evil"), f"not directly in {BATCHES_FOLDER}/"),
        (reg(f"{BATCHES_FOLDER}/..\\evil"), "a backslash in the path"),
        (link(f"{BATCHES_FOLDER}/evil", "/etc/passwd", tarfile.SYMTYPE), "a link"),
        (
            link(
                f"{BATCHES_FOLDER}/evil",
                f"{BATCHES_FOLDER}/test_batch",
                tarfile.LNKTYPE,
            ),
            "a link",
        ),
        (fifo(f"{BATCHES_FOLDER}/evil"), "not a regular file"),
    ],
    ids=[
        "dotdot",
        "absolute",
        "outside",
        "nested",
        "backslash",
        "symlink",
        "hardlink",
        "fifo",
    ],
)
def test_unsafe_archive_refused(tmp_path, monkeypatch, member, why):
    write_batches(tmp_path / "src", {})
    archive = archive_of(tmp_path / "src", extra=[member])
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / cifar.ARCHIVE).write_bytes(archive)
    monkeypatch.setattr(cifar, "ARCHIVE_MD5", md5(archive))  # checksum fine: content is not
    with pytest.raises(DataError) as err:
        load_cifar10(data_dir, download=False)
    assert str(err.value) == (
        f"{data_dir / cifar.ARCHIVE}: refused to extract {member[0].name!r} ({why}); nothing "
        "was extracted. Delete the archive to re-download it."
    )
    assert listing(tmp_path) == sorted(["data", f"data/{cifar.ARCHIVE}", "src"] + [f"src/{n}" for n in BATCHES])
    assert not Path("/tmp/actbench-evil").exists()


def test_archive_lacking_a_batch(tmp_path):
    write_batches(tmp_path / "src", {})
    (tmp_path / "src" / "data_batch_4").unlink()
    (tmp_path / cifar.ARCHIVE).write_bytes(archive_of(tmp_path / "src"))
    with pytest.raises(DataError) as err:  # and no DataWarning: nothing was loaded
        load_cifar10(tmp_path, verify=False)
    assert str(err.value) == (
        f"{tmp_path / cifar.ARCHIVE}: no data_batch_4 in {BATCHES_FOLDER}/ of the archive; it "
        "is not the CIFAR-10 python archive. Delete it to re-download it."
    )


@pytest.mark.parametrize("keep", [0.5, -200], ids=["half", "last-member"])
def test_truncated_archive(tmp_path, keep):
    write_cifar10(tmp_path / "src", *random_arrays())  # random pixels: little compression
    archive = archive_of(tmp_path / "src")
    end = int(len(archive) * keep) if keep > 0 else len(archive) + keep
    (tmp_path / cifar.ARCHIVE).write_bytes(archive[:end])
    with pytest.raises(DataError) as err:  # and no DataWarning: nothing was loaded
        load_cifar10(tmp_path, verify=False)
    message = str(err.value)
    assert message.startswith(f"{tmp_path / cifar.ARCHIVE}: corrupt or truncated archive (")
    assert message.endswith("). Delete it to re-download it.") and "\n" not in message
    assert not any(p.name.endswith(".part") for p in tmp_path.rglob("*"))


# --------------------------------------------------------------------------- download


def test_download(tmp_path, monkeypatch, server):
    base, routes, hits = server
    arrays = random_arrays()
    write_cifar10(tmp_path / "src", *arrays)
    archive = archive_of(tmp_path / "src")
    routes["/kriz/" + cifar.ARCHIVE] = archive
    # The first mirror answers 404: the second must be tried, in order.
    monkeypatch.setattr(cifar, "MIRRORS", (base + "/missing/", base + "/kriz/"))
    monkeypatch.setattr(cifar, "ARCHIVE_MD5", md5(archive))
    trust(monkeypatch, tmp_path / "src")
    data_dir = tmp_path / "data"
    check_equal(load_cifar10(data_dir), arrays)
    assert hits == ["/missing/" + cifar.ARCHIVE, "/kriz/" + cifar.ARCHIVE]
    assert (data_dir / cifar.ARCHIVE).read_bytes() == archive
    assert listing(data_dir) == sorted(
        [cifar.ARCHIVE, BATCHES_FOLDER] + [f"{BATCHES_FOLDER}/{name}" for name in BATCHES]
    )
    load_cifar10(data_dir)  # now present: no second download
    assert len(hits) == 2


def test_download_wrong_bytes_refused(tmp_path, monkeypatch, server):
    base, routes, hits = server
    write_batches(tmp_path / "src", {})
    wrong = archive_of(tmp_path / "src")
    routes["/kriz/" + cifar.ARCHIVE] = wrong
    monkeypatch.setattr(cifar, "MIRRORS", (base + "/kriz/",))
    data_dir = tmp_path / "data"
    with pytest.raises(DataError) as err:
        load_cifar10(data_dir)
    assert str(err.value) == (
        f"CIFAR-10 files not found: {', '.join(BATCHES)} (looked in {data_dir} and "
        f"{data_dir / BATCHES_FOLDER}); download of {cifar.ARCHIVE} from {base}/kriz/ failed: "
        f"{cifar.ARCHIVE}: MD5 mismatch (expected {cifar.ARCHIVE_MD5}, got {md5(wrong)}). "
        f"{URL_FIX}"
    )
    assert hits == ["/kriz/" + cifar.ARCHIVE]
    assert listing(data_dir) == []  # no archive, no .part, nothing extracted


def test_offline(tmp_path, monkeypatch):
    (port,) = closed_ports(1)
    mirror = f"http://127.0.0.1:{port}/"
    monkeypatch.setattr(cifar, "MIRRORS", (mirror,))
    with pytest.raises(DataError) as err:
        load_cifar10(tmp_path)
    expected = (
        re.escape(
            f"CIFAR-10 files not found: {', '.join(BATCHES)} (looked in {tmp_path} and "
            f"{tmp_path / BATCHES_FOLDER}); download of {cifar.ARCHIVE} from {mirror} failed: "
        )
        + r"\[Errno \d+\] Connection refused"
        + re.escape(f". {URL_FIX}")
    )
    assert re.fullmatch(expected, str(err.value)), str(err.value)


# --------------------------------------------------------------------------- checks


def test_batch_md5_mismatch(tmp_path):
    write_cifar10(tmp_path, *random_arrays())  # synthetic: not the published MD5s
    with pytest.raises(DataError) as err:
        load_cifar10(tmp_path, download=False)
    got = md5((tmp_path / "data_batch_1").read_bytes())
    assert str(err.value) == (
        f"{tmp_path / 'data_batch_1'}: MD5 mismatch (expected c99cafc152244af753f735de768cd75f, "
        f"got {got}); the file is corrupt or not the original. Delete it to re-download, "
        "or pass --no-verify to use it anyway."
    )

    with pytest.warns(DataWarning) as record:
        d = load_cifar10(tmp_path, verify=False, download=False)
    unverified = "CIFAR-10: MD5 checksums not verified (--no-verify); results may come from corrupt or altered files."
    assert [str(w.message) for w in record] == [unverified]
    assert record[0].filename == __file__  # attributed to the caller of load_cifar10
    assert d.verified is False and len(d.train_labels) == 23


GOOD = batch_bytes(good_entry())


@pytest.mark.parametrize(
    "payload, message",
    [
        (GOOD[: len(GOOD) // 2], "not a readable CIFAR-10 batch (corrupt or truncated pickle: "),
        (GOOD[:-1], "not a readable CIFAR-10 batch (corrupt or truncated pickle: "),
        (b"", "not a readable CIFAR-10 batch (corrupt or truncated pickle: EOFError: Ran out of input)"),
        (b"PK\x03\x04 not a pickle", "not a readable CIFAR-10 batch (corrupt or truncated pickle: "),
        (GOOD + b"\x00\x00", "2 trailing bytes after the pickle (corrupt file)"),
        (batch_bytes([1, 2]), "expected a pickled dict, got list"),
        (batch_bytes({b"data": np.zeros((1, 3072), np.uint8)}), "no 'labels' entry in the batch"),
        (
            batch_bytes(good_entry(4, {b"data": np.zeros((4, 3071), np.uint8)})),
            "expected 'data' as uint8 of shape (N, 3072), got uint8 (4, 3071)",
        ),
        (
            batch_bytes(good_entry(4, {b"data": np.zeros((4, 3072), np.float32)})),
            "expected 'data' as uint8 of shape (N, 3072), got float32 (4, 3072)",
        ),
        (
            batch_bytes(good_entry(4, {b"data": b"\x00" * 3072 * 4})),
            "expected 'data' as uint8 of shape (N, 3072), got bytes",
        ),
        (batch_bytes(good_entry(4, {b"labels": [0, 1, 2]})), "3 labels but 4 images"),
        (batch_bytes(good_entry(4, {b"labels": [0, 1, 10, 2]})), "label 10 outside 0..9"),
        (batch_bytes(good_entry(4, {b"labels": [0, -1, 2, 3]})), "label -1 outside 0..9"),
        (batch_bytes(good_entry(4, {b"labels": [0, 1.0, 2, 3]})), "expected 'labels' as a list of ints"),
        (batch_bytes(good_entry(4, {b"labels": np.arange(4)})), "expected 'labels' as a list of ints"),
    ],
    ids=[
        "half",
        "last-byte",
        "empty",
        "zip",
        "trailing",
        "list",
        "no-labels",
        "width",
        "dtype",
        "bytes",
        "count",
        "label-10",
        "label-neg",
        "float-label",
        "array-labels",
    ],
)
def test_bad_batch(tmp_path, monkeypatch, payload, message):
    write_batches(tmp_path, {"data_batch_2": payload})
    trust(monkeypatch, tmp_path)  # checksums match: only the content is wrong
    with pytest.raises(DataError) as err:
        load_cifar10(tmp_path, download=False)
    text = str(err.value)
    assert text.startswith(f"{tmp_path / 'data_batch_2'}: ") and message in text, text
    assert "\n" not in text


class Evil:
    """Unpickling this runs os.system(command): what any pickle can do, unless refused."""

    def __init__(self, command: str):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


class Reduce:
    """Unpickles to func(*args)."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda marker: Evil(f"touch {marker}"), f"refused to unpickle {os.system.__module__}.system: "),
        (lambda marker: Reduce(eval, f"open({str(marker)!r}, 'w')"), "refused to unpickle __builtin__.eval: "),
        (lambda marker: Reduce(shutil.rmtree, marker.parent), "refused to unpickle shutil.rmtree: "),
        (
            lambda marker: Reduce(__import__("codecs").encode, "x", "rot13"),
            "refused to unpickle _codecs.encode('rot13')",
        ),
        (lambda marker: Reduce(bytes, 10**6), "refused to unpickle bytes() with arguments"),
    ],
    ids=["os.system", "eval", "rmtree", "codecs-rot13", "bytes-n"],
)
def test_forbidden_globals_refused_and_not_run(tmp_path, monkeypatch, make, message):
    marker = tmp_path / "pwned"
    # The hostile object sits inside an otherwise good batch, where a plain
    # pickle.load would run it.
    payload = batch_bytes(good_entry(4, {b"filenames": [make(marker)]}))
    write_batches(tmp_path, {"test_batch": payload})
    trust(monkeypatch, tmp_path)
    with pytest.raises(DataError) as err:
        load_cifar10(tmp_path, download=False)
    assert str(err.value).startswith(f"{tmp_path / 'test_batch'}: {message}"), str(err.value)
    assert not marker.exists() and (tmp_path / "test_batch").exists()


# --------------------------------------------------------------------------- synthetic


def test_synthetic_deterministic_balanced(tmp_path):
    a = write_synthetic_cifar10(tmp_path / "a", n_train=200, n_test=50, seed=3)
    b = write_synthetic_cifar10(tmp_path / "b", n_train=200, n_test=50, seed=3)
    c = write_synthetic_cifar10(tmp_path / "c", n_train=200, n_test=50, seed=4)
    assert all(a[n].read_bytes() == b[n].read_bytes() for n in BATCHES)
    assert all(a[n].read_bytes() != c[n].read_bytes() for n in BATCHES)
    with pytest.warns(DataWarning):  # not the real files: --no-verify needed
        d = load_cifar10(tmp_path / "a", verify=False, download=False)
    assert torch.bincount(d.train_labels).tolist() == [20] * 10
    assert torch.bincount(d.test_labels).tolist() == [5] * 10
    assert 0 <= int(d.train_images.min()) and int(d.train_images.max()) <= 255
    assert float(d.train_images.float().std()) > 20  # noise: not ten constant images


def test_synthetic_is_learnable(tmp_path):
    write_synthetic_cifar10(tmp_path, n_train=500, n_test=200, seed=0)
    with pytest.warns(DataWarning):
        d = load_cifar10(tmp_path, verify=False, download=False)
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, stride=2),
        torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(4),
        torch.nn.Flatten(),
        torch.nn.Linear(128, 10),
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    x, x_test = d.train_images.float() / 255, d.test_images.float() / 255
    for step in range(20):
        rows = torch.arange(step * 25, step * 25 + 25) % len(x)
        loss = torch.nn.functional.cross_entropy(model(x[rows]), d.train_labels[rows])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    accuracy = (model(x_test).argmax(1) == d.test_labels).float().mean().item()
    assert accuracy > 0.5  # chance is 0.1


def load_script():
    spec = importlib.util.spec_from_file_location("make_synthetic_cifar", REPO / "scripts" / "make_synthetic_cifar.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_script(tmp_path, capsys):
    script = load_script()
    assert script.main([str(tmp_path), "--train", "30", "--test", "10", "--seed", "1"]) == 0
    out = capsys.readouterr().out.splitlines()
    folder = tmp_path / BATCHES_FOLDER
    assert [line.split()[0] for line in out[:6]] == list(BATCHES)
    assert out[0].endswith(str(folder / "data_batch_1"))
    assert "--no-verify" in out[6]
    with pytest.warns(DataWarning):
        d = load_cifar10(tmp_path, verify=False, download=False)
    assert (len(d.train_labels), len(d.test_labels)) == (30, 10)

    before = {p: p.read_bytes() for p in folder.iterdir()}
    with pytest.raises(SystemExit) as exit_info:
        script.main([str(tmp_path)])  # would overwrite: refused
    assert exit_info.value.code == 2
    assert "already holds data_batch_1" in capsys.readouterr().err
    assert {p: p.read_bytes() for p in folder.iterdir()} == before


def test_a_validation_split_holds_out_training_rows_and_never_reads_the_test_batch(tmp_path, monkeypatch):
    from actbench.datasets.split import validation_split
    from actbench.tasks.airbench.train import device_cifar

    arrays = random_arrays(n_train=50, n_test=7)
    folder = tmp_path / BATCHES_FOLDER
    write_cifar10(folder, *arrays)
    trust(monkeypatch, folder)
    (folder / "test_batch").unlink()  # a training-only folder: the test batch is not needed
    d = load_cifar10(tmp_path, download=False, test=False)
    assert d.test_images is None and set(d.paths) == set(BATCHES) - {"test_batch"}
    data = device_cifar(tmp_path, True, torch.device("cpu"), "validation")
    train_rows, held_out = validation_split(50)
    assert (len(data.train_labels), len(data.test_labels)) == (45, 5)
    assert torch.equal(data.test_images, torch.from_numpy(arrays[0])[held_out])
    assert torch.equal(data.train_labels, torch.from_numpy(arrays[1]).long()[train_rows])
    with pytest.raises(DataError, match="test_batch"):
        load_cifar10(tmp_path, download=False)  # the test split does need it
