"""Artifacts are replaced whole or not at all: a killed writer, a full disk or Ctrl-C leaves the
previous file intact and no temporary file behind that the manifest would count."""

from __future__ import annotations

import errno
import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from digitedge.errors import DigitedgeError
from digitedge.rundir import RunDir, write_bytes, write_files

BIG = 256 * 1024 * 1024  # large enough that the write and fsync take a moment to kill in

WRITER = """
import sys
from pathlib import Path
from digitedge.rundir import write_bytes
write_bytes(Path(sys.argv[1]), bytes([7]) * int(sys.argv[2]))
"""


def _temporaries(folder: Path) -> list[Path]:
    return [path for path in folder.iterdir() if ".tmp-" in path.name]


def test_killed_writer_leaves_the_old_artifact_intact(tmp_path):
    artifact = tmp_path / "model.tflite"
    write_bytes(artifact, b"the previous good model")
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(artifact), str(BIG)])
    deadline = time.monotonic() + 60
    try:  # kill as soon as the new bytes are on their way to disk
        while not any(path.stat().st_size for path in _temporaries(tmp_path)):
            assert writer.poll() is None and time.monotonic() < deadline, "the writer ended before it could be killed"
            time.sleep(0.001)
        writer.send_signal(signal.SIGKILL)
    finally:
        writer.wait()
    assert writer.returncode == -signal.SIGKILL
    assert artifact.read_bytes() == b"the previous good model"
    left = _temporaries(tmp_path)
    assert left and left[0].stat().st_size < BIG  # killed mid-write ...
    run = RunDir(tmp_path)
    assert list(run.file_entries()) == ["model.tflite"]  # ... and the half-written file is never counted


def _failing_os_write(monkeypatch, after: int, error: BaseException):
    """os.write that lets `after` file writes through, then raises `error`."""
    real_write, calls = os.write, []

    def write(fd, data):
        if fd > 2:
            calls.append(fd)
            if len(calls) > after:
                raise error
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", write)


def test_full_disk_keeps_the_previous_file(tmp_path, monkeypatch):
    artifact = tmp_path / "report.html"
    write_bytes(artifact, b"old report")
    _failing_os_write(monkeypatch, 0, OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)))
    with pytest.raises(DigitedgeError) as caught:
        write_bytes(artifact, b"new report" * 1000)
    monkeypatch.undo()
    assert str(caught.value) == f"cannot write {artifact}: No space left on device"
    assert artifact.read_bytes() == b"old report" and not _temporaries(tmp_path)


@pytest.mark.parametrize("error", [OSError(errno.ENOSPC, "No space left on device"), KeyboardInterrupt()])
def test_file_set_is_written_whole_or_not_at_all(tmp_path, monkeypatch, error):
    """A header set (model_data.h/.cc, ...) fails on its second file: none of the old set changes."""
    old = {"model_data.h": b"old h", "model_data.cc": b"old cc", "sample_digits.h": b"old samples"}
    write_files(old, tmp_path)
    _failing_os_write(monkeypatch, 1, error)
    with pytest.raises((DigitedgeError, KeyboardInterrupt)):
        write_files({name: b"new " + data for name, data in old.items()}, tmp_path)
    monkeypatch.undo()
    assert {path.name: path.read_bytes() for path in tmp_path.iterdir()} == old


def test_artifacts_get_the_usual_permissions(tmp_path):
    """Temporary files start private (0600); the renamed artifact is readable like any file the user writes."""
    mask = os.umask(0o022)
    os.umask(mask)
    path = write_bytes(tmp_path / "model_data.h", b"x")
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask


def test_manifest_lists_exactly_the_files_present(tmp_path):
    run = RunDir(tmp_path / "run").ensure()
    write_bytes(run.path("tflite", "a.tflite"), b"a")
    run.update_manifest()
    assert run.verify() == []
    run.path("tflite", "a.tflite").write_bytes(b"b")
    write_bytes(run.path("tflite", "b.tflite"), b"c")
    assert sorted(run.verify()) == ["changed: tflite/a.tflite", "not in manifest: tflite/b.tflite"]
    run.path("tflite", "a.tflite").unlink()
    assert "missing: tflite/a.tflite" in run.verify()
    entry = run.update_manifest()["files"]["tflite/b.tflite"]
    assert entry == {"size": 1, "sha256": hashlib.sha256(b"c").hexdigest()} and run.verify() == []
