"""The signature an app calls: `serving_default`, input `image`, output `probabilities`.

The run's measured variants are stripped of every name (their sizes stay comparable); a file a user
takes to an app gets the names back, the same in every variant and every run, so app code can call
`runSignature` / `get_signature_runner` with them. Only strings are added, never tfmot's layer names
(`quant_...`): the named file is proven to give outputs identical to the stripped one.
"""

from __future__ import annotations

import numpy as np

from digitedge.errors import DigitedgeError

SIGNATURE_KEY = "serving_default"
INPUT_NAME = "image"
OUTPUT_NAME = "probabilities"


def with_signature(tflite_bytes: bytes, images: np.ndarray, label: str = "model") -> bytes:
    """`tflite_bytes` (one input, one output) with the signature and its two tensors named.

    Raises DigitedgeError if the named model's outputs on `images` (uint8, N x 28 x 28) differ in any bit.
    """
    if signature_names(tflite_bytes) == {SIGNATURE_KEY: {"inputs": [INPUT_NAME], "outputs": [OUTPUT_NAME]}}:
        return tflite_bytes  # already named (a mobile file: rewriting it would drop its packed labels)
    named = add_signature(tflite_bytes, label)
    check_identical(tflite_bytes, named, images, f"{label}: naming the signature")
    return named


def add_signature(tflite_bytes: bytes, label: str = "model") -> bytes:
    """The rewrite alone (with_signature proves it): names the signature and its input and output tensors."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(tflite_bytes))
    graph = model.subgraphs[0]
    if len(model.subgraphs) != 1 or len(graph.inputs) != 1 or len(graph.outputs) != 1:
        raise DigitedgeError(f"{label}: a signature needs one subgraph with one input and one output")
    graph.tensors[graph.inputs[0]].name = INPUT_NAME
    graph.tensors[graph.outputs[0]].name = OUTPUT_NAME
    model.signatureDefs = [schema.SignatureDefT(
        inputs=[schema.TensorMapT(name=INPUT_NAME, tensorIndex=int(graph.inputs[0]))],
        outputs=[schema.TensorMapT(name=OUTPUT_NAME, tensorIndex=int(graph.outputs[0]))],
        signatureKey=SIGNATURE_KEY, subgraphIndex=0)]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def check_identical(expected_bytes: bytes, actual_bytes: bytes, images: np.ndarray, what: str) -> None:
    """Raise DigitedgeError unless both models give bit-identical outputs on `images`."""
    from digitedge.evaluate import tflite_probabilities

    expected, actual = tflite_probabilities(expected_bytes, images), tflite_probabilities(actual_bytes, images)
    if expected.shape != actual.shape or not np.array_equal(expected, actual):
        differing = int(np.count_nonzero(np.any(expected != actual, axis=-1))) \
            if expected.shape == actual.shape else len(images)
        raise DigitedgeError(f"{what} changed the outputs on {differing} of {len(images)} images")


def signature_names(tflite_bytes: bytes) -> dict:
    """LiteRT's view of the file's signatures: {key: {"inputs": [...], "outputs": [...]}}."""
    from digitedge.runtime import litert_interpreter

    return litert_interpreter(tflite_bytes).get_signature_list()
