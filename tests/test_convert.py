"""Every .tflite variant of a tiny CNN: operators, dtypes, sparsity and quantization read from the file."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tf_keras as keras

from digitedge.checks import check_variant
from digitedge.config import ModelConfig, OptimizeConfig
from digitedge.convert import FULL_INTEGER, LOW_BIT, PRUNED, SOURCES, VARIANTS, convert_all, convert_variant, \
    litert_outputs, representative_images, strip_strings
from digitedge.errors import DigitedgeError
from digitedge.model import build_model
from digitedge.optimize import train_pruned, train_pruned_qat, train_qat
from digitedge.optimize.lowbit import train_low_bit_qat
from digitedge.optimize.structured import train_pruned_low_bit_qat, train_structured_pruned
from digitedge.tflite_model import read_tflite

TINY = ModelConfig(filters=[2, 4, 8], dropout=0.1)  # Dense has 1280 weights: dynamic range quantizes >= 1024
CONFIG = OptimizeConfig(qat_epochs=1, prune_epochs=2, prune_qat_epochs=1, target_sparsity=0.75,
                        learning_rate=1e-3, low_bit_epochs=1, prune_structure="block", block_sparsity=0.75)  # a rate at which plain QAT visibly moves pruned zeros
BATCH = 32
WEIGHTED_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")


@pytest.fixture(scope="module")
def models(data):
    keras.utils.set_random_seed(0)
    float_model = build_model(TINY)
    float_model.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy")
    float_model.fit(data[0], data[1], batch_size=BATCH, epochs=1, verbose=0)
    qat, _ = train_qat(float_model, *data, CONFIG, seed=1, batch_size=BATCH)
    pruned, _ = train_pruned(float_model, *data, CONFIG, seed=1, batch_size=BATCH)
    pruned_qat, _ = train_pruned_qat(pruned, *data, CONFIG, seed=1, batch_size=BATCH)
    low_bit = {"epochs": 1, "learning_rate": 1e-3, "seed": 1, "batch_size": BATCH}
    int4_qat, _ = train_low_bit_qat(float_model, [4, 4, 4, 4], *data, **low_bit)
    mixed_qat, _ = train_low_bit_qat(float_model, [8, 4, 4, 2], *data, **low_bit)
    block_pruned, _ = train_structured_pruned(float_model, *data, CONFIG, seed=1, batch_size=BATCH)
    pruned_int4_qat, _ = train_pruned_low_bit_qat(block_pruned, [4, 4, 4, 4], *data, CONFIG, seed=1, batch_size=BATCH)
    return {"float": float_model, "qat": qat, "pruned": pruned, "pruned_qat": pruned_qat, "int4_qat": int4_qat,
            "mixed_qat": mixed_qat, "pruned_int4_qat": pruned_int4_qat}


@pytest.fixture(scope="module")
def converted(models, data):
    return convert_all(models, representative_images(data[0], 64, seed=0), data[2])


@pytest.fixture(scope="module")
def checked(converted):
    return {name: check_variant(name, variant.tflite_bytes, CONFIG.target_sparsity)
            for name, variant in converted.items()}


def _weight_tensors(model):
    """(operator, stored weight tensor) pairs, looking through float16's DEQUANTIZE."""
    producers = {out: op for op in model.operators for out in op.outputs}
    for op in model.operators:
        if op.name in WEIGHTED_OPS:
            index = op.inputs[1]
            if index in producers and producers[index].name == "DEQUANTIZE":
                index = producers[index].inputs[0]
            yield op, model.tensors[index]


def test_every_variant_is_converted_from_its_source_model(converted):
    assert list(converted) == list(VARIANTS)
    assert {name: v.source for name, v in converted.items()} == SOURCES


def test_only_the_variants_of_the_given_models_are_converted(models, data):
    assert list(convert_all({"qat": models["qat"]}, data[0][:16], data[2][:8])) == ["int8_qat"]


@pytest.mark.parametrize("name", VARIANTS)
def test_io_dtypes_and_quantization_are_recorded_from_the_file(name, converted, checked):
    check, model = checked[name], read_tflite(converted[name].tflite_bytes)
    assert check.size_bytes == len(converted[name].tflite_bytes)
    assert check.operators == tuple(model.op_names)
    assert {"CONV_2D", "FULLY_CONNECTED", "SOFTMAX"} <= set(check.operators)
    assert model.input.shape == (1, 28, 28, 1) and model.output.shape == (1, 10)
    if name in FULL_INTEGER:
        assert (model.input.dtype, model.output.dtype) == (check.input_dtype, check.output_dtype) == ("int8", "int8")
        assert (check.input_scale, check.input_zero_point) == (model.input.scales[0], model.input.zero_points[0])
        assert (check.output_scale, check.output_zero_point) == (model.output.scales[0], model.output.zero_points[0])
        assert check.input_scale > 0 and check.output_scale > 0
    else:
        assert (model.input.dtype, model.output.dtype) == ("float32", "float32")
        assert check.input_scale is None and check.output_zero_point is None
    manifest = json.loads(json.dumps(check.to_dict()))  # plain types only
    assert manifest["size_bytes"] == check.size_bytes and manifest["gzip_bytes"] == check.gzip_bytes


@pytest.mark.parametrize("name", FULL_INTEGER)
def test_full_integer_variants_compute_in_int8_only(name, converted, checked):
    model = read_tflite(converted[name].tflite_bytes)
    assert not {"DEQUANTIZE", "QUANTIZE"} & set(model.op_names)  # int8 in, int8 out: no conversion at the edges
    assert not [t for t in model.tensors if t.dtype in ("float32", "float16")]
    dtypes = ("int8", "int4") if name in LOW_BIT else ("int8",)  # low-bit: 4- and 2-bit weights packed as INT4
    for op, weights in _weight_tensors(model):
        assert weights.dtype in dtypes, op.name
        if op.name == "CONV_2D":  # per-channel: one scale per output channel
            assert len(weights.scales) == weights.shape[0]
    assert all(w.dtype in dtypes for w in checked[name].weights)
    if name in LOW_BIT:
        expected = {"int4_qat": [4, 4, 4, 4], "mixed_qat": [8, 4, 4, 2], "pruned_int4_qat": [4, 4, 4, 4]}[name]
        assert [w.bits for w in checked[name].weights] == expected
    assert [w.per_channel for w in checked[name].weights if w.operator == "CONV_2D"] == [True] * 3


@pytest.mark.parametrize("name,dtype", [("float32", "float32"), ("pruned_float32", "float32"), ("float16", "float16")])
def test_float_variants_store_float_weights(name, dtype, converted):
    model = read_tflite(converted[name].tflite_bytes)
    assert {weights.dtype for _, weights in _weight_tensors(model)} == {dtype}


def test_dynamic_range_quantizes_the_large_weights_and_keeps_float_activations(converted):
    model = read_tflite(converted["dynamic_range"].tflite_bytes)
    dtypes = {op.name: weights.dtype for op, weights in _weight_tensors(model)}
    assert dtypes["FULLY_CONNECTED"] == "int8"  # the converter leaves tensors under 1024 weights in float
    assert model.input.dtype == model.output.dtype == "float32"


@pytest.mark.parametrize("name", VARIANTS)
def test_sparsity_is_the_fraction_of_zero_weights_in_the_file(name, converted, checked):
    weights = [w for _, w in _weight_tensors(read_tflite(converted[name].tflite_bytes))]
    zeros = sum(int(np.count_nonzero(w.buffer == 0)) for w in weights)
    assert checked[name].weight_sparsity == pytest.approx(zeros / sum(w.buffer.size for w in weights))
    if name in PRUNED:
        assert checked[name].weight_sparsity >= CONFIG.target_sparsity - 0.01
    elif name in ("float32", "float16"):
        assert checked[name].weight_sparsity < 0.05


def test_pruning_pays_off_in_gzip_size(checked):
    assert checked["pruned_int8"].gzip_bytes < checked["int8_ptq"].gzip_bytes
    assert checked["pruned_float32"].gzip_bytes < 0.6 * checked["float32"].gzip_bytes


def test_plain_qat_loses_sparsity_in_the_file_prune_preserving_qat_keeps_it(models, data, checked):
    plain_qat, _ = train_qat(models["pruned"], *data, CONFIG, seed=1, batch_size=BATCH)
    plain = check_variant("int8_qat", convert_variant("int8_qat", plain_qat, data[0][:64]))
    assert checked["pruned_qat_int8"].weight_sparsity >= CONFIG.target_sparsity - 0.01
    assert plain.weight_sparsity < CONFIG.target_sparsity - 0.2
    with pytest.raises(DigitedgeError, match="pruned_qat_int8: weight sparsity .* below the 75% target"):
        check_variant("pruned_qat_int8", convert_variant("int8_qat", plain_qat, data[0][:64]), CONFIG.target_sparsity)


# -- stripping strings ----------------------------------------------------------------------


def test_stripping_removes_names_and_signatures_and_keeps_outputs(models, data, converted):
    for name, variant in converted.items():
        unstripped = convert_variant(name, models[variant.source], data[0][:64]) if name == "int8_qat" else None
        stripped = read_tflite(variant.tflite_bytes)
        assert all(t.name == "" for t in stripped.tensors), name
        assert variant.unstripped_size - len(variant.tflite_bytes) == variant.strings_bytes_saved > 0
        if unstripped is not None:
            assert len(unstripped) == variant.unstripped_size
            np.testing.assert_array_equal(litert_outputs(unstripped, data[2]), litert_outputs(variant.tflite_bytes, data[2]))


def test_stripping_that_changes_outputs_is_refused(converted, data, monkeypatch):
    from tensorflow.lite.tools import flatbuffer_utils

    real_strip = flatbuffer_utils.strip_strings

    def strip_and_damage(model):  # a stripper that also zeroes a weight buffer
        real_strip(model)
        weights = max(model.buffers, key=lambda b: 0 if b.data is None else len(b.data))
        weights.data = np.zeros_like(weights.data)

    monkeypatch.setattr(flatbuffer_utils, "strip_strings", strip_and_damage)
    unstripped = convert_variant("float32", keras.models.clone_model(build_model(TINY)))
    with pytest.raises(DigitedgeError, match=r"^float32: stripping strings changed the outputs on \d+ of 64 images$"):
        strip_strings(unstripped, data[2], "float32")


# -- checks that must fail ------------------------------------------------------------------


def test_float_model_checked_as_int8_is_one_line_error(converted):
    with pytest.raises(DigitedgeError, match=r"^int8_qat: operator CONV_2D has float32 weights$"):
        check_variant("int8_qat", converted["float32"].tflite_bytes)


def test_dynamic_range_model_checked_as_full_integer_names_its_float_weights(converted):
    with pytest.raises(DigitedgeError, match=r"^int8_ptq: operator CONV_2D has float32 weights$"):
        check_variant("int8_ptq", converted["dynamic_range"].tflite_bytes)


def test_dense_model_checked_as_pruned_fails_on_sparsity(converted):
    with pytest.raises(DigitedgeError, match=r"pruned_int8: weight sparsity \d+\.\d% in the file is below the 75% target"):
        check_variant("pruned_int8", converted["int8_ptq"].tflite_bytes, 0.75)


def test_int8_model_checked_as_float_fails(converted):
    with pytest.raises(DigitedgeError, match=r"^float32: input/output are int8/int8, expected float32$"):
        check_variant("float32", converted["int8_ptq"].tflite_bytes)


@pytest.mark.parametrize("data_bytes", [b"", b"\x00" * 64, b"0123TFL3" + b"\x00" * 16])
def test_garbage_is_a_one_line_error(data_bytes):
    with pytest.raises(DigitedgeError) as error:
        check_variant("int8_qat", data_bytes)
    assert "\n" not in str(error.value)


def test_unknown_variant_and_missing_calibration_are_one_line_errors(models):
    with pytest.raises(DigitedgeError, match="unknown variant 'int4'"):
        convert_variant("int4", models["float"])
    with pytest.raises(DigitedgeError, match="int8_ptq: full-integer conversion needs representative images"):
        convert_variant("int8_ptq", models["float"])
    with pytest.raises(DigitedgeError, match="unknown variant 'int4'"):
        check_variant("int4", b"")


def test_representative_images_are_a_seeded_subset(data):
    first, again = representative_images(data[0], 50, seed=3), representative_images(data[0], 50, seed=3)
    np.testing.assert_array_equal(first, again)
    assert len(first) == 50 and len({image.tobytes() for image in first}) == 50
    assert len(representative_images(data[0], 10_000, seed=3)) == len(data[0])


# -- real MNIST ---------------------------------------------------------------------------


@pytest.mark.mnist
def test_qat_int8_export_end_to_end_on_mnist(mnist):
    from digitedge.data import normalize

    x_train, y_train = normalize(mnist.x_train[:3000]), mnist.y_train[:3000]
    x_val, y_val = normalize(mnist.x_train[3000:3500]), mnist.y_train[3000:3500]
    x_test, y_test = normalize(mnist.x_test[:1000]), mnist.y_test[:1000]
    keras.utils.set_random_seed(0)
    float_model = build_model(ModelConfig(filters=[8, 16, 16]))
    float_model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy", ["accuracy"])
    float_model.fit(x_train, y_train, batch_size=32, epochs=2, verbose=0)
    qat, metrics = train_qat(float_model, x_train, y_train, x_val, y_val,
                             OptimizeConfig(qat_epochs=1, learning_rate=1e-4), seed=0, batch_size=64)
    variant = convert_all({"qat": qat}, representative_images(x_train, 200, seed=0), x_val[:100])["int8_qat"]
    check = check_variant("int8_qat", variant.tflite_bytes)
    int8_predictions = litert_outputs(variant.tflite_bytes, x_test).argmax(axis=1)
    float_predictions = float_model.predict(x_test, verbose=0).argmax(axis=1)
    float_accuracy = float(np.mean(float_predictions == y_test))
    assert check.full_integer and check.input_dtype == "int8"
    assert float_accuracy > 0.85  # a real baseline, so the comparison below means something
    assert np.mean(int8_predictions == y_test) >= float_accuracy - 0.02
    assert np.mean(int8_predictions == float_predictions) >= 0.95
    assert metrics["val_accuracy"].iloc[-1] > 0.9
