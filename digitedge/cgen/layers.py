"""The int8 model as a list of layers the C generator can emit, with TFLM's derived parameters.
Conv and dense filters may be INT4 (activations stay int8): their values are read unpacked, with
the bits the generated C packs them in.

Reading the flatbuffer here (not while emitting C) means an unsupported operator or a model that
is not full-integer int8 is refused with one DigitedgeError before anything is generated or written.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from digitedge.cgen import quantization as q
from digitedge.errors import DigitedgeError
from digitedge.tflite_model import TensorInfo, read_tflite

SUPPORTED_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "MAX_POOL_2D", "AVERAGE_POOL_2D", "FULLY_CONNECTED",
                 "RESHAPE", "SOFTMAX")


@dataclass(frozen=True)
class Requant:
    """What TFLM applies to an int32 accumulator: multiplier/shift per output channel, zero point, clamp."""

    multipliers: tuple[int, ...]
    shifts: tuple[int, ...]
    output_offset: int
    act_min: int
    act_max: int


@dataclass(frozen=True)
class Conv:
    """CONV_2D (filter OHWI, `groups` = input depth / filter depth) or DEPTHWISE_CONV_2D (filter 1HWO)."""

    op: str
    input: int
    output: int
    in_shape: tuple[int, int, int]  # H, W, C
    out_shape: tuple[int, int, int]
    filter: np.ndarray
    bias: np.ndarray | None
    stride: tuple[int, int]
    dilation: tuple[int, int]
    padding: tuple[int, int]  # leading rows, columns
    padding_name: str
    activation: str
    depth_multiplier: int
    input_offset: int
    requant: Requant
    weight_bits: int = 8  # 8, or packed: 4 (an INT4 filter), 2 (an INT4 filter whose values fit 2 bits)


@dataclass(frozen=True)
class Pool:
    op: str  # MAX_POOL_2D or AVERAGE_POOL_2D
    input: int
    output: int
    in_shape: tuple[int, int, int]
    out_shape: tuple[int, int, int]
    window: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    padding_name: str
    activation: str
    act_min: int
    act_max: int


@dataclass(frozen=True)
class FullyConnected:
    op: str
    input: int
    output: int
    depth: int  # accumulation depth
    units: int
    filter: np.ndarray  # (units, depth)
    bias: np.ndarray | None
    activation: str
    input_offset: int
    filter_offset: int  # applied only by TFLM's per-tensor kernel
    per_channel: bool
    requant: Requant
    weight_bits: int = 8  # as Conv.weight_bits


@dataclass(frozen=True)
class Reshape:
    op: str
    input: int
    output: int
    size: int


@dataclass(frozen=True)
class Softmax:
    op: str
    input: int
    output: int
    rows: int
    depth: int
    input_multiplier: int
    input_left_shift: int
    diff_min: int


@dataclass(frozen=True)
class ConvPool:
    """A CONV_2D whose output only feeds a MAX_POOL_2D: computed together, the full-resolution
    convolution output is never stored (each conv pixel is max-combined into its pooled pixel)."""

    conv: Conv
    pool: Pool

    @property
    def op(self) -> str:
        return f"{self.conv.op}+{self.pool.op}"

    @property
    def input(self) -> int:
        return self.conv.input

    @property
    def output(self) -> int:
        return self.pool.output


Layer = Conv | Pool | FullyConnected | Reshape | Softmax | ConvPool


@dataclass(frozen=True)
class Graph:
    layers: tuple[Layer, ...]
    tensors: tuple[TensorInfo, ...]
    input: int
    output: int

    def size(self, tensor: int) -> int:
        return int(np.prod(self.tensors[tensor].shape))


def fuse_pools(graph: Graph) -> Graph:
    """Each CONV_2D (ungrouped) followed by a MAX_POOL_2D with non-overlapping windows that is the
    only reader of its output becomes one ConvPool layer."""
    readers: dict[int, int] = {}
    for layer in graph.layers:
        readers[layer.input] = readers.get(layer.input, 0) + 1
    fused: list[Layer] = []
    for layer in graph.layers:
        previous = fused[-1] if fused else None
        if isinstance(layer, Pool) and layer.op == "MAX_POOL_2D" and isinstance(previous, Conv) \
                and previous.op == "CONV_2D" and previous.filter.shape[3] == previous.in_shape[2] \
                and previous.output == layer.input and readers[layer.input] == 1 \
                and previous.output != graph.output \
                and all(s >= w for s, w in zip(layer.stride, layer.window)):
            fused[-1] = ConvPool(previous, layer)
        else:
            fused.append(layer)
    return Graph(tuple(fused), graph.tensors, graph.input, graph.output)


def parse_model(tflite_bytes: bytes, label: str = "model") -> Graph:
    """The model's layers with every TFLM-derived constant; DigitedgeError for what cannot be generated."""
    from tensorflow.lite.tools import flatbuffer_utils

    model = read_tflite(tflite_bytes, label)
    unsupported = [name for name in model.op_names if name not in SUPPORTED_OPS]
    if unsupported:
        raise DigitedgeError(f"{label}: the C generator does not implement {', '.join(unsupported)} "
                             f"(it implements {', '.join(SUPPORTED_OPS)})")
    flatbuffer = flatbuffer_utils.convert_bytearray_to_object(bytearray(tflite_bytes))
    if len(flatbuffer.subgraphs) != 1 or len(model.inputs) != 1 or len(model.outputs) != 1:
        raise DigitedgeError(f"{label}: the C generator needs one subgraph with one input and one output")
    for role, tensor in (("input", model.input), ("output", model.output)):
        if tensor.dtype != "int8":
            raise DigitedgeError(f"{label} is not a full-integer int8 model: its {role} is {tensor.dtype} "
                                 "(export the int8 variant)")
    tensors = model.tensors
    layers = []
    for index, (op, raw) in enumerate(zip(model.operators, flatbuffer.subgraphs[0].operators)):
        where = f"{label}: operator {index} ({op.name})"
        for tensor_index in (*op.inputs[:1], *op.outputs):
            if tensors[tensor_index].dtype != "int8":
                raise DigitedgeError(f"{where} has a {tensors[tensor_index].dtype} tensor; "
                                     "the C generator needs a full-integer int8 model")
        builder = _BUILDERS[op.name]
        layers.append(builder(op, raw.builtinOptions, tensors, where))
    return Graph(tuple(layers), tensors, model.inputs[0], model.outputs[0])


def _zero_point(tensor: TensorInfo) -> int:
    return tensor.zero_points[0] if tensor.zero_points else 0


def _scale(tensor: TensorInfo, where: str) -> float:
    if not tensor.scales:
        raise DigitedgeError(f"{where}: tensor {tensor.name!r} has no quantization scale")
    return tensor.scales[0]


def _hwc(tensor: TensorInfo, where: str) -> tuple[int, int, int]:
    if len(tensor.shape) != 4 or tensor.shape[0] != 1:
        raise DigitedgeError(f"{where}: expected a (1, H, W, C) tensor, got shape {tensor.shape}")
    return tuple(int(d) for d in tensor.shape[1:])


def _constant(tensor: TensorInfo, dtype: str, where: str, what: str) -> np.ndarray:
    if tensor.buffer is None or tensor.dtype != dtype:
        raise DigitedgeError(f"{where}: the {what} must be a constant {dtype} tensor, got {tensor.dtype}")
    return np.asarray(tensor.buffer).reshape(tensor.shape)


def _filter(tensor: TensorInfo, where: str) -> tuple[np.ndarray, int]:
    """The filter's int8 values and the bits the generated C stores each in: 8 for an int8 filter; for
    an INT4 filter 4, or 2 when every value lies in the two's-complement 2-bit range [-2, 1] (TFLite
    has no 2-bit type: a 2-bit layer is an INT4 tensor whose values fit 2 bits, decided by range)."""
    if tensor.dtype == "int4":
        values = _constant(tensor, "int4", where, "filter")
        two_bit = values.size and values.min() >= TWO_BIT_RANGE[0] and values.max() <= TWO_BIT_RANGE[1]
        return values.astype(np.int8), 2 if two_bit else 4
    return _constant(tensor, "int8", where, "filter"), 8


TWO_BIT_RANGE = (-2, 1)


def _bias(op, tensors, where: str, channels: int) -> np.ndarray | None:
    if len(op.inputs) < 3 or op.inputs[2] < 0:
        return None
    bias = _constant(tensors[op.inputs[2]], "int32", where, "bias").reshape(-1)
    if bias.size != channels:
        raise DigitedgeError(f"{where}: bias has {bias.size} values for {channels} output channels")
    return bias


def _activation(options, where: str) -> int:
    activation = int(options.fusedActivationFunction)
    if activation not in q.ACTIVATIONS:
        raise DigitedgeError(f"{where}: fused activation {activation} is not supported")
    return activation


def _spatial(options, in_hw, filter_hw, out_hw, dilation, where: str):
    """Strides, TFLM's leading padding, after checking the output size TFLM derives matches the tensor."""
    stride = (int(options.strideH), int(options.strideW))
    padding_type = int(options.padding)
    pads = []
    for axis in range(2):
        expected = q.out_size(padding_type, in_hw[axis], filter_hw[axis], stride[axis], dilation[axis])
        if expected != out_hw[axis]:
            raise DigitedgeError(f"{where}: output size {out_hw} does not follow from the input, filter and strides")
        pads.append(q.padding_before(stride[axis], dilation[axis], in_hw[axis], filter_hw[axis], out_hw[axis]))
    return stride, tuple(pads), "SAME" if padding_type == q.SAME else "VALID"


def _conv(op, options, tensors, where: str) -> Conv:
    source, weights, result = tensors[op.inputs[0]], tensors[op.inputs[1]], tensors[op.outputs[0]]
    in_shape, out_shape = _hwc(source, where), _hwc(result, where)
    filter_values, bits = _filter(weights, where)
    depthwise = op.name == "DEPTHWISE_CONV_2D"
    out_channels = out_shape[2]
    if depthwise:
        depth_multiplier = int(options.depthMultiplier) or out_channels // in_shape[2]
        valid = filter_values.shape[0] == 1 and filter_values.shape[3] == out_channels \
            and in_shape[2] * depth_multiplier == out_channels
    else:
        depth_multiplier = 1
        valid = filter_values.shape[0] == out_channels and in_shape[2] % filter_values.shape[3] == 0 \
            and out_channels % (in_shape[2] // filter_values.shape[3]) == 0
    if not valid:
        raise DigitedgeError(f"{where}: filter shape {filter_values.shape} does not fit input {in_shape} "
                             f"and output {out_shape}")
    dilation = (int(options.dilationHFactor), int(options.dilationWFactor))
    stride, padding, padding_name = _spatial(options, in_shape[:2], filter_values.shape[1:3], out_shape[:2],
                                             dilation, where)
    activation = _activation(options, where)
    multipliers, shifts = q.conv_multipliers(_scale(source, where), weights.scales, _scale(result, where),
                                             out_channels)
    act_min, act_max = q.activation_range(activation, _scale(result, where), _zero_point(result))
    return Conv(op.name, op.inputs[0], op.outputs[0], in_shape, out_shape, filter_values,
                _bias(op, tensors, where, out_channels), stride, dilation, padding, padding_name,
                q.ACTIVATIONS[activation], depth_multiplier, -_zero_point(source),
                Requant(tuple(multipliers), tuple(shifts), _zero_point(result), act_min, act_max), bits)


def _pool(op, options, tensors, where: str) -> Pool:
    source, result = tensors[op.inputs[0]], tensors[op.outputs[0]]
    in_shape, out_shape = _hwc(source, where), _hwc(result, where)
    if in_shape[2] != out_shape[2]:
        raise DigitedgeError(f"{where}: input depth {in_shape[2]} differs from output depth {out_shape[2]}")
    window = (int(options.filterHeight), int(options.filterWidth))
    stride, padding, padding_name = _spatial(options, in_shape[:2], window, out_shape[:2], (1, 1), where)
    activation = _activation(options, where)
    act_min, act_max = q.activation_range(activation, _scale(result, where), _zero_point(result))
    return Pool(op.name, op.inputs[0], op.outputs[0], in_shape, out_shape, window, stride, padding,
                padding_name, q.ACTIVATIONS[activation], act_min, act_max)


def _fully_connected(op, options, tensors, where: str) -> FullyConnected:
    source, weights, result = tensors[op.inputs[0]], tensors[op.inputs[1]], tensors[op.outputs[0]]
    filter_values, bits = _filter(weights, where)
    if filter_values.ndim != 2:
        raise DigitedgeError(f"{where}: expected a 2-D filter, got shape {filter_values.shape}")
    units, depth = (int(d) for d in filter_values.shape)
    if int(np.prod(source.shape)) != depth or int(np.prod(result.shape)) != units:
        raise DigitedgeError(f"{where}: only batch 1 is supported (input {source.shape}, filter "
                             f"{filter_values.shape}, output {result.shape})")
    if int(getattr(options, "weightsFormat", 0) or 0) != 0:
        raise DigitedgeError(f"{where}: shuffled weights are not supported")
    activation = _activation(options, where)
    per_channel = len(weights.scales) > 1
    if per_channel:
        multipliers, shifts = q.conv_multipliers(_scale(source, where), weights.scales, _scale(result, where), units)
    else:
        multiplier, shift = q.fully_connected_multiplier(_scale(source, where), _scale(weights, where),
                                                         _scale(result, where))
        multipliers, shifts = [multiplier] * units, [shift] * units
    act_min, act_max = q.activation_range(activation, _scale(result, where), _zero_point(result))
    return FullyConnected(op.name, op.inputs[0], op.outputs[0], depth, units, filter_values,
                          _bias(op, tensors, where, units), q.ACTIVATIONS[activation], -_zero_point(source),
                          0 if per_channel else -_zero_point(weights), per_channel,
                          Requant(tuple(multipliers), tuple(shifts), _zero_point(result), act_min, act_max), bits)


def _reshape(op, options, tensors, where: str) -> Reshape:
    size = int(np.prod(tensors[op.inputs[0]].shape))
    if size != int(np.prod(tensors[op.outputs[0]].shape)):
        raise DigitedgeError(f"{where}: input and output sizes differ")
    return Reshape(op.name, op.inputs[0], op.outputs[0], size)


def _softmax(op, options, tensors, where: str) -> Softmax:
    source, result = tensors[op.inputs[0]], tensors[op.outputs[0]]
    if _zero_point(result) != -128 or np.float32(_scale(result, where)) != np.float32(1.0 / 256):
        raise DigitedgeError(f"{where}: TFLite Micro's int8 softmax needs output scale 1/256 and zero point -128")
    depth = int(source.shape[-1])
    try:
        multiplier, left_shift, diff_min = q.softmax_parameters(float(options.beta), _scale(source, where))
    except ValueError as exc:
        raise DigitedgeError(f"{where}: {exc}") from None
    return Softmax(op.name, op.inputs[0], op.outputs[0], int(np.prod(source.shape)) // depth, depth,
                   multiplier, left_shift, diff_min)


_BUILDERS = {"CONV_2D": _conv, "DEPTHWISE_CONV_2D": _conv, "MAX_POOL_2D": _pool, "AVERAGE_POOL_2D": _pool,
             "FULLY_CONNECTED": _fully_connected, "RESHAPE": _reshape, "SOFTMAX": _softmax}
