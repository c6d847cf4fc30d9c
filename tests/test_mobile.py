"""The mobile files of a tiny CNN: RGB input, dtypes, signature, the metadata they carry, CompiledModel
parity, and the checks that refuse a rewrite that changes outputs. (mediapipe's own schema module reads
the metadata back field by field in test_mobile_mediapipe.py.)"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
import tf_keras as keras

from digitedge.config import ModelConfig, OptimizeConfig
from digitedge.convert import convert_all, litert_outputs, representative_images
from digitedge.errors import DigitedgeError
from digitedge.evaluate import tflite_probabilities
from digitedge.mobile.build import build_mobile, mobile_metadata
from digitedge.mobile.metadata import LABELS, METADATA_NAME, with_metadata
from digitedge.mobile.metadata_writer import (AssociatedFileType, ColorSpaceType, FeatureProperties, ImageProperties,
                                              NormalizationOptions, write_metadata)
from digitedge.mobile.signature import signature_names, with_signature
from digitedge.model import build_model
from digitedge.optimize import train_qat
from digitedge.tflite_model import read_tflite

SIGNATURE = {"serving_default": {"inputs": ["image"], "outputs": ["probabilities"]}}


@pytest.fixture(scope="module")
def models(data):
    keras.utils.set_random_seed(0)
    float_model = build_model(ModelConfig(filters=[2, 4, 8], dropout=0.1))
    float_model.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy")
    float_model.fit(data[0], data[1], batch_size=32, epochs=2, verbose=0)
    qat, _ = train_qat(float_model, *data, OptimizeConfig(qat_epochs=1, learning_rate=1e-3), seed=1, batch_size=32)
    return {"float": float_model, "qat": qat}


@pytest.fixture(scope="module")
def test_set(data):
    """The synthetic validation digits as uint8 pixels, as the test set is."""
    return np.round(data[2][..., 0] * 255).astype(np.uint8), data[3]


@pytest.fixture(scope="module")
def built(models, data, test_set):
    return build_mobile(models, representative_images(data[0], 64, seed=0), *test_set, "9.9.9", "tiny")


@pytest.fixture(scope="module")
def int8_qat(models, data):
    return convert_all({"qat": models["qat"]}, representative_images(data[0], 64, seed=0), data[2])["int8_qat"]


def _normalized(images: np.ndarray) -> np.ndarray:
    return (images / 255.0)[..., None]


def test_files_are_the_two_models_labels_and_guide(built):
    assert sorted(built.files) == ["MOBILE.md", "labels.txt", "mobile_float16.tflite", "mobile_uint8.tflite"]
    assert built.files["labels.txt"].decode().splitlines() == list(LABELS)
    guide = built.files["MOBILE.md"].decode()
    for fact in ("white digit on a black background", "--save-prepared", "serving_default", "`image`",
                 "`probabilities`", f"{built.facts['mobile_uint8']['size_bytes']:,}"):
        assert fact in guide, fact


def test_uint8_file_is_full_integer_rgb_with_unit_pixel_scale(built):
    model = read_tflite(built.variants["mobile_uint8"])
    assert model.input.dtype == model.output.dtype == "uint8"
    assert model.input.shape == (1, 28, 28, 3)
    assert model.input.scales == pytest.approx((1 / 255,)) and model.input.zero_points == (0,)
    assert not any(t.dtype == "float32" for t in model.tensors if t.buffer is not None)  # no float weights


def test_float16_file_takes_float_rgb_and_stores_float16_weights(built):
    model = read_tflite(built.variants["mobile_float16"])
    assert model.input.dtype == model.output.dtype == "float32" and model.input.shape == (1, 28, 28, 3)
    assert any(t.dtype == "float16" for t in model.tensors if t.buffer is not None)
    assert "DEQUANTIZE" in model.op_names


def test_uint8_file_answers_as_int8_qat_does(built, int8_qat, test_set):
    images, labels = test_set
    mobile = tflite_probabilities(built.variants["mobile_uint8"], images)
    measured = tflite_probabilities(int8_qat.tflite_bytes, images)
    assert np.array_equal(mobile.argmax(1), measured.argmax(1))
    assert built.facts["mobile_uint8"]["test_accuracy"] == pytest.approx(np.mean(measured.argmax(1) == labels))


def test_every_mobile_file_has_the_app_signature_and_no_layer_names(built):
    for name, data in built.variants.items():
        assert signature_names(data) == SIGNATURE, name
        names = {tensor.name for tensor in read_tflite(data).tensors}
        assert names <= {"image", "probabilities", ""}, names  # no tfmot `quant_...` layer name leaks


def test_signature_runner_answers_as_the_interpreter(built, test_set):
    from ai_edge_litert.interpreter import Interpreter

    data = built.variants["mobile_uint8"]
    runner = Interpreter(model_content=data).get_signature_runner("serving_default")
    image = np.repeat(test_set[0][:1, ..., None], 3, axis=-1)
    assert np.array_equal(runner(image=image)["probabilities"][0], litert_outputs(data, _normalized(test_set[0][:1]))[0])


def _metadata_buffer(tflite_bytes: bytes) -> bytes:
    from tensorflow.lite.python import schema_py_generated as schema

    model = schema.Model.GetRootAs(tflite_bytes, 0)
    names = [model.Metadata(i).Name() for i in range(model.MetadataLength())]
    assert names == [METADATA_NAME.encode()]
    return model.Buffers(model.Metadata(0).Buffer()).DataAsNumpy().tobytes()


@pytest.mark.parametrize("name", ["mobile_uint8", "mobile_float16"])
def test_each_file_carries_its_metadata_with_the_schema_identifier(built, name):
    assert built.variants[name][4:8] == b"TFL3"
    buffer = _metadata_buffer(built.variants[name])
    assert buffer[4:8] == b"M001"
    assert buffer == write_metadata(mobile_metadata(name, "9.9.9", "tiny"))


@pytest.mark.parametrize("name, float_input", [("mobile_uint8", False), ("mobile_float16", True)])
def test_metadata_says_what_an_app_needs(name, float_input):
    metadata = mobile_metadata(name, "9.9.9", "tiny")
    assert metadata.name == f"digitedge {name}" and metadata.version == "digitedge 9.9.9, run tiny"
    assert metadata.author == "digitedge" and "MNIST" in metadata.license and metadata.description
    assert metadata.min_parser_version == "1.0.0"
    (subgraph,) = metadata.subgraph_metadata
    (image,), (scores,) = subgraph.input_tensor_metadata, subgraph.output_tensor_metadata
    assert image.name == "image" and image.content.content_properties == ImageProperties(ColorSpaceType.RGB)
    if float_input:  # MediaPipe refuses a float input without it
        (unit,) = image.process_units
        assert unit.options == NormalizationOptions(mean=(0.0,), std=(255.0,))
        assert image.stats.min == (0.0,) and image.stats.max == (1.0,)
    else:
        assert image.process_units == ()
        assert image.stats.min == (0.0,) and image.stats.max == (255.0,)
    assert scores.name == "probabilities" and scores.content.content_properties == FeatureProperties()
    assert scores.stats.min == (0.0,) and scores.stats.max == (1.0,)
    (labels,) = scores.associated_files
    assert labels.name == "labels.txt" and labels.type == AssociatedFileType.TENSOR_AXIS_LABELS


def test_metadata_is_added_once(built):
    with pytest.raises(DigitedgeError, match="mobile_uint8 already has TFLite metadata"):
        with_metadata(built.variants["mobile_uint8"], mobile_metadata("mobile_uint8", "0", "x"), "mobile_uint8")


def test_labels_are_a_zip_after_the_flatbuffer(built):
    data = built.variants["mobile_uint8"]
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        (info,) = archive.infolist()
        packed = archive.read(info)
    assert info.filename == "labels.txt" and info.compress_type == zipfile.ZIP_STORED
    assert packed == "".join(f"{digit}\n" for digit in LABELS).encode()
    assert data.index(b"PK\x03\x04") > 0.9 * (len(data) - 200)  # at the end, after the model


def test_mobile_file_is_larger_than_int8_qat_only_by_its_strings(built, int8_qat):
    extra = len(built.variants["mobile_uint8"]) - len(int8_qat.tflite_bytes)
    assert 0 < extra <= 5 * 1024, extra
    facts = built.facts["mobile_uint8"]
    assert facts["stripped_bytes"] < facts["named_bytes"] < facts["size_bytes"]


def test_compiled_model_answers_as_the_interpreter(built, test_set):
    for name, facts in built.facts.items():
        assert facts["compiled_model"]["images"] == len(test_set[0]), name
        assert facts["compiled_model"]["same_prediction"] == 1.0, name
        assert facts["compiled_model"]["identical_outputs"] == 1.0, name


def test_named_variants_give_identical_outputs(int8_qat, test_set):
    named = with_signature(int8_qat.tflite_bytes, test_set[0], "int8_qat")
    assert signature_names(int8_qat.tflite_bytes) == {} and signature_names(named) == SIGNATURE
    assert 0 < len(named) - len(int8_qat.tflite_bytes) < 512
    assert np.array_equal(litert_outputs(named, _normalized(test_set[0])),
                          litert_outputs(int8_qat.tflite_bytes, _normalized(test_set[0])))
    assert with_signature(named, test_set[0]) is named  # already named: left as it is


def test_naming_that_changes_outputs_is_refused(int8_qat, test_set, monkeypatch):
    import digitedge.evaluate as evaluate

    real = evaluate.tflite_probabilities
    calls = []

    def second_call_differs(data, images, **options):
        calls.append(1)
        out = real(data, images, **options)
        return out + (len(calls) == 2)

    monkeypatch.setattr(evaluate, "tflite_probabilities", second_call_differs)
    with pytest.raises(DigitedgeError, match=f"naming the signature changed the outputs on {len(test_set[0])} of"):
        with_signature(int8_qat.tflite_bytes, test_set[0], "int8_qat")


def test_a_rewrite_step_with_other_outputs_is_refused(built, int8_qat, test_set):
    from digitedge.mobile.build import same_outputs

    steps = {"converted": int8_qat.tflite_bytes, "finished": built.variants["mobile_float16"]}
    with pytest.raises(DigitedgeError, match=r"tiny: the finished file's outputs differ from the converted file's on \d+ of"):
        same_outputs(steps, test_set[0], "tiny")


def test_without_a_qat_model_is_a_one_line_error(models, data, test_set):
    with pytest.raises(DigitedgeError, match=r"need the run's qat model; run `digitedge optimize --technique qat`"):
        build_mobile({"float": models["float"]}, representative_images(data[0], 8, seed=0), *test_set, "0", "x")


# -- the MediaPipe environment's failures are one line (the real client: test_mobile_mediapipe.py) ----------


def test_an_environment_pip_cannot_make_is_one_line_and_removed(tmp_path, monkeypatch):
    from digitedge.mobile import phone

    monkeypatch.setattr(phone, "requirements_text", lambda: "digitedge-no-such-package-here==0.0.1\n")
    with pytest.raises(DigitedgeError, match=r"cannot create the MediaPipe environment in .*env: `-m pip install` "
                                             r"failed: .*digitedge-no-such-package-here") as raised:
        phone.mediapipe_python(tmp_path / "env")
    assert "\n" not in str(raised.value) and not (tmp_path / "env").exists()


def test_a_folder_that_is_not_an_environment_is_never_deleted(tmp_path):
    from digitedge.mobile.phone import mediapipe_python

    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(DigitedgeError, match="is a folder that is not a virtual environment"):
        mediapipe_python(tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_a_client_that_fails_or_hangs_is_one_line(built, tmp_path, test_set):
    import sys

    from digitedge.mobile.phone import classify_with_mediapipe

    model = tmp_path / "mobile_uint8.tflite"
    model.write_bytes(built.variants["mobile_uint8"])
    with pytest.raises(DigitedgeError, match="refused .*mobile_uint8.tflite: ModuleNotFoundError: No module named "
                                             "'mediapipe'"):
        classify_with_mediapipe(model, test_set[0][:2], python=Path(sys.executable))  # this env has no mediapipe
    sleeper = tmp_path / "python"
    sleeper.write_text("#!/bin/sh\nexec sleep 30\n")
    sleeper.chmod(0o755)
    with pytest.raises(DigitedgeError, match="gave no answer on .* within 1 s"):
        classify_with_mediapipe(model, test_set[0][:2], python=sleeper, timeout_s=1)
