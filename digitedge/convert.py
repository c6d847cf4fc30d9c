"""Conversion stage: every tf_keras model the run has, to the .tflite variants we compare.

Variants (fixed names), each from one source model:
  float32, float16, dynamic_range, int8_ptq  <- the float baseline
  int8_qat                                   <- the QAT model
  pruned_float32, pruned_int8                <- the pruned model
  pruned_qat_int8                            <- the pruning-preserving QAT model
  int4_qat, mixed_qat                        <- the 4-bit and the per-layer-bits QAT models
  pruned_int4_qat                            <- the structured-pruned (filters removed) 4-bit QAT model
Low-bit variants are full-integer too: their 4- and 2-bit weights are stored as packed INT4
(the converter's experimental low-bit QAT path), activations stay int8.
Full-integer variants take and return int8 (what a microcontroller wants). float16 and
dynamic_range run on LiteRT only: TFLite Micro has no float16 DEQUANTIZE and no hybrid
(int8-weight, float-activation) kernels. Pruned variants
keep dense weights: tf.lite.Optimize.EXPERIMENTAL_SPARSITY adds a DENSIFY op that TFLite
Micro does not have (float) or a sparse FULLY_CONNECTED that LiteRT's XNNPACK fails to
prepare (int8), and it gzips worse; the zeros pay off in compressed size instead.

Every deployable model is stripped of the strings it does not need to run (tensor names,
signature defs, description) with TensorFlow's flatbuffer_utils.strip_strings; a model
this small carries 1.4-1.9 KB of them (6-8% of the int8 file). The stripped model is proven to give outputs
identical to the unstripped one before it is returned.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf
import tf_keras as keras

from digitedge.errors import DigitedgeError

SOURCES = {  # variant -> the model it is converted from (keys of convert_all's `models`)
    "float32": "float", "float16": "float", "dynamic_range": "float", "int8_ptq": "float",
    "int8_qat": "qat", "pruned_float32": "pruned", "pruned_int8": "pruned", "pruned_qat_int8": "pruned_qat",
    "int4_qat": "int4_qat", "mixed_qat": "mixed_qat", "pruned_int4_qat": "pruned_int4_qat",
}
VARIANTS = tuple(SOURCES)
LOW_BIT = ("int4_qat", "mixed_qat", "pruned_int4_qat")  # 4- and 2-bit weights stored as packed INT4
FULL_INTEGER = ("int8_ptq", "int8_qat", "pruned_int8", "pruned_qat_int8", *LOW_BIT)
PRUNED = ("pruned_float32", "pruned_int8", "pruned_qat_int8", "pruned_int4_qat")


@dataclass(frozen=True)
class ConvertedVariant:
    name: str
    source: str  # the model it came from: float, qat, pruned, pruned_qat
    tflite_bytes: bytes  # stripped: the deployable model
    unstripped_size: int  # bytes straight from the converter

    @property
    def strings_bytes_saved(self) -> int:
        return self.unstripped_size - len(self.tflite_bytes)


def representative_images(x_train: np.ndarray, count: int, seed: int) -> np.ndarray:
    """`count` training images drawn without replacement, the same ones for the same seed."""
    rng = np.random.default_rng(seed)
    picked = rng.choice(len(x_train), size=min(count, len(x_train)), replace=False)
    return np.asarray(x_train[np.sort(picked)], np.float32)


def convert_variant(name: str, model: keras.Model, representative: np.ndarray | None = None) -> bytes:
    """The converter's .tflite bytes (unstripped) for variant `name` of `model`.

    Full-integer variants calibrate on `representative` (normalized images, N x 28 x 28 x 1):
    activation ranges for PTQ, and still required by the converter for QAT models with int8 I/O.
    """
    if name not in SOURCES:
        raise DigitedgeError(f"unknown variant '{name}'; expected one of {', '.join(VARIANTS)}")
    converter = _converter(model)
    if name == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif name == "dynamic_range":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    elif name in FULL_INTEGER:
        if representative is None or len(representative) == 0:
            raise DigitedgeError(f"{name}: full-integer conversion needs representative images")
        images = np.asarray(representative, np.float32)
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = _calibration_batches(images)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
        if name in LOW_BIT:  # keep the QAT model's 4- and 2-bit weights as packed INT4 instead of int8
            converter._experimental_low_bit_qat = True
            converter._experimental_reduce_type_precision = True
    return bytes(converter.convert())


def _calibration_batches(images: np.ndarray):
    """The converter's representative_dataset: a callable yielding one-image batches."""
    def batches():
        for image in images:
            yield [image[None]]
    return batches


def _converter(model: keras.Model) -> tf.lite.TFLiteConverter:
    """A converter for `model`'s inference function, exported with only its variables.

    from_keras_model exports the whole tf_keras model as a SavedModel, tracing every layer
    (~10 s for this 20k-parameter CNN on a busy 2-core machine); exporting the one function
    gives the same graph, and the same .tflite outputs, in a fraction of that.
    """
    def serve(image):
        return model(image, training=False)

    module = tf.Module()
    module.model_variables = list(model.variables)
    module.serve = tf.function(serve, autograph=False,  # plain layer calls: nothing for AutoGraph to rewrite
                               input_signature=[tf.TensorSpec((None, *model.input_shape[1:]), tf.float32, "image")])
    return tf.lite.TFLiteConverter.from_concrete_functions([module.serve.get_concrete_function()], module)


def strip_strings(tflite_bytes: bytes, images: np.ndarray, label: str = "model") -> bytes:
    """`tflite_bytes` without tensor names, signature defs, description and converter metadata,
    proven to run identically.

    Raises DigitedgeError if the stripped model's outputs on `images` differ in any bit.
    """
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(tflite_bytes))
    flatbuffer_utils.strip_strings(model)
    for entry in model.metadata or []:  # converter notes (min_runtime_version, CONVERSION_METADATA): no kernel reads them
        model.buffers[entry.buffer].data = None
    model.metadata = None
    stripped = bytes(flatbuffer_utils.convert_object_to_bytearray(model))
    expected, actual = litert_outputs(tflite_bytes, images), litert_outputs(stripped, images)
    if expected.dtype != actual.dtype or not np.array_equal(expected, actual):
        differing = int(np.count_nonzero(np.any(expected != actual, axis=-1))) \
            if expected.shape == actual.shape else len(images)
        raise DigitedgeError(f"{label}: stripping strings changed the outputs on {differing} of {len(images)} images")
    return stripped


def litert_outputs(tflite_bytes: bytes, images: np.ndarray) -> np.ndarray:
    """Raw outputs (int8 for full-integer models) of LiteRT's default kernels, one image at a time."""
    from digitedge.runtime import litert_interpreter, quantize_input

    interpreter = litert_interpreter(tflite_bytes)
    interpreter.allocate_tensors()
    source, target = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    batch = quantize_input(np.asarray(images, np.float32), source)  # with the input tensor's own scale and zero point
    outputs = []
    for image in batch:
        interpreter.set_tensor(source["index"], image[None])
        interpreter.invoke()
        outputs.append(interpreter.get_tensor(target["index"])[0].copy())
    return np.stack(outputs)


def convert_all(models: dict[str, keras.Model], representative: np.ndarray,
                check_images: np.ndarray) -> dict[str, ConvertedVariant]:
    """Every variant whose source model is in `models` ({"float", "qat", "pruned", "pruned_qat"}).

    Each is converted, then stripped and proven identical on `check_images`.
    """
    unknown = set(models) - set(SOURCES.values())
    if unknown:
        raise ValueError(f"unknown source models {sorted(unknown)}; expected keys of {sorted(set(SOURCES.values()))}")
    converted = {}
    for name, source in SOURCES.items():
        if source not in models:
            continue
        unstripped = convert_variant(name, models[source], representative)
        converted[name] = ConvertedVariant(name, source, strip_strings(unstripped, check_images, name),
                                           len(unstripped))
    return converted
