"""The runtime layer: every interpreter a .tflite runs on is built here, and every image is
quantized to a model's input here.

- litert: LiteRT interpreters (XNNPACK, builtin or reference kernels), one-line errors.
- tflm: TFLite Micro interpreters with one arena policy, invokes, and why TFLM refuses a model.
- quantization: uint8 pixels -> [0, 1] floats -> a model's input dtype; outputs back to floats.
"""

from digitedge.runtime.litert import BUILTIN, KERNELS, REFERENCE, XNNPACK, litert_batches, litert_interpreter
from digitedge.runtime.quantization import dequantize_output, quantize_input, scale_images, to_model_input
from digitedge.runtime.tflm import (TflmError, TflmFailure, TflmSupport, default_arena_bytes, invoke_each, invoke_tflm,
                                    run_tflm, tflm_interpreter, tflm_support)

__all__ = [
    "BUILTIN", "KERNELS", "REFERENCE", "TflmError", "TflmFailure", "TflmSupport", "XNNPACK", "default_arena_bytes",
    "dequantize_output", "invoke_each", "invoke_tflm", "litert_batches", "litert_interpreter", "quantize_input", "run_tflm",
    "scale_images", "tflm_interpreter", "tflm_support", "to_model_input",
]
