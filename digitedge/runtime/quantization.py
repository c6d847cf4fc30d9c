"""Images to a model's input and its output back to floats, with the tensors' own scale and zero point.

Every runtime (LiteRT, TFLite Micro, the generated C) is fed by these functions, so a digit is
quantized the same way wherever it runs, exactly as a device would.
"""

from __future__ import annotations

import numpy as np

from digitedge.errors import DigitedgeError
from digitedge.tflite_model import TensorInfo


def scale_images(images: np.ndarray) -> np.ndarray:
    """uint8 pixels (N, 28, 28) -> the models' float32 input (N, 28, 28, 1) in [0, 1]."""
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 3:
        raise ValueError(f"expected uint8 images of shape (N, 28, 28), got {images.dtype} {images.shape}")
    return (images.astype(np.float32) / 255.0)[..., None]


def quantize_input(x: np.ndarray, detail: dict) -> np.ndarray:
    """Float input -> the tensor's dtype, using its scale/zero point when it is an integer tensor.

    `detail` is a LiteRT input detail (dtype, quantization, shape). A grayscale batch given to an
    RGB-input model (the mobile variants) is repeated on every channel, as an app passes a gray image.
    """
    channels = int(detail["shape"][-1]) if "shape" in detail and len(detail["shape"]) == 4 else 1
    if x.ndim == 4 and x.shape[-1] == 1 and channels > 1:
        x = np.repeat(x, channels, axis=-1)
    dtype = np.dtype(detail["dtype"])
    if dtype.kind == "f":
        return x.astype(dtype)
    scale, zero_point = detail["quantization"]
    info = np.iinfo(dtype)
    return np.clip(np.round(x / scale) + zero_point, info.min, info.max).astype(dtype)


def to_model_input(images: np.ndarray, tensor: TensorInfo) -> np.ndarray:
    """Float images in [0, 1] as the input `tensor` of a parsed model (float32, or per-tensor int8)."""
    images = np.asarray(images, dtype=np.float32)
    if images.size and (images.min() < 0 or images.max() > 1):
        raise DigitedgeError("images must be float pixels in [0, 1] (uint8 pixels / 255)")
    if tensor.dtype == "float32":
        return images
    if tensor.dtype != "int8" or len(tensor.scales) != 1:
        raise DigitedgeError(f"model input {tensor.name!r} is {tensor.dtype}; expected float32 or per-tensor int8")
    return quantize_input(images, {"dtype": np.int8, "quantization": (tensor.scales[0], tensor.zero_points[0])})


def dequantize_output(q: np.ndarray, detail: dict) -> np.ndarray:
    """A LiteRT output tensor as float32 scores."""
    if np.dtype(detail["dtype"]).kind == "f":
        return q.astype(np.float32)
    scale, zero_point = detail["quantization"]
    return ((q.astype(np.float32) - zero_point) * scale).astype(np.float32)
