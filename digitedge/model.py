"""The CNN architectures, built with tf_keras (tfmot does not support Keras 3).

"compact" is sized for a microcontroller: ~19k parameters by default (a 24 KB int8 model, chosen by
`digitedge search` within 24 KB flash / 12 KB arena), only ops that full-integer
TFLite and TFLite Micro run well (Conv2D with fused ReLU, MaxPool, FullyConnected,
Softmax), and a 28x28x1 input (a Reshape at the input would convert into extra ops).
Its first block pools right after the widest activation so the TFLM arena stays under
16 KB, and its last conv is wide enough that weights, not the flatbuffer's fixed overhead
(per-channel scales, tensor tables), dominate the int8 file. It has no BatchNorm: on these CPUs BN costs a third of the training time and the
model trains as well without it.
"seed" reproduces the seed notebook's classic CNN (~1.2M parameters) as a baseline.
"""

from __future__ import annotations

import tf_keras as keras

from digitedge.config import ModelConfig

INPUT_SHAPE = (28, 28, 1)
NUM_CLASSES = 10


def build_compact(config: ModelConfig) -> keras.Model:
    """The compact family: one conv per entry of `filters` (depthwise-separable where `separable` says),
    2x2 max pooling after the convs listed in `pool_after`, then a flatten + dense head or a global
    average (one AVERAGE_POOL_2D over the whole map: TFLite's MEAN is not in our C kernels).

    The default config builds conv1-pool1-conv2-conv3-pool2-flatten-dropout-probs."""
    inputs = keras.Input(INPUT_SHAPE, name="image")
    x, pools = inputs, 0
    for index, (width, kernel, separable) in enumerate(zip(config.filters, config.kernel_sizes, config.separable), 1):
        if separable:  # depthwise k x k, then a 1x1 mix: a fraction of a full conv's weights and MACs
            x = keras.layers.DepthwiseConv2D(kernel, activation="relu", name=f"conv{index}_dw")(x)
            x = keras.layers.Conv2D(width, 1, activation="relu", name=f"conv{index}")(x)
        else:
            x = keras.layers.Conv2D(width, kernel, activation="relu", name=f"conv{index}")(x)
        if index in config.pool_after:
            pools += 1
            x = keras.layers.MaxPooling2D(name=f"pool{pools}")(x)
    if config.head == "gap":
        x = keras.layers.AveragePooling2D(tuple(x.shape[1:3]), name="global_pool")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dropout(config.dropout, name="dropout")(x)
    outputs = keras.layers.Dense(NUM_CLASSES, activation="softmax", name="probs")(x)
    return keras.Model(inputs, outputs, name="digitedge_compact")


def build_seed() -> keras.Model:
    """The seed notebook's CNN: Conv32-Conv64-MaxPool-Dropout-Dense128-Dropout-Dense10."""
    inputs = keras.Input(INPUT_SHAPE, name="image")
    x = keras.layers.Conv2D(32, 3, activation="relu", name="conv1")(inputs)
    x = keras.layers.Conv2D(64, 3, activation="relu", name="conv2")(x)
    x = keras.layers.MaxPooling2D(name="pool")(x)
    x = keras.layers.Dropout(0.25, name="dropout1")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(128, activation="relu", name="dense")(x)
    x = keras.layers.Dropout(0.5, name="dropout2")(x)
    outputs = keras.layers.Dense(NUM_CLASSES, activation="softmax", name="probs")(x)
    return keras.Model(inputs, outputs, name="digitedge_seed")


def build_model(config: ModelConfig) -> keras.Model:
    if config.arch == "seed":
        return build_seed()
    return build_compact(config)
