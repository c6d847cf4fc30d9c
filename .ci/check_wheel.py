"""CI: the installed wheel (not the checkout) runs every command that reads packaged files.

Run with the Python of a fresh virtual environment holding the wheel (no -e), from any folder:
    python .ci/check_wheel.py WORK_DIR
It checks digitedge and firmware_export import from that environment's site-packages, then, in
WORK_DIR (outside the checkout): a quick run on a training subset (opening with the MNIST source
line), `firmware run`, `export --int8 --firmware`, `make` of the packaged host_check on that
folder, and `serve`'s page; that none of them printed TensorFlow's or LiteRT's failure-looking log
lines, and none wrote a file into the installed packages.
"""

from __future__ import annotations

import re
import subprocess
import sys
import sysconfig
import time
import urllib.request
from pathlib import Path

# TensorFlow's and LiteRT's lines digitedge filters out (LiteRT's at exit, from C++ destructors)
FAILURE_LOOKING = ("E0000", "cuInit", "oneDNN", "absl::InitializeLog", "DestroyAccelerator")
SKETCH_FILES = {"sketch.ino", "model_data.cpp", "model_data.h", "model_ops.h", "sample_digits.h", "platformio.ini",
                "model.tflite"}


def step(*argv, cwd: Path) -> str:
    print("+", " ".join(map(str, argv)), flush=True)
    result = subprocess.run([str(part) for part in argv], cwd=cwd, capture_output=True, text=True, timeout=1800)
    sys.stdout.write(result.stdout[-3000:])
    if result.returncode != 0:
        sys.exit(f"FAILED ({result.returncode}): {' '.join(map(str, argv))}\n{result.stderr[-4000:]}")
    noisy = [line for line in result.stderr.splitlines() if any(mark in line for mark in FAILURE_LOOKING)]
    if noisy:
        sys.exit(f"FAILED: TensorFlow log lines reached the user: {noisy[:3]}")
    return result.stdout


def package_files(package: Path) -> set[str]:
    return {path.relative_to(package).as_posix() for path in package.rglob("*")
            if path.is_file() and "__pycache__" not in path.parts}


def check_serve(digitedge: Path, run: Path, cwd: Path) -> None:
    print(f"+ {digitedge} serve --run {run} --port 0", flush=True)
    server = subprocess.Popen([str(digitedge), "serve", "--run", str(run), "--port", "0"], cwd=cwd,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline, url = time.monotonic() + 300, None
        while url is None and time.monotonic() < deadline:
            line = server.stdout.readline()
            if not line:
                sys.exit(f"FAILED: serve exited ({server.poll()}) before printing its address")
            found = re.search(r"on (http://127\.0\.0\.1:\d+/)", line)
            url = found.group(1) if found else None
        if url is None:
            sys.exit("FAILED: serve printed no address within 300 s")
        with urllib.request.urlopen(url, timeout=30) as response:
            page = response.read().decode()
        if response.status != 200 or "<html" not in page:
            sys.exit(f"FAILED: {url} answered {response.status} without the page")
        print(f"serve: {url} -> {response.status}, {len(page):,} characters of HTML")
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    work = Path(sys.argv[1]).resolve()
    work.mkdir(parents=True, exist_ok=True)
    import digitedge
    import firmware_export
    from firmware_export import HOST_CHECK_DIR

    packages = [Path(module.__file__).resolve().parent for module in (digitedge, firmware_export)]
    site_packages = Path(sysconfig.get_paths()["purelib"]).resolve()
    for package in packages:
        if not package.is_relative_to(site_packages):
            sys.exit(f"FAILED: {package.name} imports from {package}, not from this environment's {site_packages}")
    digitedge_cli = Path(sys.executable).parent / "digitedge"
    before = {package: package_files(package) for package in packages}

    run, sketch = work / "run", work / "sketch"
    first_line = step(digitedge_cli, "run", "--quick", "--out", run, cwd=work).splitlines()[0]
    if not re.match(r"MNIST: .+, sha256:[0-9a-f]{64}", first_line):
        sys.exit(f"FAILED: run --quick did not open with the MNIST source line: {first_line!r}")
    qemu = step(digitedge_cli, "firmware", "run", "--run", run, "--images", "20", cwd=work)
    if "20/20 bit-exact" not in qemu or "MISMATCH" in qemu:
        sys.exit("FAILED: firmware run did not report 20/20 bit-exact outputs")
    step(digitedge_cli, "export", "--int8", "--run", run, "--firmware", sketch, cwd=work)
    written = {path.name for path in sketch.iterdir()}
    if not SKETCH_FILES <= written:
        sys.exit(f"FAILED: --firmware folder lacks {sorted(SKETCH_FILES - written)}")
    check = step("make", "-s", "-C", HOST_CHECK_DIR, "run", f"MODEL_DIR={sketch}", f"TFLITE={sketch / 'model.tflite'}",
                 cwd=work)
    if "host_check: all checks passed" not in check:
        sys.exit("FAILED: host_check did not pass on the --firmware folder")
    check_serve(digitedge_cli, run, work)

    for package in packages:
        added = package_files(package) - before[package]
        if added:
            sys.exit(f"FAILED: commands wrote into the installed package {package}: {sorted(added)}")
    print(f"wheel check passed: {', '.join(f'{package.name} from {package}' for package in packages)}, "
          f"commands run in {work}")


if __name__ == "__main__":
    main()
