"""Low-bit test models: an int8 model of cgen_fixtures with every CONV_2D / FULLY_CONNECTED filter
replaced by random values of `bits` bits (4: [-8, 7], 2: [-2, 1], both extremes present) stored as a
packed TFLite INT4 tensor, its scales raised so outputs keep their spread; and a small model made by
tfmot's 4-bit QAT and TFLite's low-bit conversion, as the pipeline makes them."""

from __future__ import annotations

import functools

import numpy as np

from digitedge.tflite_model import pack_int4

INT4 = 17
_LOW_BIT_OPS = ("CONV_2D", "FULLY_CONNECTED")


def low_bit(tflite_bytes: bytes, bits: int, seed: int, zero_fraction: float = 0.0,
            zero_blocks: tuple[int, int] | None = None, zero_rows: tuple[int, ...] = (),
            extreme_rows: tuple[int, ...] = ()) -> bytes:
    """`tflite_bytes` with its conv and dense filters as INT4 holding `bits`-bit values.

    `zero_fraction` of the weights zeroed; with `zero_blocks` (rows, taps) whole blocks of that shape
    (along each filter's (out, taps) view) are zeroed instead, as block pruning leaves them; the output
    channels in `zero_rows` entirely zero, those in `extreme_rows` entirely the lowest value."""
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
        rows[list(zero_rows)] = 0
        rows[list(extreme_rows)] = low
        buffer = schema.BufferT()
        buffer.data = pack_int4(values)
        model.buffers.append(buffer)
        tensor.buffer = len(model.buffers) - 1
        tensor.type = INT4
        scaled = [tensor] + ([graph.tensors[op.inputs[2]]] if len(op.inputs) > 2 and op.inputs[2] >= 0 else [])
        for each in scaled:  # the bias scale is the input scale times the filter scale
            each.quantization.scale = [s * spread for s in each.quantization.scale]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


@functools.lru_cache(maxsize=None)
def qat_int4(train_images: int = 2000) -> bytes:
    """A small conv/conv/dense model after 4-bit QAT (tfmot's experimental default_n_bit scheme, 1 epoch on
    `train_images` digits), converted with the low-bit QAT flags: its filters are TFLite INT4 tensors."""
    import tensorflow as tf
    import tf_keras as keras
    import tensorflow_model_optimization as tfmot
    from tensorflow_model_optimization.python.core.quantization.keras.experimental.default_n_bit import (
        default_n_bit_quantize_scheme)

    from digitedge.data import load_mnist, normalize

    mnist = load_mnist()
    images, labels = normalize(mnist.x_train[:train_images]), mnist.y_train[:train_images]
    tf.random.set_seed(0)
    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Conv2D(6, 3, activation="relu"),
                              keras.layers.MaxPooling2D(), keras.layers.Conv2D(9, 3, activation="relu"),
                              keras.layers.MaxPooling2D(), keras.layers.Flatten(),
                              keras.layers.Dense(10, activation="softmax")])
    scheme = default_n_bit_quantize_scheme.DefaultNBitQuantizeScheme(num_bits_weight=4, num_bits_activation=8)
    with tfmot.quantization.keras.quantize_scope():
        qat = tfmot.quantization.keras.quantize_apply(tfmot.quantization.keras.quantize_annotate_model(model), scheme)
    qat.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    qat.fit(images, labels, epochs=1, batch_size=64, verbose=0)
    converter = tf.lite.TFLiteConverter.from_keras_model(qat)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([images[i:i + 1]] for i in range(100))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = converter.inference_output_type = tf.int8
    converter._experimental_low_bit_qat = True
    converter._experimental_reduce_type_precision = True
    return bytes(converter.convert())


def with_layer_bits(tflite_bytes: bytes, layer_bits: list[int]) -> bytes:
    """An INT4 model with its conv / dense filters re-stored at `layer_bits` (in model order): 8 as an
    INT8 tensor of the same values, 4 unchanged, 2 as INT4 values clipped to [-2, 1] (a mixed-precision
    model as the mixed variant makes them)."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    from digitedge.tflite_model import unpack_int4

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(tflite_bytes))
    graph = model.subgraphs[0]
    filters = [graph.tensors[op.inputs[1]] for op in graph.operators
               if flatbuffer_utils.opcode_to_name(model, op.opcodeIndex) in _LOW_BIT_OPS]
    assert len(filters) == len(layer_bits) and all(tensor.type == INT4 for tensor in filters)
    for tensor, bits in zip(filters, layer_bits):
        values = unpack_int4(np.asarray(model.buffers[tensor.buffer].data, np.uint8), int(np.prod(tensor.shape)))
        buffer = schema.BufferT()
        if bits == 8:
            tensor.type, buffer.data = _INT8, values.view(np.uint8)
        else:
            buffer.data = pack_int4(np.clip(values, -2, 1) if bits == 2 else values)
        model.buffers.append(buffer)
        tensor.buffer = len(model.buffers) - 1
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


_INT8 = 9
