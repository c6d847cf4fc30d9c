"""The mobile stage as one function: the run's QAT and float models in, the files an app takes out.

Each file is converted (rgb.py), stripped like every measured variant (its size stays comparable
with int8_qat's), given back its signature names, then its metadata and labels; the finished file
is proven to give the converter's outputs bit for bit on the test images, and LiteRT's
CompiledModel must answer as the Interpreter does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

from digitedge.convert import strip_strings
from digitedge.errors import DigitedgeError
from digitedge.evaluate import tflite_probabilities
from digitedge.mobile.compiled import compare_compiled_model
from digitedge.mobile.guide import mobile_guide
from digitedge.mobile.metadata import LABELS_FILE, ModelFacts, labels_text, model_metadata, with_metadata
from digitedge.mobile.metadata_writer import ModelMetadata
from digitedge.mobile.rgb import SOURCES, convert_mobile
from digitedge.mobile.signature import add_signature
from digitedge.runtime import litert_interpreter, quantize_input, scale_images

DESCRIPTIONS = {
    "mobile_uint8": "Handwritten digit classifier (MNIST), full-integer: uint8 RGB 28x28 in, uint8 scores out. "
                    "Made by digitedge from its quantization-aware-trained model.",
    "mobile_float16": "Handwritten digit classifier (MNIST), float16 weights: float32 RGB 28x28 in "
                      "(NormalizationOptions mean 0, std 255), float32 scores out; for the GPU delegate.",
}
LICENSE = "Trained on MNIST (Yann LeCun, Corinna Cortes, Christopher J.C. Burges), CC BY-SA 3.0"


def mobile_metadata(name: str, version: str, run_name: str) -> ModelMetadata:
    """The metadata of mobile file `name` (a key of DESCRIPTIONS) made by digitedge `version` in `run_name`."""
    facts = ModelFacts(name=f"digitedge {name}", description=DESCRIPTIONS[name],
                       version=f"digitedge {version}, run {run_name}", author="digitedge", license=LICENSE)
    return model_metadata(facts, float_input=name != "mobile_uint8")


def same_outputs(steps: dict[str, bytes], images: np.ndarray, label: str) -> np.ndarray:
    """The probabilities every step of the rewrite gives on `images`; DigitedgeError unless bit-identical."""
    outputs = {step: tflite_probabilities(data, images) for step, data in steps.items()}
    first_step, expected = next(iter(outputs.items()))
    for step, actual in outputs.items():
        differing = int(np.count_nonzero(np.any(actual != expected, axis=-1)))
        if differing:
            raise DigitedgeError(f"{label}: the {step} file's outputs differ from the {first_step} file's on "
                                 f"{differing} of {len(images)} images")
    return expected


@dataclass
class MobileBuild:
    variants: dict[str, bytes]  # mobile_uint8 / mobile_float16 -> the finished .tflite
    files: dict[str, bytes]  # everything an app developer gets: the .tflite files, labels.txt, MOBILE.md
    facts: dict[str, dict] = field(default_factory=dict)  # per variant: source, sizes, accuracy, CompiledModel check


def build_mobile(models: Mapping[str, object], representative: np.ndarray, test_images: np.ndarray,
                 test_labels: np.ndarray, version: str, run_name: str) -> MobileBuild:
    """mobile_uint8 (from models["qat"]) and mobile_float16 (from models["float"]), checked on the test set.

    `representative`: normalized training images (N x 28 x 28 x 1) to calibrate the uint8 input;
    `test_images` (uint8 N x 28 x 28) and `test_labels`: what every rewrite is proven on.
    """
    missing = sorted(source for source in SOURCES.values() if source not in models)
    if missing:
        hint = "run `digitedge optimize --technique qat` first" if "qat" in missing else "run `digitedge train` first"
        raise DigitedgeError(f"the mobile files need the run's {' and '.join(missing)} model; {hint}")
    normalized = scale_images(test_images)
    variants, facts = {}, {}
    for name, source in SOURCES.items():
        converted = convert_mobile(name, models[source], representative)
        stripped = strip_strings(converted, normalized[:100], name)
        named = add_signature(stripped, name)
        finished = with_metadata(named, mobile_metadata(name, version, run_name), name)
        probabilities = same_outputs({"converted": converted, "finished": finished}, test_images, name)
        accuracy = float(np.mean(probabilities.argmax(1) == test_labels))
        detail = litert_interpreter(finished, name).get_input_details()[0]
        compiled = compare_compiled_model(finished, quantize_input(normalized, detail), name)
        if compiled["same_prediction"] < 1.0:
            raise DigitedgeError(f"{name}: LiteRT's CompiledModel and Interpreter disagree on "
                                 f"{1 - compiled['same_prediction']:.2%} of {len(test_images)} images")
        variants[name] = finished
        facts[name] = {"source": source, "unstripped_bytes": len(converted), "stripped_bytes": len(stripped),
                       "named_bytes": len(named), "size_bytes": len(finished), "test_accuracy": accuracy,
                       "test_images": int(len(test_images)), "compiled_model": compiled}
    files = {f"{name}.tflite": data for name, data in variants.items()}
    files[LABELS_FILE] = labels_text().encode()
    files["MOBILE.md"] = mobile_guide(facts).encode()
    return MobileBuild(variants, files, facts)
