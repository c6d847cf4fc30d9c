"""Low-bit QAT (per-layer 8/4/2-bit weights), structured pruning kept through it, and the config checks
that reject impossible plans before any training."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from digitedge.config import Config, load
from digitedge.errors import DigitedgeError
from digitedge.model import build_model
from digitedge.pipeline.optimize_stage import check_plan
from conftest import synthetic_digits


@pytest.fixture(scope="module")
def digits():
    return synthetic_digits(384, seed=3)


@pytest.fixture(scope="module")
def float_model(digits):
    import tf_keras as keras

    images, labels = digits
    keras.utils.set_random_seed(0)
    model = build_model(Config().model)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy")
    model.fit(images, labels, epochs=2, batch_size=64, verbose=0)
    return model


@pytest.mark.parametrize("text, message", [
    ("[optimize]\nlayer_bits = [8, 3, 4, 2]\n",
     "run.toml: optimize.layer_bits [8, 3, 4, 2]: each entry must be one of 8, 4, 2"),
    ("[optimize]\nprune_block = [1, 1]\n", "run.toml: optimize.prune_block [1, 1] is not a block shape"),
    ("[optimize]\nprune_block = [4, 0]\n", "run.toml: optimize.prune_block [4, 0] is not a block shape"),
    ("[optimize]\nprune_block = [4, 2, 1]\n", "run.toml: optimize.prune_block [4, 2, 1] is not a block shape"),
    ("[optimize]\nprune_structure = \"3:4\"\n", "run.toml: optimize.prune_structure must be one of block, 2:4, filters, "
                                                "unstructured, got '3:4'"),
    ("[optimize]\nlow_bit_schedule = \"step\"\n", "run.toml: optimize.low_bit_schedule must be one of constant, "
                                                  "cosine, got 'step'"),
])
def test_bad_low_bit_values_are_one_line_errors(tmp_path, text, message):
    path = tmp_path / "run.toml"
    path.write_text(text)
    with pytest.raises(DigitedgeError) as caught:
        load(path)
    assert str(caught.value).startswith(f"{tmp_path}/{message}") and "\n" not in str(caught.value)


@pytest.mark.parametrize("values, message", [
    ({"layer_bits": [8, 4, 2]}, "optimize.layer_bits has 3 entries; the model has 4 conv/dense layers "
                                "(conv1, conv2, conv3, probs): give one bit width (8, 4 or 2) each"),
    ({"prune_structure": "block", "prune_block": [1024, 2]}, "optimize.prune_block [1024, 2] fits no pruned layer of the model (filter taps x "
                                "output channels: conv2 90x28, conv3 252x40, probs 640x10)"),
    ({"prune_structure": "unstructured", "techniques": ["pruned_int4_qat"]},
     "optimize technique 'pruned_int4_qat' needs 'prune' too"),
])
def test_plans_the_model_cannot_take_fail_before_training(values, message):
    config = Config()
    for key, value in values.items():
        setattr(config.optimize, key, value)
    with pytest.raises(DigitedgeError) as caught:
        check_plan(config.validate())
    assert str(caught.value).startswith(message) and "\n" not in str(caught.value)


def test_run_with_a_wrong_bit_count_stops_before_writing_anything(tmp_path):
    import subprocess
    import sys

    (tmp_path / "bad.toml").write_text("[optimize]\nlayer_bits = [8, 4]\n")
    result = subprocess.run([sys.executable, "-m", "digitedge", "run", "--quick", "--config", "bad.toml",
                             "--out", "run"], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("Error: optimize.layer_bits has 2 entries")
    assert not (tmp_path / "run" / "train").exists()


def test_mixed_bits_convert_to_int8_int4_and_two_bit_int4(float_model, digits):
    from digitedge.checks import check_variant
    from digitedge.convert import convert_variant
    from digitedge.optimize.lowbit import train_low_bit_qat

    images, labels = digits
    qat, metrics = train_low_bit_qat(float_model, [8, 4, 2, 2], images, labels, images[:64], labels[:64],
                                     epochs=1, learning_rate=1e-4, seed=1, batch_size=64)
    assert len(metrics) == 1
    check = check_variant("mixed_qat", convert_variant("mixed_qat", qat, images[:20]))
    assert [w.dtype for w in check.weights] == ["int8", "int4", "int4", "int4"]
    assert [w.bits for w in check.weights] == [8, 4, 2, 2]
    assert check.input_dtype == check.output_dtype == "int8" and check.full_integer


def test_low_bit_qat_model_saves_and_loads_with_the_same_outputs(float_model, digits, tmp_path):
    from digitedge.modelio import load_keras_model, save_keras_model
    from digitedge.optimize.lowbit import quantize_low_bit

    images = digits[0][:16]
    qat = quantize_low_bit(float_model, [4, 4, 2, 2])
    loaded = load_keras_model(save_keras_model(qat, tmp_path / "mixed.h5"))
    np.testing.assert_array_equal(qat.predict(images, verbose=0), loaded.predict(images, verbose=0))


def test_block_pruning_zeroes_whole_blocks_and_qat_keeps_them(float_model, digits):
    from digitedge.optimize.structured import train_pruned_low_bit_qat, train_structured_pruned

    images, labels = digits
    options = Config().optimize
    options.prune_structure, options.prune_epochs, options.low_bit_epochs = "block", 2, 1
    pruned, _ = train_structured_pruned(float_model, images, labels, images[:64], labels[:64], options, seed=1,
                                        batch_size=32)
    qat, _ = train_pruned_low_bit_qat(pruned, [4, 4, 4, 4], images, labels, images[:64], labels[:64], options,
                                      seed=1, batch_size=32)
    kernels = {weight.name.split("/")[-2]: weight.numpy() for weight in qat.weights
               if weight.name.endswith("kernel:0")}
    for name in ("conv3", "probs"):  # taps divisible by 4 and channels by 2: every block is all-zero or kept
        kernel = pruned.get_layer(name).get_weights()[0]
        rows = kernel.reshape(-1, kernel.shape[-1])  # filter taps x output channels
        blocks = rows.reshape(rows.shape[0] // 4, 4, rows.shape[1] // 2, 2).transpose(0, 2, 1, 3)
        empty = np.all(blocks == 0, axis=(2, 3))
        assert abs(empty.mean() - options.block_sparsity) <= 0.05
        assert np.all(kernels[name].reshape(rows.shape)[rows == 0] == 0)  # the zeros survived QAT
    assert pruned.get_layer("conv1").get_weights()[0].all()  # the small first layer stays dense


@pytest.mark.parametrize("model_config", [
    Config().model,
    dataclasses.replace(Config().model, filters=[6, 12, 15], separable=[False, True, False], head="gap",
                        pool_after=[1]),
])
def test_filter_removal_computes_what_the_model_with_those_filters_zeroed_computes(model_config):
    import tf_keras as keras

    from digitedge.optimize.filters import kept_filters, narrow

    keras.utils.set_random_seed(2)
    model = build_model(model_config)
    for weight in model.weights:  # positive biases: a removed filter would otherwise still pass ReLU(bias)
        if weight.name.endswith("bias:0"):
            weight.assign(np.random.default_rng(0).uniform(0.01, 0.1, weight.shape))
    narrowed = narrow(model, model_config, 0.5, 0.34)
    assert [narrowed.get_layer(f"conv{i}").filters for i in (1, 2, 3)] == \
        [model_config.filters[0] - round(model_config.filters[0] * 0.34),
         *(width - round(width * 0.5) for width in model_config.filters[1:])]
    channels = np.arange(1)
    for index in range(1, 4):  # zero each removed filter of the original (its weights and bias)
        if model_config.separable[index - 1]:  # and the depthwise bias of each channel it no longer reads
            depthwise = model.get_layer(f"conv{index}_dw")
            dw_kernel, dw_bias = depthwise.get_weights()
            dw_bias[np.setdiff1d(np.arange(dw_bias.size), channels)] = 0
            depthwise.set_weights([dw_kernel, dw_bias])
        layer = model.get_layer(f"conv{index}")
        kernel, bias = layer.get_weights()
        keep = kept_filters(kernel[:, :, channels], 0.34 if index == 1 else 0.5)
        removed = np.setdiff1d(np.arange(kernel.shape[-1]), keep)
        kernel[..., removed], bias[removed] = 0, 0
        layer.set_weights([kernel, bias])
        channels = keep
    images = synthetic_digits(8, seed=5)[0]
    np.testing.assert_allclose(narrowed.predict(images, verbose=0), model.predict(images, verbose=0), atol=1e-6)


def test_filter_removal_needs_the_compact_architecture():
    config = Config()
    config.model.arch, config.optimize.prune_structure = "seed", "filters"
    with pytest.raises(DigitedgeError) as caught:
        check_plan(config.validate())
    assert str(caught.value) == ("optimize.prune_structure = \"filters\" needs model.arch = \"compact\" "
                                 "(the seed CNN's layers are fixed)")
