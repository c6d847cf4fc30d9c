"""`digitedge export --int8 --target c`: generate the C sources, then write them all or none."""

from __future__ import annotations

import contextlib
from pathlib import Path

from digitedge.cgen.csource import generate_c_sources
from digitedge.errors import DigitedgeError
from digitedge.rundir import atomic_path


def write_c_sources(files: dict[str, str], out_dir: str | Path) -> list[Path]:
    """Every file or none: each is staged beside its target, and all are renamed into place together."""
    out_dir = Path(out_dir)
    with contextlib.ExitStack() as stack:
        staged = [(stack.enter_context(atomic_path(out_dir / name)), text) for name, text in files.items()]
        for tmp, text in staged:
            try:
                tmp.write_text(text, encoding="utf-8")
            except OSError as exc:
                raise DigitedgeError(f"cannot write {tmp.parent}: {exc.strerror or exc}") from None
    return [out_dir / name for name in files]


def export_c(tflite_bytes: bytes, out_dir: str | Path, *, name: str = "digitedge",
             label: str = "model") -> list[Path]:
    """Generate <name>_model.h/.c from an int8 .tflite into `out_dir`; nothing is written if generation fails."""
    return write_c_sources(generate_c_sources(tflite_bytes, name=name, label=label), out_dir)
