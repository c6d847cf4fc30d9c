"""What a proposal costs on the board the user names, measured before it is trained, and the limits.

The figures depend on the architecture, not on the weights: the untrained model converted to int8
with a few calibration images has the trained model's flatbuffer layout, tensor plan and generated
C, so a proposal over a limit is refused in seconds instead of after minutes of training. Each
target says what flash and RAM mean on it (digitedge.search.targets).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from digitedge.config import Config
from digitedge.convert import LOW_BIT, convert_variant, strip_strings

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


def int8_tflite(model, calibration: np.ndarray, label: str = "model", variant: str = "int8_ptq") -> bytes:
    """`model` (float or QAT) as the deployable full-integer .tflite: converted (a low-bit variant's
    4- and 2-bit weights packed as INT4), strings stripped and checked."""
    return strip_strings(convert_variant(variant, model, calibration), calibration, label)


def converter_variant(config: Config) -> str:
    """How the converter treats the config's deployed model: a low-bit variant's own flags, else int8."""
    return config.export.variant if config.export.variant in LOW_BIT else "int8_ptq"


def weight_bits(config: Config, model) -> list[int]:
    """Bits of each conv/dense layer's weights under the config's variant (8 for the int8 variants)."""
    from digitedge.optimize.lowbit import int4_layer_bits, mixed_layer_bits, weighted_layer_names

    count = len(weighted_layer_names(model))
    if config.export.variant == "mixed_qat":
        return mixed_layer_bits(config.optimize.layer_bits, count)
    return int4_layer_bits(count) if config.export.variant in LOW_BIT else [8] * count


def untrained_tflite(config: Config, calibration: np.ndarray) -> tuple[bytes, int]:
    """A proposal as a full-integer .tflite from its untrained model (fake-quantized at its weight
    bits when below 8, so flash counts packed INT4), and its parameter count."""
    from digitedge.model import build_model
    from digitedge.optimize.filters import narrowed_widths

    model_config = config.model
    if config.export.variant == "pruned_int4_qat" and config.optimize.prune_structure == "filters":  # what ships
        model_config = replace(model_config, filters=narrowed_widths(model_config, config.optimize.filter_sparsity,
                                                                     config.optimize.first_filter_sparsity))
    model = build_model(model_config)
    parameters = int(model.count_params())
    variant = converter_variant(config)
    if variant != "int8_ptq":
        from digitedge.optimize.lowbit import quantize_low_bit

        model = quantize_low_bit(model, weight_bits(config, model))
        # one training-mode pass sets each weight quantizer's range from the weights, as QAT would (with
        # the initial ranges every 4-bit value rounds into [-1, 1] and the C would pack it as 2-bit);
        # the activation ranges go back to theirs, equal in and out of a pool as the converter needs
        activation_ranges = [(weight, weight.numpy()) for weight in model.non_trainable_weights
                             if not weight.name.split("/")[-1].startswith("kernel_")]
        model(calibration[:CALIBRATION_IMAGES], training=True)
        for weight, value in activation_ranges:
            weight.assign(value)
    return int8_tflite(model, calibration[:CALIBRATION_IMAGES], "proposal", variant), parameters
