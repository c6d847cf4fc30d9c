"""The C kernels of the generated model, shipped as package data: one header per op and weight type
(see digitedge.cgen.lower for the naming and the layouts each reads)."""

from __future__ import annotations

import re
from pathlib import Path

KERNEL_DIR = Path(__file__).resolve().parent
_INCLUDE = re.compile(r'^#include "([^"]+)"', re.M)


def kernel_files(kernels) -> dict[str, str]:
    """{file name: text} of these kernels' headers and every header they include, in include order."""
    files: dict[str, str] = {}

    def add(name: str) -> None:
        if name not in files:
            text = (KERNEL_DIR / name).read_text()
            files[name] = text
            for included in _INCLUDE.findall(text):
                add(included)

    for kernel in kernels:
        add(f"{kernel}.h")
    return files


def all_kernel_headers() -> list[Path]:
    """Every kernel header in the package (each compiles on its own)."""
    return sorted(KERNEL_DIR.glob("*.h"))
