"""TensorFlow's benign C++ lines stay off a run's output; every other line, a real error and a crash's
last words still reach stderr; --verbose / DIGITEDGE_TF_LOGS=1 keep everything. (A whole
`digitedge run --quick` with no such line: tests/test_pipeline.py.)"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from digitedge.tflogs import BENIGN_LINES

REPO = Path(__file__).resolve().parents[1]
BENIGN = [  # copied from TensorFlow 2.21's output on a CPU-only x86 machine
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "I0000 00:00:1796180538.694407   11200 port.cc:153] oneDNN custom operations are on. You may see slightly "
    "different numerical results due to floating-point round-off errors from different computation orders. "
    "To turn them off, set the environment variable `TF_ENABLE_ONEDNN_OPTS=0`.",
    "I0000 00:00:1796180538.694843   11200 cudart_stub.cc:31] Could not find cuda drivers on your machine, "
    "GPU will not be used.",
    "E0000 00:00:1796180542.467906   11200 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error: "
    "Failed call to cuInit: UNKNOWN ERROR (303)",
    "E0000 00:00:1796180700.162924   13021 node_def_util.cc:682] NodeDef mentions attribute use_unbounded_threadpool "
    "which is not in the op definition: Op<name=MapDataset; signature=input_dataset:variant>",
]
REAL = ["E0000 00:00:1796180542.467906   11200 kernel.cc:12] Invalid argument: a real TensorFlow failure",
        "a plain line on stderr"]

WRITE_THEN_CRASH = """
import os, sys
from digitedge.tflogs import quiet_tensorflow
quiet_tensorflow()
os.write(2, sys.argv[1].encode())
os.abort()  # no atexit, no flush: the filter must still forward what was written
"""


def _env(**extra) -> dict:
    env = {key: value for key, value in os.environ.items() if key not in ("DIGITEDGE_TF_LOGS", "TF_CPP_MIN_LOG_LEVEL")}
    return {**env, "PYTHONPATH": str(REPO), **extra}


def _write_then_crash(**env) -> str:
    lines = "".join(f"{benign}\n{REAL[0]}\n" for benign in BENIGN) + f"{REAL[1]}\n"
    result = subprocess.run([sys.executable, "-c", WRITE_THEN_CRASH, lines], capture_output=True, text=True,
                            timeout=60, env=_env(**env))
    assert result.returncode != 0  # it aborted
    return result.stderr


def test_only_the_benign_lines_are_dropped_even_from_a_crash():
    assert _write_then_crash().splitlines() == [REAL[0]] * len(BENIGN) + [REAL[1]]


def test_every_line_is_kept_on_request():
    assert _write_then_crash(DIGITEDGE_TF_LOGS="1").splitlines() == [line for benign in BENIGN for line in (benign, REAL[0])] + [REAL[1]]


def test_a_captured_stderr_is_left_alone(monkeypatch, capsys):
    from digitedge import tflogs

    monkeypatch.setattr(tflogs, "_filter_stderr", lambda: pytest.fail("filtered a test's captured stderr"))
    monkeypatch.delenv("DIGITEDGE_TF_LOGS", raising=False)
    tflogs.quiet_tensorflow()  # pytest captures sys.stderr: it is not this process's fd 2


WRITE_AFTER_EXIT_HANDLERS = """
import atexit, os, sys
atexit.register(os.write, 2, sys.argv[1].encode())  # registered first, so it runs after quiet_tensorflow's handler
from digitedge.tflogs import quiet_tensorflow
quiet_tensorflow()
os.write(2, b"an unfinished line")
"""


def test_lines_written_after_the_exit_handlers_are_filtered_too():
    """C++ destructors write after Python's exit handlers: the filter still reads fd 2 then, and a line
    left unfinished before exit reaches the terminal whole."""
    lines = "".join(f"{benign}\n{REAL[0]}\n" for benign in BENIGN) + f"{REAL[1]}\n"
    result = subprocess.run([sys.executable, "-c", WRITE_AFTER_EXIT_HANDLERS, lines], capture_output=True, text=True,
                            timeout=60, env=_env())
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == ["an unfinished line"] + [REAL[0]] * len(BENIGN) + [REAL[1]]


RUN_COMPILED_MODEL = """
import sys
import numpy as np
from digitedge.tflogs import quiet_tensorflow
quiet_tensorflow()
from digitedge.mobile.compiled import compiled_model_outputs
outputs = compiled_model_outputs(open(sys.argv[1], "rb").read(), np.zeros((2, 28, 28, 1), np.float32))
print(outputs.shape)
"""


def test_litert_accelerator_lines_at_exit_are_dropped_unless_asked_for(tmp_path):
    """LiteRT's CompiledModel releases its accelerators in C++ at process exit and logs each at INFO."""
    from micro_fixtures import tiny_tflite

    model = tmp_path / "model.tflite"
    model.write_bytes(tiny_tflite("float32"))
    runs = {logs: subprocess.run([sys.executable, "-c", RUN_COMPILED_MODEL, str(model)], capture_output=True,
                                 text=True, timeout=300, env=_env(**({"DIGITEDGE_TF_LOGS": "1"} if logs else {})))
            for logs in (False, True)}
    for result in runs.values():
        assert result.returncode == 0 and result.stdout == "(2, 10)\n", result.stderr[-2000:]
    accelerator_lines = {logs: [line for line in result.stderr.splitlines() if "DestroyAccelerator" in line]
                         for logs, result in runs.items()}
    assert accelerator_lines[True], "LiteRT printed no accelerator line at exit: nothing to filter"
    assert all(re.search(BENIGN_LINES.pattern, line) for line in accelerator_lines[True])
    assert accelerator_lines[False] == []
    assert runs[False].stderr == ""
