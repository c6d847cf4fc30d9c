"""LiteRT interpreters: the one place an `ai_edge_litert` Interpreter is built from .tflite bytes.

Callers choose the kernels by name: LiteRT's default (the XNNPACK delegate), its builtin kernels
without a delegate, or its reference kernels (what TFLite Micro's kernels are checked against).
"""

from __future__ import annotations

from digitedge.errors import DigitedgeError

XNNPACK = "xnnpack"  # OpResolverType.AUTO: LiteRT's default, XNNPACK delegate applied
BUILTIN = "builtin"  # OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES: optimized builtin kernels only
REFERENCE = "reference"  # OpResolverType.BUILTIN_REF: the reference kernels
KERNELS = (XNNPACK, BUILTIN, REFERENCE)


def litert_interpreter(tflite_bytes: bytes, label: str = "model", *, num_threads: int = 1, kernels: str = XNNPACK):
    """A LiteRT Interpreter (tensors not yet allocated); a model LiteRT rejects is a one-line error naming `label`."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    resolver = {XNNPACK: OpResolverType.AUTO, BUILTIN: OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
                REFERENCE: OpResolverType.BUILTIN_REF}[kernels]
    try:
        return Interpreter(model_content=bytes(tflite_bytes), num_threads=num_threads,
                           experimental_op_resolver_type=resolver)
    except (ValueError, RuntimeError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DigitedgeError(f"{label}: LiteRT cannot load the model: {reason}") from None


def litert_batches(tflite_bytes: bytes, model_inputs, label: str = "model", *, kernels: str = XNNPACK,
                   batch: int = 1000):
    """LiteRT's raw outputs for inputs already in the model's dtype, `batch` images per invoke (the input
    resized to the batch): one call for many images, memory bounded by `batch`."""
    import numpy as np

    interpreter = litert_interpreter(tflite_bytes, label, kernels=kernels)
    input_index = interpreter.get_input_details()[0]["index"]
    output_index = interpreter.get_output_details()[0]["index"]
    chunks = []
    for start in range(0, len(model_inputs), batch):
        chunk = np.ascontiguousarray(model_inputs[start:start + batch])
        interpreter.resize_tensor_input(input_index, list(chunk.shape))
        interpreter.allocate_tensors()
        interpreter.set_tensor(input_index, chunk)
        interpreter.invoke()
        chunks.append(interpreter.get_tensor(output_index).copy())
    return np.concatenate(chunks)
