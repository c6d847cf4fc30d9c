"""TFLite Micro as the oracle: its int8 outputs are what the generated C must reproduce bit for bit."""

from __future__ import annotations

import numpy as np

from digitedge.errors import DigitedgeError
from digitedge.tflite_model import TensorInfo, read_tflite


def quantize_images(images_uint8: np.ndarray, tensor: TensorInfo) -> np.ndarray:
    """uint8 pixels (N, 28, 28) as the model's int8 input: pixels / 255 quantized with its scale and zero point."""
    pixels = np.asarray(images_uint8)
    if pixels.dtype != np.uint8:
        raise DigitedgeError(f"images must be uint8 pixels, got {pixels.dtype}")
    unit = pixels.astype(np.float32) / np.float32(255)
    quantized = np.round(unit / tensor.scales[0]) + tensor.zero_points[0]
    return np.clip(quantized, -128, 127).astype(np.int8).reshape(len(pixels), *tensor.shape[1:])


def tflm_outputs(tflite_bytes: bytes, model_inputs: np.ndarray) -> np.ndarray:
    """TFLite Micro's raw int8 outputs (N, output size), one invoke per input (its batch is 1)."""
    from tflite_micro.python.tflite_micro import runtime

    model = read_tflite(tflite_bytes)
    # TFLM's default arena (10x the model) is too small for tiny models; the arena does not change outputs
    interpreter = runtime.Interpreter.from_bytes(bytes(tflite_bytes), arena_size=max(10 * len(tflite_bytes), 1 << 20))
    batch = np.asarray(model_inputs, dtype=np.int8).reshape(len(model_inputs), *model.input.shape[1:])
    outputs = np.empty((len(batch), int(np.prod(model.output.shape))), dtype=np.int8)
    for index in range(len(batch)):
        interpreter.set_input(batch[index:index + 1], 0)
        interpreter.invoke()
        outputs[index] = interpreter.get_output(0).reshape(-1)
    return outputs
