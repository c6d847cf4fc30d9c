"""QAT, pruning and pruning-preserving QAT on a tiny CNN, plus saving/loading their models."""

from __future__ import annotations

import math
import zipfile

import numpy as np
import pytest
import tf_keras as keras

from digitedge import config as config_module
from digitedge.config import ModelConfig, OptimizeConfig
from digitedge.errors import DigitedgeError
from digitedge.model import build_model
from digitedge.modelio import load_keras_model, model_suffix, save_keras_model
from digitedge.optimize import METRIC_COLUMNS, kernel_sparsity, pruning_schedule, train_pruned, \
    train_pruned_qat, train_qat
from digitedge.optimize.prune import layer_sparsities

TINY = ModelConfig(filters=[2, 4, 8], dropout=0.1)
CONFIG = OptimizeConfig(qat_epochs=1, prune_epochs=2, prune_qat_epochs=1, target_sparsity=0.75)
BATCH = 32


@pytest.fixture(scope="module")
def float_model(data):
    keras.utils.set_random_seed(0)
    model = build_model(TINY)
    model.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy")
    model.fit(data[0], data[1], batch_size=BATCH, epochs=1, verbose=0)
    return model


@pytest.fixture(scope="module")
def float_weights(float_model):
    """The float model's weights before any technique ran on it."""
    return [w.copy() for w in float_model.get_weights()]


@pytest.fixture(scope="module")
def qat(float_model, float_weights, data):
    return train_qat(float_model, *data, CONFIG, seed=1, batch_size=BATCH)


@pytest.fixture(scope="module")
def pruned(float_model, float_weights, data):
    return train_pruned(float_model, *data, CONFIG, seed=1, batch_size=BATCH)


@pytest.fixture(scope="module")
def pruned_qat(pruned, data):
    return train_pruned_qat(pruned[0], *data, CONFIG, seed=1, batch_size=BATCH)


def _layer_types(model) -> set[str]:
    return {type(layer).__name__ for layer in model.layers}


def _check_metrics(metrics, epochs: int, lr: float) -> None:
    assert list(metrics.columns[:len(METRIC_COLUMNS)]) == METRIC_COLUMNS
    assert metrics["epoch"].tolist() == list(range(1, epochs + 1))
    assert np.allclose(metrics["learning_rate"], lr)
    assert np.isfinite(metrics[["loss", "accuracy", "val_loss", "val_accuracy", "seconds"]].to_numpy()).all()
    assert (metrics["seconds"] > 0).all()


def test_qat_wraps_layers_in_fake_quantization_and_reports_each_epoch(qat, float_model):
    model, metrics = qat
    assert {"QuantizeLayer", "QuantizeWrapperV2"} <= _layer_types(model)
    assert model.output_shape == float_model.output_shape
    _check_metrics(metrics, CONFIG.qat_epochs, CONFIG.learning_rate)


def test_techniques_leave_the_float_model_untouched(float_model, float_weights, qat, pruned, pruned_qat):
    # prune_low_magnitude wraps the given layers themselves; without a copy it would prune the baseline
    assert all(np.array_equal(a, b) for a, b in zip(float_weights, float_model.get_weights()))


def test_qat_is_deterministic_for_a_seed(float_model, data, qat):
    again, metrics = train_qat(float_model, *data, CONFIG, seed=1, batch_size=BATCH)
    assert all(np.array_equal(a, b) for a, b in zip(qat[0].get_weights(), again.get_weights()))
    assert np.array_equal(qat[1]["loss"], metrics["loss"])


def test_pruning_reaches_the_target_overall_keeps_the_small_first_conv_dense_and_strips_wrappers(pruned):
    model, metrics = pruned
    assert "PruneLowMagnitude" not in _layer_types(model)
    _check_metrics(metrics, CONFIG.prune_epochs, CONFIG.prune_learning_rate)
    assert metrics["sparsity"].iloc[-1] == pytest.approx(kernel_sparsity(model))
    sparsities = layer_sparsities(model, CONFIG.target_sparsity)
    assert "conv1" not in sparsities and all(value > CONFIG.target_sparsity for value in sparsities.values())
    assert np.count_nonzero(model.get_layer("conv1").kernel.numpy() == 0) == 0
    for name, sparsity in sparsities.items():
        kernel = model.get_layer(name).kernel.numpy()
        expected_zeros = kernel.size - max(1, round(kernel.size * (1 - sparsity)))
        assert np.count_nonzero(kernel == 0) >= expected_zeros, name
    assert kernel_sparsity(model) == pytest.approx(CONFIG.target_sparsity, abs=0.005)


def test_a_target_the_pruned_layers_cannot_hold_is_rejected_in_one_line(float_model):
    with pytest.raises(DigitedgeError, match=r"optimize.target_sparsity 0.995 cannot be reached") as error:
        layer_sparsities(float_model, 0.995)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("images,batch,epochs", [(256, 32, 1), (256, 32, 2), (55000, 128, 4), (1000, 64, 3)])
def test_pruning_schedule_reaches_the_target_before_training_ends(images, batch, epochs):
    schedule = pruning_schedule(images, batch, epochs, 0.75)
    last_step = math.ceil(images / batch) * epochs - 1
    assert schedule.end_step <= last_step
    prunes, sparsity = schedule(schedule.end_step)
    assert bool(prunes) and float(sparsity) == pytest.approx(0.75)


def test_pruning_rejects_too_few_steps(float_model, data):
    with pytest.raises(DigitedgeError, match="at least 2 training steps"):
        train_pruned(float_model, data[0][:8], data[1][:8], *data[2:], OptimizeConfig(prune_epochs=1), seed=1,
                     batch_size=BATCH)


@pytest.mark.parametrize("sparsity", [0.0, 1.0, 1.5, -0.2])
def test_sparsity_outside_zero_one_is_rejected_in_one_line(sparsity, float_model, data):
    with pytest.raises(DigitedgeError, match=r"optimize.target_sparsity must be in \(0, 1\)") as config_error:
        config_module.load(overrides={"optimize.target_sparsity": sparsity})
    with pytest.raises(DigitedgeError, match=r"optimize.target_sparsity must be in \(0, 1\)") as api_error:
        train_pruned(float_model, *data, OptimizeConfig(target_sparsity=sparsity), seed=1, batch_size=BATCH)
    assert "\n" not in str(config_error.value) and "\n" not in str(api_error.value)


def test_prune_preserving_qat_keeps_every_pruned_zero(pruned, pruned_qat):
    model, metrics = pruned_qat
    assert {"QuantizeLayer", "QuantizeWrapperV2"} <= _layer_types(model)
    _check_metrics(metrics, CONFIG.prune_qat_epochs, CONFIG.learning_rate)
    assert kernel_sparsity(model) >= kernel_sparsity(pruned[0])


# -- saving and loading ---------------------------------------------------------------------


@pytest.mark.parametrize("which", ["float", "qat", "pruned", "pruned_qat"])
def test_every_model_round_trips_with_identical_outputs(which, float_model, qat, pruned, pruned_qat, data,
                                                        tmp_path):
    model = {"float": float_model, "qat": qat[0], "pruned": pruned[0], "pruned_qat": pruned_qat[0]}[which]
    path = save_keras_model(model, tmp_path / f"{which}{model_suffix(model)}")
    loaded = load_keras_model(path)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left beside it
    np.testing.assert_array_equal(model.predict(data[2], verbose=0), loaded.predict(data[2], verbose=0))
    assert kernel_sparsity(loaded) == kernel_sparsity(model)


def test_qat_models_must_be_saved_as_h5(qat, tmp_path):
    assert model_suffix(qat[0]) == ".h5"
    with pytest.raises(ValueError, match="must be saved as .h5"):
        save_keras_model(qat[0], tmp_path / "qat.keras")


def _bad_files(tmp_path):
    random_keras = tmp_path / "random.keras"
    random_keras.write_bytes(np.random.default_rng(0).bytes(2048))
    empty_zip = tmp_path / "empty.keras"
    with zipfile.ZipFile(empty_zip, "w") as archive:
        archive.writestr("notes.txt", "no model here")
    broken_config = tmp_path / "broken.keras"
    with zipfile.ZipFile(broken_config, "w") as archive:
        archive.writestr("config.json", "{not json")
    onnx = tmp_path / "model.onnx"
    onnx.write_bytes(b"\x08\x07onnx")
    random_h5 = tmp_path / "random.h5"
    random_h5.write_bytes(b"\x00" * 100)
    return {
        "does not exist": tmp_path / "missing.keras",
        "not a zip file": random_keras,
        r"no config.json": empty_zip,
        "cannot be loaded as a Keras model": broken_config,
        "extension '.onnx'": onnx,
        "not an HDF5 file": random_h5,
    }


def test_bad_model_files_are_one_line_errors(tmp_path):
    for expected, path in _bad_files(tmp_path).items():
        with pytest.raises(DigitedgeError, match=expected) as error:
            load_keras_model(path)
        assert "\n" not in str(error.value) and str(path) in str(error.value)


def test_model_with_the_wrong_input_shape_is_rejected(tmp_path):
    inputs = keras.Input((32, 32, 3))
    wrong = keras.Model(inputs, keras.layers.Dense(10)(keras.layers.Flatten()(inputs)))
    path = save_keras_model(wrong, tmp_path / "rgb.keras")
    with pytest.raises(DigitedgeError, match=r"expected \(None, 28, 28, 1\)"):
        load_keras_model(path)
