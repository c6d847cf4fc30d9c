"""Deciding, before any C is written: each layer of the parsed model lowered to a plain description
(its kernel, its constant arrays with their weight layouts, its parameters, its arena offsets).
digitedge.cgen.emit only formats this description.

Kernels are C headers in digitedge/cgen/kernels/, one per op and weight type, CMSIS-NN's naming:
`<op>[_<weight form>]_<weight type>.h` (conv_s8, conv_sparse_s8, conv_grouped_s8, depthwise_conv_s8,
pool_s8, fully_connected_s8, fully_connected_sparse_s8, softmax_s8). Kernel `k` defines
`K_LAYER(name, params)` (its name in capitals), which defines the layer's function
`void name(const int8_t *input, int8_t *output)` from a `static const <params type> params`; each
kernel's parameter struct is in KERNEL_PARAMS. A new weight type is a new kernel file (conv_s4.h
defining CONV_S4_LAYER) and a new entry there.

Weight layouts (a ConstArray's `layout`; digitedge.cgen.layouts builds them):
    dense           the filter's own int8 order (conv: (out_c, taps) in window order)
    dsp_reordered   conv rows padded to 4 taps, each group of four stored w0 w2 w1 w3 (CGEN_DSP)
    mve_patch       conv + 2x2-style fused pool on a <= 16-byte input patch, one 16-byte row per
                    (channel, conv pixel) (CGEN_MVE)
    sparse_bitmask  pruned: per row ceil(depth / 32) uint32 mask words (role `mask`) + the nonzero
                    values (role `filter`), chosen only when smaller than dense
    packed          4- or 2-bit weights (conv_s4/_s2, fully_connected_s4/_s2), 8 / bits per byte, each row
                    in order, low field first; dsp_packed (fully connected), dsp_packed_halves (conv)
                    and mve_packed are the DSP and MVE paths' block orders (see layouts.py)
    block_sparse_s4 pruned 4-bit: blocks of 4 taps x 2 output channels, per channel pair uint32 masks
                    (role `mask`, a bit per block) + one word per nonzero block (role `filter`), in
                    the DSP pair order for convolutions on CGEN_DSP, else input order; chosen only
                    when smaller than packed (conv_sparse_s4, fully_connected_sparse_s4)
A layout that only one path reads carries that path's feature macro (`path`: CGEN_MVE, CGEN_DSP);
arrays of one name are alternatives, the one without a path the fallback. A new layout (packed_s4,
packed_s2, block_sparse) is a new value here and an encoder in layouts.py, not a branch in emit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from digitedge.cgen import layouts
from digitedge.cgen.layers import Conv, ConvPool, FullyConnected, Graph, Pool, Reshape, Softmax, fuse_pools, parse_model
from digitedge.cgen.plan import ArenaPlan, plan_arena
from digitedge.cgen.sparse import sparse_if_smaller
from digitedge.errors import DigitedgeError
from digitedge.tflite_model import TensorInfo

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1

KERNEL_PARAMS = {
    "conv_s8": "conv_s8_params",
    "conv_sparse_s8": "conv_s8_params",
    "conv_grouped_s8": "conv_grouped_s8_params",
    "depthwise_conv_s8": "depthwise_conv_s8_params",
    "pool_s8": "pool_s8_params",
    "fully_connected_s8": "fully_connected_s8_params",
    "fully_connected_sparse_s8": "fully_connected_s8_params",
    "softmax_s8": "softmax_s8_params",
    "conv_s4": "conv_s8_params",
    "conv_s2": "conv_s8_params",
    "fully_connected_s4": "fully_connected_s8_params",
    "fully_connected_s2": "fully_connected_s8_params",
    "conv_sparse_s4": "conv_s8_params",
    "fully_connected_sparse_s4": "fully_connected_s8_params",
}


@dataclass(frozen=True)
class ConstArray:
    """One `static const` array of the generated model."""

    name: str
    ctype: str  # int8_t, int32_t or uint32_t
    values: np.ndarray
    role: str  # filter, mask, bias, multiplier, shift
    layout: str | None = None  # weight layout (filter and mask arrays)
    path: str | None = None  # the feature macro under which this alternative is compiled; None: fallback


@dataclass(frozen=True)
class ArenaRef:
    """An address in the model's static arena, seen as int8 `bytes`, int16 `halves` or int32 `words`."""

    offset: int  # bytes
    view: str = "bytes"


@dataclass(frozen=True)
class Symbol:
    """A constant array of the layer as a parameter value: its first element's address, or (`whole`)
    the address of the whole array, which kernels index as (*field)[i]."""

    name: str
    whole: bool = False


ParamValue = int | Symbol | ArenaRef | dict


@dataclass(frozen=True)
class LoweredLayer:
    index: int
    op: str
    function: str
    kernel: str | None  # None: RESHAPE (a copy, or nothing when the bytes already are the output)
    params: dict[str, ParamValue]  # the kernel's parameter struct, field -> value
    arrays: tuple[ConstArray, ...]
    source: str | ArenaRef  # "input" (the model input), "output" or an arena address
    target: str | ArenaRef
    in_place: bool  # writes over its own input (each output precedes the inputs it reads)
    copy_bytes: int = 0
    notes: tuple[str, ...] = ()  # one line each: shapes, strides, the fused pool

    @property
    def params_type(self) -> str:
        return KERNEL_PARAMS[self.kernel]


@dataclass(frozen=True)
class LoweredModel:
    layers: tuple[LoweredLayer, ...]
    ops: tuple[str, ...]
    input: TensorInfo
    output: TensorInfo
    input_size: int
    output_size: int
    arena_bytes: int
    window_bytes: int  # the largest on-stack window (grouped convolutions)

    @property
    def kernels(self) -> tuple[str, ...]:
        """Kernels in order of first use."""
        return tuple(dict.fromkeys(layer.kernel for layer in self.layers if layer.kernel))


def lower(tflite_bytes: bytes, label: str = "model") -> LoweredModel:
    """The model's layers as kernels, arrays and parameters; DigitedgeError for what cannot be generated."""
    graph, plan = planned_graph(tflite_bytes, label)
    layers = tuple(_lower_layer(graph, plan, index, layer) for index, layer in enumerate(graph.layers))
    return LoweredModel(layers, tuple(layer.op for layer in graph.layers), graph.tensors[graph.input],
                        graph.tensors[graph.output], graph.size(graph.input), graph.size(graph.output),
                        plan.arena_bytes, max(map(window_bytes, graph.layers), default=0))


def planned_graph(tflite_bytes: bytes, label: str = "model") -> tuple[Graph, ArenaPlan]:
    """The model with its pools fused into their convolutions, and its arena plan (windows included)."""
    graph = fuse_pools(parse_model(tflite_bytes, label))
    scratch = {index: scratch_bytes(layer) for index, layer in enumerate(graph.layers) if windowed(layer)}
    return graph, plan_arena(graph, scratch)


def windowed(layer) -> bool:
    """Convolutions run by conv_s8 / conv_sparse_s8 (their windows in the arena)."""
    conv = layer.conv if isinstance(layer, ConvPool) else layer
    return isinstance(conv, Conv) and conv.op == "CONV_2D" and conv.filter.shape[3] == conv.in_shape[2]


def window_bytes(layer) -> int:
    """Bytes of the on-stack window a grouped CONV_2D gathers for one output pixel (0 for other layers)."""
    if not isinstance(layer, Conv) or layer.op != "CONV_2D" or windowed(layer):
        return 0
    return int(np.prod(layer.filter.shape[1:]))


def scratch_bytes(layer: Conv | ConvPool) -> int:
    """Arena bytes a windowed conv works in: two windows (int16 on DSP), then (fused pool) one int32
    running max per channel."""
    conv, pool = _parts(layer)
    return _window_region(conv) + (4 * conv.out_shape[2] if pool is not None else 0)


def _parts(layer: Conv | ConvPool) -> tuple[Conv, Pool | None]:
    return (layer.conv, layer.pool) if isinstance(layer, ConvPool) else (layer, None)


def _taps(conv: Conv) -> int:
    return int(np.prod(conv.filter.shape[1:]))


def _window_region(conv: Conv) -> int:
    """The most any path uses: two int8 windows (sparse), or two int16 windows padded to 4 taps (DSP)."""
    taps = _taps(conv)
    if conv.weight_bits == 8 and sparse_if_smaller(layouts.conv_rows(conv)) is not None:
        return layouts.padded_taps(2 * taps)
    return layouts.padded_taps(max(taps, 2 * 2 * layouts.padded_taps(taps)))


def _checked_int32(values: np.ndarray, where: str) -> np.ndarray:
    if values.size and (values.min() < INT32_MIN or values.max() > INT32_MAX):
        raise DigitedgeError(f"{where}: folded bias does not fit in int32")
    return values


def _bias(layer, channels: int) -> np.ndarray:
    return layer.bias.astype(np.int64) if layer.bias is not None else np.zeros(channels, np.int64)


def _location(graph: Graph, plan: ArenaPlan, tensor: int) -> str | ArenaRef:
    if tensor == graph.input:
        return "input"
    if tensor == graph.output:
        return "output"
    return ArenaRef(plan.offsets[tensor])


def _requant(function: str, requant) -> tuple[tuple[ConstArray, ...], dict]:
    """The multiplier and shift arrays (one value each when every channel has the same: per-tensor weights)."""
    per_channel = len(set(zip(requant.multipliers, requant.shifts))) > 1
    count = len(requant.multipliers) if per_channel else 1
    arrays = (ConstArray(f"{function}_multiplier", "int32_t", np.asarray(requant.multipliers[:count]), "multiplier"),
              ConstArray(f"{function}_shift", "int8_t", np.asarray(requant.shifts[:count]), "shift"))
    return arrays, {"multiplier": Symbol(arrays[0].name, whole=True), "shift": Symbol(arrays[1].name, whole=True),
                    "per_channel": int(per_channel), "zero_point": requant.output_offset, "act_min": requant.act_min, "act_max": requant.act_max}


def _shape_note(layer) -> str:
    (in_h, in_w, in_c), (out_h, out_w, out_c) = layer.in_shape, layer.out_shape
    extra = f", filter {layer.filter.shape[1]}x{layer.filter.shape[2]}" if hasattr(layer, "filter") \
        else f", window {layer.window[0]}x{layer.window[1]}"
    return (f"{layer.op} {in_h}x{in_w}x{in_c} -> {out_h}x{out_w}x{out_c}{extra}, stride "
            f"{layer.stride[0]}x{layer.stride[1]}, padding {layer.padding_name}, {layer.activation}")


def _sparse_note(sparse, dense: np.ndarray) -> str:
    return (f"{sparse.values.size} of {dense.size} weights nonzero: bitmask + values, {sparse.nbytes} B instead "
            f"of {dense.size} B")


def _packed_note(bits: int) -> str:
    return f"{bits}-bit weights, {8 // bits} per byte, read packed"


def _packed_arrays(name: str, rows: np.ndarray, bits: int, dsp_layout: str) -> tuple[ConstArray, ...]:
    """A packed filter's per-path alternatives: MVE and DSP block orders, the plain order as fallback."""
    return (ConstArray(name, "int8_t", layouts.mve_packed(rows, bits), "filter", "mve_packed", "CGEN_MVE"),
            ConstArray(name, "int8_t", getattr(layouts, dsp_layout)(rows, bits), "filter", dsp_layout, "CGEN_DSP"),
            ConstArray(name, "int8_t", layouts.packed(rows, bits), "filter", "packed"))


def _block_sparse(rows: np.ndarray, bits: int) -> bool:
    """A 4-bit filter takes the block_sparse_s4 layout when that is smaller than the packed one."""
    return bits == 4 and layouts.block_sparse_bytes(rows) < rows.shape[0] * -(-rows.shape[1] // 2)


def _block_sparse_arrays(function: str, rows: np.ndarray, dsp_order) -> tuple[ConstArray, ...]:
    """Masks, then the stored blocks: in `dsp_order` under CGEN_DSP (when it differs), input order otherwise."""
    masks, blocks = layouts.block_sparse_s4(rows, layouts.INPUT_ORDER)
    arrays = [ConstArray(f"{function}_mask", "uint32_t", masks, "mask", "block_sparse_s4")]
    if dsp_order != layouts.INPUT_ORDER:
        arrays.append(ConstArray(f"{function}_filter", "int8_t", layouts.block_sparse_s4(rows, dsp_order)[1],
                                 "filter", "block_sparse_s4", "CGEN_DSP"))
    arrays.append(ConstArray(f"{function}_filter", "int8_t", blocks, "filter", "block_sparse_s4"))
    return tuple(arrays)


def _mask_words(arrays: tuple[ConstArray, ...]) -> int:
    return int(next(array for array in arrays if array.role == "mask").values.shape[1])


def _block_sparse_note(rows: np.ndarray, arrays: tuple[ConstArray, ...]) -> str:
    blocks = arrays[-1].values.size // 4
    total = -(-rows.shape[0] // layouts.BLOCK_ROWS) * -(-rows.shape[1] // layouts.BLOCK_TAPS)
    return (f"4-bit, {blocks} of {total} blocks of 4 taps x 2 channels nonzero: masks + blocks, "
            f"{layouts.block_sparse_bytes(rows)} B instead of {rows.shape[0] * -(-rows.shape[1] // 2)} B packed")


def _geometry(conv: Conv) -> dict[str, int]:
    (in_h, in_w, in_c), (out_h, out_w, out_c) = conv.in_shape, conv.out_shape
    return dict(in_h=in_h, in_w=in_w, in_c=in_c, out_h=out_h, out_w=out_w, out_c=out_c,
                kernel_h=int(conv.filter.shape[1]), kernel_w=int(conv.filter.shape[2]),
                stride_h=conv.stride[0], stride_w=conv.stride[1], dilation_h=conv.dilation[0],
                dilation_w=conv.dilation[1], pad_h=conv.padding[0], pad_w=conv.padding[1])


def _lower_layer(graph: Graph, plan: ArenaPlan, index: int, layer) -> LoweredLayer:
    function = f"layer{index}_{layer.op.lower().replace('+', '_')}"
    source, target = _location(graph, plan, layer.input), _location(graph, plan, layer.output)
    if isinstance(layer, Reshape):
        return LoweredLayer(index, layer.op, function, None, {}, (), source, target, False, layer.size)
    if windowed(layer):
        kernel, params, arrays, notes = _windowed_conv(layer, function, plan.scratch[index])
    else:
        kernel, params, arrays, notes = _LOWERINGS[type(layer)](layer, function)
    return LoweredLayer(index, layer.op, function, kernel, params, arrays, source, target,
                        index in plan.in_place, notes=notes)


def _windowed_conv(layer: Conv | ConvPool, function: str, scratch: int):
    conv, pool = _parts(layer)
    filter_rows = layouts.conv_rows(conv)
    folded = _checked_int32(_bias(conv, conv.out_shape[2])
                            + conv.input_offset * filter_rows.astype(np.int64).sum(1), function)
    bits = conv.weight_bits
    sparse = sparse_if_smaller(filter_rows) if bits == 8 else None
    block_sparse = _block_sparse(filter_rows, bits)
    patch = sparse is None and not block_sparse and layouts.patch_fits(conv, pool)
    notes = [_shape_note(conv)]
    if pool is not None:
        notes.append(f"  fused {pool.op} {pool.window[0]}x{pool.window[1]}, stride {pool.stride[0]}x"
                     f"{pool.stride[1]}, padding {pool.padding_name} -> {'x'.join(str(d) for d in pool.out_shape)}: "
                     "the conv output is never stored")
    name = f"{function}_filter"
    if sparse is not None:
        notes.append(_sparse_note(sparse, filter_rows))
        kernel = "conv_sparse_s8"
        weights = (ConstArray(f"{function}_mask", "uint32_t", sparse.masks, "mask", "sparse_bitmask"),
                   ConstArray(name, "int8_t", sparse.values, "filter", "sparse_bitmask"))
    elif block_sparse:
        kernel = "conv_sparse_s4"
        weights = _block_sparse_arrays(function, filter_rows, layouts.PAIRS_ORDER)
        notes.append(_block_sparse_note(filter_rows, weights))
    elif bits < 8:
        notes.append(_packed_note(bits))
        kernel = f"conv_s{bits}"
        weights = _packed_arrays(name, filter_rows, bits, "dsp_packed_halves")
        if patch:  # the MVE one-vector patch path, as for int8: the few weights of a one-channel conv expanded
            weights = (ConstArray(name, "int8_t", layouts.mve_patch(conv, pool), "filter", "mve_patch", "CGEN_MVE"),
                       *weights[1:])
    else:
        kernel = "conv_s8"
        weights = ((ConstArray(name, "int8_t", layouts.mve_patch(conv, pool), "filter", "mve_patch", "CGEN_MVE"),)
                   if patch else ())
        weights += (ConstArray(name, "int8_t", layouts.dsp_reordered(filter_rows), "filter", "dsp_reordered",
                               "CGEN_DSP"),
                    ConstArray(name, "int8_t", filter_rows, "filter", "dense"))
    requant_arrays, requant = _requant(function, conv.requant)
    inside = all((conv.out_shape[a] - 1) * conv.stride[a] + (conv.filter.shape[1 + a] - 1) * conv.dilation[a]
                 < conv.in_shape[a] for a in range(2))
    params = {**_geometry(conv), "whole_rows": int(conv.padding == (0, 0) and inside and conv.dilation[1] == 1),
              "mve_patch": int(patch), "even_pairs": int(_even_pairs(conv, pool)), "input_zero_point": -conv.input_offset, "filter": Symbol(name)}
    if sparse is not None:
        params.update(mask=Symbol(f"{function}_mask"), mask_words=int(sparse.masks.shape[1]))
    elif kernel == "conv_sparse_s4":
        params.update(mask=Symbol(f"{function}_mask"), mask_words=_mask_words(weights))
    params.update(bias=Symbol(f"{function}_bias", whole=True), requant=requant, window=ArenaRef(scratch))
    if pool is not None:
        pool_h, pool_w, _ = pool.out_shape
        params.update(best=ArenaRef(scratch + _window_region(conv), "words"), pool_h=pool_h, pool_w=pool_w,
                      pool_window_h=pool.window[0], pool_window_w=pool.window[1], pool_stride_h=pool.stride[0],
                      pool_stride_w=pool.stride[1], pool_pad_h=pool.padding[0], pool_pad_w=pool.padding[1],
                      pool_act_min=pool.act_min, pool_act_max=pool.act_max)
    arrays = (*weights, ConstArray(f"{function}_bias", "int32_t", folded, "bias"), *requant_arrays)
    return kernel, params, arrays, tuple(notes)


def _even_pairs(conv: Conv, pool: Pool | None) -> bool:
    """Whether every pool window (without a pool: the whole output) holds an even number of conv pixels,
    so the pair kernels never pair an odd pixel with itself."""
    out_h, out_w, _ = conv.out_shape
    if pool is None:
        return out_h * out_w % 2 == 0

    def spans(count: int, window: int, stride: int, pad: int, size: int) -> list[int]:
        return [min(i * stride - pad + window, size) - max(i * stride - pad, 0) for i in range(count)]

    rows = spans(pool.out_shape[0], pool.window[0], pool.stride[0], pool.padding[0], out_h)
    columns = spans(pool.out_shape[1], pool.window[1], pool.stride[1], pool.padding[1], out_w)
    return all(r * c % 2 == 0 for r in rows for c in columns)


def _conv(layer: Conv, function: str):
    """Grouped CONV_2D (input depth a multiple of the filter depth) and DEPTHWISE_CONV_2D."""
    out_c = layer.out_shape[2]
    requant_arrays, requant = _requant(function, layer.requant)
    filter_array = ConstArray(f"{function}_filter", "int8_t", layer.filter, "filter", "dense")
    notes = (_shape_note(layer),) + ((f"{layer.weight_bits}-bit weights stored as int8 (no packed kernel for "
                                       "this layer kind)",) if layer.weight_bits < 8 else ())
    params = {**_geometry(layer), "filter": Symbol(filter_array.name), "bias": Symbol(f"{function}_bias", whole=True)}
    if layer.op == "DEPTHWISE_CONV_2D":
        bias = _bias(layer, out_c)
        kernel = "depthwise_conv_s8"
        params.update(depth_multiplier=layer.depth_multiplier, input_offset=layer.input_offset)
    else:
        # padded taps are gathered as the input zero point, where (x + input_offset) is 0, so every window
        # is complete and input_offset * sum(filter) is a per-channel constant
        bias = _checked_int32(_bias(layer, out_c) + layer.input_offset
                              * layer.filter.reshape(out_c, -1).astype(np.int64).sum(1), function)
        kernel = "conv_grouped_s8"
        params.update(filter_depth=int(layer.filter.shape[3]), input_zero_point=-layer.input_offset)
    params["requant"] = requant
    arrays = (filter_array, ConstArray(f"{function}_bias", "int32_t", bias, "bias"), *requant_arrays)
    return kernel, params, arrays, notes


def _pool(layer: Pool, function: str):
    (in_h, in_w, depth), (out_h, out_w, _) = layer.in_shape, layer.out_shape
    params = dict(in_h=in_h, in_w=in_w, depth=depth, out_h=out_h, out_w=out_w, window_h=layer.window[0],
                  window_w=layer.window[1], stride_h=layer.stride[0], stride_w=layer.stride[1],
                  pad_h=layer.padding[0], pad_w=layer.padding[1], average=int(layer.op == "AVERAGE_POOL_2D"),
                  act_min=layer.act_min, act_max=layer.act_max)
    return "pool_s8", params, (), (_shape_note(layer),)


def _fully_connected(layer: FullyConnected, function: str):
    units, depth = layer.units, layer.depth
    # (f + fo)(x + io) summed = f.x + io*sum(f) + fo*sum(x) + depth*fo*io; only fo*sum(x) needs the input
    folded = _checked_int32(_bias(layer, units) + layer.input_offset * layer.filter.astype(np.int64).sum(1)
                            + depth * layer.filter_offset * layer.input_offset, function)
    bits = layer.weight_bits
    sparse = sparse_if_smaller(layer.filter) if bits == 8 else None
    name = f"{function}_filter"
    kind = "per-channel" if layer.per_channel else "per-tensor"
    notes = [f"FULLY_CONNECTED {depth} -> {units}, {kind} weights, {layer.activation}"]
    params = {"depth": depth, "units": units, "filter_offset": layer.filter_offset, "filter": Symbol(name)}
    if _block_sparse(layer.filter, bits):
        kernel = "fully_connected_sparse_s4"
        weights = _block_sparse_arrays(function, layer.filter, layouts.INPUT_ORDER)
        notes.append(_block_sparse_note(layer.filter, weights))
        params.update(mask=Symbol(f"{function}_mask"), mask_words=_mask_words(weights))
    elif bits < 8:
        notes.append(_packed_note(bits))
        kernel, weights = f"fully_connected_s{bits}", _packed_arrays(name, layer.filter, bits, "dsp_packed")
    elif sparse is None:
        kernel, weights = "fully_connected_s8", (ConstArray(name, "int8_t", layer.filter, "filter", "dense"),)
    else:
        notes.append(_sparse_note(sparse, layer.filter))
        kernel = "fully_connected_sparse_s8"
        weights = (ConstArray(f"{function}_mask", "uint32_t", sparse.masks, "mask", "sparse_bitmask"),
                   ConstArray(name, "int8_t", sparse.values, "filter", "sparse_bitmask"))
        params.update(mask=Symbol(f"{function}_mask"), mask_words=int(sparse.masks.shape[1]))
    requant_arrays, requant = _requant(function, layer.requant)
    params.update(bias=Symbol(f"{function}_bias", whole=True), requant=requant)
    arrays = (*weights, ConstArray(f"{function}_bias", "int32_t", folded, "bias"), *requant_arrays)
    return kernel, params, arrays, tuple(notes)


def _softmax(layer: Softmax, function: str):
    params = dict(rows=layer.rows, depth=layer.depth, input_multiplier=layer.input_multiplier,
                  input_left_shift=layer.input_left_shift, diff_min=layer.diff_min)
    return "softmax_s8", params, (), (f"SOFTMAX over {layer.depth} values; TFLM's input multiplier/shift and "
                                      "diff_min",)


_LOWERINGS = {Conv: _conv, Pool: _pool, FullyConnected: _fully_connected, Softmax: _softmax}
