"""TFLite Micro as the oracle: its int8 outputs are what the generated C must reproduce bit for bit."""

from __future__ import annotations

import numpy as np

from digitedge.errors import DigitedgeError
from digitedge.runtime import invoke_each, scale_images, to_model_input
from digitedge.tflite_model import TensorInfo, read_tflite


def quantize_images(images_uint8: np.ndarray, tensor: TensorInfo) -> np.ndarray:
    """uint8 pixels (N, 28, 28) as the model's int8 input: pixels / 255 quantized with its scale and zero point."""
    pixels = np.asarray(images_uint8)
    if pixels.dtype != np.uint8:
        raise DigitedgeError(f"images must be uint8 pixels, got {pixels.dtype}")
    return to_model_input(scale_images(pixels), tensor).reshape(len(pixels), *tensor.shape[1:])


def tflm_outputs(tflite_bytes: bytes, model_inputs: np.ndarray) -> np.ndarray:
    """TFLite Micro's raw int8 outputs (N, output size), one invoke per input, on the default arena."""
    model = read_tflite(tflite_bytes)
    batch = np.asarray(model_inputs, dtype=np.int8).reshape(len(model_inputs), *model.input.shape[1:])
    return invoke_each(model, batch).reshape(len(batch), -1)
