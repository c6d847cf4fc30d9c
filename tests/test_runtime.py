"""The runtime layer: LiteRT and TFLite Micro interpreters built in one place, images quantized in one place."""

from __future__ import annotations

import numpy as np
import pytest

from digitedge.errors import DigitedgeError
from digitedge.runtime import (KERNELS, default_arena_bytes, invoke_each, litert_batches, litert_interpreter,
                               quantize_input, run_tflm, scale_images, tflm_interpreter, to_model_input)
from digitedge.tflite_model import read_tflite
from micro_fixtures import tiny_tflite


def test_a_file_litert_rejects_is_a_one_line_error_naming_it():
    with pytest.raises(DigitedgeError, match=r"^broken\.tflite: LiteRT cannot load the model: ") as caught:
        litert_interpreter(b"not a flatbuffer" * 8, "broken.tflite")
    assert "\n" not in str(caught.value)


def test_every_kernel_set_gives_the_int8_model_outputs_the_batched_runner_gives():
    tflite = tiny_tflite("int8_ptq")
    images = scale_images(np.random.default_rng(0).integers(0, 256, (7, 28, 28), dtype=np.uint8))
    inputs = to_model_input(images, read_tflite(tflite).input)
    for kernels in KERNELS:
        interpreter = litert_interpreter(tflite, kernels=kernels)
        interpreter.allocate_tensors()
        detail, output = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
        one_by_one = []
        for image in inputs:
            interpreter.set_tensor(detail["index"], image[None])
            interpreter.invoke()
            one_by_one.append(interpreter.get_tensor(output["index"])[0].copy())
        # batches of 3 (the last one short) resize the input: the outputs stay those of one image at a time
        np.testing.assert_array_equal(litert_batches(tflite, inputs, kernels=kernels, batch=3), np.stack(one_by_one))


def test_quantization_uses_the_tensor_scale_and_zero_point_and_saturates():
    detail = {"dtype": np.int8, "quantization": (1 / 255, -128), "shape": (1, 28, 28, 1)}
    x = np.array([0.0, 0.2, 1.0, 2.0], np.float32).reshape(1, 2, 2, 1)
    assert quantize_input(x, detail).ravel().tolist() == [-128, 51 - 128, 127, 127]
    rgb = {"dtype": np.uint8, "quantization": (1 / 255, 0), "shape": (1, 28, 28, 3)}
    assert quantize_input(x, rgb).shape == (1, 2, 2, 3)  # a gray image on every channel of an RGB input
    assert quantize_input(x, {"dtype": np.float32}).dtype == np.float32


def test_litert_and_tflm_inputs_are_the_same_bytes():
    tflite = tiny_tflite("int8_ptq")
    images = scale_images(np.random.default_rng(1).integers(0, 256, (5, 28, 28), dtype=np.uint8))
    interpreter = litert_interpreter(tflite)
    np.testing.assert_array_equal(to_model_input(images, read_tflite(tflite).input),
                                  quantize_input(images, interpreter.get_input_details()[0]))


def test_model_input_refuses_pixels_outside_zero_to_one_in_one_line():
    with pytest.raises(DigitedgeError, match=r"^images must be float pixels in \[0, 1\]"):
        to_model_input(np.full((1, 28, 28, 1), 255.0), read_tflite(tiny_tflite("int8_ptq")).input)


def test_one_arena_policy_ten_times_the_model_never_below_one_mebibyte():
    tflite = tiny_tflite("int8_ptq")
    assert default_arena_bytes(tflite) == max(10 * len(tflite), 1 << 20) == 1 << 20
    assert default_arena_bytes(b"\0" * 200_000) == 2_000_000


def test_tflm_runs_images_and_quantized_inputs_alike():
    tflite = tiny_tflite("int8_ptq")
    images = scale_images(np.random.default_rng(2).integers(0, 256, (4, 28, 28), dtype=np.uint8))
    model = read_tflite(tflite)
    from_images = run_tflm(tflite, images)
    np.testing.assert_array_equal(from_images, invoke_each(model, to_model_input(images, model.input)))
    interpreter = tflm_interpreter(tflite)  # the default arena
    interpreter.set_input(to_model_input(images[:1], model.input), 0)
    interpreter.invoke()
    np.testing.assert_array_equal(interpreter.get_output(0)[0], from_images[0])
