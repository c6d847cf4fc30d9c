"""C source for TFLite Micro: the model as a 16-byte-aligned array, its constants, its op resolver,
and a few quantized test digits for an on-board self-test.

Follows TFLM's generate_cc_arrays.py convention (a .h/.cc pair holding `g_..._model` and
`g_..._model_len`). Every check runs before any text is built, and `write_header_files` writes
all files or none, so a failed export never leaves a half-written set.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Sequence

import numpy as np

import digitedge
from digitedge.cgen.ctext import c_values
from digitedge.errors import DigitedgeError
from digitedge.micro.arena import ALIGNMENT
from digitedge.micro.resolver import resolver_methods
from digitedge.micro.tflm import TflmError, run_tflm, tflm_support, to_model_input
from digitedge.rundir import write_text_files
from digitedge.tflite_model import TensorInfo, read_tflite

MODEL_DATA_H = "model_data.h"
MODEL_DATA_CC = "model_data.cc"
MODEL_OPS_H = "model_ops.h"
SAMPLE_DIGITS_H = "sample_digits.h"
DIGIT_LABELS = tuple(str(digit) for digit in range(10))
BYTES_PER_LINE = 12


def header_files(tflite_bytes: bytes, *, variant: str, accuracy: float | None, arena_bytes: int,
                 sample_images: np.ndarray, sample_labels: Sequence[int], source_name: str = "model.tflite",
                 class_labels: Sequence[str] = DIGIT_LABELS, arena_minimum_bytes: int | None = None,
                 accuracy_source: str = "measured by the caller") -> dict[str, str]:
    """{file name: C source} for an int8 model; DigitedgeError (naming the op when TFLM refuses) otherwise.

    sample_images are float pixels in [0, 1], shaped like the model input without its batch axis;
    they are quantized with the input's scale and zero point, and TFLM's int8 outputs for them are
    stored beside them so the board can check it computes the same bytes. `accuracy_source` says
    where `accuracy` was measured (on what, on how many images).
    """
    label = Path(source_name).name
    model = read_tflite(tflite_bytes, label)
    support = tflm_support(model, label)
    if not support.runs:
        raise TflmError(label, support.failure)
    for role, tensor in (("input", model.input), ("output", model.output)):
        if tensor.dtype != "int8":
            raise DigitedgeError(f"model {label} has {tensor.dtype} {role}; the header export needs a "
                                 "full-integer int8 model")
        if len(tensor.scales) != 1:
            raise DigitedgeError(f"model {label} has no per-tensor quantization on its {role}")
    methods = resolver_methods(model.op_names, label)
    num_classes = int(np.prod(model.output.shape[1:]))
    _check_plain_inputs(label, variant, accuracy, arena_bytes, class_labels, num_classes)
    images, labels = _check_samples(label, sample_images, sample_labels, model.input, num_classes)

    try:  # runs the samples in exactly the arena the header declares
        tflm_outputs = run_tflm(model, images, arena_bytes, label)
    except TflmError as exc:
        raise DigitedgeError(f"arena of {arena_bytes} bytes is too small for {label}: {exc.failure.describe()}") from None
    quantized = to_model_input(images, model.input)

    about = _about(label, tflite_bytes, variant, None if accuracy is None else f"{accuracy:.2%} ({accuracy_source})", arena_bytes,
                   arena_minimum_bytes, model.op_names)
    return {
        MODEL_DATA_H: _model_data_h(about, model.input, model.output, arena_bytes, class_labels),
        MODEL_DATA_CC: _model_data_cc(about, tflite_bytes),
        MODEL_OPS_H: _model_ops_h(about, model.op_names, methods),
        SAMPLE_DIGITS_H: _sample_digits_h(about, model.input, quantized, labels, tflm_outputs),
    }


def sketch_files(files: dict[str, str]) -> dict[str, str]:
    """The same files named for an Arduino sketch folder, which compiles .cpp but not .cc files."""
    return {(Path(name).stem + ".cpp" if name.endswith(".cc") else name): text for name, text in files.items()}


def write_header_files(files: dict[str, str], out_dir: str | Path) -> list[Path]:
    """Write every file or none (see digitedge.rundir.write_files)."""
    return write_text_files(files, Path(out_dir))


# -- checks ---------------------------------------------------------------------------------------
def _check_plain_inputs(label, variant, accuracy, arena_bytes, class_labels, num_classes) -> None:
    if not variant or not all(ch.isalnum() or ch in "_-." for ch in variant):
        raise DigitedgeError(f"variant name {variant!r} must be letters, digits, '_', '-' or '.'")
    if accuracy is not None and not 0 <= accuracy <= 1:
        raise DigitedgeError(f"accuracy must be a fraction in [0, 1], got {accuracy}")
    if not isinstance(arena_bytes, (int, np.integer)) or arena_bytes <= 0 or arena_bytes % ALIGNMENT:
        raise DigitedgeError(f"arena size must be a positive multiple of {ALIGNMENT} bytes, got {arena_bytes}")
    if len(class_labels) != num_classes:
        raise DigitedgeError(f"{len(class_labels)} class labels given; {label} has {num_classes} classes")
    if not all(isinstance(name, str) and name.isprintable() for name in class_labels):
        raise DigitedgeError("class labels must be printable strings")


def _check_samples(label, sample_images, sample_labels, input_tensor: TensorInfo, num_classes):
    images = np.asarray(sample_images, dtype=np.float32)
    labels = np.asarray(sample_labels)
    expected = tuple(input_tensor.shape[1:])
    if images.ndim != len(expected) + 1 or images.shape[1:] != expected or len(images) == 0:
        raise DigitedgeError(f"sample images have shape {images.shape}; {label} needs (N, {', '.join(map(str, expected))})"
                             " with N >= 1")
    if labels.shape != (len(images),) or not np.issubdtype(labels.dtype, np.integer) \
            or labels.min() < 0 or labels.max() >= num_classes:
        raise DigitedgeError(f"sample labels must be {len(images)} integers in [0, {num_classes})")
    return images, labels.astype(np.int64)


# -- text -----------------------------------------------------------------------------------------
def _about(label, tflite_bytes, variant, accuracy_text, arena_bytes, arena_minimum_bytes, op_names) -> list[str]:
    accuracy_text = accuracy_text or "not measured"
    arena_text = f"{arena_bytes} bytes"
    if arena_minimum_bytes:
        arena_text += (f" = {arena_minimum_bytes} bytes measured on the tflite-micro Python interpreter"
                       f" + {arena_bytes / arena_minimum_bytes - 1:.1%} margin, rounded up to {ALIGNMENT}")
    return [
        f"Generated by digitedge {digitedge.__version__} from {label}; do not edit.",
        f"Source:        {label} ({len(tflite_bytes)} bytes)",
        f"sha256:        {hashlib.sha256(tflite_bytes).hexdigest()}",
        f"Variant:       {variant}",
        f"Test accuracy: {accuracy_text}",
        f"Tensor arena:  {arena_text}",
        f"Ops:           {', '.join(op_names)}",
    ]


def _comment(about: list[str], purpose: str) -> str:
    return "\n".join(f"// {line}" for line in [purpose, *about]) + "\n"


def _c_float(value: float) -> str:
    return f"{np.float32(value).item():.9g}f"  # 9 significant digits round-trip a float32


def _c_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _model_data_h(about, input_tensor: TensorInfo, output_tensor: TensorInfo, arena_bytes, class_labels) -> str:
    height, width, channels = (list(input_tensor.shape[1:]) + [1, 1])[:3]
    labels = ", ".join(_c_string(name) for name in class_labels)
    return f"""{_comment(about, "model_data.h: the TFLite model for TFLite Micro and the constants to run it (C and C++).")}
#ifndef DIGITEDGE_MODEL_DATA_H_
#define DIGITEDGE_MODEL_DATA_H_

#ifdef __cplusplus
extern "C" {{
#endif

// The .tflite file byte for byte, defined 16-byte aligned in model_data.cc.
extern const unsigned char g_digitedge_model[];
extern const unsigned int g_digitedge_model_len;

#ifdef __cplusplus
}}
#endif

enum {{
  kTensorArenaSize = {arena_bytes},
  kInputHeight = {height},
  kInputWidth = {width},
  kInputChannels = {channels},
  kInputZeroPoint = {input_tensor.zero_points[0]},
  kOutputZeroPoint = {output_tensor.zero_points[0]},
  kNumClasses = {len(class_labels)}
}};

// int8 value = round(pixel / kInputScale) + kInputZeroPoint, for pixels in [0, 1].
static const float kInputScale = {_c_float(input_tensor.scales[0])};
// score = (int8 value - kOutputZeroPoint) * kOutputScale.
static const float kOutputScale = {_c_float(output_tensor.scales[0])};
static const char* const kClassLabels[kNumClasses] = {{{labels}}};

#endif  // DIGITEDGE_MODEL_DATA_H_
"""


def _model_data_cc(about, tflite_bytes: bytes) -> str:
    body = c_values(np.frombuffer(bytes(tflite_bytes), dtype=np.uint8), BYTES_PER_LINE, spec="#04x")
    return f"""{_comment(about, "model_data.cc: the .tflite file byte for byte (C++).")}
#include "model_data.h"

// 16-byte aligned: TFLite Micro reads the flatbuffer in place, and an unaligned array faults on Cortex-M.
alignas(16) const unsigned char g_digitedge_model[] = {{
{body}
}};
const unsigned int g_digitedge_model_len = {len(tflite_bytes)};
"""


def _model_ops_h(about, op_names: list[str], methods: list[str]) -> str:
    calls = "\n".join(
        f"  if (resolver.{method}() != kTfLiteOk) {{\n"
        f"    MicroPrintf(\"RegisterDigitedgeOps: {method}() failed ({op})\");\n"
        f"    status = kTfLiteError;\n  }}"
        for op, method in zip(dict.fromkeys(op_names), methods))
    return f"""{_comment(about, "model_ops.h: the TFLite Micro op resolver holding exactly the ops the model uses (C++).")}
#ifndef DIGITEDGE_MODEL_OPS_H_
#define DIGITEDGE_MODEL_OPS_H_

#include "tensorflow/lite/micro/micro_log.h"
#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"

constexpr unsigned int kNumOps = {len(methods)};
using DigitedgeOpResolver = tflite::MicroMutableOpResolver<kNumOps>;

// Registers every op the model uses. Each call is made and checked on its own (a chain of &&
// would skip the registrations after the first failure); returns kTfLiteError if any failed.
inline TfLiteStatus RegisterDigitedgeOps(DigitedgeOpResolver& resolver) {{
  TfLiteStatus status = kTfLiteOk;
{calls}
  return status;
}}

#endif  // DIGITEDGE_MODEL_OPS_H_
"""


def _sample_digits_h(about, input_tensor: TensorInfo, quantized: np.ndarray, labels: np.ndarray,
                     tflm_outputs: np.ndarray) -> str:
    row_length = int(input_tensor.shape[-2] * input_tensor.shape[-1]) if len(input_tensor.shape) >= 3 else quantized[0].size
    flat = quantized.reshape(len(quantized), -1)
    images = ",\n".join(f"    {{  // sample {i}: digit {labels[i]}\n{c_values(flat[i], row_length, indent='     ', spec='4d')}}}"
                        for i in range(len(flat)))
    outputs = ",\n".join(f"    {{{c_values(row, row.size, indent='')}}}" for row in tflm_outputs.reshape(len(flat), -1))
    return f"""{_comment(about, "sample_digits.h: test images for an on-board self-test (C and C++).")}
// Quantized with the model input's scale {_c_float(input_tensor.scales[0])} and zero point {input_tensor.zero_points[0]}.
#ifndef DIGITEDGE_SAMPLE_DIGITS_H_
#define DIGITEDGE_SAMPLE_DIGITS_H_

#include <stdint.h>

#include "model_data.h"

enum {{ kNumSampleDigits = {len(flat)}, kSampleDigitBytes = {flat.shape[1]} }};

static const uint8_t g_sample_digit_labels[kNumSampleDigits] = {{{', '.join(str(int(v)) for v in labels)}}};

// The int8 outputs the tflite-micro Python interpreter computed for each sample: the C++
// interpreter on the board computes the same bytes.
static const int8_t g_sample_digit_tflm_outputs[kNumSampleDigits][kNumClasses] = {{
{outputs}
}};

static const int8_t g_sample_digits[kNumSampleDigits][kSampleDigitBytes] = {{
{images}
}};

#endif  // DIGITEDGE_SAMPLE_DIGITS_H_
"""
