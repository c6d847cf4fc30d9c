"""Property-based tests: whatever bytes a user hands the loaders and the header generator, the answer
is a valid result or a DigitedgeError, never another exception; the C array holds the model byte for byte."""

from __future__ import annotations

import gzip
import re
import struct
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from digitedge.data import read_idx, read_npz, read_path
from digitedge.errors import DigitedgeError

sys.path.insert(0, str(Path(__file__).parent))

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _only_digitedge_errors(call):
    """Run `call`; a DigitedgeError is a fine answer to bad input (one line), anything else fails the test."""
    try:
        return call()
    except DigitedgeError as exc:
        assert "\n" not in str(exc) and str(exc)
        return None


@FAST
@given(data=st.binary(max_size=2048))
@example(data=b"")
@example(data=b"PK\x03\x04")
@example(data=b"\x93NUMPY\x01\x00")
def test_read_npz_on_any_bytes(tmp_path, data):
    path = tmp_path / "x.npz"
    path.write_bytes(data)
    _only_digitedge_errors(lambda: read_npz(path, expect_counts=False))
    _only_digitedge_errors(lambda: read_path(path, expect_counts=False))


@st.composite
def idx_files(draw):
    """IDX headers that are valid, lying about their size, or random, with random bodies."""
    ndim = draw(st.integers(0, 4))
    shape = draw(st.lists(st.integers(0, 6), min_size=ndim, max_size=ndim))
    dtype = draw(st.sampled_from([0x08, 0x08, 0x09, 0x0D]))
    header = struct.pack(">HBB", draw(st.sampled_from([0, 0, 1])), dtype, ndim) + struct.pack(f">{ndim}I", *shape)
    size = int(np.prod(shape)) if ndim else 0
    body = draw(st.one_of(st.binary(min_size=size, max_size=size), st.binary(max_size=64)))
    cut = draw(st.integers(0, len(header) + len(body)))
    return (header + body)[: cut if draw(st.booleans()) else None]


@FAST
@given(data=idx_files(), gzipped=st.booleans())
def test_read_idx_on_any_bytes(tmp_path, data, gzipped):
    path = tmp_path / ("x-idx3-ubyte.gz" if gzipped else "x-idx3-ubyte")
    path.write_bytes(gzip.compress(data) if gzipped and len(data) % 2 else data)  # odd: real gzip; even: not gzip
    array = _only_digitedge_errors(lambda: read_idx(path))
    if array is not None:  # a valid file: the array is exactly what the header says
        ndim = data[3]
        assert array.shape == struct.unpack(f">{ndim}I", data[4:4 + 4 * ndim])
        assert array.tobytes() == data[4 + 4 * ndim:]


@st.composite
def npz_archives(draw):
    """Real .npz archives with every array right or one of them wrong in shape, dtype, values or name."""
    arrays = {"x_train": np.zeros((3, 28, 28), np.uint8), "y_train": np.zeros(3, np.uint8),
              "x_test": np.zeros((2, 28, 28), np.uint8), "y_test": np.zeros(2, np.uint8)}
    key = draw(st.sampled_from(sorted(arrays)))
    dtype = draw(st.sampled_from(["uint8", "int64", "float32", "float64", "bool", "complex64", "int8", "U1"]))
    shape = draw(st.sampled_from([arrays[key].shape, (3,), (3, 784), (2, 28, 28, 1), (), (0, 28, 28)]))
    values = draw(st.sampled_from([0, 1, 9, 10, 255, 256, -1, 0.5, float("nan")]))
    with np.errstate(all="ignore"):
        arrays[key] = np.full(shape, values).astype(dtype)
    if draw(st.booleans()):
        arrays[key + "_renamed"] = arrays.pop(key)
    return arrays


@FAST
@given(arrays=npz_archives())
def test_read_npz_on_any_arrays(tmp_path, arrays):
    path = tmp_path / "mnist.npz"
    np.savez(path, **arrays)
    checked = _only_digitedge_errors(lambda: read_npz(path, expect_counts=False))
    if checked is not None:
        assert all(array.dtype == np.uint8 for array in checked.values())
        assert checked["y_train"].max(initial=0) <= 9 and checked["x_train"].shape[1:] == (28, 28)


@pytest.fixture(scope="module")
def int8_model() -> bytes:
    from micro_fixtures import tiny_tflite

    return tiny_tflite("int8_ptq")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=512), tfl3=st.booleans())
def test_read_tflite_on_any_bytes(data, tfl3):
    from digitedge.tflite_model import read_tflite

    if tfl3:  # past the identifier check, into the flatbuffer parser
        data = data[:4].ljust(4, b"\0") + b"TFL3" + data[4:]
    _only_digitedge_errors(lambda: read_tflite(data, "fuzz.tflite"))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.floats(0, 1), flips=st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), max_size=8))
def test_read_tflite_on_damaged_models(int8_model, cut, flips):
    from digitedge.tflite_model import read_tflite

    data = bytearray(int8_model[: max(8, int(len(int8_model) * cut))] if cut < 1 else int8_model)
    for where, value in flips:
        data[min(len(data) - 1, 8 + int(where * (len(data) - 8)))] = value
    _only_digitedge_errors(lambda: read_tflite(bytes(data), "damaged.tflite"))


def _array_bytes(source: str) -> bytes:
    """The bytes of g_digitedge_model as a C compiler would read them from model_data.cc."""
    body = re.search(r"g_digitedge_model\[\] = \{\n(.*?)\n\};", source, re.S).group(1)
    return bytes(int(token, 16) for token in re.findall(r"0x([0-9a-f]{2})", body))


@settings(max_examples=80, deadline=None)
@given(data=st.binary(max_size=600))
def test_c_array_holds_the_bytes_exactly(data):
    from digitedge.micro.header import _model_data_cc

    source = _model_data_cc(["about"], data)
    assert _array_bytes(source) == data
    assert f"g_digitedge_model_len = {len(data)};" in source
    assert "alignas(16)" in source


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(variant=st.one_of(st.from_regex(r"[a-z0-9_]{1,10}", fullmatch=True), st.text(max_size=12)),
       accuracy=st.one_of(st.none(), st.floats(-1, 2), st.just(float("nan"))),
       arena=st.one_of(st.integers(0, 2048).map(lambda k: 16 * k), st.integers(-32, 1 << 20)),
       count=st.integers(0, 3))
@example(variant="int8_ptq", accuracy=0.9, arena=16384, count=2)
def test_header_files_answer_any_inputs(int8_model, variant, accuracy, arena, count):
    """Any variant name, accuracy, arena and sample count: a complete header set or a one-line DigitedgeError."""
    from digitedge.micro.header import MODEL_DATA_CC, MODEL_DATA_H, header_files

    images = np.random.default_rng(count).uniform(0, 1, (count, 28, 28, 1)).astype(np.float32)
    files = _only_digitedge_errors(lambda: header_files(
        int8_model, variant=variant, accuracy=accuracy, arena_bytes=arena, sample_images=images,
        sample_labels=list(range(count)), source_name="model.tflite"))
    if files is not None:
        assert _array_bytes(files[MODEL_DATA_CC]) == int8_model
        assert f"kTensorArenaSize = {arena}," in files[MODEL_DATA_H]


@settings(max_examples=30, deadline=None)
@given(data=st.binary(max_size=256))
def test_header_files_reject_non_models(data):
    from digitedge.micro.header import header_files

    with pytest.raises(DigitedgeError):
        header_files(data, variant="v", accuracy=None, arena_bytes=16384,
                     sample_images=np.zeros((1, 28, 28, 1), np.float32), sample_labels=[0])
