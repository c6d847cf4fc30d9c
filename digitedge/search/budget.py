"""Flash, TFLite Micro arena and MACs of a proposal, measured before it is trained.

They depend on the architecture, not on the weights: the untrained model converted to int8 with a
few calibration images has the trained model's flatbuffer layout and tensor plan, so a proposal over
a limit is refused in seconds instead of after minutes of training.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from digitedge.config import ModelConfig
from digitedge.convert import convert_variant, strip_strings
from digitedge.micro.arena import find_arena_size
from digitedge.micro.profile import layer_table
from digitedge.tflite_model import read_tflite

CALIBRATION_IMAGES = 4  # enough for the converter; ranges do not change sizes


@dataclass(frozen=True)
class Limits:
    """Hard limits in bytes / MACs; 0 = none."""

    max_flash: int = 0
    max_ram: int = 0
    max_macs: int = 0

    def names(self) -> list[str]:
        """The limits that are set, in the order of `violations`."""
        return [name for name, limit in (("flash", self.max_flash), ("arena", self.max_ram), ("macs", self.max_macs))
                if limit]

    def violations(self, budget: "Budget") -> list[float]:
        """Optuna's constraint values: > 0 where a limit is exceeded (by that many bytes or MACs)."""
        pairs = [(budget.flash_bytes, self.max_flash), (budget.arena_bytes, self.max_ram), (budget.macs, self.max_macs)]
        return [float(value - limit) for value, limit in pairs if limit]

    def describe_excess(self, budget: "Budget") -> str:
        """'flash 30,312 B > 24,576 B; ...' for every limit exceeded; '' when within all."""
        names = [("flash", budget.flash_bytes, self.max_flash, "B"), ("arena", budget.arena_bytes, self.max_ram, "B"),
                 ("MACs", budget.macs, self.max_macs, "")]
        return "; ".join(f"{name} {value:,}{' ' + unit if unit else ''} > {limit:,}{' ' + unit if unit else ''}"
                         for name, value, limit, unit in names if limit and value > limit)


@dataclass(frozen=True)
class Budget:
    flash_bytes: int  # the stripped int8 .tflite
    arena_bytes: int  # the smallest TFLM arena that runs it (no margin)
    macs: int
    parameters: int


def measure_tflite(int8_tflite_bytes: bytes, parameters: int, label: str = "model") -> Budget:
    """The budget of an int8 .tflite: its size, its measured arena, its MACs."""
    model = read_tflite(int8_tflite_bytes, label)
    arena = find_arena_size(model, margin=0.0, label=label).minimum_bytes
    macs = int(layer_table(model)["macs"].sum())
    return Budget(len(int8_tflite_bytes), arena, macs, parameters)


def int8_tflite(model, calibration: np.ndarray, label: str = "model") -> bytes:
    """`model` (float or QAT) as the deployable int8 .tflite: converted, strings stripped and checked."""
    return strip_strings(convert_variant("int8_ptq", model, calibration), calibration, label)


def measure_untrained(model_config: ModelConfig, calibration: np.ndarray) -> Budget:
    """The budget of a proposal's architecture, from its untrained model."""
    from digitedge.model import build_model

    model = build_model(model_config)
    tflite_bytes = int8_tflite(model, calibration[:CALIBRATION_IMAGES], "proposal")
    return measure_tflite(tflite_bytes, int(model.count_params()), "proposal")
