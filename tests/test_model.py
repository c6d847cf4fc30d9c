"""The architectures: parameter budget, and only ops full-integer TFLite and TFLM run well."""

import numpy as np
import pytest
import tensorflow as tf

from digitedge.config import ModelConfig
from digitedge.model import INPUT_SHAPE, build_model
from digitedge.tflite_model import read_tflite

MCU_OPS = {"CONV_2D", "DEPTHWISE_CONV_2D", "MAX_POOL_2D", "AVERAGE_POOL_2D", "FULLY_CONNECTED",
           "RESHAPE", "SOFTMAX"}


@pytest.fixture(scope="module")
def compact():
    return build_model(ModelConfig())


def test_compact_fits_the_parameter_budget(compact):
    assert compact.count_params() <= 30_000
    assert compact.input_shape == (None, *INPUT_SHAPE)
    assert compact.output_shape == (None, 10)


def test_seed_preset_matches_the_seed_notebook():
    seed = build_model(ModelConfig(arch="seed"))
    assert 1_150_000 <= seed.count_params() <= 1_250_000
    assert [type(layer).__name__ for layer in seed.layers[1:]] == [
        "Conv2D", "Conv2D", "MaxPooling2D", "Dropout", "Flatten", "Dense", "Dropout", "Dense"]


def test_compact_converts_to_mcu_friendly_int8_ops(compact):
    converter = tf.lite.TFLiteConverter.from_keras_model(compact)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    rng = np.random.default_rng(0)
    converter.representative_dataset = lambda: ([rng.random((1, *INPUT_SHAPE), dtype=np.float32)] for _ in range(8))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = converter.inference_output_type = tf.int8
    model = read_tflite(converter.convert())
    assert set(model.op_names) <= MCU_OPS
    assert model.input.shape == (1, *INPUT_SHAPE) and model.input.dtype == "int8"


def test_filters_are_configurable():
    narrow = build_model(ModelConfig(filters=[4, 8, 8]))
    assert narrow.count_params() < build_model(ModelConfig()).count_params()
