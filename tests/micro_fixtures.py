"""Small .tflite models shared by the test_micro_* files (built once per test process).

A 4-filter conv net on 28x28x1 converts in seconds; its float32, dynamic_range and int8_ptq
variants (converted by digitedge.convert) cover what TFLite Micro runs and what it refuses.
"""

from __future__ import annotations

import functools

import numpy as np


def tiny_keras_model(seed: int):
    import tensorflow as tf
    import tf_keras as keras

    tf.random.set_seed(seed)
    return keras.Sequential([
        keras.Input((28, 28, 1)),
        keras.layers.Conv2D(4, 3, activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Flatten(),
        keras.layers.Dense(10, activation="softmax"),
    ])


@functools.lru_cache(maxsize=None)
def tiny_tflite(variant: str) -> bytes:
    """An untrained tiny model as the 'float32', 'dynamic_range' or 'int8_ptq' variant."""
    from digitedge.convert import convert_variant

    representative = np.random.default_rng(0).uniform(0, 1, (32, 28, 28, 1)).astype(np.float32)
    return convert_variant(variant, tiny_keras_model(seed=0), representative)
