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


def test_the_first_compact_config_builds_the_first_compact_model():
    """The compact model every run before the search used still builds layer for layer from its config."""
    first = build_model(ModelConfig(arch="compact", filters=[12, 32, 48], kernel_sizes=[3, 3, 3],
                                    separable=[False, False, False], pool_after=[1, 3], head="flatten", dropout=0.1))
    assert first.count_params() == 25_170
    assert [(layer.name, layer.output_shape[1:]) for layer in first.layers[1:]] == [
        ("conv1", (26, 26, 12)), ("pool1", (13, 13, 12)), ("conv2", (11, 11, 32)), ("conv3", (9, 9, 48)),
        ("pool2", (4, 4, 48)), ("flatten", (768,)), ("dropout", (768,)), ("probs", (10,))]


def test_searched_family_uses_only_mcu_ops():
    """Depthwise-separable blocks, a 5x5 kernel, four blocks and the global-average head, converted
    by the search's own path (int8, strings stripped)."""
    from digitedge.search.budget import int8_tflite

    config = ModelConfig(filters=[6, 16, 24, 32], kernel_sizes=[5, 3, 3, 3], separable=[False, True, False, True],
                         pool_after=[1, 3], head="gap")
    model = build_model(config)
    assert [layer.name for layer in model.layers if "conv" in layer.name] == [
        "conv1", "conv2_dw", "conv2", "conv3", "conv4_dw", "conv4"]
    images = np.random.default_rng(0).random((4, *INPUT_SHAPE), dtype=np.float32)
    ops = set(read_tflite(int8_tflite(model, images)).op_names)
    assert {"DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D"} <= ops <= MCU_OPS
