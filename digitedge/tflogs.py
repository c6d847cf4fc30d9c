"""TensorFlow's C++ lines that read like failures on a healthy CPU-only run, kept off the terminal.

Most of them are written before TensorFlow reads TF_CPP_MIN_LOG_LEVEL (absl logs everything before
absl::InitializeLog), or at ERROR level beside real errors (`failed call to cuInit` on a machine
without a GPU), so no environment variable silences only them. The process's stderr goes through a
filter process that drops exactly the lines in BENIGN_LINES and passes every other byte on, so a real
TensorFlow error (or a crash's last words: the filter outlives this process) still reaches the user.
The filter keeps fd 2 to the end: LiteRT logs its accelerators' release from C++ destructors, after
Python's exit handlers; at exit this process only waits until what it wrote before has been forwarded.
`digitedge --verbose` or DIGITEDGE_TF_LOGS=1 keeps every line and TensorFlow's INFO/WARNING logs.
"""

from __future__ import annotations

import atexit
import os
import re
import secrets
import select
import subprocess
import sys

LOGS_ENV = "DIGITEDGE_TF_LOGS"
_TF_PREFIX = r"[IWE]\d{4} [\d:.]+ +\d+ "  # absl's "I0000 00:00:1796180538.694407   11200 "
BENIGN_LINES = re.compile("|".join([
    r"^WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR$",
    _TF_PREFIX + r"port\.cc:\d+\] oneDNN custom operations are on\.",
    _TF_PREFIX + r"cudart_stub\.cc:\d+\] Could not find cuda drivers on your machine, GPU will not be used\.$",
    _TF_PREFIX + r"cuda_platform\.cc:\d+\] failed call to cuInit: ",
    _TF_PREFIX + r"node_def_util\.cc:\d+\] NodeDef mentions attribute use_unbounded_threadpool which is not in the op",
    r"^fully_quantize: \d+, inference_type: \d+, input_inference_type: \w+, output_inference_type: \w+$",
    r"^INFO: Created TensorFlow Lite XNNPACK delegate for CPU\.$",
    # LiteRT's CompiledModel (the mobile stage's check) releases its accelerators at exit
    r"^INFO: \[accelerator_registry\.cc:\d+\] DestroyAccelerator: ptr=0x[0-9a-f]+, name=[\w ]+$",
]))

# The filter: its stdin is this process's fd 2; it writes to the terminal's stderr until every writer
# (this process and its children) has closed the pipe, so it also forwards what a crash prints, and what
# C++ destructors print after Python's exit handlers (LiteRT's accelerator lines). A line ending in the
# mark (argv[2]) asks it to acknowledge, on fd argv[3], that everything before the mark is forwarded.
_FILTER = """
import os, re, sys
benign, mark, ack = re.compile(sys.argv[1]), sys.argv[2].encode(), int(sys.argv[3])
out = sys.stderr.buffer
for line in sys.stdin.buffer:
    text = line.rstrip(b"\\r\\n")
    flushed = text.endswith(mark)
    if flushed:  # after a child's unfinished line, the mark ends that line
        text = text[:-len(mark)]
        line = text + b"\\n" if text else b""
    if line and not benign.search(text.decode("utf-8", "replace")):
        out.write(line)
        out.flush()
    if flushed:
        try:
            os.write(ack, b"1")
        except OSError:  # digitedge stopped waiting: keep forwarding
            pass
"""
_installed = False
FLUSH_TIMEOUT_S = 10.0


def show_tensorflow_logs() -> bool:
    return os.environ.get(LOGS_ENV, "") not in ("", "0")


def quiet_tensorflow(verbose: bool = False) -> None:
    """Before TensorFlow loads: its INFO/WARNING logs off and the BENIGN_LINES filtered out of fd 2,
    unless `verbose` or DIGITEDGE_TF_LOGS=1 (then every log at INFO level and above)."""
    if verbose or show_tensorflow_logs():
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0")
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if _own_stderr():
        _filter_stderr()


def _own_stderr() -> bool:
    """True when sys.stderr is this process's fd 2 (not a test's captured stream)."""
    try:
        return sys.stderr is not None and sys.stderr.fileno() == 2
    except (AttributeError, OSError, ValueError):
        return False


def _filter_stderr() -> None:
    global _installed
    if _installed:
        return
    read_end, write_end = os.pipe()
    ack_read, ack_write = os.pipe()
    mark = f"digitedge-stderr-flushed-{secrets.token_hex(8)}"
    try:  # its own session: Ctrl-C interrupts digitedge, not the filter that prints digitedge's last words
        subprocess.Popen([sys.executable, "-c", _FILTER, BENIGN_LINES.pattern, mark, str(ack_write)],
                         stdin=read_end, stdout=subprocess.DEVNULL, pass_fds=(ack_write,), start_new_session=True)
    except OSError:  # no filter (e.g. this user may not start the interpreter again): every line shows
        os.close(write_end)
        os.close(ack_read)
        return
    finally:
        os.close(read_end)
        os.close(ack_write)
    sys.stderr.flush()
    os.dup2(write_end, 2)
    os.close(write_end)
    _installed = True
    atexit.register(_wait_for_filter, mark, ack_read)


def _wait_for_filter(mark: str, ack_read: int) -> None:
    """At exit, everything written so far reaches the terminal before this process ends; fd 2 stays on
    the filter, which ends when the last writer (this process after its C++ destructors, or a child) does."""
    sys.stderr.flush()
    try:
        os.write(2, f"{mark}\n".encode())
        select.select([ack_read], [], [], FLUSH_TIMEOUT_S)  # a filter that died or lags is not waited for longer
    except OSError:
        pass
    finally:
        os.close(ack_read)
