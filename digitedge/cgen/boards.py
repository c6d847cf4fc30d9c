"""The emulated boards the generated C runs on: one row per Cortex-M core, the only place their QEMU
machine, memory map and compiler flags are written down (the Makefile's defaults repeat the M4 row
for building by hand).

Every board counts with the core's own SysTick (24-bit, processor clock): under `-icount shift=0`
QEMU advances virtual time 1 ns per guest instruction, so ticks are instructions times the clock's
period, and the firmware's calibration loop turns them back into instructions on every board alike.
"""

from __future__ import annotations

from dataclasses import dataclass

from digitedge.errors import DigitedgeError


@dataclass(frozen=True)
class Board:
    name: str
    core: str
    machine: str  # qemu-system-arm -M
    flash_origin: int
    flash_bytes: int
    ram_origin: int
    ram_bytes: int
    cpu_flags: tuple[str, ...]
    timer: str = "SysTick"

    def make_variables(self) -> list[str]:
        """The Makefile's board variables (firmware_export/baremetal/Makefile)."""
        return [f"MACHINE={self.machine}", f"CPU_FLAGS={' '.join(self.cpu_flags)}",
                f"FLASH_ORIGIN={self.flash_origin:#010x}", f"FLASH_LENGTH={self.flash_bytes}",
                f"RAM_ORIGIN={self.ram_origin:#010x}", f"RAM_LENGTH={self.ram_bytes}"]

    @property
    def label(self) -> str:
        return f"{self.core} ({self.machine})"


_KB, _MB = 1024, 1024 * 1024
BOARDS: dict[str, Board] = {board.name: board for board in (
    # nRF51822: 256 KB flash at 0x0, 16 KB SRAM at 0x20000000, the micro:bit's real limits
    Board("m0", "Cortex-M0", "microbit", 0x00000000, 256 * _KB, 0x20000000, 16 * _KB, ("-mcpu=cortex-m0",)),
    # MPS2 FPGA images: 4 MB ZBT SSRAM1 at 0x0 (the "flash"), 4 MB SSRAM2/3 at 0x20000000
    Board("m3", "Cortex-M3", "mps2-an385", 0x00000000, 4 * _MB, 0x20000000, 4 * _MB, ("-mcpu=cortex-m3",)),
    Board("m4", "Cortex-M4F", "mps2-an386", 0x00000000, 4 * _MB, 0x20000000, 4 * _MB,
          ("-mcpu=cortex-m4", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16")),
    Board("m7", "Cortex-M7", "mps2-an500", 0x00000000, 4 * _MB, 0x20000000, 4 * _MB,
          ("-mcpu=cortex-m7", "-mfloat-abi=hard", "-mfpu=fpv5-d16")),
    # AN505 boots secure: code in the secure alias of SSRAM1, data in the secure alias of SSRAM2/3
    Board("m33", "Cortex-M33", "mps2-an505", 0x10000000, 4 * _MB, 0x38000000, 2 * _MB, ("-mcpu=cortex-m33",)),
    # AN547: 512 KB ITCM at 0x0, 512 KB DTCM at 0x20000000
    Board("m55", "Cortex-M55", "mps3-an547", 0x00000000, 512 * _KB, 0x20000000, 512 * _KB,
          ("-mcpu=cortex-m55", "-mfloat-abi=hard")),
)}
DEFAULT_BOARD = "m4"


def board(name: str) -> Board:
    """The board called `name`; DigitedgeError naming the known ones otherwise."""
    try:
        return BOARDS[name]
    except KeyError:
        raise DigitedgeError(f"unknown board '{name}'; choose one of {', '.join(BOARDS)} or all") from None


def boards(names: str) -> list[Board]:
    """`--board` values: one name, a comma-separated list, or `all`."""
    if names.strip() == "all":
        return list(BOARDS.values())
    return [board(name.strip()) for name in names.split(",") if name.strip()] or [board(names)]
