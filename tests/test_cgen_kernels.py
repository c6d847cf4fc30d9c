"""Every kernel header of digitedge/cgen/kernels compiles on its own, warning-free, for the host and
for each board's core (so each path its feature macros choose is compiled: plain, DSP, MVE)."""

from __future__ import annotations

import subprocess

import pytest

from digitedge.cgen.boards import BOARDS
from digitedge.cgen.host import HOST_CFLAGS, host_compiler
from digitedge.cgen.kernels import KERNEL_DIR, all_kernel_headers, kernel_files
from digitedge.cgen.lower import KERNEL_PARAMS
from arm_toolchain import needs_arm_toolchain

HEADERS = [path.name for path in all_kernel_headers()]


def _compile_alone(compiler: list[str], header: str, tmp_path) -> subprocess.CompletedProcess:
    """The header as the one file of a translation unit (-x c: compiled, not precompiled)."""
    return subprocess.run([*compiler, "-Wall", "-Wextra", "-Werror", "-x", "c", "-c", str(KERNEL_DIR / header),
                           "-o", str(tmp_path / "kernel.o")], capture_output=True, text=True)


@pytest.mark.skipif(host_compiler() is None, reason="no host C compiler")
@pytest.mark.parametrize("header", HEADERS)
def test_kernel_compiles_alone_on_the_host(header, tmp_path):
    build = _compile_alone([host_compiler(), *HOST_CFLAGS], header, tmp_path)
    assert build.returncode == 0, build.stderr


@needs_arm_toolchain
@pytest.mark.parametrize("board_name", sorted(BOARDS))
def test_every_kernel_compiles_alone_for_the_core(board_name, tmp_path):
    flags = ["arm-none-eabi-gcc", *BOARDS[board_name].cpu_flags, "-mthumb", "-std=c99", "-O2", "-pedantic"]
    failed = {header: build.stderr for header in HEADERS
              if (build := _compile_alone(flags, header, tmp_path)).returncode != 0}
    assert not failed, f"{board_name}: {failed}"


def test_every_lowered_kernel_has_its_header_and_layer_macro():
    for kernel in KERNEL_PARAMS:
        text = kernel_files([kernel])[f"{kernel}.h"]
        assert f"#define {kernel.upper()}_LAYER(name, params)" in text
        assert f"}} {KERNEL_PARAMS[kernel]};" in "".join(kernel_files([kernel]).values())


def test_kernel_files_bring_every_header_they_include():
    files = kernel_files(["conv_sparse_s8"])
    assert list(files) == ["conv_sparse_s8.h", "conv_s8.h", "cgen.h", "dot_s8.h", "requantize.h", "masked_dot_s8.h"]
