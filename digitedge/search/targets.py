"""The two things a search can aim at, and what flash, RAM and speed mean on each.

tflm  flash = the .tflite bytes, RAM = the arena TFLite Micro measures (scratch buffers included).
c     the generated C on one Cortex-M board: flash = the model's code + weights compiled for that core
      with arm-none-eabi-gcc (the bare-metal Makefile's own flags), RAM = the planned activation arena
      + the stack, instructions per inference from the core's cost model; a finalist runs on QEMU
      and the measured figures replace the estimates.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from digitedge.errors import DigitedgeError
from digitedge.search.budget import Budget
from digitedge.search.cost_model import CostModel

TARGETS = ("tflm", "c")
C_TOOLS_HINT = "apt-get install -y gcc-arm-none-eabi libnewlib-arm-none-eabi"  # Debian's packages


def _macs(tflite_bytes: bytes) -> int:
    from digitedge.micro.profile import layer_table
    from digitedge.tflite_model import read_tflite

    return int(layer_table(read_tflite(tflite_bytes, "proposal"))["macs"].sum())


@dataclass(frozen=True)
class TflmTarget:
    name: str = "tflm"
    flash_label: str = ".tflite"
    ram_label: str = "TFLM arena"

    def measure(self, tflite_bytes: bytes, parameters: int) -> Budget:
        from digitedge.micro.arena import find_arena_size
        from digitedge.tflite_model import read_tflite

        arena = find_arena_size(read_tflite(tflite_bytes, "proposal"), margin=0.0, label="proposal").minimum_bytes
        return Budget(len(tflite_bytes), arena, _macs(tflite_bytes), parameters, 0, "tflm")

    def measure_final(self, tflite_bytes: bytes, parameters: int, images_uint8: np.ndarray,
                      labels: np.ndarray) -> Budget:
        return self.measure(tflite_bytes, parameters)

    def name_in(self, config) -> None:
        """Write the target into a trial's full-run config (best.toml says what its budget means)."""
        config.budget.target = "tflm"


@dataclass(frozen=True)
class CTarget:
    board: str
    cost_model: CostModel
    flash_label: str = "C code + weights"
    ram_label: str = "C arena + stack"

    @property
    def name(self) -> str:
        return f"c-{self.board}"

    def measure(self, tflite_bytes: bytes, parameters: int) -> Budget:
        flash, arena = compiled_model(tflite_bytes, self.board)
        return Budget(flash, arena + self.cost_model.stack_bytes, _macs(tflite_bytes), parameters,
                      self.cost_model.estimate(tflite_bytes), "arm-none-eabi-gcc + cost model")

    def measure_final(self, tflite_bytes: bytes, parameters: int, images_uint8: np.ndarray,
                      labels: np.ndarray) -> Budget:
        from digitedge.cgen.qemu import run_on_qemu

        result = run_on_qemu(tflite_bytes, images_uint8, labels, board=self.board)
        return Budget(result.model_flash_bytes, result.ram_bytes, _macs(tflite_bytes), parameters,
                      int(round(result.instructions_per_inference)),
                      f"qemu ({result.bit_exact}/{result.images} outputs equal to TFLM's)")

    def name_in(self, config) -> None:
        """Write the target into a trial's full-run config (best.toml says what its budget means)."""
        config.budget.target, config.board.boards = "c", self.board


def require_c_tools() -> None:
    """One line naming what to install when the ARM toolchain or QEMU is missing."""
    from digitedge.cgen.qemu import install_hint, missing_tools

    missing = missing_tools()
    if missing:
        raise DigitedgeError(f"--target c needs {', '.join(missing)}; install with: {install_hint()}")


def compiled_model(tflite_bytes: bytes, board_name: str) -> tuple[int, int]:
    """(flash, arena) of the generated model compiled for `board_name` by the bare-metal Makefile (its
    flags, the board's CPU flags): bytes of code, constants and initialized data in its object file,
    and the header's `DIGITEDGE_ARENA_BYTES`."""
    from digitedge.cgen import generate_c_sources
    from digitedge.cgen.boards import board
    from digitedge.cgen.qemu import FIRMWARE_DIR

    target = board(board_name)
    sources = generate_c_sources(tflite_bytes, name="digitedge")
    arena = int(re.search(r"^#define DIGITEDGE_ARENA_BYTES (\d+)", sources["digitedge_model.h"], re.M).group(1))
    with tempfile.TemporaryDirectory(prefix="digitedge-search-") as scratch:
        generated, build = Path(scratch) / "generated", Path(scratch) / "build"
        generated.mkdir()
        for filename, text in sources.items():
            (generated / filename).write_text(text)
        made = subprocess.run(["make", "-s", "-f", str(Path(FIRMWARE_DIR) / "Makefile"), f"GEN_DIR={generated}",
                               f"BUILD_DIR={build}", *target.make_variables(), str(build / "digitedge_model.o")],
                              capture_output=True, text=True)
        if made.returncode != 0:
            raise RuntimeError(f"generated C does not compile for {board_name}:\n{made.stderr[-3000:]}")
        sizes = subprocess.run(["arm-none-eabi-size", "-A", str(build / "digitedge_model.o")], capture_output=True,
                               text=True, check=True).stdout
    flash = sum(int(parts[1]) for parts in (line.split() for line in sizes.splitlines())
                if len(parts) >= 2 and parts[0].startswith((".text", ".rodata", ".data")) and parts[1].isdigit())
    return flash, arena


def parse_budgets(text: str) -> tuple[int, ...]:
    """'8192,12288,16384' -> (8192, 12288, 16384); anything but increasing positive integers: one line."""
    parts = [part.strip() for part in text.split(",")]
    if not all(part.isdigit() for part in parts) or not all(int(part) > 0 for part in parts) \
            or any(int(a) >= int(b) for a, b in zip(parts, parts[1:])):
        raise DigitedgeError(f"--budgets {text}: give increasing positive integers in bytes, "
                             f"e.g. 8192,12288,16384,24576")
    return tuple(int(part) for part in parts)


def instruction_limit(target_name: str, max_instructions: int, max_ms: float | None, clock_mhz: float | None) -> int:
    """--max-instructions, or --max-ms at --clock-mhz as instructions (one per cycle); only for --target c."""
    if max_ms is not None and clock_mhz is None:
        raise DigitedgeError("--max-ms needs --clock-mhz (the core's clock) to become instructions")
    if max_ms is not None and max_instructions:
        raise DigitedgeError("give --max-instructions or --max-ms, not both")
    limit = int(max_ms * clock_mhz * 1000) if max_ms is not None else max_instructions
    if limit and target_name != "c":
        raise DigitedgeError("--max-instructions / --max-ms count the generated C's instructions: add --target c")
    return limit


CALIBRATION_MODELS = 24  # untrained proposals run on QEMU to fit a core's cost model (3 per feature)
CALIBRATION_IMAGES_ON_QEMU = 2


def make_target(target_name: str, board_names: str, folder: Path, data, base, space, echo) -> TflmTarget | CTarget:
    """The target to measure on; for C, the board's cost model from `folder`/cost-<board>.json, calibrated
    on QEMU first when the file is not there."""
    if target_name == "tflm":
        return TflmTarget()
    from digitedge.cgen.boards import board

    names = [name.strip() for name in board_names.split(",")]
    if len(names) != 1 or names[0] == "all":
        raise DigitedgeError(f"--target c needs one --board (the config names {board_names!r})")
    board(names[0])
    require_c_tools()
    return CTarget(names[0], load_cost_model(names[0], folder, data, base, space, echo))


def load_cost_model(board_name: str, folder: Path, data, base, space, echo) -> CostModel:
    """The board's cost model, fitted on untrained proposals of `space` (its kinds of layers and bits)."""
    from digitedge.search import cost_model

    from digitedge.search.space import LOW_BIT_VARIANTS

    low_bit = any(variant in space.variants for variant in LOW_BIT_VARIANTS)  # fitted with packed 4/2-bit layers
    path = Path(folder) / f"cost-{board_name}{'-low-bit' if low_bit else ''}.json"
    if path.is_file():
        saved = CostModel.load_current(path)
        if saved is not None:
            return saved
        echo(f"[search] {path} is unreadable or fitted on other features: fitting it again")
    echo(f"[search] calibrating the instruction cost model of {board_name} on QEMU ({CALIBRATION_MODELS} models)")
    tflites = cost_model.calibration_tflites(space, base, data.x_train, CALIBRATION_MODELS, seed=base.seed)
    images = np.round(data.x_val[:CALIBRATION_IMAGES_ON_QEMU] * 255).astype(np.uint8).reshape(-1, 28, 28)
    model = cost_model.calibrate(board_name, tflites, images, data.y_val[:CALIBRATION_IMAGES_ON_QEMU])
    model.save(path)
    echo(f"[search] cost model of {board_name}: worst error {model.worst_relative_error:.1%} on its "
         f"{model.calibration_models} models; stack {model.stack_bytes:,} B -> {path}")
    return model
