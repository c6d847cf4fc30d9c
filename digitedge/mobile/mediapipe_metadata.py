"""Run inside the MediaPipe environment (phone.py): mediapipe's own schema modules read a .tflite's metadata.

Usage: python mediapipe_metadata.py MODEL.tflite
Prints one JSON object:
- `metadata`: the TFLITE_METADATA table as mediapipe's generated metadata_schema_py_generated
  parses it, every field under its metadata_schema.fbs name (a union `x` as `x_type` and `x`),
  absent fields left out;
- `repacked`: that parsed table packed again by the same module (hex), to compare with the written bytes;
- `buffer`: the TFLITE_METADATA buffer as stored in the model (hex);
- `numbers`: the numbers mediapipe's module gives the enum and union members;
- `files`: the associated files packed in the model's zip, name -> text.
Imports only mediapipe, flatbuffers and the standard library: this is the reader, not digitedge.
"""

import importlib
import io
import json
import re
import sys
import zipfile

# `import mediapipe.tasks.metadata...` would fail: mediapipe/__init__ rebinds `mediapipe.tasks` to tasks.python
SCHEMA = "mediapipe.tasks.metadata.metadata_schema_py_generated"
MODEL_SCHEMA = "mediapipe.tasks.metadata.schema_py_generated"
ENUMS = ("AssociatedFileType", "ColorSpaceType", "ContentProperties", "ProcessUnitOptions")


def schema_name(attribute: str) -> str:
    """The generated object API's attribute as the .fbs field name: `minParserVersion` -> `min_parser_version`."""
    return re.sub(r"(?<!^)([A-Z])", r"_\1", attribute).lower()


def as_fields(value):
    """A parsed object-API value as JSON: tables as dicts of their present fields, strings decoded."""
    if isinstance(value, bytes):
        return value.decode()
    if hasattr(value, "tolist"):  # a numpy vector
        return value.tolist()
    if isinstance(value, list):
        return [as_fields(item) for item in value]
    if hasattr(value, "__dict__"):
        return {schema_name(name): as_fields(item) for name, item in vars(value).items() if item is not None}
    return value


def main(model_path: str) -> None:
    import flatbuffers

    meta, model_schema = importlib.import_module(SCHEMA), importlib.import_module(MODEL_SCHEMA)
    data = open(model_path, "rb").read()
    model = model_schema.Model.GetRootAs(data, 0)
    entries = [model.Metadata(i) for i in range(model.MetadataLength())]
    found = [entry for entry in entries if entry.Name() == b"TFLITE_METADATA"]
    if len(found) != 1:
        raise ValueError(f"{len(found)} TFLITE_METADATA entries in the model")
    buffer = model.Buffers(found[0].Buffer()).DataAsNumpy().tobytes()
    if not meta.ModelMetadata.ModelMetadataBufferHasIdentifier(buffer, 0):
        raise ValueError("the TFLITE_METADATA buffer lacks the metadata schema's file identifier")
    table = meta.ModelMetadataT.InitFromObj(meta.ModelMetadata.GetRootAs(buffer, 0))
    builder = flatbuffers.Builder(0)
    builder.Finish(table.Pack(builder), b"M001")
    numbers = {enum: {name: number for name, number in vars(getattr(meta, enum)).items() if isinstance(number, int)}
               for enum in ENUMS}
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        files = {name: archive.read(name).decode() for name in archive.namelist()}
    json.dump({"metadata": as_fields(table), "repacked": bytes(builder.Output()).hex(), "buffer": buffer.hex(),
               "numbers": numbers, "files": files}, sys.stdout)


if __name__ == "__main__":
    try:
        main(sys.argv[1])
    except Exception as exc:  # one line for the caller
        print(f"{type(exc).__name__}: {' '.join(str(exc).split())[:400]}", file=sys.stderr)
        sys.exit(1)
