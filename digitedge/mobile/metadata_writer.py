"""TFLite model metadata written with the `flatbuffers` package's Builder: the ten tables the mobile files use.

Why digitedge writes it: the Python module generated from TFLite Support's `metadata_schema.fbs`
ships only in packages that cannot be installed beside TensorFlow 2.21 and tfmot 0.8.1:
tflite-support pins protobuf<4, mediapipe pins absl-py~=2.3 against tfmot's ~=1.2, and
ai-edge-litert, tensorflow and tflite-micro carry only the model and conversion-metadata schemas.

The tables are frozen dataclasses whose field names are the schema's; `write_metadata` lays them
out as flatc's object API does (a table's strings, vectors and child tables first, in field order,
then the table), so the bytes are those mediapipe's generated module packs: tests/test_mobile_mediapipe.py
has that module parse every field back and pack it again.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar, Union

import flatbuffers

# TFLite metadata schema, metadata_schema.fbs, "Schema Semantic version: 1.5.0" (as in mediapipe 1.2.3's wheel).
# Each *Field enum lists its table's fields in the schema's published order; its value is the field's
# vtable slot. A union field `x` takes two slots: its member's number (`x_type`) in the slot before `x`.
FILE_IDENTIFIER = b"M001"


class AssociatedFileType(IntEnum):  # enum AssociatedFileType : byte (the default and the member used here)
    UNKNOWN = 0
    TENSOR_AXIS_LABELS = 2


class ColorSpaceType(IntEnum):  # enum ColorSpaceType : byte (the default and the member used here)
    UNKNOWN = 0
    RGB = 1


class AssociatedFileField(IntEnum):
    name = 0
    description = 1
    type = 2
    locale = 3
    version = 4


class ImagePropertiesField(IntEnum):
    color_space = 0
    default_size = 1


class ContentField(IntEnum):
    content_properties = 1  # union ContentProperties; its type in slot 0
    range = 2


class NormalizationOptionsField(IntEnum):
    mean = 0
    std = 1


class ProcessUnitField(IntEnum):
    options = 1  # union ProcessUnitOptions; its type in slot 0


class StatsField(IntEnum):
    max = 0
    min = 1


class TensorMetadataField(IntEnum):
    name = 0
    description = 1
    dimension_names = 2
    content = 3
    process_units = 4
    stats = 5
    associated_files = 6


class SubGraphMetadataField(IntEnum):
    name = 0
    description = 1
    input_tensor_metadata = 2
    output_tensor_metadata = 3
    associated_files = 4
    input_process_units = 5
    output_process_units = 6
    input_tensor_groups = 7
    output_tensor_groups = 8
    custom_metadata = 9


class ModelMetadataField(IntEnum):
    name = 0
    description = 1
    version = 2
    subgraph_metadata = 3
    author = 4
    license = 5
    associated_files = 6
    min_parser_version = 7


# -- the tables: None or () leaves a field out, as an absent field reads back as the schema's default --


@dataclass(frozen=True)
class AssociatedFile:
    FIELDS: ClassVar = AssociatedFileField
    name: str
    description: str | None = None
    type: AssociatedFileType = AssociatedFileType.UNKNOWN


@dataclass(frozen=True)
class FeatureProperties:
    FIELDS: ClassVar = ()
    UNION_TYPE: ClassVar = 1  # its number in union ContentProperties


@dataclass(frozen=True)
class ImageProperties:
    FIELDS: ClassVar = ImagePropertiesField
    UNION_TYPE: ClassVar = 2  # its number in union ContentProperties
    color_space: ColorSpaceType = ColorSpaceType.UNKNOWN


@dataclass(frozen=True)
class Content:
    FIELDS: ClassVar = ContentField
    content_properties: Union[FeatureProperties, ImageProperties]


@dataclass(frozen=True)
class NormalizationOptions:
    FIELDS: ClassVar = NormalizationOptionsField
    UNION_TYPE: ClassVar = 1  # its number in union ProcessUnitOptions
    mean: tuple[float, ...]
    std: tuple[float, ...]


@dataclass(frozen=True)
class ProcessUnit:
    FIELDS: ClassVar = ProcessUnitField
    options: NormalizationOptions


@dataclass(frozen=True)
class Stats:
    FIELDS: ClassVar = StatsField
    max: tuple[float, ...]
    min: tuple[float, ...]


@dataclass(frozen=True)
class TensorMetadata:
    FIELDS: ClassVar = TensorMetadataField
    name: str
    description: str | None = None
    content: Content | None = None
    process_units: tuple[ProcessUnit, ...] = ()
    stats: Stats | None = None
    associated_files: tuple[AssociatedFile, ...] = ()


@dataclass(frozen=True)
class SubGraphMetadata:
    FIELDS: ClassVar = SubGraphMetadataField
    input_tensor_metadata: tuple[TensorMetadata, ...]
    output_tensor_metadata: tuple[TensorMetadata, ...]


@dataclass(frozen=True)
class ModelMetadata:
    FIELDS: ClassVar = ModelMetadataField
    name: str
    description: str
    version: str
    subgraph_metadata: tuple[SubGraphMetadata, ...]
    author: str
    license: str
    min_parser_version: str


def write_metadata(metadata: ModelMetadata) -> bytes:
    """The metadata flatbuffer: `metadata` as its root table, with the schema's file identifier."""
    builder = flatbuffers.Builder(0)
    builder.Finish(_write_table(builder, metadata), FILE_IDENTIFIER)
    return bytes(builder.Output())


def _write_table(builder: flatbuffers.Builder, table) -> int:
    """One table as flatc's object API lays it out: its strings, vectors and child tables first, then its
    fields, both in slot order; fields left at their default are not stored."""
    fields = sorted(dataclasses.fields(table), key=lambda field: table.FIELDS[field.name])
    present = [(table.FIELDS[field.name], getattr(table, field.name)) for field in fields]
    present = [(slot, value) for slot, value in present if value is not None and value != ()]
    offsets = {slot: _write_child(builder, value) for slot, value in present if not isinstance(value, IntEnum)}
    builder.StartObject(max(table.FIELDS, default=-1) + 1)
    for slot, value in present:
        if isinstance(value, IntEnum):
            builder.PrependInt8Slot(slot, value, 0)  # every enum written here is a `byte`
            continue
        if hasattr(value, "UNION_TYPE"):
            builder.PrependUint8Slot(slot - 1, value.UNION_TYPE, 0)
        builder.PrependUOffsetTRelativeSlot(slot, offsets[slot], 0)
    return builder.EndObject()


def _write_child(builder: flatbuffers.Builder, value) -> int:
    if isinstance(value, str):
        return builder.CreateString(value)
    if isinstance(value, tuple) and dataclasses.is_dataclass(value[0]):
        return _write_vector(builder, [_write_table(builder, item) for item in value], builder.PrependUOffsetTRelative)
    if isinstance(value, tuple):
        return _write_vector(builder, value, builder.PrependFloat32)  # [float]: the only scalar vector used
    return _write_table(builder, value)


def _write_vector(builder: flatbuffers.Builder, items, prepend) -> int:
    builder.StartVector(4, len(items), 4)  # 4-byte elements (offsets or floats), 4-byte aligned
    for item in reversed(items):
        prepend(item)
    return builder.EndVector()
