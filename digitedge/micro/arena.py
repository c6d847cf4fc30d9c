"""The smallest tensor arena a model needs on TFLite Micro, found by bisection, plus the margin.

The probe is the tflite-micro Python interpreter, whose recording allocator needs a few hundred
bytes more than the C++ build: the minimum found here is a safe figure for firmware.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from digitedge.errors import DigitedgeError
from digitedge.runtime.tflm import (TflmError, default_arena_bytes, invoke_tflm, parsed, recorded_arena_bytes,
                                    tflm_interpreter)
from digitedge.tflite_model import TfliteModel

ALIGNMENT = 16  # TFLM aligns arena allocations to 16 bytes; the search walks in the same steps


@dataclass(frozen=True)
class ArenaSize:
    minimum_bytes: int  # smallest multiple of 16 where the model allocates and invokes
    recorded_bytes: int | None  # RecordingMicroAllocator's "Arena allocation total" at that size
    margin: float
    arena_bytes: int  # minimum plus margin, rounded up to 16: the header's kTensorArenaSize
    probes: int

    def to_dict(self) -> dict:
        return asdict(self)


def with_margin(minimum_bytes: int, margin: float) -> int:
    """`minimum_bytes` grown by the fraction `margin`, rounded up to a multiple of 16."""
    if not 0 <= margin <= 1:
        raise DigitedgeError(f"arena margin must be in [0, 1], got {margin}")
    return math.ceil(minimum_bytes * (1 + margin) / ALIGNMENT) * ALIGNMENT


def find_arena_size(tflite: bytes | TfliteModel, margin: float = 0.10, label: str = "model") -> ArenaSize:
    """Bisect the arena size over 16-byte steps; TflmError if TFLM cannot run the model at all."""
    model = parsed(tflite, label)
    zero_input = np.zeros(model.input.shape, dtype=model.input.dtype)
    probes = 0

    def runs(arena_bytes: int) -> bool:
        nonlocal probes
        probes += 1
        try:
            invoke_tflm(tflm_interpreter(model, arena_bytes, label), zero_input, label)
        except TflmError as exc:
            if exc.failure.arena_missing_bytes is None and arena_bytes >= default_arena_bytes(model):
                raise  # not a memory shortfall: the model itself is refused
            return False
        return True

    high = default_arena_bytes(model)
    while not runs(high):
        high *= 2
        if high > 1 << 30:
            raise DigitedgeError(f"{label}: TFLite Micro could not allocate it even with a 1 GiB arena")
    low, high = 0, _align_up(high)  # an empty arena never suffices
    while high - low > ALIGNMENT:
        middle = (low + high) // 2 // ALIGNMENT * ALIGNMENT  # strictly between two multiples of 16
        if runs(middle):
            high = middle
        else:
            low = middle
    recorded = recorded_arena_bytes(tflm_interpreter(model, high, label))
    return ArenaSize(high, recorded, margin, with_margin(high, margin), probes)


def _align_up(size: int) -> int:
    return -(-size // ALIGNMENT) * ALIGNMENT
