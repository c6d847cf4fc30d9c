"""The C header export: content derived from the model, checks before writing, all-or-nothing writes."""

from __future__ import annotations

import hashlib
import re

import numpy as np
import pytest

from digitedge.errors import DigitedgeError
from digitedge.micro import find_arena_size, header_files, sketch_files, write_header_files
from digitedge.runtime.tflm import TflmError, run_tflm
from digitedge.tflite_model import read_tflite
from micro_fixtures import tiny_tflite

SAMPLES = np.random.default_rng(3).uniform(0, 1, (3, 28, 28, 1)).astype(np.float32)
LABELS = [7, 2, 1]


def export(tflite: bytes, **overrides) -> dict[str, str]:
    arguments = dict(variant="int8_ptq", accuracy=0.9876, arena_bytes=find_arena_size(tflite).arena_bytes,
                     sample_images=SAMPLES, sample_labels=LABELS, source_name="runs/x/tflite/int8_ptq.tflite")
    arguments.update(overrides)
    return header_files(tflite, **arguments)


@pytest.fixture(scope="module")
def int8_files() -> dict[str, str]:
    return export(tiny_tflite("int8_ptq"))


def c_array(text: str, name: str) -> list[int]:
    body = re.search(rf"{name}(?:\[[^\]]*\])+\s*=\s*\{{(.*?)\}};", text, re.S).group(1)
    return [int(token, 0) for token in re.findall(r"-?0x[0-9a-f]+|-?\d+", re.sub(r"//[^\n]*", "", body))]


def test_array_is_the_tflite_byte_for_byte(int8_files):
    tflite = tiny_tflite("int8_ptq")
    source = int8_files["model_data.cc"]
    assert bytes(c_array(source, "g_digitedge_model")) == tflite
    assert f"g_digitedge_model_len = {len(tflite)};" in source
    assert "alignas(16) const unsigned char g_digitedge_model[]" in source


def test_comment_block_names_source_hash_variant_accuracy(int8_files):
    header = int8_files["model_data.h"]
    assert "Source:        int8_ptq.tflite" in header
    assert hashlib.sha256(tiny_tflite("int8_ptq")).hexdigest() in header
    assert "Variant:       int8_ptq" in header and "98.76%" in header


def test_constants_come_from_the_model(int8_files):
    model = read_tflite(tiny_tflite("int8_ptq"))
    header = int8_files["model_data.h"]
    arena = find_arena_size(tiny_tflite("int8_ptq"))
    assert f"kTensorArenaSize = {arena.arena_bytes}," in header
    assert f"kInputZeroPoint = {model.input.zero_points[0]}," in header
    scale = float(re.search(r"kInputScale = ([0-9.e-]+)f;", header).group(1))
    assert np.float32(scale) == np.float32(model.input.scales[0])
    assert "kNumClasses = 10" in header and '{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}' in header


def test_resolver_registers_exactly_the_models_ops(int8_files):
    ops = int8_files["model_ops.h"]
    model = read_tflite(tiny_tflite("int8_ptq"))
    assert f"constexpr unsigned int kNumOps = {len(model.op_names)};" in ops
    assert re.findall(r"resolver\.(Add\w+)\(\)", ops) == ["AddConv2D", "AddMaxPool2D", "AddReshape",
                                                         "AddFullyConnected", "AddSoftmax"]
    assert "&&" not in ops.split("RegisterDigitedgeOps")[-1]


def test_sample_digits_are_quantized_and_carry_tflm_outputs(int8_files):
    samples = int8_files["sample_digits.h"]
    model = read_tflite(tiny_tflite("int8_ptq"))
    expected = np.clip(np.round(SAMPLES / model.input.scales[0]) + model.input.zero_points[0], -128, 127)
    assert c_array(samples, "g_sample_digits") == expected.astype(int).ravel().tolist()
    assert c_array(samples, "g_sample_digit_labels") == LABELS
    tflm_outputs = run_tflm(tiny_tflite("int8_ptq"), SAMPLES)
    assert c_array(samples, "g_sample_digit_tflm_outputs") == tflm_outputs.astype(int).ravel().tolist()


def test_float_model_is_refused_for_the_int8_header():
    with pytest.raises(DigitedgeError) as caught:
        export(tiny_tflite("float32"), arena_bytes=65536)
    assert str(caught.value) == ("model int8_ptq.tflite has float32 input; the header export needs a "
                                 "full-integer int8 model")


def test_dynamic_range_model_is_refused_naming_the_op():
    with pytest.raises(TflmError) as caught:
        export(tiny_tflite("dynamic_range"), arena_bytes=65536)
    assert caught.value.failure.op in str(caught.value) and "\n" not in str(caught.value)


def test_truncated_model_is_refused():
    with pytest.raises(DigitedgeError, match="corrupt or truncated"):
        export(tiny_tflite("int8_ptq")[:-100], arena_bytes=65536)


def test_too_small_arena_is_refused():
    with pytest.raises(DigitedgeError, match="arena of 1024 bytes is too small"):
        export(tiny_tflite("int8_ptq"), arena_bytes=1024)


@pytest.mark.parametrize("overrides, message", [
    (dict(sample_images=SAMPLES[:, :20]), "sample images have shape"),
    (dict(sample_labels=[7, 2]), "sample labels must be 3 integers"),
    (dict(sample_labels=[7, 2, 10]), "sample labels must be 3 integers"),
    (dict(accuracy=98.7), "accuracy must be a fraction"),
    (dict(arena_bytes=1000), "multiple of 16"),
    (dict(variant="int8 */ x"), "variant name"),
    (dict(class_labels=("a", "b")), "2 class labels given"),
])
def test_bad_inputs_are_one_line_errors(overrides, message):
    with pytest.raises(DigitedgeError, match=re.escape(message)) as caught:
        export(tiny_tflite("int8_ptq"), **overrides)
    assert "\n" not in str(caught.value)


def test_write_all_files(int8_files, tmp_path):
    written = write_header_files(int8_files, tmp_path / "micro")
    assert sorted(path.name for path in written) == sorted(int8_files)
    assert all(path.read_text() == int8_files[path.name] for path in written)


def test_unwritable_folder_is_a_one_line_error_and_writes_nothing(int8_files, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(DigitedgeError, match="cannot write") as caught:
        write_header_files(int8_files, blocker / "micro")
    assert "\n" not in str(caught.value)
    assert blocker.read_text() == "not a folder"


def test_a_failing_file_leaves_the_previous_set_untouched(int8_files, tmp_path):
    out = tmp_path / "micro"
    out.mkdir()
    (out / "model_data.h").write_text("previous header")
    (out / "sample_digits.h").mkdir()  # renaming a file onto a folder fails
    with pytest.raises(DigitedgeError, match="cannot write"):
        write_header_files(int8_files, out)
    assert (out / "model_data.h").read_text() == "previous header"
    assert sorted(path.name for path in out.iterdir()) == ["model_data.h", "sample_digits.h"]


def test_sketch_files_rename_cc_for_arduino(int8_files):
    renamed = sketch_files(int8_files)
    assert "model_data.cpp" in renamed and "model_data.cc" not in renamed
    assert renamed["model_data.cpp"] == int8_files["model_data.cc"]
