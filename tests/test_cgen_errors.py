"""What the C generator refuses, in one line, before anything is written."""

from __future__ import annotations

import numpy as np
import pytest

from digitedge.cgen import export_c, generate_c_sources, run_on_qemu
from digitedge.errors import DigitedgeError
from cgen_fixtures import ModelBuilder, add_model, softmax_model


def _one_line(exc: pytest.ExceptionInfo) -> str:
    message = str(exc.value)
    assert "\n" not in message
    return message


def test_unsupported_operator_is_named_and_nothing_is_written(tmp_path):
    with pytest.raises(DigitedgeError) as exc:
        export_c(add_model(), tmp_path / "out", label="add.tflite")
    message = _one_line(exc)
    assert "add.tflite" in message and "does not implement ADD" in message and "CONV_2D" in message
    assert not (tmp_path / "out").exists()


def test_unsupported_operator_is_refused_before_the_qemu_build(tmp_path):
    with pytest.raises(DigitedgeError, match="does not implement ADD"):
        run_on_qemu(add_model(), np.zeros((1, 28, 28), np.uint8), np.zeros(1, np.uint8), build_dir=tmp_path / "b")
    assert not (tmp_path / "b").exists()


def test_float_model_is_refused():
    builder = ModelBuilder()
    source = builder.tensor((1, 4), dtype=0)
    weights = builder.tensor((3, 4), dtype=0, data=np.ones((3, 4), np.float32))
    result = builder.tensor((1, 3), dtype=0)
    builder.operator("FULLY_CONNECTED", [source, weights, -1], [result], "FullyConnectedOptions")
    with pytest.raises(DigitedgeError) as exc:
        generate_c_sources(builder.build([source], [result]))
    assert "not a full-integer int8 model" in _one_line(exc) and "float32" in str(exc.value)


def test_softmax_with_a_non_standard_output_scale_is_refused():
    tflite_bytes = bytearray(softmax_model(1))
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(tflite_bytes)
    model.subgraphs[0].tensors[1].quantization.scale = [1 / 128]
    with pytest.raises(DigitedgeError, match="softmax needs output scale 1/256"):
        generate_c_sources(bytes(flatbuffer_utils.convert_object_to_bytearray(model)))


@pytest.mark.parametrize("name", ["", "1model", "my-model", "a b"])
def test_name_prefix_must_be_a_c_identifier(name):
    with pytest.raises(DigitedgeError, match="not a C identifier"):
        generate_c_sources(softmax_model(1), name=name)


def test_bytes_that_are_not_a_tflite_model_are_refused(tmp_path):
    with pytest.raises(DigitedgeError, match="not a TFLite model"):
        export_c(b"not a model at all", tmp_path / "out")
    assert not (tmp_path / "out").exists()
