"""Accuracy of every variant on the same test images, measured against the Keras float model.

Each .tflite runs through LiteRT's Interpreter (the runtime a phone or a Linux board uses, with
its default XNNPACK kernels) on chunks of images at once, so 10,000 images take seconds.
Inputs are quantized with the model's own input scale/zero point, exactly as a device would.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Mapping

import numpy as np
import pandas as pd

from digitedge.progress import progress
from digitedge.runtime import dequantize_output, litert_interpreter, quantize_input, scale_images

KERAS_FLOAT = "keras_float"
NUM_CLASSES = 10
CHUNK = 1000  # images per interpreter call: big enough to amortize the call, small enough for memory


@dataclass
class VariantEvaluation:
    """One variant's answers on the test set and the metrics derived from them."""

    variant: str
    predictions: np.ndarray  # (N,) int64 class per image
    probabilities: np.ndarray  # (N, 10) float32, dequantized for int8 outputs
    accuracy: float  # fraction of images classified correctly
    delta_pp: float  # accuracy minus the reference's, in percentage points
    agreement: float  # fraction of images where the prediction equals the reference's
    per_class_recall: np.ndarray  # (10,) recall per digit; NaN for a digit absent from the labels
    confusion: np.ndarray  # (10, 10) counts, rows = true digit, columns = predicted
    seconds: float  # wall time of the inference, for the record


@dataclass
class Misclassified:
    """Images one model gets wrong that the reference model gets right."""

    indices: np.ndarray  # positions in the test set
    images: np.ndarray  # (K, 28, 28) uint8
    labels: np.ndarray
    float_predictions: np.ndarray  # the reference's (correct) answers
    int8_predictions: np.ndarray  # the compared model's (wrong) answers


@dataclass
class Evaluation:
    reference: str  # the variant every delta and agreement is measured against
    labels: np.ndarray
    variants: dict[str, VariantEvaluation]

    def table(self) -> pd.DataFrame:
        """One row per variant (index `variant`): accuracy, delta_pp, agreement, errors, worst-class recall."""
        rows = [{
            "variant": v.variant,
            "accuracy": v.accuracy,
            "delta_pp": v.delta_pp,
            "agreement": v.agreement,
            "errors": int(np.sum(v.predictions != self.labels)),
            "min_class_recall": float(np.nanmin(v.per_class_recall)),
            "eval_seconds": v.seconds,
        } for v in self.variants.values()]
        return pd.DataFrame(rows).set_index("variant")

    def recall_table(self) -> pd.DataFrame:
        """Per-digit recall, one row per variant, one column per digit."""
        return pd.DataFrame({name: v.per_class_recall for name, v in self.variants.items()},
                            index=pd.Index(range(NUM_CLASSES), name="digit")).T.rename_axis("variant")

    def regressions(self, variant: str, images: np.ndarray) -> Misclassified:
        """Images `variant` gets wrong that the reference gets right (what compression cost)."""
        compared, reference = self.variants[variant].predictions, self.variants[self.reference].predictions
        indices = np.flatnonzero((compared != self.labels) & (reference == self.labels))
        return Misclassified(indices, np.asarray(images)[indices], self.labels[indices],
                             reference[indices], compared[indices])


def tflite_probabilities(tflite_bytes: bytes, images: np.ndarray, *, num_threads: int = 1,
                         label: str = "model", chunk: int = CHUNK) -> np.ndarray:
    """Class probabilities (N, 10) from a .tflite, with the input resized to `chunk` images per call."""
    x = scale_images(images)
    interpreter = litert_interpreter(tflite_bytes, label, num_threads=num_threads)
    input_detail = interpreter.get_input_details()[0]
    output_detail = interpreter.get_output_details()[0]
    batches = []
    allocated = None
    for start in range(0, len(x), chunk):
        batch = x[start:start + chunk]
        if allocated != len(batch):
            interpreter.resize_tensor_input(input_detail["index"], [len(batch), *input_detail["shape"][1:]])
            interpreter.allocate_tensors()
            allocated = len(batch)
        interpreter.set_tensor(input_detail["index"], quantize_input(batch, input_detail))
        interpreter.invoke()
        batches.append(dequantize_output(interpreter.get_tensor(output_detail["index"]), output_detail))
    return np.concatenate(batches).reshape(len(x), -1)


def keras_probabilities(model, images: np.ndarray, batch_size: int = CHUNK) -> np.ndarray:
    return np.asarray(model.predict(scale_images(images), batch_size=batch_size, verbose=0), dtype=np.float32)


def _metrics(variant: str, probabilities: np.ndarray, labels: np.ndarray, seconds: float,
             reference_predictions: np.ndarray | None, reference_accuracy: float) -> VariantEvaluation:
    from sklearn.metrics import accuracy_score, confusion_matrix, recall_score

    predictions = probabilities.argmax(axis=1).astype(np.int64)
    classes = list(range(NUM_CLASSES))
    accuracy = float(accuracy_score(labels, predictions))
    if reference_predictions is None:  # this variant is the reference
        reference_predictions, reference_accuracy = predictions, accuracy
    return VariantEvaluation(
        variant=variant,
        predictions=predictions,
        probabilities=probabilities,
        accuracy=accuracy,
        delta_pp=100.0 * (accuracy - reference_accuracy),
        agreement=float(np.mean(predictions == reference_predictions)),
        per_class_recall=np.asarray(recall_score(labels, predictions, labels=classes, average=None,
                                                 zero_division=np.nan), dtype=np.float64),
        confusion=confusion_matrix(labels, predictions, labels=classes),
        seconds=seconds,
    )


def evaluate_variants(images: np.ndarray, labels: np.ndarray, *, keras_model=None,
                      tflite_variants: Mapping[str, bytes] | None = None, num_threads: int = 1,
                      reference: str | None = None) -> Evaluation:
    """Run every variant on (images, labels) and compare each with `reference`.

    `reference` defaults to the Keras model ("keras_float") when given, else the first .tflite
    variant. Variants are evaluated in the order given (Keras first).
    """
    labels = np.asarray(labels).astype(np.int64).reshape(-1)
    if len(labels) != len(images):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    runners = {}
    if keras_model is not None:
        runners[KERAS_FLOAT] = lambda: keras_probabilities(keras_model, images)
    for name, data in (tflite_variants or {}).items():
        runners[name] = lambda data=data, name=name: tflite_probabilities(
            data, images, num_threads=num_threads, label=f"variant {name}")
    if not runners:
        raise ValueError("nothing to evaluate: pass keras_model and/or tflite_variants")
    reference = reference or next(iter(runners))
    if reference not in runners:
        raise ValueError(f"reference {reference!r} is not among the variants {list(runners)}")

    probabilities, seconds = {}, {}
    for name, run in progress(list(runners.items()), f"evaluate: variants on {len(labels):,} images"):
        start = time.perf_counter()
        probabilities[name] = run()
        seconds[name] = time.perf_counter() - start
    reference_eval = _metrics(reference, probabilities[reference], labels, seconds[reference], None, 0.0)
    variants = {
        name: reference_eval if name == reference else _metrics(
            name, probabilities[name], labels, seconds[name], reference_eval.predictions, reference_eval.accuracy)
        for name in runners
    }
    return Evaluation(reference, labels, variants)
