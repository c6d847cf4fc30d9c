"""Read a .tflite flatbuffer: validate it, list its operators, and describe its tensors.

Every stage that takes a .tflite goes through `read_tflite`, so a random-bytes, truncated
or non-TFLite file gets the same one-line error everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from digitedge.errors import DigitedgeError

_DTYPES = {0: "float32", 1: "float16", 2: "int32", 3: "uint8", 4: "int64", 9: "int8", 7: "int16", 17: "int4"}


@dataclass(frozen=True)
class TensorInfo:
    name: str
    dtype: str
    shape: tuple[int, ...]
    scales: tuple[float, ...]  # empty when not quantized; one per channel when per-channel
    zero_points: tuple[int, ...]
    quantized_dimension: int
    buffer: np.ndarray | None  # constant data (weights), None for activations; int4 unpacked to int8 values
    bits: int = 0  # bits per stored element of an integer tensor (4 for int4), 0 otherwise


@dataclass(frozen=True)
class OperatorInfo:
    name: str  # builtin name, e.g. "CONV_2D"
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]


@dataclass(frozen=True)
class TfliteModel:
    data: bytes
    operators: tuple[OperatorInfo, ...]
    tensors: tuple[TensorInfo, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]

    @property
    def op_names(self) -> list[str]:
        """Distinct builtin operators in first-use order."""
        return list(dict.fromkeys(op.name for op in self.operators))

    @property
    def input(self) -> TensorInfo:
        return self.tensors[self.inputs[0]]

    @property
    def output(self) -> TensorInfo:
        return self.tensors[self.outputs[0]]


def read_tflite_file(path: str | Path) -> TfliteModel:
    path = Path(path)
    if not path.is_file():
        raise DigitedgeError(f"model file {path} does not exist")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DigitedgeError(f"model file {path} cannot be read: {exc.strerror or exc}") from None
    kind = _other_format(data, path.suffix)
    if kind:
        raise DigitedgeError(f"model file {path} is {kind}, expected a .tflite; "
                             "convert it first (`digitedge export --all` writes every TFLite variant)")
    return read_tflite(data, str(path))


def _other_format(data: bytes, suffix: str) -> str | None:
    """What a non-TFLite model file is, from its first bytes or (for ONNX, which has no magic) its suffix."""
    if data[4:8] == b"TFL3":
        return None
    if data.startswith(b"\x89HDF\r\n\x1a\n"):
        return "a Keras/HDF5 (.h5) file"
    if data.startswith(b"PK\x03\x04"):
        return "a zip archive (a .keras model?)"
    if suffix.lower() == ".onnx":
        return "an ONNX model"
    if suffix.lower() in (".keras", ".h5", ".pb", ".pt", ".pth", ".npz", ".npy"):
        return f"a {suffix} file"
    return None


def read_tflite(data: bytes, label: str = "model") -> TfliteModel:
    """Parse `data`; a file that is not a complete TFLite flatbuffer is a DigitedgeError."""
    from tensorflow.lite.tools import flatbuffer_utils

    if len(data) < 8 or data[4:8] != b"TFL3":
        raise DigitedgeError(f"{label} is not a TFLite model (no 'TFL3' identifier)")
    try:
        model = flatbuffer_utils.convert_bytearray_to_object(bytearray(data))
        graph = model.subgraphs[0]
        operators = tuple(
            OperatorInfo(flatbuffer_utils.opcode_to_name(model, op.opcodeIndex),
                         tuple(int(i) for i in op.inputs), tuple(int(i) for i in op.outputs))
            for op in graph.operators
        )
        tensors = tuple(_tensor_info(model, tensor) for tensor in graph.tensors)
        inputs, outputs = tuple(int(i) for i in graph.inputs), tuple(int(i) for i in graph.outputs)
    except DigitedgeError:
        raise
    except Exception as exc:  # the flatbuffer library raises anything on corrupt input
        raise DigitedgeError(f"{label} is a corrupt or truncated TFLite model ({type(exc).__name__})") from None
    if not operators or not inputs or not outputs:
        raise DigitedgeError(f"{label} is a TFLite model with no operators or no inputs/outputs")
    return TfliteModel(bytes(data), operators, tensors, inputs, outputs)


def _tensor_info(model, tensor) -> TensorInfo:
    dtype = _DTYPES.get(tensor.type, f"type{tensor.type}")
    name = tensor.name.decode() if isinstance(tensor.name, bytes) else (tensor.name or "")
    shape = tuple(int(d) for d in (tensor.shape if tensor.shape is not None else ()))
    quant = tensor.quantization
    scales = tuple(float(s) for s in quant.scale) if quant is not None and quant.scale is not None else ()
    zeros = tuple(int(z) for z in quant.zeroPoint) if quant is not None and quant.zeroPoint is not None else ()
    axis = int(quant.quantizedDimension) if quant is not None else 0
    raw = model.buffers[tensor.buffer].data if tensor.buffer < len(model.buffers) else None
    buffer = None
    if raw is not None and len(raw) and dtype == "int4":
        buffer = unpack_int4(np.asarray(raw, dtype=np.uint8), int(np.prod(shape)) if shape else 2 * len(raw))
        if shape:
            buffer = buffer.reshape(shape)
    elif raw is not None and len(raw) and dtype in ("float32", "float16", "int32", "int8", "uint8", "int64", "int16"):
        buffer = np.frombuffer(np.asarray(raw, dtype=np.uint8).tobytes(), dtype=dtype)
        if shape and buffer.size == int(np.prod(shape)):
            buffer = buffer.reshape(shape)
    bits = 4 if dtype == "int4" else 8 * np.dtype(dtype).itemsize if dtype in _INTEGER else 0
    return TensorInfo(name, dtype, shape, scales, zeros, axis, buffer, bits)


_INTEGER = ("int8", "uint8", "int16", "int32", "int64")


def unpack_int4(packed: np.ndarray, count: int) -> np.ndarray:
    """TFLite's INT4 buffer (two's-complement nibbles, two per byte, low nibble first) as `count` int8 values."""
    packed = np.asarray(packed, dtype=np.uint8)
    if 2 * packed.size < count:
        raise DigitedgeError(f"an int4 tensor of {count} values has only {packed.size} bytes")
    low = (packed << 4).view(np.int8) >> 4
    high = packed.view(np.int8) >> 4
    return np.stack([low, high], axis=1).reshape(-1)[:count].astype(np.int8)


def pack_int4(values: np.ndarray) -> np.ndarray:
    """The inverse of unpack_int4: int8 values in [-8, 7] as TFLite's packed INT4 bytes (uint8)."""
    values = np.asarray(values, dtype=np.int8).reshape(-1)
    if values.size and (values.min() < -8 or values.max() > 7):
        raise DigitedgeError("int4 values must lie in [-8, 7]")
    nibbles = np.zeros(values.size + values.size % 2, dtype=np.uint8)
    nibbles[:values.size] = values.view(np.uint8) & 0x0F
    return (nibbles[0::2] | (nibbles[1::2] << 4)).astype(np.uint8)
