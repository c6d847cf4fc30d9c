"""`digitedge export --int8 --target c`: generate the C sources, then write them all or none."""

from __future__ import annotations

from pathlib import Path

from digitedge.cgen.emit import generate_c_sources
from digitedge.rundir import write_text_files


def export_c(tflite_bytes: bytes, out_dir: str | Path, *, name: str = "digitedge",
             label: str = "model") -> list[Path]:
    """Generate <name>_model.h/.c from an int8 .tflite into `out_dir`; nothing is written if generation fails."""
    return write_text_files(generate_c_sources(tflite_bytes, name=name, label=label), out_dir)
