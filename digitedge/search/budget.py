"""What a proposal costs on the board the user names, measured before it is trained, and the limits.

The figures depend on the architecture, not on the weights: the untrained model converted to int8
with a few calibration images has the trained model's flatbuffer layout, tensor plan and generated
C, so a proposal over a limit is refused in seconds instead of after minutes of training. Each
target says what flash and RAM mean on it (digitedge.search.targets).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from digitedge.config import ModelConfig
from digitedge.convert import convert_variant, strip_strings

CALIBRATION_IMAGES = 4  # enough for the converter; ranges do not change sizes


@dataclass(frozen=True)
class Budget:
    flash_bytes: int  # TFLM: the .tflite; C: the model's code + weights
    ram_bytes: int  # TFLM: the measured arena; C: the planned arena + the stack
    macs: int
    parameters: int
    instructions: int = 0  # C: per inference (estimated, or measured on QEMU); 0 for TFLM
    measured_on: str = ""  # where the figures come from ("tflm", "arm-none-eabi-gcc + cost model", "qemu")


@dataclass(frozen=True)
class Limits:
    """Hard limits in bytes / MACs / instructions; 0 = none."""

    max_flash: int = 0
    max_ram: int = 0
    max_macs: int = 0
    max_instructions: int = 0

    def _checks(self, budget: Budget) -> list[tuple[str, int, int, str]]:
        rows = [("flash", budget.flash_bytes, self.max_flash, " B"), ("ram", budget.ram_bytes, self.max_ram, " B"),
                ("macs", budget.macs, self.max_macs, ""),
                ("instructions", budget.instructions, self.max_instructions, "")]
        return [row for row in rows if row[2]]

    def violations(self, budget: Budget) -> dict[str, float]:
        """Optuna's constraint values by name: > 0 where a limit is exceeded (by that much)."""
        return {name: float(value - limit) for name, value, limit, _ in self._checks(budget)}

    def describe_excess(self, budget: Budget) -> str:
        """'flash 30,312 B > 24,576 B; ...' for every limit exceeded; '' when within all."""
        return "; ".join(f"{name} {value:,}{unit} > {limit:,}{unit}"
                         for name, value, limit, unit in self._checks(budget) if value > limit)

    def describe(self) -> str:
        return ", ".join(f"{name} <= {limit:,}{unit}" for name, _, limit, unit in self._checks(Budget(0, 0, 0, 0))) \
            or "none"


def int8_tflite(model, calibration: np.ndarray, label: str = "model") -> bytes:
    """`model` (float or QAT) as the deployable int8 .tflite: converted, strings stripped and checked."""
    return strip_strings(convert_variant("int8_ptq", model, calibration), calibration, label)


def untrained_tflite(model_config: ModelConfig, calibration: np.ndarray) -> tuple[bytes, int]:
    """A proposal's architecture as an int8 .tflite from its untrained model, and its parameter count."""
    from digitedge.model import build_model

    model = build_model(model_config)
    return int8_tflite(model, calibration[:CALIBRATION_IMAGES], "proposal"), int(model.count_params())
