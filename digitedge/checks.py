"""Check each .tflite variant from the file itself, and record what the manifest needs.

A variant that is not what its name promises (a float weight in an int8 model, float I/O
on a full-integer model, a pruned model that lost its zeros) raises DigitedgeError: it
must not be deployed or reported as if it were fine.
"""

from __future__ import annotations

import gzip
from dataclasses import asdict, dataclass

import numpy as np

from digitedge.convert import FULL_INTEGER, LOW_BIT, PRUNED, VARIANTS
from digitedge.errors import DigitedgeError
from digitedge.tflite_model import TfliteModel, read_tflite

WEIGHTED_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")
FLOAT_DTYPES = ("float32", "float16")
SPARSITY_TOLERANCE = 0.01  # tfmot rounds each layer's kept count; int8 rounding only adds zeros
INPUT_SHAPE = (1, 28, 28, 1)
OUTPUT_SHAPE = (1, 10)


@dataclass(frozen=True)
class WeightInfo:
    """The constant weights of one CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED operator."""
    operator: str
    dtype: str  # of the stored constant (float16 for float16 models, behind their DEQUANTIZE)
    shape: tuple[int, ...]
    per_channel: bool  # one scale per output channel
    zeros: int
    count: int
    bits: int  # bits a weight needs: the dtype's, or 2 for an int4 filter whose values all lie in [-2, 1]


@dataclass(frozen=True)
class VariantCheck:
    name: str
    size_bytes: int
    gzip_bytes: int
    operators: tuple[str, ...]
    full_integer: bool
    input_dtype: str
    output_dtype: str
    input_scale: float | None  # None for float I/O
    input_zero_point: int | None
    output_scale: float | None
    output_zero_point: int | None
    weights: tuple[WeightInfo, ...]

    @property
    def weight_sparsity(self) -> float:
        """Fraction of zeros over all conv/dense weights stored in the file."""
        return sum(w.zeros for w in self.weights) / sum(w.count for w in self.weights)

    def to_dict(self) -> dict:
        """Manifest-ready: plain types, weights summarized."""
        values = asdict(self)
        values["operators"] = list(self.operators)
        values["weight_sparsity"] = round(self.weight_sparsity, 6)
        values["weight_dtypes"] = sorted({w.dtype for w in self.weights})
        values["weight_bits"] = [w.bits for w in self.weights]
        values["per_channel"] = all(w.per_channel for w in self.weights)
        values["weights"] = [{**asdict(w), "shape": list(w.shape)} for w in self.weights]
        return values


def check_variant(name: str, tflite_bytes: bytes, target_sparsity: float | None = None) -> VariantCheck:
    """Read `tflite_bytes` as variant `name` and verify it is what the name promises.

    `target_sparsity`, when given, is the fraction of zeros pruned variants must keep.
    """
    if name not in VARIANTS:
        raise DigitedgeError(f"unknown variant '{name}'; expected one of {', '.join(VARIANTS)}")
    model = read_tflite(tflite_bytes, name)
    weights = tuple(_weights(model, op_index) for op_index, op in enumerate(model.operators)
                    if op.name in WEIGHTED_OPS)
    if not weights:
        raise DigitedgeError(f"{name}: no CONV_2D, DEPTHWISE_CONV_2D or FULLY_CONNECTED operator with constant weights")
    if model.input.shape != INPUT_SHAPE or model.output.shape != OUTPUT_SHAPE:
        raise DigitedgeError(f"{name}: input {model.input.shape} / output {model.output.shape}, "
                             f"expected {INPUT_SHAPE} / {OUTPUT_SHAPE}")
    if name in FULL_INTEGER:
        _require_full_integer(name, model, weights)
    else:
        _require_float_io(name, model)
        expected = {"float16": ("float16",), "dynamic_range": ("int8",)}.get(name, ("float32",))
        if name == "dynamic_range":  # the converter leaves layers under 1024 weights in float
            if not any(w.dtype == "int8" for w in weights):
                raise DigitedgeError(f"{name}: no operator has int8 weights")
        else:
            for w in weights:
                if w.dtype not in expected:
                    raise DigitedgeError(f"{name}: operator {w.operator} has {w.dtype} weights, expected {expected[0]}")
    check = VariantCheck(
        name=name, size_bytes=len(tflite_bytes), gzip_bytes=len(gzip.compress(tflite_bytes, 9, mtime=0)),
        operators=tuple(model.op_names), full_integer=name in FULL_INTEGER,
        input_dtype=model.input.dtype, output_dtype=model.output.dtype,
        input_scale=_first(model.input.scales), input_zero_point=_first(model.input.zero_points),
        output_scale=_first(model.output.scales), output_zero_point=_first(model.output.zero_points),
        weights=weights)
    if name in PRUNED and target_sparsity is not None \
            and check.weight_sparsity < target_sparsity - SPARSITY_TOLERANCE:
        raise DigitedgeError(f"{name}: weight sparsity {check.weight_sparsity:.1%} in the file is below "
                             f"the {target_sparsity:.0%} target")
    return check


def _first(values: tuple) -> float | int | None:
    return values[0] if values else None


def _weights(model: TfliteModel, op_index: int) -> WeightInfo:
    op = model.operators[op_index]
    tensor_index = op.inputs[1]
    producer = next((p for p in model.operators if tensor_index in p.outputs), None)
    if producer is not None and producer.name == "DEQUANTIZE":  # float16 (or sparse) weights stored behind it
        tensor_index = producer.inputs[0]
    tensor = model.tensors[tensor_index]
    if tensor.buffer is None:
        raise DigitedgeError(f"{op.name} (operator {op_index}) has no constant weights in the file")
    out_axis = 3 if op.name == "DEPTHWISE_CONV_2D" else 0
    per_channel = len(tensor.scales) > 1 and len(tensor.scales) == tensor.shape[out_axis]
    bits = {"float32": 32, "float16": 16, "int8": 8, "int4": 4}.get(tensor.dtype, 0)
    if tensor.dtype == "int4" and tensor.buffer.min() >= -2 and tensor.buffer.max() <= 1:
        bits = 2
    return WeightInfo(op.name, tensor.dtype, tensor.shape, per_channel,
                      int(np.count_nonzero(tensor.buffer == 0)), int(tensor.buffer.size), bits)


def _require_float_io(name: str, model: TfliteModel) -> None:
    if model.input.dtype != "float32" or model.output.dtype != "float32":
        raise DigitedgeError(f"{name}: input/output are {model.input.dtype}/{model.output.dtype}, expected float32")


def _require_full_integer(name: str, model: TfliteModel, weights: tuple[WeightInfo, ...]) -> None:
    """int8 weights (int4 allowed in low-bit variants, which must have some), int8 input and output,
    and no float tensor or float (de)quantization anywhere."""
    allowed = ("int8", "int4") if name in LOW_BIT else ("int8",)
    for w in weights:
        if w.dtype not in allowed:
            raise DigitedgeError(f"{name}: operator {w.operator} has {w.dtype} weights")
    if name in LOW_BIT and not any(w.dtype == "int4" for w in weights):
        raise DigitedgeError(f"{name}: no operator has int4 weights (the converter kept every layer at 8 bits)")
    if model.input.dtype != "int8" or model.output.dtype != "int8":
        raise DigitedgeError(f"{name}: input/output are {model.input.dtype}/{model.output.dtype}, expected int8")
    for op in model.operators:
        if op.name == "DEQUANTIZE":
            raise DigitedgeError(f"{name}: has a DEQUANTIZE operator (float computation inside)")
        for index in op.inputs + op.outputs:
            if index >= 0 and model.tensors[index].dtype in FLOAT_DTYPES:
                raise DigitedgeError(f"{name}: operator {op.name} uses a {model.tensors[index].dtype} tensor")
