"""Tests for actbench.tasks.mlp.data and actbench.datasets: IDX parsing, finding/verifying/downloading
files, mnist-mini.

Never touches the network (downloads go to a local http.server on 127.0.0.1) or the
user's real cache (ACTBENCH_DATA points into tmp_path for every test)."""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from local_http import closed_ports

from actbench.datasets import download
from actbench.datasets import files as dataset_files
from actbench.datasets.files import DataWarning
from actbench.errors import DataError, UsageError
from actbench.tasks.mlp import data
from actbench.tasks.mlp.data import MNIST_MINI, MNIST_MINI_DIR, DatasetSource, load_dataset, read_idx

REPO = Path(__file__).resolve().parents[3]
SHARED = REPO.parent / "shared" / "data"
needs_shared = pytest.mark.skipif(
    not (SHARED / "mnist").is_dir() or not (SHARED / "fashion-mnist").is_dir(),
    reason=f"real MNIST/Fashion-MNIST files not found at {SHARED}",
)
ROLES = data.ROLES


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    # Any accidental use of the default folder lands in tmp, never in the real cache.
    monkeypatch.setenv("ACTBENCH_DATA", str(tmp_path / "default-cache"))


# --------------------------------------------------------------------------- helpers


def idx_bytes(array: np.ndarray) -> bytes:
    codes = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C, np.float32: 0x0D, np.float64: 0x0E}
    code = codes[array.dtype.type]
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def gz(payload: bytes) -> bytes:
    return gzip.compress(payload, mtime=0)


def md5(b: bytes) -> str:
    return hashlib.md5(b).hexdigest()


def synthetic_arrays(n_train=30, n_test=10, seed=0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "train_images": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train_labels": ((np.arange(n_train) + seed) % 10).astype(np.uint8),
        "test_images": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "test_labels": ((np.arange(n_test)[::-1] + seed) % 10).astype(np.uint8),
    }


FILENAMES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}


def synthetic_files(arrays=None) -> dict[str, bytes]:
    """role -> gz bytes of a small valid dataset."""
    arrays = arrays if arrays is not None else synthetic_arrays()
    return {role: gz(idx_bytes(arrays[role])) for role in ROLES}


def make_source(files: dict[str, bytes], mirrors=(), name="synth") -> DatasetSource:
    return DatasetSource(
        name=name,
        title="Synth",
        torchvision_folder="Synth",
        files={role: (FILENAMES[role], md5(files[role])) for role in ROLES},
        mirrors=tuple(mirrors),
        licence="test",
    )


def register(monkeypatch, source: DatasetSource) -> None:
    monkeypatch.setitem(data.SOURCES, source.name, source)


def write_files(folder: Path, files: dict[str, bytes]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for role, b in files.items():
        (folder / FILENAMES[role]).write_bytes(b)


def check_shapes(d, n_train, n_test):
    assert d.train_images.shape == (n_train, 28, 28) and d.train_images.dtype == torch.uint8
    assert d.test_images.shape == (n_test, 28, 28) and d.test_images.dtype == torch.uint8
    assert d.train_labels.shape == (n_train,) and d.train_labels.dtype == torch.int64
    assert d.test_labels.shape == (n_test,) and d.test_labels.dtype == torch.int64
    for labels in (d.train_labels, d.test_labels):
        assert int(labels.min()) == 0 and int(labels.max()) == 9
        assert len(torch.unique(labels)) == 10


# --------------------------------------------------------------------------- read_idx


@pytest.mark.parametrize("compress", [True, False], ids=["gz", "plain"])
@pytest.mark.parametrize(
    "array",
    [
        np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4),
        np.array([3, 1, 4, 1, 5], dtype=np.uint8),
        np.array([[-300, 2], [7, 32000]], dtype=np.int16),  # multi-byte: byte order matters
        np.array([1.5, -2.25], dtype=np.float32),
    ],
    ids=["u8-3d", "u8-1d", "i16", "f32"],
)
def test_read_idx_roundtrip(tmp_path, array, compress):
    payload = idx_bytes(array)
    path = tmp_path / ("x.idx.gz" if compress else "x.idx")
    path.write_bytes(gz(payload) if compress else payload)
    out = read_idx(path)
    assert out.shape == array.shape and out.dtype == array.dtype and out.dtype.isnative
    np.testing.assert_array_equal(out, array)
    assert out.flags.writeable


GOOD = idx_bytes(np.arange(2 * 28 * 28, dtype=np.uint32).astype(np.uint8).reshape(2, 28, 28))


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"\x08\x03" + GOOD[2:], "bad magic"),
        (b"\x00\x00\x42\x03" + GOOD[4:], "unknown type code 0x42"),
        (GOOD[:-1], "truncated"),
        (GOOD[:10], "truncated IDX header"),
        (GOOD + b"\x00", "trailing bytes"),
        (b"", "bad magic"),
        (gz(GOOD)[:-20], "corrupt gzip"),  # truncated gzip stream
        (gz(GOOD[:-5]), "truncated"),  # valid gzip, short IDX inside
    ],
    ids=["magic", "code", "truncated", "header", "trailing", "empty", "gz-truncated", "gz-short"],
)
def test_read_idx_corrupt(tmp_path, raw, message):
    path = tmp_path / "bad-idx3-ubyte.gz"
    path.write_bytes(raw)
    with pytest.raises(DataError) as err:
        read_idx(path)
    assert str(err.value).startswith(f"{path}: ")
    assert message in str(err.value)


def test_read_idx_missing_file(tmp_path):
    path = tmp_path / "nope.gz"
    with pytest.raises(DataError, match=re.escape(str(path))):
        read_idx(path)


# --------------------------------------------------------------------------- real data


@needs_shared
def test_mnist_flat():
    d = load_dataset("mnist", SHARED / "mnist", download=False)
    check_shapes(d, 60000, 10000)
    assert d.source == "mnist" and d.verified
    assert d.paths["train_images"] == SHARED / "mnist" / "train-images-idx3-ubyte.gz"
    # Known first labels of the MNIST training set: 5 0 4 1 9 2.
    assert d.train_labels[:6].tolist() == [5, 0, 4, 1, 9, 2]


@needs_shared
@pytest.mark.parametrize(
    "name, folder, shared", [("mnist", "MNIST", "mnist"), ("fashion-mnist", "FashionMNIST", "fashion-mnist")]
)
def test_torchvision_layout(tmp_path, name, folder, shared):
    raw = tmp_path / folder / "raw"
    raw.mkdir(parents=True)
    for f in (SHARED / shared).glob("*.gz"):
        (raw / f.name).symlink_to(f)
    d = load_dataset(name, tmp_path, download=False)
    check_shapes(d, 60000, 10000)
    assert d.source == name
    assert all(p.parent == raw for p in d.paths.values())


def test_flat_preferred_over_torchvision_layout(tmp_path, monkeypatch):
    flat, tv = synthetic_arrays(seed=1), synthetic_arrays(seed=2)
    flat_files = synthetic_files(flat)
    write_files(tmp_path, flat_files)
    write_files(tmp_path / "Synth" / "raw", synthetic_files(tv))
    register(monkeypatch, make_source(flat_files))
    d = load_dataset("synth", tmp_path, download=False)
    np.testing.assert_array_equal(d.train_images.numpy(), flat["train_images"])
    assert d.paths["train_images"].parent == tmp_path


def test_synthetic_load_values(tmp_path, monkeypatch):
    arrays = synthetic_arrays()
    files = synthetic_files(arrays)
    write_files(tmp_path, files)
    register(monkeypatch, make_source(files))
    d = load_dataset("synth", tmp_path, download=False)
    check_shapes(d, 30, 10)
    for role in ROLES:
        np.testing.assert_array_equal(getattr(d, role).numpy(), arrays[role])


def test_default_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("ACTBENCH_DATA", str(tmp_path / "here"))
    assert dataset_files.default_data_dir() == tmp_path / "here"
    files = synthetic_files()
    write_files(tmp_path / "here", files)
    register(monkeypatch, make_source(files))
    assert load_dataset("synth", download=False).paths["test_labels"].parent == tmp_path / "here"
    monkeypatch.delenv("ACTBENCH_DATA")
    import platformdirs

    assert dataset_files.default_data_dir() == Path(platformdirs.user_cache_dir("actbench")) / "data"


def test_unknown_dataset():
    with pytest.raises(UsageError, match="unknown dataset 'cifar-1000'"):
        load_dataset("cifar-1000")


# --------------------------------------------------------------------------- checksums


def test_md5_mismatch_refused(tmp_path, monkeypatch):
    files = synthetic_files()
    source = make_source(files)
    register(monkeypatch, source)
    altered = synthetic_files(synthetic_arrays(seed=9))  # valid IDX, not the original
    files = {**files, "test_images": altered["test_images"]}
    write_files(tmp_path, files)
    path = tmp_path / FILENAMES["test_images"]
    with pytest.raises(DataError) as err:
        load_dataset("synth", tmp_path, download=False)
    assert str(err.value) == (
        f"{path}: MD5 mismatch (expected {source.files['test_images'][1]}, "
        f"got {md5(altered['test_images'])}); the file is corrupt or not the original. "
        "Delete it to re-download, or pass --no-verify to use it anyway."
    )

    with pytest.warns(DataWarning, match="checksums not verified") as record:
        d = load_dataset("synth", tmp_path, verify=False, download=False)
    assert len(record) == 1 and "\n" not in str(record[0].message)
    assert d.verified is False
    check_shapes(d, 30, 10)


def test_another_datasets_valid_file_is_named_not_called_corrupt(tmp_path):
    """MNIST asked for, the folder holds other (valid) files: say whose they are, and do not
    invite deleting them."""
    import shutil

    for filename, _ in MNIST_MINI.files.values():
        shutil.copy(MNIST_MINI_DIR / filename, tmp_path / filename)
    with pytest.raises(DataError) as err:
        load_dataset("mnist", tmp_path, download=False)
    assert str(err.value) == (
        f"{tmp_path / 'train-images-idx3-ubyte.gz'} is MNIST-mini's train-images-idx3-ubyte.gz, not MNIST's "
        f"train-images-idx3-ubyte.gz (MD5 {MNIST_MINI.files['train_images'][1]}): the folder holds another "
        "dataset's files; pass --data-dir DIR with MNIST's files (they download there when missing)."
    )


def test_verify_true_does_not_warn(tmp_path, monkeypatch):
    files = synthetic_files()
    write_files(tmp_path, files)
    register(monkeypatch, make_source(files))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_dataset("synth", tmp_path, download=False)


@pytest.mark.parametrize(
    "change, role, message",
    [
        (
            {"train_labels": np.zeros(29, np.uint8)},
            "train_labels",
            "29 labels but train-images-idx3-ubyte.gz has 30 images",
        ),
        ({"test_labels": np.full(10, 10, np.uint8)}, "test_labels", "label 10 outside 0..9"),
        (
            {"train_images": np.zeros((30, 28, 27), np.uint8)},
            "train_images",
            "expected uint8 images of shape (N, 28, 28)",
        ),
        ({"test_labels": np.zeros(10, np.int32)}, "test_labels", "expected uint8 labels"),
    ],
    ids=["count", "range", "size", "label-dtype"],
)
def test_content_checks(tmp_path, monkeypatch, change, role, message):
    arrays = {**synthetic_arrays(), **change}
    files = synthetic_files(arrays)
    write_files(tmp_path, files)
    register(monkeypatch, make_source(files))  # MD5s match: only the content is wrong
    with pytest.raises(DataError) as err:
        load_dataset("synth", tmp_path, download=False)
    assert str(err.value).startswith(f"{tmp_path / FILENAMES[role]}: ")
    assert message in str(err.value)


# --------------------------------------------------------------------------- downloads


def test_missing_and_download_fails(tmp_path, monkeypatch):
    p1, p2 = closed_ports(2)
    m1, m2 = f"http://127.0.0.1:{p1}/", f"http://127.0.0.1:{p2}/"
    files = synthetic_files()
    write_files(tmp_path, {"train_labels": files["train_labels"]})  # one present, three missing
    register(monkeypatch, make_source(files, mirrors=(m1, m2)))
    calls = []
    real_urlopen = download.urllib.request.urlopen

    def counting_urlopen(request, *args, **kwargs):
        calls.append(request.full_url)
        return real_urlopen(request, *args, **kwargs)

    monkeypatch.setattr(download.urllib.request, "urlopen", counting_urlopen)
    with pytest.raises(DataError) as err:
        load_dataset("synth", tmp_path)
    # An unreachable mirror is tried once, not once per missing file.
    assert calls == [m1 + FILENAMES["train_images"], m2 + FILENAMES["train_images"]]
    msg = str(err.value)
    refused = r"\[Errno \d+\] Connection refused"
    expected = (
        re.escape(
            "Synth files not found: train-images-idx3-ubyte.gz, t10k-images-idx3-ubyte.gz, "
            f"t10k-labels-idx1-ubyte.gz (looked in {tmp_path} and {tmp_path / 'Synth' / 'raw'}); "
            f"download from {m1} failed: "
        )
        + refused
        + re.escape(f"; from {m2} failed: ")
        + refused
        + re.escape(". Put the files there or pass --data-dir DIR (or set ACTBENCH_DATA).")
    )
    assert re.fullmatch(expected, msg), msg
    assert list((tmp_path / "Synth" / "raw").iterdir()) == []


def test_missing_download_disabled(tmp_path, monkeypatch, server):
    base, _routes, hits = server
    files = synthetic_files()
    register(monkeypatch, make_source(files, mirrors=(base + "/a/", base + "/b/")))
    with pytest.raises(DataError) as err:
        load_dataset("synth", tmp_path, download=False)
    assert str(err.value) == (
        "Synth files not found: train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
        "t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz "
        f"(looked in {tmp_path} and {tmp_path / 'Synth' / 'raw'}); downloading is off; "
        f"get them from {base}/a/ or {base}/b/. "
        "Put the files there or pass --data-dir DIR (or set ACTBENCH_DATA)."
    )
    assert hits == [] and not (tmp_path / "Synth").exists()


def test_download_success(tmp_path, monkeypatch, server):
    base, routes, hits = server
    arrays = synthetic_arrays()
    files = synthetic_files(arrays)
    for role in ROLES:
        routes["/good/" + FILENAMES[role]] = files[role]
    # First mirror answers 404 for everything: the second must be tried, in order.
    register(monkeypatch, make_source(files, mirrors=(base + "/missing/", base + "/good/")))
    d = load_dataset("synth", tmp_path)
    raw = tmp_path / "Synth" / "raw"
    assert sorted(p.name for p in raw.iterdir()) == sorted(FILENAMES.values())  # no .part
    for role in ROLES:
        assert (raw / FILENAMES[role]).read_bytes() == files[role]
        assert d.paths[role] == raw / FILENAMES[role]
        np.testing.assert_array_equal(getattr(d, role).numpy(), arrays[role])
    assert hits[:2] == ["/missing/" + FILENAMES["train_images"], "/good/" + FILENAMES["train_images"]]
    n = len(hits)
    load_dataset("synth", tmp_path)  # now present: no second download
    assert len(hits) == n


def test_download_wrong_bytes_refused(tmp_path, monkeypatch, server):
    base, routes, hits = server
    files = synthetic_files()
    wrong = synthetic_files(synthetic_arrays(seed=5))
    for role in ROLES:
        routes["/m/" + FILENAMES[role]] = wrong[role]
    source = make_source(files, mirrors=(base + "/m/",))
    register(monkeypatch, source)
    with pytest.raises(DataError) as err:
        load_dataset("synth", tmp_path)
    name, expected_md5 = source.files["train_images"]
    assert (
        f"download from {base}/m/ failed: {name}: MD5 mismatch "
        f"(expected {expected_md5}, got {md5(wrong['train_images'])})"
    ) in str(err.value)
    assert "\n" not in str(err.value)
    assert len(hits) == 4  # every file was tried, and every one refused
    assert list((tmp_path / "Synth" / "raw").iterdir()) == []  # no final names, no .part


def test_cut_off_download_leaves_nothing(tmp_path, monkeypatch, server):
    base, routes, _hits = server
    files = synthetic_files()
    for role in ROLES:  # each transfer stops 100 bytes short of its Content-Length
        routes["/m/" + FILENAMES[role]] = (files[role], len(files[role]) + 100)
    register(monkeypatch, make_source(files, mirrors=(base + "/m/",)))
    with pytest.raises(DataError, match=re.escape(f"download from {base}/m/ failed: ")):
        load_dataset("synth", tmp_path)
    assert list((tmp_path / "Synth" / "raw").iterdir()) == []


def test_partial_download_keeps_good_files(tmp_path, monkeypatch, server):
    base, routes, _hits = server
    files = synthetic_files()
    for role in ("train_images", "train_labels", "test_images"):
        routes["/m/" + FILENAMES[role]] = files[role]
    register(monkeypatch, make_source(files, mirrors=(base + "/m/",)))
    with pytest.raises(DataError) as err:
        load_dataset("synth", tmp_path)
    assert str(err.value).startswith("Synth files not found: t10k-labels-idx1-ubyte.gz (looked in ")
    assert "t10k-labels-idx1-ubyte.gz: HTTP 404" in str(err.value)
    raw = tmp_path / "Synth" / "raw"
    assert sorted(p.name for p in raw.iterdir()) == sorted(
        FILENAMES[r] for r in ("train_images", "train_labels", "test_images")
    )


# --------------------------------------------------------------------------- mnist-mini


def test_mnist_mini_offline(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "SOURCES", {})  # no other dataset, no mirrors to reach
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        d = load_dataset("mnist-mini", tmp_path / "ignored", download=True)
    check_shapes(d, 5000, 1000)
    assert d.source == "mnist-mini" and d.verified
    assert torch.bincount(d.train_labels).tolist() == [500] * 10
    assert torch.bincount(d.test_labels).tolist() == [100] * 10
    assert all(p.parent == data.MNIST_MINI_DIR for p in d.paths.values())
    assert not (tmp_path / "ignored").exists()
    assert int(d.train_images.max()) == 255 and int(d.train_images.min()) == 0
    notice = (data.MNIST_MINI_DIR / "NOTICE.md").read_text(encoding="utf-8")
    for needle in ("CC BY-SA 3.0", "LeCun", "Cortes", "Burges", "make_mnist_mini.py"):
        assert needle in notice


def test_mnist_mini_corrupt_refused(tmp_path, monkeypatch):
    # Point the packaged folder at a copy with one byte changed.
    copy = tmp_path / "mini"
    copy.mkdir()
    for f in data.MNIST_MINI_DIR.iterdir():
        (copy / f.name).write_bytes(f.read_bytes())
    path = copy / "t10k-labels-idx1-ubyte.gz"
    b = bytearray(path.read_bytes())
    b[-8] ^= 1  # a byte of the gzip CRC: the MD5 check must catch it first
    path.write_bytes(bytes(b))
    monkeypatch.setattr(data, "MNIST_MINI_DIR", copy)
    with pytest.raises(DataError, match=r"MD5 mismatch .* Reinstall actbench, or pass --no-verify"):
        load_dataset("mnist-mini")


@needs_shared
def test_mnist_mini_reproducible(tmp_path):
    spec = importlib.util.spec_from_file_location("make_mnist_mini", REPO / "scripts" / "make_mnist_mini.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    written = module.make_mnist_mini(SHARED / "mnist", tmp_path / "out")
    assert set(written) == set(ROLES)
    for name in [*FILENAMES.values(), "NOTICE.md"]:
        assert (tmp_path / "out" / name).read_bytes() == (data.MNIST_MINI_DIR / name).read_bytes(), name
