"""Classify a person's digits with a run's variants, as `digitedge predict` and the web page do.

Each image is prepared the MNIST way (digitedge.prepare), then every chosen model scores it:
.tflite variants on LiteRT (what a phone or Linux board runs), the deployed int8 variant also
on TFLite Micro (what the microcontroller would compute), a .keras model with tf_keras.
Models are loaded once and keep their interpreters, so the web server reuses them per request.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from digitedge.errors import DigitedgeError
from digitedge.prepare import image_files, png_bytes, prepare_file
from digitedge.runtime import dequantize_output, litert_interpreter, quantize_input, scale_images

TFLM_SUFFIX = " (TFLM)"
TOP = 3
# TFLM's C code logs to file descriptor 2, which tflm.captured_stderr swaps process-wide:
# two threads swapping it at once would lose stderr for good, so TFLM calls take turns.
_TFLM_LOCK = threading.Lock()


@dataclass(frozen=True)
class Prediction:
    """One model's answer for one prepared image."""

    model: str
    scores: tuple[float, ...]  # the ten class scores (dequantized for int8 outputs)
    latency_us: float  # wall time of the model's invoke alone

    @property
    def digit(self) -> int:
        return int(np.argmax(self.scores))

    @property
    def confidence(self) -> float:
        return float(self.scores[self.digit])

    def top(self, count: int = TOP) -> list[tuple[int, float]]:
        order = np.argsort(-np.asarray(self.scores), kind="stable")[:count]
        return [(int(digit), float(self.scores[digit])) for digit in order]

    def to_dict(self) -> dict:
        return {"model": self.model, "digit": self.digit, "confidence": self.confidence,
                "top": [{"digit": d, "score": s} for d, s in self.top()],
                "scores": [float(s) for s in self.scores], "latency_us": self.latency_us}


class LiteRTClassifier:
    """A .tflite on LiteRT's default kernels, allocated once for one image per invoke."""

    runtime = "LiteRT"

    def __init__(self, tflite_bytes: bytes, name: str):
        self.name = name
        self._interpreter = litert_interpreter(tflite_bytes, name)
        self._interpreter.allocate_tensors()
        self._input = self._interpreter.get_input_details()[0]
        self._output = self._interpreter.get_output_details()[0]
        self._lock = threading.Lock()  # an interpreter holds one input: one request at a time

    def predict(self, image: np.ndarray) -> Prediction:
        x = quantize_input(scale_images(image[None]), self._input)
        with self._lock:
            self._interpreter.set_tensor(self._input["index"], x)
            started = time.perf_counter()
            self._interpreter.invoke()
            seconds = time.perf_counter() - started
            scores = dequantize_output(self._interpreter.get_tensor(self._output["index"]), self._output)[0]
        return Prediction(self.name, tuple(float(s) for s in scores), seconds * 1e6)


class TflmClassifier:
    """An int8 .tflite on the TFLite Micro interpreter: what the flashed firmware computes."""

    runtime = "TFLite Micro"

    def __init__(self, tflite_bytes: bytes, name: str, arena_bytes: int | None = None):
        from digitedge.runtime import tflm_interpreter
        from digitedge.tflite_model import read_tflite

        self.name = name
        self._model = read_tflite(tflite_bytes, name)
        with _TFLM_LOCK:
            self._interpreter = tflm_interpreter(tflite_bytes, arena_bytes, name)

    def predict(self, image: np.ndarray) -> Prediction:
        from digitedge.runtime import invoke_tflm, to_model_input

        x = to_model_input(scale_images(image[None]), self._model.input)
        with _TFLM_LOCK:
            started = time.perf_counter()
            output = invoke_tflm(self._interpreter, x, self.name)[0]
            seconds = time.perf_counter() - started
        tensor = self._model.output
        scores = output.astype(np.float32)
        if tensor.scales:
            scores = (scores - tensor.zero_points[0]) * tensor.scales[0]
        return Prediction(self.name, tuple(float(s) for s in scores), seconds * 1e6)


class KerasClassifier:
    """A tf_keras model file (.keras/.h5), for a model that has not been converted yet."""

    runtime = "tf_keras"

    def __init__(self, model, name: str):
        self.name = name
        self._model = model
        self._lock = threading.Lock()

    def predict(self, image: np.ndarray) -> Prediction:
        with self._lock:
            started = time.perf_counter()
            scores = np.asarray(self._model(scale_images(image[None]), training=False))[0]
            seconds = time.perf_counter() - started
        return Prediction(self.name, tuple(float(s) for s in scores), seconds * 1e6)


def model_classifier(path: str | Path):
    """A classifier for any .tflite (LiteRT) or tf_keras .keras/.h5 file."""
    path = Path(path)
    if path.suffix == ".tflite":
        from digitedge.tflite_model import read_tflite_file

        return LiteRTClassifier(read_tflite_file(path).data, path.name)
    if path.suffix in (".keras", ".h5"):
        from digitedge.modelio import load_keras_model

        return KerasClassifier(load_keras_model(path), path.name)
    raise DigitedgeError(f"--model {path}: expected a .tflite, .keras or .h5 file")


def run_classifiers(run_dir: str | Path, variant: str | None = None, all_variants: bool = False) -> dict:
    """Classifiers for a run: `variant` (default: the deployed int8 one), or every variant.

    The deployed variant runs on TFLite Micro as it would be flashed; with `all_variants` every
    variant also runs on LiteRT, so float-vs-int8 and LiteRT-vs-TFLM differences show side by side.
    """
    from digitedge.pipeline.convert_stage import tflite_variants
    from digitedge.pipeline.micro_stage import deployed_variant
    from digitedge.rundir import RunDir

    if not (Path(run_dir) / "config.toml").is_file():
        raise DigitedgeError(f"{run_dir} is not a digitedge run (no config.toml); train one or pass --model")
    run = RunDir(run_dir)
    deployed = deployed_variant(run)
    variants = tflite_variants(run)
    if variant is not None and variant not in variants:
        raise DigitedgeError(f"--variant '{variant}' is not in {run_dir}; choose one of {', '.join(variants)}")
    if not all_variants:
        chosen = variant or deployed
        if chosen is None:
            raise DigitedgeError(f"{run_dir} has no deployed int8 variant yet; run `digitedge micro --run {run_dir}` "
                                 "or pass --variant")
        classifier = _tflm_classifier(run, chosen, variants[chosen]) if chosen == deployed \
            else LiteRTClassifier(variants[chosen], chosen)
        return {classifier.name: classifier}
    classifiers = {name: LiteRTClassifier(data, name) for name, data in variants.items()}
    if deployed in variants:
        classifiers[deployed + TFLM_SUFFIX] = _tflm_classifier(run, deployed, variants[deployed])
    return classifiers


def _tflm_classifier(run, variant: str, tflite_bytes: bytes) -> TflmClassifier:
    """The deployed variant on TFLM, with the arena the micro stage measured when it ran."""
    arena = run.read_manifest().get("stages", {}).get("micro", {}).get(variant, {}).get("arena", {})
    return TflmClassifier(tflite_bytes, variant + TFLM_SUFFIX, arena.get("arena_bytes"))


def load_classifiers(run_dir: str | Path, variant: str | None = None, model: str | None = None,
                     all_variants: bool = False) -> dict:
    """The models `predict` and `serve` use: one --model file, or a run's variant(s)."""
    if model is not None:
        if variant is not None or all_variants:
            raise DigitedgeError("--model takes one model file; it cannot be combined with --variant or --all-variants")
        classifier = model_classifier(model)
        return {classifier.name: classifier}
    return run_classifiers(run_dir, variant, all_variants)


def classify(classifiers: dict, image: np.ndarray) -> dict[str, Prediction]:
    """Every model's prediction for one prepared uint8 (28, 28) image."""
    return {name: classifier.predict(image) for name, classifier in classifiers.items()}


@dataclass(frozen=True)
class ImageResult:
    source: str  # the file it came from
    prepared: np.ndarray  # uint8 (28, 28): what the models saw
    predictions: dict[str, Prediction]

    def to_dict(self) -> dict:
        return {"image": self.source, "predictions": {n: p.to_dict() for n, p in self.predictions.items()}}


def prepare_images(paths: list[str | Path]) -> dict[str, np.ndarray]:
    """Every image named (folders expanded) prepared the MNIST way, before any model is loaded."""
    return {str(path): prepare_file(path) for path in image_files(paths)}


def predict_images(prepared: dict[str, np.ndarray], classifiers: dict) -> list[ImageResult]:
    return [ImageResult(source, image, classify(classifiers, image)) for source, image in prepared.items()]


def save_prepared(results: list[ImageResult], folder: str | Path) -> list[Path]:
    """The 28x28 images the models saw, as PNGs named after their sources (all written or none)."""
    from digitedge.rundir import write_files

    files: dict[str, bytes] = {}
    for result in results:
        stem, number = Path(result.source).stem, 2
        name = f"{stem}.png"
        while name in files:  # two sources with the same name from different folders
            name, number = f"{stem}-{number}.png", number + 1
        files[name] = png_bytes(result.prepared)
    return write_files(files, Path(folder))


def format_results(results: list[ImageResult]) -> str:
    """A text table: digit, confidence and top three for one model, or one column per model."""
    names = list(results[0].predictions) if results else []
    width = max([len("image")] + [len(r.source) for r in results])
    if len(names) == 1:
        lines = [f"{'image':<{width}}  digit  confidence  top {TOP} ({names[0]})"]
        for result in results:
            p = result.predictions[names[0]]
            top = ", ".join(f"{d} {s:.1%}" for d, s in p.top())
            lines.append(f"{result.source:<{width}}  {p.digit:>5}  {p.confidence:>10.1%}  {top}")
        return "\n".join(lines)
    columns = [max(len(name), 9) for name in names]
    lines = [f"{'image':<{width}}  " + "  ".join(f"{n:>{c}}" for n, c in zip(names, columns)) + "  agree"]
    for result in results:
        cells = [f"{p.digit} {p.confidence:5.1%}" for p in result.predictions.values()]
        agree = "yes" if len({p.digit for p in result.predictions.values()}) == 1 else "NO"
        lines.append(f"{result.source:<{width}}  " + "  ".join(f"{cell:>{c}}" for cell, c in zip(cells, columns))
                     + f"  {agree}")
    return "\n".join(lines)


def results_json(results: list[ImageResult]) -> str:
    return json.dumps([result.to_dict() for result in results], indent=2)
