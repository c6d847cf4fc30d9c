"""TFLite metadata for the mobile files: what MediaPipe Tasks, Android Studio and LiteRT's tools read.

The metadata is a flatbuffer (file identifier `M001`) stored in a model buffer named
`TFLITE_METADATA`, written by digitedge's own writer (metadata_writer.py: no installable package
supplies the schema beside TensorFlow 2.21); `labels.txt` is packed as an associated file (a zip
appended to the model, as MediaPipe's MetadataPopulator does).
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass

import numpy as np

from digitedge.errors import DigitedgeError
from digitedge.mobile.metadata_writer import (AssociatedFile, AssociatedFileType, ColorSpaceType, Content,
                                              FeatureProperties, ImageProperties, ModelMetadata,
                                              NormalizationOptions, ProcessUnit, Stats, SubGraphMetadata,
                                              TensorMetadata, write_metadata)
from digitedge.mobile.signature import INPUT_NAME, OUTPUT_NAME

METADATA_NAME = "TFLITE_METADATA"
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


def model_metadata(facts: ModelFacts, *, float_input: bool) -> ModelMetadata:
    """The metadata of a 1x28x28x3 RGB image classifier with 10 labelled scores.

    A float input carries NormalizationOptions mean 0, std 255 (pixel 255 -> 1.0, what the model was
    trained on); a uint8 input takes pixels as they are (its quantization is scale 1/255, zero point 0).
    """
    normalization = (ProcessUnit(NormalizationOptions(mean=(0.0,), std=(255.0,))),) if float_input else ()
    image = TensorMetadata(
        name=INPUT_NAME,
        description=("RGB 28x28 image of one digit, white on black, centred the MNIST way "
                     "(see MOBILE.md); the model averages the three channels"),
        content=Content(ImageProperties(color_space=ColorSpaceType.RGB)),
        process_units=normalization,
        stats=Stats(max=(1.0,) if float_input else (255.0,), min=(0.0,)))  # a float input's range after normalization
    labels = AssociatedFile(name=LABELS_FILE, description="The digit each score is for, one per line",
                            type=AssociatedFileType.TENSOR_AXIS_LABELS)
    scores = TensorMetadata(name=OUTPUT_NAME, description="Probability of each digit 0-9 (softmax)",
                            content=Content(FeatureProperties()), stats=Stats(max=(1.0,), min=(0.0,)),
                            associated_files=(labels,))
    return ModelMetadata(name=facts.name, description=facts.description, version=facts.version,
                         subgraph_metadata=(SubGraphMetadata(input_tensor_metadata=(image,),
                                                             output_tensor_metadata=(scores,)),),
                         author=facts.author, license=facts.license, min_parser_version=MIN_PARSER_VERSION)


def labels_text() -> str:
    return "\n".join(LABELS) + "\n"


def with_metadata(tflite_bytes: bytes, metadata: ModelMetadata, label: str = "model") -> bytes:
    """`tflite_bytes` with `metadata` written as its TFLITE_METADATA buffer and labels.txt packed after it."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(tflite_bytes))
    if any(entry.name in (METADATA_NAME, METADATA_NAME.encode()) for entry in model.metadata or []):
        raise DigitedgeError(f"{label} already has TFLite metadata")
    model.buffers.append(schema.BufferT())
    model.buffers[-1].data = np.frombuffer(write_metadata(metadata), dtype=np.uint8)
    entry = schema.MetadataT()
    entry.name, entry.buffer = METADATA_NAME, len(model.buffers) - 1
    model.metadata = [*(model.metadata or []), entry]
    packed = io.BytesIO(bytes(flatbuffer_utils.convert_object_to_bytearray(model)))
    with zipfile.ZipFile(packed, "a") as archive:  # appends a zip after the flatbuffer, offsets past it
        archive.writestr(zipfile.ZipInfo(LABELS_FILE, date_time=(1980, 1, 1, 0, 0, 0)), labels_text())
    return packed.getvalue()

