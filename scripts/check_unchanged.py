"""Compare two finished runs made with the same config and seed, before and after a refactor, and
print PASS/MISS for what must not change (issue 18's proof):

    python scripts/check_unchanged.py BEFORE_RUN AFTER_RUN

- every `.tflite` the before run made is byte-identical in the after run (tflite/, micro/);
- every TFLite Micro file the micro stage wrote (headers and sources) is byte-identical;
- every figure of summary.csv is identical, except the timed ones (latencies, speed-ups: measured
  on a shared machine) and the generated C's flash / instructions (which may only go down);
- every board row is still bit-exact, and on every core flash and instructions per inference are no
  worse than before (RAM, the arena plus the measured stack, is printed beside them).

The mobile files carry the run folder's name in their metadata; their rows pass when the two files
are the same bytes once that name is set aside.

Variants or files only the after run has (new variants) are listed, not judged. Exit 1 on any MISS.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import re
import sys
from pathlib import Path

import pandas as pd

# measured on a shared machine: they differ between any two runs
TIMED = ("latency_median_us", "latency_p90_us", "speedup_vs_float32", "tflm_latency_median_us")
# the generated C's figures: the refactor may improve them, never worsen them
NO_WORSE = ("c_flash_bytes", "c_instructions_per_inference", "c_instructions_per_mac")
# the arena plus the measured stack: printed with the board rows, not judged
INFORMATION = ("c_ram_bytes",)
BOARD_NO_WORSE = ("flash_bytes", "model_flash_bytes", "instructions_per_inference")
BOARD_KEY = ["variant", "board"]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _line(name: str, detail: str, ok: bool) -> bool:
    print(f"  {name:<40} {detail:<62} {'PASS' if ok else 'MISS'}")
    return ok


def compare_files(before: Path, after: Path, folder: str, pattern: str) -> list[bool]:
    """Every file of `before/folder` matching `pattern` has the same bytes in `after/folder`."""
    results = []
    for path in sorted((before / folder).glob(pattern)):
        twin = after / folder / path.name
        if not twin.exists():
            results.append(_line(f"{folder}/{path.name}", "missing after", False))
            continue
        same = _digest(path) == _digest(twin)
        results.append(_line(f"{folder}/{path.name}", "byte-identical" if same else "bytes differ", same))
    new = sorted({p.name for p in (after / folder).glob(pattern)} - {p.name for p in (before / folder).glob(pattern)})
    if new:
        print(f"  {folder}: new in the after run (not judged): {', '.join(new)}")
    return results


def _equal(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def same_but_run_name(before: Path, after: Path, name: str) -> bool:
    """The two runs' `mobile/<name>.tflite` are the same bytes once each run's folder name is set aside."""
    old, new = before / "mobile" / f"{name}.tflite", after / "mobile" / f"{name}.tflite"
    if not (old.is_file() and new.is_file()):
        return False

    def without_name(path: Path, run: Path) -> bytes:
        # the flatbuffer string: 4-byte length, "digitedge VERSION, run NAME", its NUL and padding
        return re.sub(rb"....digitedge [^\x00]*, run " + re.escape(run.name.encode()) + rb"\x00+", b"RUN",
                      path.read_bytes(), flags=re.S)

    return without_name(old, before) == without_name(new, after)


def compare_summary(before: Path, after: Path) -> list[bool]:
    old = pd.read_csv(before / "report" / "summary.csv").set_index("variant")
    new = pd.read_csv(after / "report" / "summary.csv").set_index("variant")
    results = []
    for variant in old.index:
        if variant not in new.index:
            results.append(_line(f"summary.csv {variant}", "row missing after", False))
            continue
        changed, worse = [], []
        for column in old.columns:
            if column in TIMED + INFORMATION or column not in new.columns:
                continue
            a, b = old.at[variant, column], new.at[variant, column]
            if column in NO_WORSE and isinstance(a, float) and not math.isnan(a):
                if not (b <= a):
                    worse.append(f"{column} {a:g}->{b:g}")
            elif not _equal(a, b):
                changed.append(f"{column} {a}->{b}")
        problems = changed + worse
        if problems and not worse and same_but_run_name(before, after, variant):
            results.append(_line(f"summary.csv {variant}", "file differs only by the run's name", True))
            continue
        results.append(_line(f"summary.csv {variant}", "; ".join(problems)[:62] or "identical figures", not problems))
    added = sorted(set(new.index) - set(old.index))
    if added:
        print(f"  summary.csv: rows new in the after run (not judged): {', '.join(added)}")
    return results


def compare_boards(before: Path, after: Path) -> list[bool]:
    old = pd.read_csv(before / "board" / "board.csv").set_index(BOARD_KEY)
    new = pd.read_csv(after / "board" / "board.csv").set_index(BOARD_KEY)
    results = []
    for key in old.index:
        name = f"board {key[0]} on {key[1]}"
        if key not in new.index:
            results.append(_line(name, "row missing after", False))
            continue
        row_old, row_new = old.loc[key], new.loc[key]
        exact = int(row_new["bit_exact"]) == int(row_new["images"])
        worse = [f"{c} {row_old[c]:,.0f}->{row_new[c]:,.0f}" for c in BOARD_NO_WORSE if row_new[c] > row_old[c]]
        detail = (f"{int(row_new['bit_exact'])}/{int(row_new['images'])} exact, "
                  f"instr x{row_new['instructions_per_inference'] / row_old['instructions_per_inference']:.3f}, "
                  f"flash {int(row_new['flash_bytes']) - int(row_old['flash_bytes']):+d} B, "
                  f"RAM {int(row_new['ram_bytes']) - int(row_old['ram_bytes']):+d} B")
        if worse:
            detail = "; ".join(worse)
        results.append(_line(name, detail[:62], exact and not worse))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path, help="the run made before the change")
    parser.add_argument("after", type=Path, help="the run made after it, same config and seed")
    args = parser.parse_args()
    for run in (args.before, args.after):
        if not (run / "report" / "summary.csv").is_file():
            print(f"error: {run} is not a finished run (no report/summary.csv)", file=sys.stderr)
            return 2
    results = []
    print("Model files")
    results += compare_files(args.before, args.after, "tflite", "*.tflite")
    print("TFLite Micro files")
    results += compare_files(args.before, args.after, "micro", "*")
    print("Summary figures")
    results += compare_summary(args.before, args.after)
    if (args.before / "board" / "board.csv").is_file():
        print("Generated C on the boards")
        results += compare_boards(args.before, args.after)
    missed = results.count(False)
    print(f"{len(results) - missed} passed, {missed} failed")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
