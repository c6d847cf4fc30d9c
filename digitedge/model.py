"""The CNN architectures, built with tf_keras (tfmot does not support Keras 3).

"compact" is sized for a microcontroller: ~20k parameters, only ops that full-integer
TFLite and TFLite Micro run well (Conv2D, MaxPool, FullyConnected, ReLU, Softmax;
BatchNorm directly after a bias-free Conv2D, where both the converter and tfmot's QAT
fold it), and a 28x28x1 input (a Reshape at the input would convert into extra ops).
Its first block pools right after the widest activation so the TFLM arena stays small.
"seed" reproduces the seed notebook's classic CNN (~1.2M parameters) as a baseline.
"""

from __future__ import annotations

import tf_keras as keras

from digitedge.config import ModelConfig

INPUT_SHAPE = (28, 28, 1)
NUM_CLASSES = 10


def _conv_bn_relu(x, filters: int, name: str):
    x = keras.layers.Conv2D(filters, 3, use_bias=False, name=f"{name}_conv")(x)
    x = keras.layers.BatchNormalization(momentum=0.9, name=f"{name}_bn")(x)
    return keras.layers.ReLU(name=f"{name}_relu")(x)


def build_compact(filters: list[int], dropout: float) -> keras.Model:
    inputs = keras.Input(INPUT_SHAPE, name="image")
    x = _conv_bn_relu(inputs, filters[0], "block1")       # 26x26
    x = keras.layers.MaxPooling2D(name="pool1")(x)         # 13x13
    x = _conv_bn_relu(x, filters[1], "block2")             # 11x11
    x = _conv_bn_relu(x, filters[2], "block3")             # 9x9
    x = keras.layers.MaxPooling2D(name="pool2")(x)         # 4x4
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dropout(dropout, name="dropout")(x)
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
    return build_compact(config.filters, config.dropout)
