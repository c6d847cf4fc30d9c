"""`digitedge export --int8 --firmware DIR`'s folder: every file a build needs, named for Arduino,
written all or none, and never over a file digitedge did not write (or one changed since)."""

from __future__ import annotations

import errno
import functools
import json
import os

import numpy as np
import pytest

from digitedge.errors import DigitedgeError
from digitedge.micro import find_arena_size, header_files
from digitedge.micro.sketch import SKETCH_MANIFEST, SKETCH_TFLITE, check_firmware_folder, write_firmware_folder
from firmware_export import ARDUINO_SKETCH_DIR, PLATFORMIO_FILE
from micro_fixtures import tiny_tflite

SKETCH_FILES = {"my_sketch.ino", "model_data.h", "model_data.cpp", "model_ops.h", "sample_digits.h",
                "platformio.ini", SKETCH_TFLITE}


@functools.lru_cache(maxsize=None)
def tiny_sources() -> tuple[dict[str, str], bytes]:
    tflite = tiny_tflite("int8_ptq")
    files = header_files(tflite, variant="int8_ptq", accuracy=None, arena_bytes=find_arena_size(tflite).arena_bytes,
                         sample_images=np.random.default_rng(5).uniform(0, 1, (2, 28, 28, 1)), sample_labels=[3, 8],
                         source_name="tiny.tflite")
    return files, tflite


def write_sketch(folder):
    files, tflite = tiny_sources()
    return write_firmware_folder(files, tflite, folder)


def contents(folder) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir()) if path.is_file()}


def test_folder_holds_the_sketch_sources_and_platformio_file(tmp_path):
    folder = tmp_path / "my_sketch"
    paths = write_sketch(folder)
    files, tflite = tiny_sources()
    assert {path.name for path in paths} == SKETCH_FILES
    assert set(contents(folder)) == SKETCH_FILES | {SKETCH_MANIFEST}
    assert (folder / "my_sketch.ino").read_bytes() == (ARDUINO_SKETCH_DIR / "digitedge_mnist.ino").read_bytes()
    assert (folder / "model_data.cpp").read_text() == files["model_data.cc"]  # Arduino builds .cpp, not .cc
    for name in ("model_data.h", "model_ops.h", "sample_digits.h"):
        assert (folder / name).read_text() == files[name]
    assert (folder / SKETCH_TFLITE).read_bytes() == tflite
    platformio = (folder / "platformio.ini").read_text()
    assert platformio == PLATFORMIO_FILE.read_text() and "\nsrc_dir = .\n" in platformio
    manifest = json.loads((folder / SKETCH_MANIFEST).read_text())
    assert set(manifest["files"]) == SKETCH_FILES


def test_rewrites_its_own_files_and_keeps_build_folders(tmp_path):
    folder = tmp_path / "my_sketch"
    write_sketch(folder)
    (folder / ".pio" / "build").mkdir(parents=True)
    (folder / ".pio" / "build" / "firmware.elf").write_bytes(b"elf")
    before = contents(folder)
    write_sketch(folder)
    assert contents(folder) == before
    assert (folder / ".pio" / "build" / "firmware.elf").read_bytes() == b"elf"


@pytest.mark.parametrize("intruder", ["notes.txt", "extra.cpp", "lib"])
def test_refuses_a_folder_with_files_it_did_not_write(tmp_path, intruder):
    folder = tmp_path / "my_sketch"
    write_sketch(folder)
    (folder / intruder).mkdir() if intruder == "lib" else (folder / intruder).write_text("mine")
    before = contents(folder)
    with pytest.raises(DigitedgeError, match=f"holds {intruder}, which digitedge did not write"):
        write_sketch(folder)
    assert contents(folder) == before


def test_refuses_a_folder_without_its_manifest(tmp_path):
    folder = tmp_path / "my_sketch"
    folder.mkdir()
    (folder / "model_data.h").write_text("// someone's own header\n")
    with pytest.raises(DigitedgeError, match="holds model_data.h, which digitedge did not write"):
        check_firmware_folder(folder)
    assert contents(folder) == {"model_data.h": b"// someone's own header\n"}


def test_refuses_to_overwrite_a_file_changed_since(tmp_path):
    folder = tmp_path / "my_sketch"
    write_sketch(folder)
    with open(folder / "my_sketch.ino", "a") as sketch:
        sketch.write("// my change\n")
    before = contents(folder)
    with pytest.raises(DigitedgeError, match="my_sketch.ino changed since digitedge wrote it"):
        write_sketch(folder)
    assert contents(folder) == before


@pytest.mark.parametrize("name", ["bad name", "-dash", ".hidden", "x" * 64])
def test_refuses_a_folder_name_arduino_rejects(tmp_path, name):
    with pytest.raises(DigitedgeError, match="not a valid Arduino sketch name"):
        write_sketch(tmp_path / name)
    assert not (tmp_path / name).exists()


def test_writes_all_files_or_none(tmp_path, monkeypatch):
    folder = tmp_path / "my_sketch"
    real_write, file_writes = os.write, []

    def disk_full_on_third_file(fd, data):
        if fd > 2:
            file_writes.append(fd)
            if len(file_writes) == 3:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", disk_full_on_third_file)
    with pytest.raises(DigitedgeError, match="No space left on device"):
        write_sketch(folder)
    assert contents(folder) == {}  # no sketch file, no manifest, no temporary file
