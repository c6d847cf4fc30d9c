"""Models for the test_cgen_* files: single-operator int8 models built directly as flatbuffers
(random weights and quantization, any padding/stride/activation, in milliseconds), and small
Keras models converted by digitedge.convert (built once per test process)."""

from __future__ import annotations

import functools

import numpy as np

ACTIVATION = {"NONE": 0, "RELU": 1, "RELU_N1_TO_1": 2, "RELU6": 3}
PADDING = {"SAME": 0, "VALID": 1}
_INT8, _INT32, _FLOAT32 = 9, 2, 0


class ModelBuilder:
    """One subgraph, built with TensorFlow's flatbuffer object API (schema_py_generated)."""

    def __init__(self):
        from tensorflow.lite.python import schema_py_generated as schema

        self.schema = schema
        self.model = schema.ModelT()
        self.model.version = 3
        self.model.buffers = [schema.BufferT()]  # buffer 0 is the empty one by convention
        self.model.operatorCodes = []
        self.graph = schema.SubGraphT()
        self.graph.tensors, self.graph.operators = [], []
        self.model.subgraphs = [self.graph]

    def tensor(self, shape, dtype=_INT8, scales=None, zero_points=None, axis=0, data=None) -> int:
        tensor = self.schema.TensorT()
        tensor.shape = np.array(shape, dtype=np.int32)
        tensor.type = dtype
        tensor.buffer = 0
        if data is not None:
            buffer = self.schema.BufferT()
            buffer.data = np.frombuffer(np.ascontiguousarray(data).tobytes(), dtype=np.uint8)
            self.model.buffers.append(buffer)
            tensor.buffer = len(self.model.buffers) - 1
        if scales is not None:
            quantization = self.schema.QuantizationParametersT()
            quantization.scale = [float(s) for s in np.atleast_1d(scales)]
            quantization.zeroPoint = [int(z) for z in np.atleast_1d(zero_points)]
            quantization.quantizedDimension = axis
            tensor.quantization = quantization
        self.graph.tensors.append(tensor)
        return len(self.graph.tensors) - 1

    def operator(self, name: str, inputs, outputs, options_type: str | None = None, **options) -> None:
        code = getattr(self.schema.BuiltinOperator, name)
        codes = [c.builtinCode for c in self.model.operatorCodes]
        if code not in codes:
            opcode = self.schema.OperatorCodeT()
            opcode.builtinCode, opcode.deprecatedBuiltinCode, opcode.version = code, min(code, 127), 1
            self.model.operatorCodes.append(opcode)
            codes.append(code)
        op = self.schema.OperatorT()
        op.opcodeIndex = codes.index(code)
        op.inputs, op.outputs = np.array(inputs, np.int32), np.array(outputs, np.int32)
        if options_type is not None:
            op.builtinOptionsType = getattr(self.schema.BuiltinOptions, options_type)
            op.builtinOptions = getattr(self.schema, f"{options_type}T")()
            for key, value in options.items():
                setattr(op.builtinOptions, key, value)
        self.graph.operators.append(op)

    def build(self, inputs, outputs) -> bytes:
        from tensorflow.lite.tools import flatbuffer_utils

        self.graph.inputs, self.graph.outputs = np.array(inputs, np.int32), np.array(outputs, np.int32)
        return bytes(flatbuffer_utils.convert_object_to_bytearray(self.model))


def _activation_tensor(builder, rng, shape, scale=None) -> int:
    scale = float(rng.uniform(0.01, 0.1)) if scale is None else scale
    return builder.tensor(shape, scales=[scale], zero_points=[int(rng.integers(-128, 128))])


def _output_scale(rng, input_scale: float, filter_scales: np.ndarray, taps: int, boost: float = 1.0) -> float:
    """About 64 steps per standard deviation of the accumulator: most outputs unsaturated."""
    return float(input_scale * np.median(filter_scales) * np.sqrt(taps) * 73 * 60 / 64 * rng.uniform(0.7, 1.4) / boost)


def conv_model(seed: int, *, in_shape=(9, 10, 3), filters=5, kernel=(3, 3), stride=(1, 1), padding="VALID",
               dilation=(1, 1), activation="NONE", per_channel=True, bias=True, depthwise=False,
               depth_multiplier=1, boost: float = 1.0, input_zero_point: int | None = None,
               zero_fraction: float = 0.0, zero_channels=(), pool: dict | None = None) -> bytes:
    """One CONV_2D or DEPTHWISE_CONV_2D with random int8 weights and quantization.

    `zero_fraction` of the weights (and every weight of the output channels in `zero_channels`) set to
    zero, as pruning leaves them; `pool` (window, stride, padding) adds a MAX_POOL_2D on the output.
    """
    rng = np.random.default_rng(seed)
    builder = ModelBuilder()
    in_h, in_w, in_c = in_shape
    out_c = in_c * depth_multiplier if depthwise else filters
    input_scale = float(rng.uniform(0.01, 0.05))
    source = _activation_tensor(builder, rng, (1, *in_shape), input_scale)
    if input_zero_point is not None:
        builder.graph.tensors[source].quantization.zeroPoint = [input_zero_point]
    filter_shape = (1, *kernel, out_c) if depthwise else (out_c, *kernel, in_c)
    filter_scales = rng.uniform(0.002, 0.02, out_c if per_channel else 1)
    filter_values = rng.integers(-127, 128, filter_shape).astype(np.int8)
    filter_values[rng.random(filter_shape) < zero_fraction] = 0
    for channel in zero_channels:
        if depthwise:
            filter_values[..., channel] = 0
        else:
            filter_values[channel] = 0
    weights = builder.tensor(filter_shape, scales=filter_scales, zero_points=np.zeros(len(filter_scales), int),
                             axis=3 if depthwise else 0, data=filter_values)
    inputs = [source, weights]
    if bias:
        bias_scales = input_scale * (filter_scales if per_channel else np.repeat(filter_scales, out_c))
        inputs.append(builder.tensor((out_c,), _INT32, bias_scales, np.zeros(out_c, int), axis=0,
                                     data=rng.integers(-3000, 3000, out_c).astype(np.int32)))
    out_hw = [_out_size(padding, in_shape[a], kernel[a], stride[a], dilation[a]) for a in range(2)]
    taps = kernel[0] * kernel[1] * (1 if depthwise else in_c)
    if activation == "RELU6":  # keep quantize(6.0) inside int8 so the upper clamp is exercised
        result = builder.tensor((1, *out_hw, out_c), scales=[6 / rng.uniform(150, 250)],
                                zero_points=[int(rng.integers(-128, -100))])
    else:
        result = _activation_tensor(builder, rng, (1, *out_hw, out_c),
                                    _output_scale(rng, input_scale, filter_scales, taps, boost))
    options = dict(padding=PADDING[padding], strideH=stride[0], strideW=stride[1], dilationHFactor=dilation[0],
                   dilationWFactor=dilation[1], fusedActivationFunction=ACTIVATION[activation])
    if depthwise:
        builder.operator("DEPTHWISE_CONV_2D", inputs, [result], "DepthwiseConv2DOptions",
                         depthMultiplier=depth_multiplier, **options)
    else:
        builder.operator("CONV_2D", inputs, [result], "Conv2DOptions", **options)
    if pool is not None:
        window, pool_stride = pool["window"], pool.get("stride", pool["window"])
        pool_padding = pool.get("padding", "VALID")
        pooled_hw = [_out_size(pool_padding, out_hw[a], window[a], pool_stride[a], 1) for a in range(2)]
        quantization = builder.graph.tensors[result].quantization
        pooled = builder.tensor((1, *pooled_hw, out_c), scales=quantization.scale, zero_points=quantization.zeroPoint)
        builder.operator("MAX_POOL_2D", [result], [pooled], "Pool2DOptions", padding=PADDING[pool_padding],
                         strideH=pool_stride[0], strideW=pool_stride[1], filterHeight=window[0],
                         filterWidth=window[1], fusedActivationFunction=ACTIVATION[pool.get("activation", "NONE")])
        result = pooled
    return builder.build([source], [result])


def pool_model(seed: int, *, kind="MAX_POOL_2D", in_shape=(9, 11, 4), window=(2, 2), stride=(2, 2),
               padding="VALID", activation="NONE") -> bytes:
    rng = np.random.default_rng(seed)
    builder = ModelBuilder()
    scale = float(rng.uniform(0.01, 0.1))
    zero_point = int(rng.integers(-128, 128))
    source = builder.tensor((1, *in_shape), scales=[scale], zero_points=[zero_point])
    out_hw = [_out_size(padding, in_shape[a], window[a], stride[a], 1) for a in range(2)]
    result = builder.tensor((1, *out_hw, in_shape[2]), scales=[scale], zero_points=[zero_point])
    builder.operator(kind, [source], [result], "Pool2DOptions", padding=PADDING[padding], strideH=stride[0],
                     strideW=stride[1], filterHeight=window[0], filterWidth=window[1],
                     fusedActivationFunction=ACTIVATION[activation])
    return builder.build([source], [result])


def fully_connected_model(seed: int, *, in_shape=(1, 3, 3, 8), units=7, per_channel=False, bias=True,
                          activation="NONE", softmax_beta: float | None = None, filter_zero_point: int = 0,
                          zero_fraction: float = 0.0) -> bytes:
    """RESHAPE (when the input is not 2-D) then FULLY_CONNECTED, optionally followed by SOFTMAX.

    A non-zero `filter_zero_point` (per-tensor only) is outside the int8 spec, but TFLM's kernel applies it.
    """
    rng = np.random.default_rng(seed)
    builder = ModelBuilder()
    depth = int(np.prod(in_shape))
    input_scale = float(rng.uniform(0.01, 0.05))
    source = _activation_tensor(builder, rng, in_shape, input_scale)
    flat = source
    if len(in_shape) != 2:
        flat = builder.tensor((1, depth), scales=[input_scale], zero_points=builder.graph.tensors[source]
                              .quantization.zeroPoint)
        shape = builder.tensor((2,), _INT32, data=np.array([1, depth], np.int32))
        builder.operator("RESHAPE", [source, shape], [flat], "ReshapeOptions", newShape=[1, depth])
    filter_scales = rng.uniform(0.002, 0.02, units if per_channel else 1)
    weights = builder.tensor((units, depth), scales=filter_scales,
                             zero_points=np.full(len(filter_scales), filter_zero_point),
                             data=np.where(rng.random((units, depth)) < zero_fraction, 0,
                                           rng.integers(-127, 128, (units, depth))).astype(np.int8))
    inputs = [flat, weights]
    if bias:
        bias_scales = input_scale * (filter_scales if per_channel else filter_scales[:1])
        inputs.append(builder.tensor((units,), _INT32, bias_scales, np.zeros(len(bias_scales), int),
                                     data=rng.integers(-3000, 3000, units).astype(np.int32)))
    else:
        inputs.append(-1)
    result = _activation_tensor(builder, rng, (1, units), _output_scale(rng, input_scale, filter_scales, depth))
    builder.operator("FULLY_CONNECTED", inputs, [result], "FullyConnectedOptions",
                     fusedActivationFunction=ACTIVATION[activation])
    if softmax_beta is not None:
        probabilities = builder.tensor((1, units), scales=[1 / 256], zero_points=[-128])
        builder.operator("SOFTMAX", [result], [probabilities], "SoftmaxOptions", beta=softmax_beta)
        result = probabilities
    return builder.build([source], [result])


def softmax_model(seed: int, *, depth=10, beta=1.0, input_scale=None) -> bytes:
    rng = np.random.default_rng(seed)
    builder = ModelBuilder()
    source = _activation_tensor(builder, rng, (1, depth), input_scale)
    result = builder.tensor((1, depth), scales=[1 / 256], zero_points=[-128])
    builder.operator("SOFTMAX", [source], [result], "SoftmaxOptions", beta=beta)
    return builder.build([source], [result])


def add_model() -> bytes:
    """ADD of the input to itself: an operator the C generator does not implement."""
    builder = ModelBuilder()
    source = builder.tensor((1, 4), scales=[0.1], zero_points=[0])
    result = builder.tensor((1, 4), scales=[0.2], zero_points=[0])
    builder.operator("ADD", [source, source], [result], "AddOptions")
    return builder.build([source], [result])


def _out_size(padding: str, size: int, kernel: int, stride: int, dilation: int) -> int:
    effective = (kernel - 1) * dilation + 1
    return (size + stride - 1) // stride if padding == "SAME" else (size + stride - effective) // stride


def random_inputs(tflite_bytes: bytes, count: int, seed: int = 0) -> np.ndarray:
    from digitedge.tflite_model import read_tflite

    shape = read_tflite(tflite_bytes).input.shape
    return np.random.default_rng(seed).integers(-128, 128, (count, *shape[1:])).astype(np.int8)


# -- converted Keras models ----------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def compact_int8(train_images: int = 2000) -> bytes:
    """The default compact arch, trained 1 epoch on `train_images` real digits, full-integer int8."""
    import tensorflow as tf
    import tf_keras as keras

    from digitedge.config import ModelConfig
    from digitedge.convert import convert_variant, representative_images
    from digitedge.data import load_mnist, normalize
    from digitedge.model import build_model

    mnist = load_mnist()
    images = normalize(mnist.x_train[:train_images])
    tf.random.set_seed(0)
    model = build_model(ModelConfig())
    model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy")
    model.fit(images, mnist.y_train[:train_images], epochs=1, batch_size=64, verbose=0)
    return convert_variant("int8_ptq", model, representative_images(images, 200, 0))


@functools.lru_cache(maxsize=None)
def depthwise_int8() -> bytes:
    """DEPTHWISE_CONV_2D, AVERAGE_POOL_2D, SAME padding, strides 2 and fused RELU6 in one converted model."""
    import tensorflow as tf
    import tf_keras as keras

    from digitedge.convert import convert_variant, representative_images
    from digitedge.data import load_mnist, normalize

    tf.random.set_seed(1)
    inputs = keras.Input((28, 28, 1))
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same")(inputs)
    x = keras.layers.ReLU(max_value=6)(x)
    x = keras.layers.DepthwiseConv2D(3, padding="same", depth_multiplier=2)(x)
    x = keras.layers.ReLU(max_value=6)(x)
    x = keras.layers.AveragePooling2D(2)(x)
    x = keras.layers.Conv2D(16, 3, strides=2, padding="same", activation="relu")(x)
    x = keras.layers.MaxPooling2D(2, padding="same")(x)
    x = keras.layers.Flatten()(x)
    outputs = keras.layers.Dense(10, activation="softmax")(x)
    images = normalize(load_mnist().x_train[:1000])
    return convert_variant("int8_ptq", keras.Model(inputs, outputs), representative_images(images, 200, 0))


@functools.lru_cache(maxsize=None)
def compact_test_outputs(count: int = 1000) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(uint8 images, labels, int8 model inputs, TFLite Micro outputs) for the first `count` test digits."""
    from digitedge.cgen import quantize_images, tflm_outputs
    from digitedge.data import load_mnist
    from digitedge.tflite_model import read_tflite

    mnist = load_mnist()
    images, labels = mnist.x_test[:count], mnist.y_test[:count]
    model_inputs = quantize_images(images, read_tflite(compact_int8()).input)
    return images, labels, model_inputs, tflm_outputs(compact_int8(), model_inputs)


def case_with_oracle(tflite_bytes: bytes) -> tuple[bytes, np.ndarray, np.ndarray]:
    """A test model, 24 random inputs for it and TFLite Micro's outputs: what every generated-C case is checked against."""
    from digitedge.cgen import tflm_outputs

    model_inputs = random_inputs(tflite_bytes, 24, seed=3)
    return tflite_bytes, model_inputs, tflm_outputs(tflite_bytes, model_inputs)


def assert_host_matches_tflite_micro(name: str, case: tuple[bytes, np.ndarray, np.ndarray]) -> None:
    """The generated C's plain path, compiled for the host, gives TFLite Micro's outputs bit for bit."""
    from digitedge.cgen import run_on_host

    tflite_bytes, model_inputs, expected = case
    assert len(np.unique(expected)) > 4, "degenerate test model: outputs barely vary"
    differing = np.flatnonzero(np.any(run_on_host(tflite_bytes, model_inputs) != expected, axis=1))
    assert differing.size == 0, f"{name}: {differing.size} of {len(expected)} outputs differ"


def assert_board_matches_tflite_micro(board_name: str, cases: dict, tmp_path) -> None:
    """Every case (name -> case_with_oracle's triple) run in one firmware image on the core gives TFLite Micro's bytes."""
    from cgen_cross import run_cases_on_board

    names = sorted(cases)
    models, inputs, expected = zip(*(cases[name] for name in names))
    mismatches = run_cases_on_board(board_name, list(models), list(inputs), list(expected), tmp_path)
    failing = {name: count for name, count in zip(names, mismatches) if count}
    assert not failing, f"{board_name}: output bytes differing from TFLite Micro per case: {failing}"
