"""The real client: MediaPipe Tasks' ImageClassifier (the C++ task graph Android and iOS run) on the
mobile files of a model trained on real MNIST, with 500 real test digits given as RGB images; and
mediapipe's own metadata schema module reading back every field digitedge's writer wrote.

MediaPipe lives in its own environment (digitedge.mobile.phone; created once, from PyPI) and runs
in a subprocess with a timeout.
"""

from __future__ import annotations

import dataclasses
from enum import IntEnum

import numpy as np
import pytest
import tf_keras as keras

from digitedge.config import ModelConfig, OptimizeConfig
from digitedge.errors import DigitedgeError
from digitedge.evaluate import tflite_probabilities

pytestmark = pytest.mark.mnist

IMAGES = 500


@pytest.fixture(scope="module")
def phone():
    from digitedge.mobile.phone import mediapipe_python

    return mediapipe_python()


@pytest.fixture(scope="module")
def mobile_files(mnist, tmp_path_factory):
    from digitedge.convert import representative_images
    from digitedge.data import normalize
    from digitedge.mobile.build import build_mobile
    from digitedge.model import build_model
    from digitedge.optimize import train_qat

    x_train, y_train = normalize(mnist.x_train[:4000]), mnist.y_train[:4000]
    x_val, y_val = normalize(mnist.x_train[4000:4500]), mnist.y_train[4000:4500]
    keras.utils.set_random_seed(0)
    float_model = build_model(ModelConfig(filters=[8, 16, 16]))
    float_model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy")
    float_model.fit(x_train, y_train, batch_size=32, epochs=2, verbose=0)
    qat, _ = train_qat(float_model, x_train, y_train, x_val, y_val, OptimizeConfig(qat_epochs=1), seed=0, batch_size=64)
    built = build_mobile({"float": float_model, "qat": qat}, representative_images(x_train, 200, seed=0),
                         mnist.x_test[:IMAGES], mnist.y_test[:IMAGES], "test", "mediapipe")
    folder = tmp_path_factory.mktemp("app")
    for name, data in built.files.items():
        (folder / name).write_bytes(data)
    return folder, built


@pytest.mark.parametrize("name", ["mobile_uint8", "mobile_float16"])
def test_mediapipe_classifier_answers_as_litert(name, phone, mobile_files, mnist):
    from digitedge.mobile.phone import classify_with_mediapipe

    folder, built = mobile_files
    images, labels = mnist.x_test[:IMAGES], mnist.y_test[:IMAGES]
    answers = classify_with_mediapipe(folder / f"{name}.tflite", images, python=phone)
    litert = tflite_probabilities(built.variants[name], images)
    assert answers.category_names == [str(digit) for digit in range(10)]  # names read from the packed labels.txt
    assert [int(top) for top in answers.top_names] == answers.predictions.tolist()
    agreement = np.mean(answers.predictions == litert.argmax(1))
    mediapipe_accuracy, litert_accuracy = np.mean(answers.predictions == labels), np.mean(litert.argmax(1) == labels)
    assert agreement >= 0.998, agreement
    assert abs(mediapipe_accuracy - litert_accuracy) <= 0.001, (mediapipe_accuracy, litert_accuracy)
    assert litert_accuracy > 0.9  # a real model, so agreement means something
    # identical scores: for the float file, MediaPipe applied the metadata's normalization (x / 255)
    assert np.max(np.abs(answers.scores - litert)) <= 1e-5


def test_float_file_without_normalization_metadata_is_refused(phone, mobile_files, mnist, tmp_path):
    """What makes MediaPipe accept the float file is its NormalizationOptions: without metadata it refuses."""
    from digitedge.mobile.phone import classify_with_mediapipe
    from digitedge.mobile.signature import with_signature

    _, built = mobile_files
    bare = tmp_path / "bare.tflite"
    model = bytearray(built.variants["mobile_float16"])
    from tensorflow.lite.tools import flatbuffer_utils

    stripped = flatbuffer_utils.convert_bytearray_to_object(model)
    stripped.metadata = [entry for entry in stripped.metadata if entry.name not in (b"TFLITE_METADATA", "TFLITE_METADATA")]
    bare.write_bytes(with_signature(bytes(flatbuffer_utils.convert_object_to_bytearray(stripped)), mnist.x_test[:10]))
    with pytest.raises(DigitedgeError, match="NormalizationOptions"):
        classify_with_mediapipe(bare, mnist.x_test[:2], python=phone)


def written_fields(table) -> dict:
    """One of our metadata tables as mediapipe_metadata.py prints a parsed one: schema field names, a union
    `x` as `x_type` (its member's number) and `x`, fields left out as None or () not there."""
    fields = {}
    for field in dataclasses.fields(table):
        value = getattr(table, field.name)
        if value is None or value == ():
            continue
        if hasattr(value, "UNION_TYPE"):
            fields[f"{field.name}_type"] = value.UNION_TYPE
        if dataclasses.is_dataclass(value):
            fields[field.name] = written_fields(value)
        elif isinstance(value, tuple):
            fields[field.name] = [written_fields(item) if dataclasses.is_dataclass(item) else item for item in value]
        else:
            fields[field.name] = int(value) if isinstance(value, IntEnum) else value
    return fields


@pytest.mark.parametrize("name", ["mobile_uint8", "mobile_float16"])
def test_mediapipe_schema_module_reads_back_every_field_written(name, phone, mobile_files):
    from digitedge.mobile.build import mobile_metadata
    from digitedge.mobile.metadata import labels_text
    from digitedge.mobile.metadata_writer import (AssociatedFileType, ColorSpaceType, FeatureProperties,
                                                  ImageProperties, NormalizationOptions, write_metadata)
    from digitedge.mobile.phone import read_metadata_with_mediapipe

    folder, _ = mobile_files
    read = read_metadata_with_mediapipe(folder / f"{name}.tflite", python=phone)
    written = mobile_metadata(name, "test", "mediapipe")
    assert read["metadata"] == written_fields(written)
    # the same bytes: as written, and as mediapipe's generated object API packs what it read
    assert bytes.fromhex(read["buffer"]) == write_metadata(written) == bytes.fromhex(read["repacked"])
    assert read["files"] == {"labels.txt": labels_text()}

    numbers = read["numbers"]  # our enum and union numbers are the schema's
    for enum in (AssociatedFileType, ColorSpaceType):
        assert {member.name: member.value for member in enum}.items() <= numbers[enum.__name__].items()
    for union, members in {"ContentProperties": (FeatureProperties, ImageProperties),
                           "ProcessUnitOptions": (NormalizationOptions,)}.items():
        assert {member.__name__: member.UNION_TYPE for member in members}.items() <= numbers[union].items()

    # what the apps read, spelled out with mediapipe's numbers
    metadata = read["metadata"]
    assert metadata["name"] == f"digitedge {name}" and metadata["version"] == "digitedge test, run mediapipe"
    assert metadata["author"] == "digitedge" and "MNIST" in metadata["license"] and metadata["description"]
    assert metadata["min_parser_version"] == "1.0.0"
    (subgraph,) = metadata["subgraph_metadata"]
    assert set(subgraph) == {"input_tensor_metadata", "output_tensor_metadata"}
    (image,), (scores,) = subgraph["input_tensor_metadata"], subgraph["output_tensor_metadata"]
    assert image["name"] == "image" and "RGB 28x28" in image["description"]
    assert image["content"] == {"content_properties_type": numbers["ContentProperties"]["ImageProperties"],
                                "content_properties": {"color_space": numbers["ColorSpaceType"]["RGB"]}}
    if name == "mobile_float16":
        assert image["process_units"] == [{"options_type": numbers["ProcessUnitOptions"]["NormalizationOptions"],
                                           "options": {"mean": [0.0], "std": [255.0]}}]
        assert image["stats"] == {"min": [0.0], "max": [1.0]}
    else:
        assert "process_units" not in image and image["stats"] == {"min": [0.0], "max": [255.0]}
    assert scores["name"] == "probabilities" and scores["stats"] == {"min": [0.0], "max": [1.0]}
    assert scores["content"] == {"content_properties_type": numbers["ContentProperties"]["FeatureProperties"],
                                 "content_properties": {}}
    assert scores["associated_files"] == [{"name": "labels.txt",
                                           "description": "The digit each score is for, one per line",
                                           "type": numbers["AssociatedFileType"]["TENSOR_AXIS_LABELS"]}]
