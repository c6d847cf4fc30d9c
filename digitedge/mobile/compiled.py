"""LiteRT's CompiledModel API (CPU), the runtime newer Android/iOS apps call, against the Interpreter.

CompiledModel compiles the model for an accelerator once and runs it on TensorBuffers; for a
mobile file to be usable there it must load, run its `serving_default` signature, and answer
exactly as the Interpreter does.
"""

from __future__ import annotations

import contextlib
import os

import numpy as np

from digitedge.errors import DigitedgeError

CHUNK = 1000


@contextlib.contextmanager
def _quiet_native_log():
    """LiteRT's environment logs every accelerator it probes (NPU, GPU, plugins) to stderr at INFO."""
    saved = os.dup(2)
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def compiled_model_outputs(tflite_bytes: bytes, model_input: np.ndarray, label: str = "model") -> np.ndarray:
    """Raw outputs of the `serving_default` signature for `model_input` (already in the input's dtype)."""
    from ai_edge_litert.compiled_model import CompiledModel
    from ai_edge_litert.hardware_accelerator import HardwareAccelerator

    with _quiet_native_log():  # creating and closing the model's environment both log
        try:
            model = CompiledModel.from_buffer(bytes(tflite_bytes), hardware_accel=HardwareAccelerator.CPU)
        except (RuntimeError, ValueError) as exc:
            raise DigitedgeError(f"{label}: LiteRT's CompiledModel cannot load it: {str(exc).strip()[:200]}") from None
        try:
            return _run_signature(model, model_input)
        finally:
            model.close()
            model.environment.close()


def _run_signature(model, model_input: np.ndarray) -> np.ndarray:
    signature = model.get_signature_index("serving_default")
    dtype = np.uint8 if model_input.dtype == np.uint8 else np.float32
    outputs = []
    for start in range(0, len(model_input), CHUNK):
        batch = np.ascontiguousarray(model_input[start:start + CHUNK])
        model.resize_input_tensor(0, list(batch.shape), signature)
        inputs, results = model.create_input_buffers(signature), model.create_output_buffers(signature)
        inputs[0].write(batch)
        model.run_by_index(signature, inputs, results)
        outputs.append(results[0].read(len(batch) * 10, dtype).reshape(len(batch), -1))
        for buffer in (*inputs, *results):
            buffer.destroy()
    return np.concatenate(outputs)


def compare_compiled_model(tflite_bytes: bytes, model_input: np.ndarray, label: str = "model") -> dict:
    """CompiledModel (CPU) vs Interpreter on `model_input`: same top-1 and identical outputs, as fractions."""
    from digitedge.runtime import litert_batches

    compiled = compiled_model_outputs(tflite_bytes, model_input, label)
    interpreted = litert_batches(tflite_bytes, model_input, label, batch=CHUNK)
    return {"images": int(len(model_input)),
            "same_prediction": float(np.mean(compiled.argmax(1) == interpreted.argmax(1))),
            "identical_outputs": float(np.mean(np.all(compiled == interpreted, axis=1))),
            "max_abs_difference": float(np.max(np.abs(compiled.astype(np.float64) - interpreted)))}
