"""TFLite Micro: support check with TFLM's own reason, stderr capture, arena search, LiteRT parity."""

from __future__ import annotations

import os

import numpy as np
import pytest

from digitedge.convert import convert_variant
from digitedge.data import normalize
from digitedge.errors import DigitedgeError
from digitedge.micro import compare_tflm_litert, find_arena_size, with_margin
from digitedge.runtime.tflm import (TflmError, captured_stderr, parse_tflm_log, recorded_arena_bytes, run_tflm, tflm_interpreter,
                                    tflm_support)
from micro_fixtures import tiny_keras_model, tiny_tflite


def test_captured_stderr_reads_c_level_writes():
    with captured_stderr() as log:
        os.write(2, b"written to fd 2\n")
    assert log.text == "written to fd 2\n"


def test_int8_and_float32_models_run_on_tflm():
    for variant, dtype in (("int8_ptq", "int8"), ("float32", "float32")):
        support = tflm_support(tiny_tflite(variant), f"tiny_{variant}.tflite")
        assert support.runs and support.failure is None
        assert (support.input_dtype, support.output_dtype) == (dtype, dtype)


def test_dynamic_range_model_is_refused_with_the_op_tflm_names():
    support = tflm_support(tiny_tflite("dynamic_range"), "tiny_dynamic_range.tflite")
    assert not support.runs
    assert support.failure.op in ("CONV_2D", "FULLY_CONNECTED")
    assert support.failure.node is not None
    assert "not supported" in support.failure.message  # TFLM's own words: hybrid conv or float-input FC
    assert support.to_dict()["failure"]["op"] == support.failure.op


def test_load_tflm_error_is_one_line_naming_file_and_op():
    with pytest.raises(TflmError) as caught:
        tflm_interpreter(tiny_tflite("dynamic_range"), label="dr.tflite")
    message = str(caught.value)
    assert "\n" not in message and message.startswith("dr.tflite: TFLite Micro cannot run it: op ")
    assert isinstance(caught.value, DigitedgeError)


def test_parse_tflm_log_forms():
    missing = parse_tflm_log("Didn't find op for builtin opcode 'TOPK_V2'\r\nFailed to get registration from op code TOPK_V2\n")
    assert (missing.op, missing.message) == ("TOPK_V2", "TFLite Micro has no kernel for TOPK_V2")
    failed = parse_tflm_log("tensorflow/lite/micro/kernels/dequantize_common.cc:42 input->type == kTfLiteInt8 was not "
                            "true.\r\nNode DEQUANTIZE (number 0) failed to prepare with status 1\r\n")
    assert (failed.op, failed.node, failed.message) == ("DEQUANTIZE", 0, "input->type == kTfLiteInt8 was not true.")
    short = parse_tflm_log("Failed to resize buffer. Requested: 13520, available 2128, missing: 11392\r\n")
    assert short.arena_missing_bytes == 11392 and short.op is None
    assert parse_tflm_log("").message == "TFLite Micro failed without a message"


def test_truncated_model_is_a_one_line_error_before_tflm_sees_it():
    truncated = tiny_tflite("int8_ptq")[:200]
    with pytest.raises(DigitedgeError, match="corrupt or truncated") as caught:
        tflm_support(truncated, "cut.tflite")
    assert "\n" not in str(caught.value)


def test_arena_search_finds_the_smallest_16_byte_step():
    tflite = tiny_tflite("int8_ptq")
    arena = find_arena_size(tflite, margin=0.10)
    assert arena.minimum_bytes % 16 == 0
    model_input = np.zeros((1, 28, 28, 1), np.int8)
    tflm_interpreter(tflite, arena.minimum_bytes).set_input(model_input, 0)  # allocates at the minimum
    with pytest.raises(TflmError) as caught:
        tflm_interpreter(tflite, arena.minimum_bytes - 16)
    assert caught.value.failure.arena_missing_bytes > 0
    assert arena.recorded_bytes == recorded_arena_bytes(tflm_interpreter(tflite, arena.minimum_bytes))
    assert arena.arena_bytes == with_margin(arena.minimum_bytes, 0.10)
    assert arena.arena_bytes >= arena.minimum_bytes * 1.10 and arena.arena_bytes % 16 == 0


@pytest.mark.parametrize("arena", [0, 16, 448])
def test_an_arena_too_small_for_tflms_own_allocator_is_refused_not_a_crash(arena):
    # the wrapper segfaults below ~464 bytes; an arena search or a user's size must get an error instead
    with pytest.raises(TflmError, match="tensor arena too small") as caught:
        tflm_interpreter(tiny_tflite("int8_ptq"), arena)
    assert caught.value.failure.arena_missing_bytes == 512 - arena


def test_with_margin_rounds_up_to_16():
    assert with_margin(16624, 0.10) == 18288  # 18286.4 -> next multiple of 16
    assert with_margin(1600, 0.0) == 1600
    with pytest.raises(DigitedgeError, match="margin"):
        with_margin(1600, 1.5)


def test_run_tflm_rejects_uint8_pixels():
    with pytest.raises(DigitedgeError, match=r"\[0, 1\]"):
        run_tflm(tiny_tflite("int8_ptq"), np.full((1, 28, 28, 1), 255, np.uint8))


@pytest.fixture(scope="module")
def trained_int8(mnist) -> bytes:
    """The tiny model after one epoch on 2,000 real MNIST training images, full-integer int8."""
    import tf_keras as keras

    images, labels = normalize(mnist.x_train[:2000]), mnist.y_train[:2000]
    model = tiny_keras_model(seed=1)
    model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy")
    model.fit(images, labels, epochs=1, batch_size=64, verbose=0)
    return convert_variant("int8_ptq", model, images[:200])


@pytest.mark.mnist
def test_tflm_agrees_with_litert_on_real_mnist(mnist, trained_int8):
    images, labels = normalize(mnist.x_test[:300]), mnist.y_test[:300]
    result = compare_tflm_litert(trained_int8, images, labels)
    tflm_predictions = run_tflm(trained_int8, images).argmax(axis=1)
    assert result.images == 300
    assert result.tflm_accuracy == pytest.approx(np.mean(tflm_predictions == labels))
    assert result.tflm_accuracy > 0.5  # one epoch is far above the 10% of chance
    for agreement in (result.reference, result.xnnpack):
        assert len(agreement.differing_images) == round((1 - agreement.same_prediction) * 300)
        assert agreement.same_prediction >= 0.98
    # TFLM reproduces LiteRT's reference CONV_2D/pooling; only FULLY_CONNECTED may differ by one step.
    assert result.reference.identical_outputs >= 0.95 and result.reference.max_abs_difference <= 1
    assert result.to_dict()["reference"]["differing_images"] == result.reference.differing_images
