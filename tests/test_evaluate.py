"""evaluate: accuracy, agreement, confusion and regressions on a tiny model, checked against
an independent batch-1 run of the interpreter."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

from digitedge.errors import DigitedgeError
from digitedge.evaluate import KERAS_FLOAT, evaluate_variants, tflite_probabilities

N_IMAGES = 300


@pytest.fixture(scope="module")
def tiny():
    """A tiny tf_keras CNN, its float32 and full-int8 .tflite, and synthetic digits."""
    import tensorflow as tf
    import tf_keras as keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((28, 28, 1))
    x = keras.layers.Conv2D(4, 3, strides=3, activation="relu")(inputs)
    x = keras.layers.Flatten()(x)
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(x))
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (N_IMAGES, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, N_IMAGES)

    float32 = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([images[i:i + 1, ..., None].astype(np.float32) / 255] for i in range(50))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = converter.inference_output_type = tf.int8
    return {"model": model, "float32": float32, "int8": converter.convert(), "images": images, "labels": labels}


@pytest.fixture(scope="module")
def evaluation(tiny):
    return evaluate_variants(tiny["images"], tiny["labels"], keras_model=tiny["model"],
                             tflite_variants={"float32": tiny["float32"], "int8": tiny["int8"]})


def _one_by_one(tflite_bytes: bytes, images: np.ndarray) -> np.ndarray:
    """Predictions from a plain batch-1 loop with hand-written (de)quantization."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=tflite_bytes)
    interpreter.allocate_tensors()
    detail, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    predictions = []
    for image in images:
        x = image.astype(np.float32)[None, ..., None] / 255
        if detail["dtype"] == np.int8:
            scale, zero = detail["quantization"]
            x = np.clip(np.round(x / scale) + zero, -128, 127).astype(np.int8)
        interpreter.set_tensor(detail["index"], x)
        interpreter.invoke()
        predictions.append(int(np.argmax(interpreter.get_tensor(out["index"])[0])))
    return np.array(predictions)


@pytest.mark.parametrize("variant", ["float32", "int8"])
def test_accuracy_matches_an_independent_batch1_run(tiny, evaluation, variant):
    manual = _one_by_one(tiny[variant], tiny["images"])
    result = evaluation.variants[variant]
    assert np.array_equal(result.predictions, manual)
    assert result.accuracy == pytest.approx(np.mean(manual == tiny["labels"]))
    reference = evaluation.variants[KERAS_FLOAT]
    assert result.delta_pp == pytest.approx(100 * (result.accuracy - reference.accuracy))
    assert result.agreement == pytest.approx(np.mean(manual == reference.predictions))


def test_int8_outputs_are_dequantized_probabilities(evaluation):
    probabilities = evaluation.variants["int8"].probabilities
    assert probabilities.dtype == np.float32 and probabilities.shape == (N_IMAGES, 10)
    assert np.all(probabilities >= 0) and np.allclose(probabilities.sum(axis=1), 1, atol=0.05)


def test_keras_and_float32_tflite_agree(evaluation):
    assert evaluation.reference == KERAS_FLOAT
    assert evaluation.variants["float32"].agreement >= 0.98


def test_a_model_agrees_with_itself(tiny):
    result = evaluate_variants(tiny["images"], tiny["labels"],
                               tflite_variants={"a": tiny["int8"], "b": tiny["int8"]}, reference="a")
    assert result.variants["b"].agreement == 1.0
    assert result.variants["b"].delta_pp == 0.0


def test_confusion_recall_and_table_are_consistent(tiny, evaluation):
    labels = tiny["labels"]
    for result in evaluation.variants.values():
        confusion = result.confusion
        assert confusion.sum() == N_IMAGES
        assert np.trace(confusion) == np.sum(result.predictions == labels)
        assert np.allclose(result.per_class_recall, np.diag(confusion) / confusion.sum(axis=1))
    table = evaluation.table()
    assert list(table.index) == [KERAS_FLOAT, "float32", "int8"]
    assert set(table.columns) >= {"accuracy", "delta_pp", "agreement", "errors"}
    assert table.at["int8", "errors"] == np.sum(evaluation.variants["int8"].predictions != labels)
    assert evaluation.recall_table().shape == (3, 10)


def test_regressions_are_images_only_the_compared_model_gets_wrong(tiny, evaluation):
    labels = tiny["labels"]
    lost = evaluation.regressions("int8", tiny["images"])
    int8, reference = evaluation.variants["int8"].predictions, evaluation.variants[KERAS_FLOAT].predictions
    expected = [i for i in range(N_IMAGES) if int8[i] != labels[i] and reference[i] == labels[i]]
    assert list(lost.indices) == expected
    assert np.array_equal(lost.images, tiny["images"][expected])
    assert np.array_equal(lost.int8_predictions, int8[expected])
    assert np.all(lost.float_predictions == lost.labels)


def test_a_model_litert_cannot_load_is_a_one_line_error(tiny):
    with pytest.raises(DigitedgeError) as error:
        tflite_probabilities(tiny["int8"][: len(tiny["int8"]) // 2], tiny["images"][:2], label="variant cut")
    assert "variant cut" in str(error.value) and "\n" not in str(error.value)
