"""Low-bit test models: an int8 model of test_cgen_fixtures with every CONV_2D / FULLY_CONNECTED filter
replaced by random values of `bits` bits (4: [-8, 7], 2: [-2, 1], both extremes present) stored as a
packed TFLite INT4 tensor, its scales raised so outputs keep their spread."""

from __future__ import annotations

import numpy as np

from digitedge.tflite_model import pack_int4

INT4 = 17
_LOW_BIT_OPS = ("CONV_2D", "FULLY_CONNECTED")


def low_bit(tflite_bytes: bytes, bits: int, seed: int, zero_fraction: float = 0.0,
            zero_blocks: tuple[int, int] | None = None) -> bytes:
    """`tflite_bytes` with its conv and dense filters as INT4 holding `bits`-bit values.

    `zero_fraction` of the weights zeroed; with `zero_blocks` (rows, taps) whole blocks of that shape
    (along each filter's (out, taps) view) are zeroed instead, as block pruning leaves them."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    rng = np.random.default_rng(seed)
    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(tflite_bytes))
    graph = model.subgraphs[0]
    names = {index: flatbuffer_utils.opcode_to_name(model, index) for index in range(len(model.operatorCodes))}
    low, high = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    spread = 73 / np.sqrt(((high - low + 1) ** 2 - 1) / 12)  # int8's random weights' deviation / this one's
    for op in graph.operators:
        if names[op.opcodeIndex] not in _LOW_BIT_OPS:
            continue
        tensor = graph.tensors[op.inputs[1]]
        shape = tuple(int(d) for d in tensor.shape)
        values = rng.integers(low, high + 1, shape).astype(np.int8)
        rows = values.reshape(shape[0], -1)
        rows[0, :2] = (low, high)
        if zero_blocks is not None:
            block_rows, block_taps = zero_blocks
            blocks = rng.random((-(-rows.shape[0] // block_rows), -(-rows.shape[1] // block_taps))) < zero_fraction
            keep = np.repeat(np.repeat(~blocks, block_rows, 0), block_taps, 1)[:rows.shape[0], :rows.shape[1]]
            rows[~keep] = 0
        elif zero_fraction:
            rows[rng.random(rows.shape) < zero_fraction] = 0
        buffer = schema.BufferT()
        buffer.data = pack_int4(values)
        model.buffers.append(buffer)
        tensor.buffer = len(model.buffers) - 1
        tensor.type = INT4
        scaled = [tensor] + ([graph.tensors[op.inputs[2]]] if len(op.inputs) > 2 and op.inputs[2] >= 0 else [])
        for each in scaled:  # the bias scale is the input scale times the filter scale
            each.quantization.scale = [s * spread for s in each.quantization.scale]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))
