"""TFLite Micro interpreters: the one place they are built (one arena policy), run, and explained.

An arena the caller does not give is `default_arena_bytes`: TFLM's own default (10x the model),
never below 1 MiB. The micro stage measures the smallest arena (digitedge.micro.arena) for what is
deployed; the arena does not change outputs.
TFLM's Python wrapper raises only "failed to allocate tensors"; the reason (an op without a
kernel, a hybrid model, an arena too small by N bytes) is written to the process's C-level
stderr. Every construction here captures file descriptor 2 and parses that text.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from dataclasses import asdict, dataclass
from typing import Iterator

import numpy as np

from digitedge.errors import DigitedgeError
from digitedge.progress import progress
from digitedge.runtime.quantization import to_model_input
from digitedge.tflite_model import TfliteModel, read_tflite

# TFLM's own default arena is 10x the model size; a floor keeps tiny models from failing on it.
MIN_DEFAULT_ARENA = 1 << 20
# Below ~464 bytes the wrapper cannot place its own allocator in the arena and segfaults instead
# of failing (tflite-micro's Python package, measured): smaller arenas are refused before it runs.
MIN_WRAPPER_ARENA = 512

_NODE_FAILED = re.compile(r"Node (\w+) \(number (\d+)\) failed to (prepare|invoke)")
_NO_KERNEL = re.compile(r"Didn't find op for builtin opcode '(\w+)'")
_ARENA_SHORT = re.compile(r"Requested: (\d+), available (\d+), missing: (\d+)")
_SOURCE_PREFIX = re.compile(r"^\S+\.(?:cc|cpp|h)(?::\d+)?\s+")


@dataclass(frozen=True)
class TflmFailure:
    """Why TFLM refused a model: the op and node when it names them, and its own message."""

    message: str
    op: str | None = None
    node: int | None = None
    arena_missing_bytes: int | None = None

    def describe(self) -> str:
        where = f"op {self.op}" + (f" (node {self.node})" if self.node is not None else "") if self.op else ""
        return f"{where}: {self.message}" if where else self.message

    def to_dict(self) -> dict:
        return asdict(self)


class TflmError(DigitedgeError):
    """TFLite Micro refused a model; `.failure` holds the parsed reason."""

    def __init__(self, label: str, failure: TflmFailure):
        super().__init__(f"{label}: TFLite Micro cannot run it: {failure.describe()}")
        self.failure = failure


@dataclass(frozen=True)
class TflmSupport:
    """Whether TFLM runs a model, and if not, why (for the report's per-variant column)."""

    runs: bool
    input_dtype: str
    output_dtype: str
    failure: TflmFailure | None = None

    def to_dict(self) -> dict:
        return {"runs": self.runs, "input_dtype": self.input_dtype, "output_dtype": self.output_dtype,
                "failure": self.failure.to_dict() if self.failure else None}


class _Captured:
    text = ""


@contextlib.contextmanager
def captured_stderr() -> Iterator[_Captured]:
    """Redirect file descriptor 2 (where TFLM's C++ code logs) to a temp file; `.text` after exit."""
    captured = _Captured()
    sys.stderr.flush()
    saved_fd = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield captured
        finally:
            sys.stderr.flush()
            os.dup2(saved_fd, 2)
            os.close(saved_fd)
            sink.seek(0)
            captured.text = sink.read().decode("utf-8", errors="replace")


def parse_tflm_log(log: str, model: TfliteModel | None = None) -> TflmFailure:
    """The first failure TFLM's log states: unsupported op, failed node, or arena shortfall."""
    lines = [line.strip() for line in log.replace("\r", "\n").split("\n") if line.strip()]
    for index, line in enumerate(lines):
        missing = _NO_KERNEL.search(line)
        if missing:
            op = missing.group(1)
            node = next((i for i, o in enumerate(model.operators) if o.name == op), None) if model else None
            return TflmFailure(f"TFLite Micro has no kernel for {op}", op, node)
        failed = _NODE_FAILED.search(line)
        if failed:
            reason = _SOURCE_PREFIX.sub("", lines[index - 1]) if index > 0 else ""
            message = reason or f"failed to {failed.group(3)}"
            return TflmFailure(message, failed.group(1), int(failed.group(2)))
        short = _ARENA_SHORT.search(line)
        if short:
            return TflmFailure(f"tensor arena too small ({line})", arena_missing_bytes=int(short.group(3)))
    return TflmFailure(lines[0] if lines else "TFLite Micro failed without a message")


def parsed(tflite: bytes | TfliteModel, label: str = "model") -> TfliteModel:
    """The model parsed once: callers that hold a TfliteModel pass it on instead of its bytes."""
    return tflite if isinstance(tflite, TfliteModel) else read_tflite(tflite, label)


def default_arena_bytes(tflite: bytes | TfliteModel) -> int:
    size = len(tflite.data) if isinstance(tflite, TfliteModel) else len(tflite)
    return max(10 * size, MIN_DEFAULT_ARENA)


def tflm_interpreter(tflite: bytes | TfliteModel, arena_bytes: int | None = None, label: str = "model"):
    """A TFLM interpreter with tensors allocated; TflmError (a DigitedgeError) with TFLM's reason otherwise."""
    from tflite_micro.python.tflite_micro import runtime

    model = parsed(tflite, label)  # TFLM may crash on a corrupt flatbuffer: validate first
    tflite_bytes = model.data
    arena = default_arena_bytes(model) if arena_bytes is None else arena_bytes
    if arena < MIN_WRAPPER_ARENA:
        raise TflmError(label, TflmFailure(f"tensor arena too small ({arena} bytes; TFLite Micro's allocator "
                                           f"alone needs about {MIN_WRAPPER_ARENA})",
                                           arena_missing_bytes=MIN_WRAPPER_ARENA - arena))
    with captured_stderr() as log:
        try:
            return runtime.Interpreter.from_bytes(bytes(tflite_bytes), arena_size=arena)
        except RuntimeError:
            pass
    raise TflmError(label, parse_tflm_log(log.text, model))


def invoke_tflm(interpreter, model_input: np.ndarray, label: str = "model") -> np.ndarray:
    """One inference on a (1, ...) input already in the model's input dtype; returns output 0."""
    with captured_stderr() as log:
        try:
            interpreter.set_input(model_input, 0)
            interpreter.invoke()
            return interpreter.get_output(0)
        except RuntimeError:
            pass
    raise TflmError(label, parse_tflm_log(log.text))


def tflm_support(tflite: bytes | TfliteModel, label: str = "model") -> TflmSupport:
    """Load the model on TFLM and invoke it once on a zero input: does TFLM run it, and if not why."""
    model = parsed(tflite, label)
    dtypes = dict(input_dtype=model.input.dtype, output_dtype=model.output.dtype)
    try:
        interpreter = tflm_interpreter(model, label=label)
        invoke_tflm(interpreter, np.zeros(model.input.shape, dtype=model.input.dtype), label)
    except TflmError as exc:
        return TflmSupport(False, failure=exc.failure, **dtypes)
    return TflmSupport(True, **dtypes)


def run_tflm(tflite: bytes | TfliteModel, images: np.ndarray, arena_bytes: int | None = None,
             label: str = "model", show_progress: bool = False) -> np.ndarray:
    """TFLM's raw outputs (model dtype) for float images (N, H, W, C) in [0, 1], one invoke per image
    (with a progress bar on a terminal when `show_progress`)."""
    model = parsed(tflite, label)
    inputs = to_model_input(images, model.input)
    if inputs.shape[1:] != tuple(model.input.shape[1:]):
        raise DigitedgeError(f"{label}: images have shape {inputs.shape[1:]}, the model expects {model.input.shape[1:]}")
    return invoke_each(model, inputs, arena_bytes, label, show_progress)


def invoke_each(tflite: bytes | TfliteModel, model_inputs: np.ndarray, arena_bytes: int | None = None,
                label: str = "model", show_progress: bool = False) -> np.ndarray:
    """TFLM's raw outputs for inputs already in the model's dtype and input shape, one invoke each
    (TFLM's batch dimension is fixed at 1)."""
    model = parsed(tflite, label)
    interpreter = tflm_interpreter(model, arena_bytes, label)
    outputs = np.empty((len(model_inputs), *model.output.shape[1:]), dtype=model.output.dtype)
    for index in progress(range(len(model_inputs)), f"TFLite Micro: {label}, images", show_progress):
        outputs[index] = invoke_tflm(interpreter, model_inputs[index:index + 1], label)[0]
    return outputs


def recorded_arena_bytes(interpreter) -> int | None:
    """'Arena allocation total' from TFLM's RecordingMicroAllocator (Python has no arena_used_bytes())."""
    with captured_stderr() as log:
        interpreter.print_allocations()
    found = re.search(r"Arena allocation total (\d+) bytes", log.text)
    return int(found.group(1)) if found else None
