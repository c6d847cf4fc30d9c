"""TFLite metadata for the mobile files: what MediaPipe Tasks, Android Studio and LiteRT's tools read.

The metadata is a flatbuffer (file identifier `M001`) stored in a model buffer named
`TFLITE_METADATA`; `labels.txt` is packed as an associated file (a zip appended to the model, as
MediaPipe's MetadataPopulator does). It is built with the `flatbuffers` package and the schema
module generated from TFLite Support's `metadata_schema.fbs`, as shipped in the mediapipe wheel
(`mediapipe.tasks.metadata.metadata_schema_py_generated`, copied unchanged into this package:
mediapipe cannot install beside tensorflow-model-optimization, and tflite-support not beside
TensorFlow 2.21; tests/test_mobile_mediapipe.py checks the copy against the pinned wheel's).
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass

import flatbuffers
import numpy as np

from digitedge.errors import DigitedgeError
from digitedge.mobile import metadata_schema_py_generated as meta
from digitedge.mobile.signature import INPUT_NAME, OUTPUT_NAME

METADATA_NAME = "TFLITE_METADATA"
METADATA_IDENTIFIER = b"M001"
LABELS_FILE = "labels.txt"
MIN_PARSER_VERSION = "1.0.0"  # every field used here is in metadata schema 1.0.0
LABELS = tuple(str(digit) for digit in range(10))


@dataclass(frozen=True)
class ModelFacts:
    """The human-facing fields of one mobile file's metadata."""

    name: str
    description: str
    version: str
    author: str
    license: str


def metadata_buffer(facts: ModelFacts, *, float_input: bool) -> bytes:
    """The metadata flatbuffer of a 1x28x28x3 RGB image classifier with 10 labelled scores.

    A float input carries NormalizationOptions mean 0, std 255 (pixel 255 -> 1.0, what the model was
    trained on); a uint8 input takes pixels as they are (its quantization is scale 1/255, zero point 0).
    """
    image = meta.TensorMetadataT()
    image.name = INPUT_NAME
    image.description = ("RGB 28x28 image of one digit, white on black, centred the MNIST way "
                         "(see MOBILE.md); the model averages the three channels")
    image.content = meta.ContentT()
    image.content.contentPropertiesType = meta.ContentProperties.ImageProperties
    image.content.contentProperties = meta.ImagePropertiesT()
    image.content.contentProperties.colorSpace = meta.ColorSpaceType.RGB
    image.stats = meta.StatsT()
    if float_input:
        normalization = meta.ProcessUnitT()
        normalization.optionsType = meta.ProcessUnitOptions.NormalizationOptions
        normalization.options = meta.NormalizationOptionsT()
        normalization.options.mean, normalization.options.std = [0.0], [255.0]
        image.processUnits = [normalization]
        image.stats.min, image.stats.max = [0.0], [1.0]  # after normalization
    else:
        image.stats.min, image.stats.max = [0.0], [255.0]

    scores = meta.TensorMetadataT()
    scores.name = OUTPUT_NAME
    scores.description = "Probability of each digit 0-9 (softmax)"
    scores.content = meta.ContentT()
    scores.content.contentPropertiesType = meta.ContentProperties.FeatureProperties
    scores.content.contentProperties = meta.FeaturePropertiesT()
    scores.stats = meta.StatsT()
    scores.stats.min, scores.stats.max = [0.0], [1.0]
    labels = meta.AssociatedFileT()
    labels.name = LABELS_FILE
    labels.description = "The digit each score is for, one per line"
    labels.type = meta.AssociatedFileType.TENSOR_AXIS_LABELS
    scores.associatedFiles = [labels]

    subgraph = meta.SubGraphMetadataT()
    subgraph.inputTensorMetadata, subgraph.outputTensorMetadata = [image], [scores]
    model = meta.ModelMetadataT()
    model.name, model.description, model.version = facts.name, facts.description, facts.version
    model.author, model.license = facts.author, facts.license
    model.subgraphMetadata = [subgraph]
    model.minParserVersion = MIN_PARSER_VERSION
    builder = flatbuffers.Builder(0)
    builder.Finish(model.Pack(builder), METADATA_IDENTIFIER)
    return bytes(builder.Output())


def labels_text() -> str:
    return "\n".join(LABELS) + "\n"


def with_metadata(tflite_bytes: bytes, metadata: bytes, label: str = "model") -> bytes:
    """`tflite_bytes` with `metadata` as its TFLITE_METADATA buffer and labels.txt packed after it."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(tflite_bytes))
    if any(entry.name in (METADATA_NAME, METADATA_NAME.encode()) for entry in model.metadata or []):
        raise DigitedgeError(f"{label} already has TFLite metadata")
    model.buffers.append(schema.BufferT())
    model.buffers[-1].data = np.frombuffer(metadata, dtype=np.uint8)
    entry = schema.MetadataT()
    entry.name, entry.buffer = METADATA_NAME, len(model.buffers) - 1
    model.metadata = [*(model.metadata or []), entry]
    packed = io.BytesIO(bytes(flatbuffer_utils.convert_object_to_bytearray(model)))
    with zipfile.ZipFile(packed, "a") as archive:  # appends a zip after the flatbuffer, offsets past it
        archive.writestr(zipfile.ZipInfo(LABELS_FILE, date_time=(1980, 1, 1, 0, 0, 0)), labels_text())
    return packed.getvalue()


def read_metadata(tflite_bytes: bytes) -> tuple[meta.ModelMetadataT, dict[str, bytes]]:
    """The metadata table and the packed associated files of a model with metadata."""
    from tensorflow.lite.python import schema_py_generated as schema

    model = schema.Model.GetRootAs(tflite_bytes, 0)
    buffers = [model.Metadata(i) for i in range(model.MetadataLength())]
    found = [entry for entry in buffers if entry.Name() == METADATA_NAME.encode()]
    if not found:
        raise DigitedgeError("model has no TFLITE_METADATA")
    data = model.Buffers(found[0].Buffer()).DataAsNumpy().tobytes()
    if not meta.ModelMetadata.ModelMetadataBufferHasIdentifier(data, 0):
        raise DigitedgeError(f"model's TFLITE_METADATA lacks the {METADATA_IDENTIFIER.decode()} identifier")
    table = meta.ModelMetadataT.InitFromObj(meta.ModelMetadata.GetRootAs(data, 0))
    with zipfile.ZipFile(io.BytesIO(tflite_bytes)) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    return table, files
