"""Does TFLite Micro compute what LiteRT computes? Accuracy and output parity on a test set.

TFLM (reference kernels) is the deployment truth. LiteRT is compared twice: its default
XNNPACK kernels and its reference kernels (BUILTIN_REF), which TFLM matches on convolution
and pooling but not always on FULLY_CONNECTED (one int8 step on ~1% of MNIST images).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np

from digitedge.errors import DigitedgeError
from digitedge.runtime.litert import REFERENCE, XNNPACK, litert_batches
from digitedge.runtime.quantization import to_model_input
from digitedge.runtime.tflm import parsed, run_tflm
from digitedge.tflite_model import TfliteModel

LITERT_BATCH = 1000  # images per LiteRT invoke: bounds the memory of batched activations


@dataclass(frozen=True)
class Agreement:
    """TFLM against one LiteRT kernel set."""

    identical_outputs: float  # share of images whose whole output vector is byte-identical
    same_prediction: float  # share of images with the same predicted class
    max_abs_difference: float  # largest output difference, in the output dtype's units
    differing_images: list[int]  # indices whose predicted class differs
    accuracy: float


@dataclass(frozen=True)
class ParityResult:
    images: int
    tflm_accuracy: float
    tflm_seconds: float
    tflm_ms_per_image: float
    xnnpack: Agreement  # LiteRT default kernels
    reference: Agreement | None  # LiteRT BUILTIN_REF kernels; None when they refuse the model
    reference_refusal: str | None = None  # why (their DEPTHWISE_CONV_2D takes no INT4 filter)

    def reference_text(self) -> str:
        """The reference kernels' share of TFLM's classes, or why there is none."""
        return f"{self.reference.same_prediction:.2%}" if self.reference else f"- ({self.reference_refusal})"

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class TflmRun:
    outputs: np.ndarray  # raw outputs, one row per image
    seconds: float

    def accuracy(self, labels: np.ndarray) -> float:
        return float(np.mean(self.outputs.reshape(len(self.outputs), -1).argmax(axis=1) == np.asarray(labels)))


def timed_tflm(tflite: bytes | TfliteModel, images: np.ndarray, arena_bytes: int | None = None,
               label: str = "model") -> TflmRun:
    """TFLM's outputs for `images` and how long they took."""
    started = time.perf_counter()
    outputs = run_tflm(tflite, images, arena_bytes, label, show_progress=True)
    return TflmRun(outputs, time.perf_counter() - started)


def compare_tflm_litert(tflite: bytes | TfliteModel, images: np.ndarray, labels: np.ndarray,
                        arena_bytes: int | None = None, label: str = "model",
                        tflm: TflmRun | None = None) -> ParityResult:
    """Run `images` (float pixels in [0, 1]) through TFLM and both LiteRT kernel sets, and compare.

    `tflm`: TFLM's run on the same images when the caller already has it (it is not run again)."""
    model = parsed(tflite, label)
    tflite_bytes = model.data
    labels = np.asarray(labels)
    if len(images) == 0 or len(images) != len(labels):
        raise DigitedgeError(f"need as many labels as images and at least one image, got {len(images)} and {len(labels)}")
    tflm_run = tflm or timed_tflm(model, images, arena_bytes, label)
    tflm, tflm_seconds = tflm_run.outputs, tflm_run.seconds
    model_inputs = to_model_input(images, model.input)
    tflm_predictions = tflm.reshape(len(tflm), -1).argmax(axis=1)

    def agreement(reference: bool) -> Agreement:
        litert = litert_batches(tflite_bytes, model_inputs, label, kernels=REFERENCE if reference else XNNPACK,
                                batch=LITERT_BATCH).reshape(len(tflm), -1)
        predictions = litert.argmax(axis=1)
        difference = np.abs(litert.astype(np.float64) - tflm.reshape(len(tflm), -1).astype(np.float64))
        return Agreement(
            identical_outputs=float(np.mean(np.all(difference == 0, axis=1))),
            same_prediction=float(np.mean(predictions == tflm_predictions)),
            max_abs_difference=float(difference.max()),
            differing_images=[int(i) for i in np.flatnonzero(predictions != tflm_predictions)],
            accuracy=float(np.mean(predictions == labels)),
        )

    try:
        reference, refusal = agreement(reference=True), None
    except DigitedgeError as exc:  # e.g. "Didn't find op for builtin opcode 'DEPTHWISE_CONV_2D' version '7'"
        reference, refusal = None, str(exc).split(": ", 1)[-1]
    return ParityResult(
        images=len(images),
        tflm_accuracy=float(np.mean(tflm_predictions == labels)),
        tflm_seconds=tflm_seconds,
        tflm_ms_per_image=1000 * tflm_seconds / len(images),
        xnnpack=agreement(reference=False),
        reference=reference,
        reference_refusal=refusal,
    )
