"""Many small generated models in one bare-metal image per core: each case's inputs and TFLite
Micro's outputs are embedded, the firmware prints one line per case with its mismatch count.

One build and one QEMU boot per board runs every case, so the DSP (Cortex-M4) and MVE (Cortex-M55)
kernels are checked operator by operator in seconds.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np

from digitedge.cgen import generate_c_sources
from digitedge.cgen.boards import board
from digitedge.cgen.qemu import QEMU_OPTIONS
from firmware_export import BAREMETAL_DIR

_LINE = re.compile(r"^case (\d+) mismatches (\d+)$", re.M)


def _bytes(values: np.ndarray) -> str:
    return ", ".join(str(int(v)) for v in np.asarray(values, dtype=np.int8).reshape(-1))


def _main(cases: list[tuple[np.ndarray, np.ndarray]]) -> str:
    includes = "\n".join(f'#include "case{i}_model.h"' for i in range(len(cases)))
    tables, runs = [], []
    for i, (inputs, expected) in enumerate(cases):
        count, size, out = len(inputs), inputs[0].size, expected.shape[1]
        tables.append(f"static const int8_t case{i}_inputs[{count * size}] = {{{_bytes(inputs)}}};\n"
                      f"static const int8_t case{i}_expected[{count * out}] = {{{_bytes(expected)}}};\n")
        runs.append(f"    failed |= run_case({i}, case{i}_infer, case{i}_inputs, {size}, case{i}_expected, {out}, "
                    f"{count});")
    return f"""#include <stdint.h>
#include "semihost.h"
{includes}

{''.join(tables)}
typedef void (*infer_fn)(const int8_t *, int8_t *);

static int run_case(int index, infer_fn infer, const int8_t *inputs, int in_size, const int8_t *expected,
                    int out_size, int count)
{{
    static int8_t output[4096];
    char line[48] = "case ";
    char *end = line + 5;
    int mismatches = 0, i, j;
    for (i = 0; i < count; ++i) {{
        infer(inputs + i * in_size, output);
        for (j = 0; j < out_size; ++j) {{
            mismatches += output[j] != expected[i * out_size + j];
        }}
    }}
    {{
        int values[2] = {{index, mismatches}}, v;
        for (v = 0; v < 2; ++v) {{
            char digits[12];
            int n = 0, value = values[v];
            do {{
                digits[n++] = (char)('0' + value % 10);
                value /= 10;
            }} while (value);
            while (n) {{
                *end++ = digits[--n];
            }}
            if (v == 0) {{
                const char *word = " mismatches ";
                while (*word) {{
                    *end++ = *word++;
                }}
            }}
        }}
        *end++ = '\\n';
        *end = '\\0';
    }}
    semihost_write(line);
    return mismatches != 0;
}}

int main(void)
{{
    int failed = 0;
{chr(10).join(runs)}
    return failed;
}}
"""


def run_cases_on_board(board_name: str, models: list[bytes], inputs: list[np.ndarray], expected: list[np.ndarray],
                       folder: Path) -> list[int]:
    """Mismatching output bytes per case, from one image on `board_name`'s QEMU machine."""
    target = board(board_name)
    folder.mkdir(parents=True, exist_ok=True)
    sources = []
    for i, model in enumerate(models):
        for filename, text in generate_c_sources(model, name=f"case{i}").items():
            (folder / filename).write_text(text)
        sources.append(str(folder / f"case{i}_model.c"))
    cases = [(np.asarray(x).reshape(len(x), -1), np.asarray(e).reshape(len(e), -1)) for x, e in zip(inputs, expected)]
    (folder / "main.c").write_text(_main(cases))
    (folder / "memory.ld").write_text(
        f"MEMORY\n{{\n    FLASH (rx) : ORIGIN = {target.flash_origin:#x}, LENGTH = {target.flash_bytes}\n"
        f"    RAM (rwx) : ORIGIN = {target.ram_origin:#x}, LENGTH = {target.ram_bytes}\n}}\n")
    flags = [*target.cpu_flags, "-mthumb", "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", f"-I{folder}",
             f"-I{BAREMETAL_DIR}"]
    build = subprocess.run(["arm-none-eabi-gcc", *flags, str(folder / "main.c"), *sources,
                            *(str(BAREMETAL_DIR / f) for f in ("startup.c", "semihost.c", "board_systick.c")),
                            f"-T{BAREMETAL_DIR / 'cortex_m.ld'}", f"-L{folder}", "-nostartfiles", "--specs=nano.specs",
                            "--specs=nosys.specs", "-Wl,--gc-sections", "-o", str(folder / "cases.elf")],
                           capture_output=True, text=True)
    if build.returncode != 0:
        raise RuntimeError(f"cross build for {board_name} failed:\n{build.stderr[-4000:]}")
    run = subprocess.run(["qemu-system-arm", "-M", target.machine, *QEMU_OPTIONS, "-kernel", str(folder / "cases.elf")],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300)
    found = {int(i): int(m) for i, m in _LINE.findall(run.stdout)}
    if sorted(found) != list(range(len(models))):
        raise RuntimeError(f"{board_name}: QEMU reported {len(found)} of {len(models)} cases:\n{run.stdout[-2000:]}")
    return [found[i] for i in range(len(models))]
