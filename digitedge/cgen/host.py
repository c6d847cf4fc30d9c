"""Compile the generated C with the host's gcc and run it on a batch of int8 inputs.

The harness reads every input from one binary file and writes every output to another, so a
10,000-image check is one process, not 10,000.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from digitedge.cgen.emit import generate_c_sources
from digitedge.errors import DigitedgeError

HOST_CFLAGS = ("-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-pedantic")

_HARNESS = r"""
#include <stdio.h>
#include <stdlib.h>
#include "{name}_model.h"

/* usage: harness INPUTS OUTPUTS COUNT; inputs and outputs are raw int8, one record after another */
int main(int argc, char **argv)
{{
    static int8_t input[{macro}_INPUT_SIZE];
    static int8_t output[{macro}_OUTPUT_SIZE];
    FILE *inputs, *outputs;
    long count, index;
    if (argc != 4) {{
        return 2;
    }}
    inputs = fopen(argv[1], "rb");
    outputs = fopen(argv[2], "wb");
    count = strtol(argv[3], NULL, 10);
    if (!inputs || !outputs) {{
        return 2;
    }}
    for (index = 0; index < count; ++index) {{
        if (fread(input, 1, sizeof input, inputs) != sizeof input) {{
            return 3;
        }}
        {name}_infer(input, output);
        fwrite(output, 1, sizeof output, outputs);
    }}
    return fclose(outputs) == 0 && fclose(inputs) == 0 ? 0 : 4;
}}
"""


def host_compiler() -> str | None:
    return shutil.which("gcc") or shutil.which("cc")


def run_on_host(tflite_bytes: bytes, model_inputs: np.ndarray, *, name: str = "digitedge") -> np.ndarray:
    """Outputs (N, output size) int8 of the generated C compiled with gcc, for int8 inputs (N, ...)."""
    compiler = host_compiler()
    if compiler is None:
        raise DigitedgeError("no C compiler (gcc or cc) on PATH to build the generated sources")
    sources = generate_c_sources(tflite_bytes, name=name)
    batch = np.ascontiguousarray(model_inputs, dtype=np.int8).reshape(len(model_inputs), -1)
    with tempfile.TemporaryDirectory(prefix="digitedge-cgen-") as scratch:
        folder = Path(scratch)
        for filename, text in sources.items():
            (folder / filename).write_text(text)
        (folder / "harness.c").write_text(_HARNESS.format(name=name, macro=name.upper()))
        build = subprocess.run([compiler, *HOST_CFLAGS, "-o", str(folder / "harness"), str(folder / "harness.c"),
                                str(folder / f"{name}_model.c")], capture_output=True, text=True)
        if build.returncode != 0:
            raise RuntimeError(f"generated C does not compile:\n{build.stderr}")
        (folder / "inputs.bin").write_bytes(batch.tobytes())
        run = subprocess.run([str(folder / "harness"), str(folder / "inputs.bin"), str(folder / "outputs.bin"),
                              str(len(batch))], capture_output=True, text=True)
        if run.returncode != 0:
            raise RuntimeError(f"generated C harness failed with status {run.returncode}: {run.stderr}")
        outputs = np.frombuffer((folder / "outputs.bin").read_bytes(), dtype=np.int8)
    return outputs.reshape(len(batch), -1)
