"""The generated C on an emulated Cortex-M board: build the bare-metal self-test, boot it in QEMU, read it back.

The image (firmware_export/baremetal + the generated sources, for one board of
digitedge.cgen.boards) streams real test digits and TFLite Micro's int8 outputs for them from the
host (semihosting reads of digits.bin), prints one line per image and exits with status 0 only if
every output matched. Under `-icount shift=0` QEMU advances virtual time by 1 ns per guest
instruction, so the core's SysTick counts executed instructions; the firmware calibrates ticks
against a loop of known length. QEMU is not cycle-accurate: these are instructions, not cycles or
milliseconds.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from digitedge.cgen.boards import DEFAULT_BOARD, Board, board as board_named
from digitedge.cgen.firmware import DIGITS_FILE, digits_file, firmware_sources
from digitedge.cgen.layers import parse_model
from digitedge.cgen.oracle import quantize_images, tflm_outputs
from digitedge.errors import DigitedgeError
from firmware_export import BAREMETAL_DIR as FIRMWARE_DIR

TOOLS = ("arm-none-eabi-gcc", "arm-none-eabi-size", "qemu-system-arm", "make")
QEMU_OPTIONS = ("-nographic", "-monitor", "none", "-serial", "none", "-semihosting-config", "enable=on,target=native")

_IMAGE = re.compile(r"^image (\d+) label (\d+) predicted (\d+) match ([01]) ticks (\d+)$", re.M)
_CALIBRATION = re.compile(r"^calibration instructions (\d+) ticks (\d+)$", re.M)
_SUMMARY = re.compile(r"^summary images (\d+) matches (\d+) correct (\d+) ticks (\d+) stack_used (\d+)$", re.M)
_MAP_ENTRY = re.compile(r"^ (\.\S+)\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S+)$", re.M)


@dataclass(frozen=True)
class QemuResult:
    board: str
    core: str
    machine: str
    images: int
    bit_exact: int  # images whose int8 outputs equal TFLite Micro's
    correct: int
    accuracy: float
    exit_status: int
    mismatched_images: tuple[int, ...]
    instructions_per_inference: float | None  # mean, from the icount-driven SysTick; None without icount
    instructions_min: int | None
    instructions_max: int | None
    calibration_instructions_per_tick: float | None
    flash_bytes: int  # .text + .ARM.exidx + .data image: code, weights, start-up, the self-test's own code
    model_flash_bytes: int  # the generated model's share of flash (from the linker map)
    ram_bytes: int  # the model's statics (its activation arena, from the linker map) + the stack high-water mark
    model_ram_bytes: int  # the generated model's activation arena and other statics (from the linker map)
    static_ram_bytes: int  # the whole image's .data + .bss: the model's plus the self-test's record buffer
    stack_reserved_bytes: int
    stack_used_bytes: int
    tflite_bytes: int
    qemu_seconds: float  # wall
    qemu_cpu_seconds: float  # QEMU's own user + system CPU time: its wall time on an idle core
    build_seconds: float
    build_dir: str | None

    def to_dict(self) -> dict:
        return asdict(self)


def missing_tools() -> list[str]:
    """Tools (and newlib-nano, which the image links) the QEMU run needs but this machine lacks."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if "arm-none-eabi-gcc" not in missing:
        specs = subprocess.run(["arm-none-eabi-gcc", "-print-file-name=nano.specs"], capture_output=True,
                               text=True).stdout.strip()
        if not Path(specs).is_absolute() or not Path(specs).is_file():
            missing.append("newlib-nano (libnewlib-arm-none-eabi)")
    return missing


def install_hint() -> str:
    return "apt-get install -y gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm"


def require_tools() -> None:
    """DigitedgeError naming the missing tools and the Debian packages that bring them."""
    missing = missing_tools()
    if missing:
        raise DigitedgeError(f"missing {', '.join(missing)} for the QEMU run; install with: {install_hint()}")


def run_on_qemu(tflite_bytes: bytes, images_uint8: np.ndarray, labels: np.ndarray, *,
                board: str | Board = DEFAULT_BOARD, expected_outputs: np.ndarray | None = None,
                build_dir: str | Path | None = None, firmware_dir: str | Path = FIRMWARE_DIR,
                count_instructions: bool = True, timeout_s: float = 600.0) -> QemuResult:
    """Build the self-test for `board` (a name of digitedge.cgen.boards.BOARDS or a Board) and run
    these images (uint8, N x 28 x 28) on its QEMU machine.

    The firmware compares its outputs with `expected_outputs` (TFLite Micro's int8 outputs for the
    same images; computed here when None). `build_dir` keeps the generated sources, digits.bin,
    image.elf and image.map (a temporary folder otherwise). DigitedgeError if the board is unknown,
    the model cannot be generated or the toolchain is missing.
    """
    target = board if isinstance(board, Board) else board_named(board)
    parse_model(tflite_bytes)  # refuse an unsupported model before building anything
    require_tools()
    from digitedge.tflite_model import read_tflite

    model_inputs = quantize_images(images_uint8, read_tflite(tflite_bytes).input)
    expected = tflm_outputs(tflite_bytes, model_inputs) if expected_outputs is None else expected_outputs
    return run_firmware(firmware_sources(tflite_bytes), digits_file(model_inputs, labels, expected), len(model_inputs),
                        target, tflite_bytes=len(tflite_bytes), build_dir=build_dir, firmware_dir=firmware_dir,
                        count_instructions=count_instructions, timeout_s=timeout_s)


def run_firmware(model_sources: dict[str, str], digits: bytes, images: int, board: Board, *, tflite_bytes: int = 0,
                 build_dir: str | Path | None = None, firmware_dir: str | Path = FIRMWARE_DIR,
                 count_instructions: bool = True, timeout_s: float = 600.0) -> QemuResult:
    """Build firmware_export/baremetal with these digitedge_model.h/.c (and kernel headers) for `board`, boot it with
    `digits` (digitedge.cgen.firmware.digits_file, `images` records) in QEMU's working folder, and
    parse its report. run_on_qemu's back end; tests give it hand-written models of known cost."""
    require_tools()
    firmware_dir = Path(firmware_dir)
    if not (firmware_dir / "Makefile").is_file():
        raise DigitedgeError(f"bare-metal firmware sources not found in {firmware_dir}")
    with tempfile.TemporaryDirectory(prefix="digitedge-qemu-") as scratch:
        folder = Path(build_dir) if build_dir is not None else Path(scratch)
        generated, build = folder / "generated", folder / "build"
        generated.mkdir(parents=True, exist_ok=True)
        for filename, text in model_sources.items():
            (generated / filename).write_text(text)
        (folder / DIGITS_FILE).write_bytes(digits)
        started = time.perf_counter()
        make = subprocess.run(["make", "-f", str(firmware_dir / "Makefile"), f"GEN_DIR={generated}",
                               f"BUILD_DIR={build}", *board.make_variables()],
                              capture_output=True, text=True)
        build_seconds = time.perf_counter() - started
        if make.returncode != 0:
            raise RuntimeError(f"bare-metal build for {board.name} failed:\n{make.stdout[-2000:]}\n"
                               f"{make.stderr[-4000:]}")
        sections = _section_sizes(build / "image.elf")
        model_sections = _object_sections((build / "image.map").read_text(), "digitedge_model.o")
        command = ["qemu-system-arm", "-M", board.machine, *QEMU_OPTIONS,
                   *(("-icount", "shift=0") if count_instructions else ()), "-kernel", str(build / "image.elf")]
        started = time.perf_counter()
        log, status, qemu_cpu_seconds = _run_timed(command, folder, timeout_s)
        if status is None:
            raise DigitedgeError(f"QEMU {board.machine} did not finish within {timeout_s:.0f} s")
        qemu_seconds = time.perf_counter() - started
    return _result(board, log, status, images, count_instructions, sections, model_sections,
                   tflite_bytes, (qemu_seconds, qemu_cpu_seconds), build_seconds,
                   str(build_dir) if build_dir is not None else None)


def _run_timed(command: list[str], folder: Path, timeout_s: float) -> tuple[str, int | None, float]:
    """Run QEMU: its output, exit status (None when killed at the timeout) and its own CPU seconds, read from
    wait4 for that one process, so runs in other threads at the same time are not counted in."""
    process = subprocess.Popen(command, cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    killed = threading.Event()
    timer = threading.Timer(timeout_s, lambda: (killed.set(), process.kill()))
    timer.start()
    try:
        log = process.stdout.read()
    finally:
        timer.cancel()  # before the process is reaped, so a late kill never reaches a reused pid
        process.stdout.close()
    _, wait_status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(wait_status)  # reaped here: Popen must not wait again
    return log, None if killed.is_set() else process.returncode, usage.ru_utime + usage.ru_stime


def _result(target: Board, log: str, status: int, images: int, count_instructions: bool,
            sections: dict[str, int], model_sections: dict[str, int], tflite_size: int,
            qemu_seconds: tuple[float, float], build_seconds: float, build_dir: str | None) -> QemuResult:
    rows = np.array([[int(v) for v in m] for m in _IMAGE.findall(log)], dtype=np.int64).reshape(-1, 5)
    summary, calibration = _SUMMARY.search(log), _CALIBRATION.search(log)
    if summary is None or len(rows) != images:
        tail = "\n".join(log.strip().splitlines()[-5:])
        raise RuntimeError(f"QEMU {target.machine} run ended (status {status}) after {len(rows)} of {images} "
                           f"images:\n{tail}")
    instructions = per_tick = None
    if count_instructions and calibration is not None:
        per_tick = int(calibration.group(1)) / int(calibration.group(2))
        instructions = rows[:, 4] * per_tick
    model_ram = sum(size for name, size in model_sections.items() if name.startswith((".bss", ".data")))
    return QemuResult(
        board=target.name, core=target.core, machine=target.machine,
        images=len(rows), bit_exact=int(rows[:, 3].sum()), correct=int(summary.group(3)),
        accuracy=float(summary.group(3)) / len(rows), exit_status=status,
        mismatched_images=tuple(int(i) for i in rows[rows[:, 3] == 0, 0]),
        instructions_per_inference=float(instructions.mean()) if instructions is not None else None,
        instructions_min=int(round(instructions.min())) if instructions is not None else None,
        instructions_max=int(round(instructions.max())) if instructions is not None else None,
        calibration_instructions_per_tick=per_tick,
        flash_bytes=sum(sections.get(name, 0) for name in (".text", ".ARM.exidx", ".data")),
        model_flash_bytes=sum(size for name, size in model_sections.items()
                              if name.startswith((".text", ".rodata", ".data"))),
        ram_bytes=model_ram + int(summary.group(5)), model_ram_bytes=model_ram,
        static_ram_bytes=sections.get(".data", 0) + sections.get(".bss", 0),
        stack_reserved_bytes=sections.get(".stack", 0), stack_used_bytes=int(summary.group(5)),
        tflite_bytes=tflite_size, qemu_seconds=qemu_seconds[0], qemu_cpu_seconds=qemu_seconds[1],
        build_seconds=build_seconds, build_dir=build_dir)


def _section_sizes(elf: Path) -> dict[str, int]:
    """`arm-none-eabi-size -A`: section name -> bytes."""
    out = subprocess.run(["arm-none-eabi-size", "-A", str(elf)], capture_output=True, text=True, check=True).stdout
    sizes = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0].startswith(".") and parts[1].isdigit():
            sizes[parts[0]] = int(parts[1])
    return sizes


def _object_sections(linker_map: str, object_name: str) -> dict[str, int]:
    """Bytes each kept input section of `object_name` occupies, from the map's memory-map part."""
    kept = linker_map.split("Linker script and memory map", 1)[-1]
    kept = re.sub(r"^ (\.\S+)\n\s+(0x)", r" \1 \2", kept, flags=re.M)  # long names wrap onto the next line
    sizes: dict[str, int] = {}
    for name, _address, size, source in _MAP_ENTRY.findall(kept):
        if Path(source).name == object_name and int(size, 16):
            sizes[name] = sizes.get(name, 0) + int(size, 16)
    return sizes


def format_qemu_result(result: QemuResult) -> str:
    """The QEMU run as a few lines for the CLI."""
    verdict = "bit-exact" if result.bit_exact == result.images else \
        f"{result.images - result.bit_exact} MISMATCHED (first: {list(result.mismatched_images[:5])})"
    lines = [
        f"QEMU {result.machine} ({result.core}): {result.images} images streamed from the host, "
        f"{result.bit_exact}/{result.images} outputs equal to TFLite Micro's ({verdict}), "
        f"accuracy {result.accuracy:.2%}, exit status {result.exit_status}",
        f"  flash {result.flash_bytes:,} B (model {result.model_flash_bytes:,} B; .tflite {result.tflite_bytes:,} B)",
        f"  RAM {result.ram_bytes:,} B = model arena {result.model_ram_bytes:,} B + stack high-water mark "
        f"{result.stack_used_bytes:,} B (whole self-test: statics {result.static_ram_bytes:,} B, stack "
        f"{result.stack_reserved_bytes:,} B reserved)",
    ]
    if result.instructions_per_inference is not None:
        lines.append(f"  instructions per inference {result.instructions_per_inference:,.0f} "
                     f"(min {result.instructions_min:,}, max {result.instructions_max:,}; counted with -icount, "
                     f"not cycles or time)")
    lines.append(f"  build {result.build_seconds:.1f} s, QEMU run {result.qemu_seconds:.1f} s wall "
                 f"({result.qemu_cpu_seconds:.1f} s CPU)")
    return "\n".join(lines)
