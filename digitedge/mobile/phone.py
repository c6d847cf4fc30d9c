"""MediaPipe Tasks' ImageClassifier, the client Android and iOS apps run, in its own environment.

mediapipe (>= 0.10.30) needs absl-py ~= 2.3 and tensorflow-model-optimization 0.8.1 needs
absl-py ~= 1.2, so mediapipe cannot be installed beside digitedge. It gets a virtual environment
of its own, made on demand with `python -m venv` and pip from PyPI with the pinned
mediapipe-requirements.txt shipped in this package, in a cache folder (DIGITEDGE_MEDIAPIPE_ENV,
else ~/.cache/digitedge/mediapipe-<hash of the requirements>). The classifier runs there in a
subprocess with a timeout: MediaPipe can hang after repeated graph errors in one process. So does
mediapipe's own metadata schema module, which reads back the metadata digitedge writes.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from digitedge.errors import DigitedgeError

ENV_VARIABLE = "DIGITEDGE_MEDIAPIPE_ENV"
READY = "digitedge-ready"  # written last: a folder without it is a half-made environment
CREATE_TIMEOUT_S = 900
CLIENT_TIMEOUT_S = 300


def requirements_text() -> str:
    return resources.files("digitedge.mobile").joinpath("mediapipe-requirements.txt").read_text()


def environment_folder() -> Path:
    if os.environ.get(ENV_VARIABLE):
        return Path(os.environ[ENV_VARIABLE])
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "digitedge" / f"mediapipe-{hashlib.sha256(requirements_text().encode()).hexdigest()[:12]}"


def _python(folder: Path) -> Path:
    return folder / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def mediapipe_python(folder: Path | None = None, echo=None) -> Path:
    """The MediaPipe environment's python, creating the environment first if it is not there."""
    folder = Path(folder or environment_folder())
    ready = folder / READY
    if ready.is_file() and ready.read_text() == requirements_text() and _python(folder).is_file():
        return _python(folder)
    if echo:
        echo(f"[mobile] creating the MediaPipe environment in {folder} (pip install from PyPI, once)")
    if folder.exists() and any(folder.iterdir()) and not (folder / "pyvenv.cfg").is_file():
        raise DigitedgeError(f"{folder} ({ENV_VARIABLE}) is a folder that is not a virtual environment; "
                             "name an empty or new folder")
    shutil.rmtree(folder, ignore_errors=True)
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as handle:
        handle.write(requirements_text())
    steps = [[sys.executable, "-m", "venv", str(folder)],
             [str(_python(folder)), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
              "-r", handle.name]]
    try:
        for step in steps:
            done = subprocess.run(step, capture_output=True, text=True, timeout=CREATE_TIMEOUT_S)
            if done.returncode != 0:
                lines = [line for line in (done.stderr or done.stdout).splitlines()
                         if line.strip() and not line.startswith("WARNING")]
                raise DigitedgeError(f"cannot create the MediaPipe environment in {folder}: `{' '.join(step[1:4])}` "
                                     f"failed: {lines[-1] if lines else f'exit code {done.returncode}'}")
        ready.write_text(requirements_text())
    except subprocess.TimeoutExpired:
        raise DigitedgeError(f"cannot create the MediaPipe environment in {folder}: pip took over "
                             f"{CREATE_TIMEOUT_S} s") from None
    except OSError as exc:
        raise DigitedgeError(f"cannot create the MediaPipe environment in {folder}: {exc.strerror or exc}") from None
    finally:
        os.unlink(handle.name)
        if not ready.is_file():
            shutil.rmtree(folder, ignore_errors=True)
    return _python(folder)


@dataclass(frozen=True)
class MediaPipeAnswers:
    """What MediaPipe's ImageClassifier said about each image."""

    mediapipe_version: str
    predictions: np.ndarray  # (N,) index of the best category
    top_names: list[str]  # (N,) its category_name, read by MediaPipe from the model's metadata
    scores: np.ndarray  # (N, 10) score per category index

    @property
    def category_names(self) -> list[str]:
        return sorted(set(self.top_names))


def _run_client(script: str, arguments: list[str], client: str, model_path: str | Path, python: Path | None,
                timeout_s: float) -> dict:
    """The JSON one of this package's MediaPipe-side scripts prints; DigitedgeError in one line if it fails."""
    python = python or mediapipe_python()
    path = resources.files("digitedge.mobile").joinpath(script)
    try:
        done = subprocess.run([str(python), str(path), *arguments], capture_output=True, text=True,
                              timeout=timeout_s, env={**os.environ, "GLOG_minloglevel": "2"})
    except subprocess.TimeoutExpired:
        raise DigitedgeError(f"{client} gave no answer on {model_path} within {timeout_s:.0f} s") from None
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        raise DigitedgeError(f"{client} refused {model_path}: {lines[-1] if lines else done.returncode}")
    return json.loads(done.stdout)


def classify_with_mediapipe(model_path: str | Path, images: np.ndarray, python: Path | None = None,
                            timeout_s: float = CLIENT_TIMEOUT_S) -> MediaPipeAnswers:
    """MediaPipe's ImageClassifier on `images` (uint8 N x 28 x 28 gray, given as RGB), in a subprocess."""
    with tempfile.TemporaryDirectory(prefix="digitedge-mediapipe-") as folder:
        images_path = Path(folder) / "images.npy"
        np.save(images_path, np.asarray(images, np.uint8))
        result = _run_client("mediapipe_classify.py", [str(model_path), str(images_path)],
                             "MediaPipe's ImageClassifier", model_path, python, timeout_s)
    answers = result["answers"]
    scores = np.zeros((len(answers), 10), np.float32)
    for row, categories in zip(scores, answers):
        for index, _, score in categories:
            row[index] = score
    return MediaPipeAnswers(result["mediapipe"], np.array([a[0][0] for a in answers]),
                            [a[0][1] for a in answers], scores)


def read_metadata_with_mediapipe(model_path: str | Path, python: Path | None = None,
                                 timeout_s: float = CLIENT_TIMEOUT_S) -> dict:
    """The model's TFLite metadata as mediapipe's own schema module reads it (see mediapipe_metadata.py)."""
    return _run_client("mediapipe_metadata.py", [str(model_path)], "MediaPipe's metadata schema module",
                       model_path, python, timeout_s)


if __name__ == "__main__":  # `python -m digitedge.mobile.phone`: make the environment now (CI does, before the tests)
    try:
        print(mediapipe_python(echo=print))
    except DigitedgeError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        sys.exit(1)
