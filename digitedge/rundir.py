"""Where a run's artifacts live, written atomically, and the manifest that describes them.

Every artifact is written to a temporary file in its own folder and renamed into place,
so a crash never leaves a half-written file nor destroys the previous good one. The
manifest (manifest.json) lists every file with its size and sha256, plus run facts
(config, seed, data checksum, versions, git commit, timings) stored by the stages.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator

from digitedge.errors import DigitedgeError

MANIFEST = "manifest.json"
UNTRACKED_FOLDERS = {"tensorboard", "checkpoint"}  # logs and resume state, not artifacts


def _read_umask() -> int:
    mask = os.umask(0)  # the only way to read it; set back at once, at import (before any thread writes)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextlib.contextmanager
def atomic_path(final: Path) -> Iterator[Path]:
    """Yield a temporary path beside `final` (same suffix); rename it into place on success."""
    final = Path(final)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{final.stem}.tmp-", suffix=final.suffix, dir=final.parent)
    except OSError as exc:
        raise DigitedgeError(f"cannot write to {final.parent}: {exc.strerror or exc}") from None
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; an artifact gets the usual permissions
        yield tmp
        os.replace(tmp, final)
    except OSError as exc:
        raise DigitedgeError(f"cannot write {final}: {exc.strerror or exc}") from None
    finally:
        if tmp.exists():
            tmp.unlink()


def _write_all(path: Path, data: bytes) -> None:
    """Write and fsync `data` with os.write, so the bytes are on disk before the rename."""
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)


def write_bytes(path: Path, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        _write_all(tmp, data)
    return Path(path)


def write_text(path: Path, text: str) -> Path:
    return write_bytes(path, text.encode("utf-8"))


def write_json(path: Path, value) -> Path:
    return write_text(path, json.dumps(value, indent=2, sort_keys=False, default=str) + "\n")


def write_files(files: dict[str, bytes], folder: Path) -> list[Path]:
    """Write every file or none: all are staged beside their targets first, then renamed into place."""
    folder = Path(folder)
    with contextlib.ExitStack() as stack:
        staged = [(stack.enter_context(atomic_path(folder / name)), data) for name, data in files.items()]
        for (tmp, data), name in zip(staged, files):
            try:
                _write_all(tmp, data)
            except OSError as exc:
                raise DigitedgeError(f"cannot write {folder / name}: {exc.strerror or exc}") from None
    return [folder / name for name in files]


def write_text_files(files: dict[str, str], folder: Path) -> list[Path]:
    """`write_files` for UTF-8 text (generated C sources and headers)."""
    return write_files({name: text.encode("utf-8") for name, text in files.items()}, folder)


def git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
            cwd=Path(__file__).resolve().parent,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def package_versions() -> dict[str, str]:
    from importlib import metadata

    names = ["tensorflow", "tf-keras", "tensorflow-model-optimization", "ai-edge-litert",
             "tflite-micro", "numpy", "pandas", "scikit-learn", "matplotlib", "click"]
    versions = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def check_writable_folder(folder: Path, what: str) -> None:
    """Fail before any work if `folder` (a `what`) could not be created or written (creates nothing)."""
    existing = Path(folder)
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise DigitedgeError(f"cannot create {what} {folder}: {existing} is not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise DigitedgeError(f"cannot write {what} {folder}: {existing} is not writable")


class RunDir:
    """A run's folder: stage subfolders, atomic writes, and manifest bookkeeping."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def path(self, *parts: str) -> Path:
        return self.root.joinpath(*parts)

    def ensure(self) -> "RunDir":
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DigitedgeError(f"cannot create run directory {self.root}: {exc.strerror or exc}") from None
        if not os.access(self.root, os.W_OK):
            raise DigitedgeError(f"run directory {self.root} is not writable")
        return self

    def check_writable(self) -> None:
        """Fail before any work if the run directory could not be created or written (creates nothing)."""
        check_writable_folder(self.root, "run directory")

    # -- manifest ---------------------------------------------------------------------
    def read_manifest(self) -> dict:
        path = self.path(MANIFEST)
        if not path.exists():
            return {}
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise DigitedgeError(f"{path} is not a readable manifest: {exc}") from None

    def update_manifest(self, **sections) -> dict:
        """Set top-level `sections` of the manifest and refresh its file list from the disk."""
        manifest = self.read_manifest()
        manifest.update(sections)
        manifest["files"] = self.file_entries()
        write_json(self.path(MANIFEST), manifest)
        return manifest

    def file_entries(self) -> dict[str, dict]:
        entries = {}
        for file in sorted(self.root.rglob("*")):
            relative = file.relative_to(self.root)
            rel = relative.as_posix()
            if not file.is_file() or rel == MANIFEST or ".tmp-" in file.name or UNTRACKED_FOLDERS & set(relative.parts):
                continue
            entries[rel] = {"size": file.stat().st_size, "sha256": sha256_file(file)}
        return entries

    def verify(self) -> list[str]:
        """Differences between the manifest's file list and the disk, one line each."""
        recorded = self.read_manifest().get("files")
        if recorded is None:
            raise DigitedgeError(f"{self.path(MANIFEST)} is missing or lists no files")
        actual = self.file_entries()
        problems = [f"missing: {name}" for name in recorded if name not in actual]
        problems += [f"changed: {name}" for name in recorded
                     if name in actual and actual[name] != recorded[name]]
        problems += [f"not in manifest: {name}" for name in actual if name not in recorded]
        return problems
