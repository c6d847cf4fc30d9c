"""C array text: the one formatter for every constant array the package writes (the generated
model's weights here, TFLite Micro's model bytes and sample digits in digitedge.micro.header)."""

from __future__ import annotations

import numpy as np


def c_values(values, per_line: int, *, indent: str = "    ", spec: str = "") -> str:
    """Values as C initializer rows: `per_line` a row, each formatted with `spec` (format() syntax,
    "" for plain integers) and indented, rows separated by ",\\n"."""
    flat = [int(v) for v in np.asarray(values).reshape(-1)]
    return ",\n".join(indent + ", ".join(format(v, spec) for v in flat[i:i + per_line])
                      for i in range(0, len(flat), per_line))


def c_array(declaration: str, values, per_line: int = 16) -> str:
    """`declaration[n] = {...};` (declaration: e.g. "static const int8_t name") with one row per `per_line` values."""
    count = int(np.asarray(values).size)
    return f"{declaration}[{count}] = {{\n{c_values(values, per_line)}\n}};\n"
