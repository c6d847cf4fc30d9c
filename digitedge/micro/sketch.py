"""A ready-to-build Arduino / PlatformIO folder: the packaged sketch, the generated model sources and
the PlatformIO file, so `arduino-cli compile DIR` or `pio run` in DIR needs no hand copying.

The folder may be written again (a new model into the same sketch), but only over files digitedge
wrote there itself and nobody changed since: a small manifest names them with their sha256. All
files are written or none.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from digitedge.errors import DigitedgeError
from digitedge.micro.header import MODEL_DATA_CC, MODEL_DATA_H, MODEL_OPS_H, SAMPLE_DIGITS_H, sketch_files
from digitedge.rundir import write_files
from firmware_export import ARDUINO_SKETCH_DIR, PLATFORMIO_FILE

SKETCH_MANIFEST = ".digitedge-sketch.json"
SKETCH_TFLITE = "model.tflite"  # the model the sources hold, for host_check
BUILD_FOLDERS = (".pio", "build")  # what `pio run` and `arduino-cli compile --export-binaries` add
# arduino-cli's rule for a sketch name, which must also be its folder's name
_SKETCH_NAME = re.compile(r"^[0-9A-Za-z_][0-9A-Za-z_.-]{0,62}$")


def sketch_name(out_dir: str | Path) -> str:
    """The sketch's name: its folder's (Arduino wants DIR/DIR.ino), if Arduino accepts it."""
    name = Path(out_dir).resolve().name
    if not _SKETCH_NAME.match(name):
        raise DigitedgeError(f"--firmware folder name '{name}' is not a valid Arduino sketch name "
                             "(letters, digits, '_', '-', '.', at most 63, not starting with '-' or '.')")
    return name


def firmware_folder_files(header_files: dict[str, str], tflite_bytes: bytes, sketch: str) -> dict[str, bytes]:
    """{file name: bytes} of the sketch folder named `sketch`, from `header_files` (header.header_files)."""
    packaged_ino = ARDUINO_SKETCH_DIR / f"{ARDUINO_SKETCH_DIR.name}.ino"
    sources = sketch_files({name: header_files[name] for name in (MODEL_DATA_H, MODEL_DATA_CC, MODEL_OPS_H, SAMPLE_DIGITS_H)})
    return {f"{sketch}.ino": packaged_ino.read_bytes(),
            **{name: text.encode("utf-8") for name, text in sources.items()},
            "platformio.ini": PLATFORMIO_FILE.read_bytes(),
            SKETCH_TFLITE: tflite_bytes}


def check_firmware_folder(out_dir: str | Path) -> None:
    """DigitedgeError unless every entry in `out_dir` is a file digitedge wrote there, unchanged since,
    or a build folder (a missing or empty folder is fine), and its name is a valid sketch name."""
    folder = Path(out_dir)
    sketch_name(folder)
    if not folder.exists():
        return
    if not folder.is_dir():
        raise DigitedgeError(f"--firmware {folder} is a file, not a folder")
    written = _written_files(folder)
    for entry in sorted(folder.iterdir()):
        name = entry.name
        if name == SKETCH_MANIFEST or (name in BUILD_FOLDERS and entry.is_dir()):
            continue
        if name not in written or not entry.is_file():
            raise DigitedgeError(f"--firmware {folder} holds {name}, which digitedge did not write; "
                                 "choose a new or empty folder")
        if _sha256(entry.read_bytes()) != written[name]:
            raise DigitedgeError(f"--firmware {folder}: {name} changed since digitedge wrote it; "
                                 "move it away or choose another folder")


def write_firmware_folder(header_files: dict[str, str], tflite_bytes: bytes, out_dir: str | Path) -> list[Path]:
    """Write the sketch folder `out_dir` (all files or none) after `check_firmware_folder`; the paths written."""
    folder = Path(out_dir)
    check_firmware_folder(folder)
    files = firmware_folder_files(header_files, tflite_bytes, sketch_name(folder))
    manifest = {"written_by": "digitedge export --int8 --firmware",
                "files": {name: _sha256(data) for name, data in files.items()}}
    write_files({**files, SKETCH_MANIFEST: (json.dumps(manifest, indent=2) + "\n").encode()}, folder)
    return [folder / name for name in files]


def _written_files(folder: Path) -> dict[str, str]:
    manifest = folder / SKETCH_MANIFEST
    if not manifest.is_file():
        return {}
    try:
        files = json.loads(manifest.read_text())["files"]
        if isinstance(files, dict):
            return files
    except (OSError, ValueError, KeyError, TypeError):
        pass
    raise DigitedgeError(f"--firmware {folder}: {SKETCH_MANIFEST} is unreadable; choose a new or empty folder")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
