"""Print issue 19's targets (4-bit, mixed-precision and structured-pruned variants) against a finished run.

Usage: python scripts/check_lowbit.py RUN_DIR

Reads only the run's artifacts: report/summary.csv (TFLite Micro accuracy, .tflite bytes), board/board.csv
(generated C on each core: flash, RAM, instructions, bit-exact count) and manifest.json (stage times).
Made for one full `digitedge run --board all`. Each line: target, measured value, PASS or MISS.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

LOW_BIT = ("int4_qat", "mixed_qat", "pruned_int4_qat")
SPARSE = "pruned_int4_qat"  # the structured (SIMD-skippable) sparse variant
BOARD = "m4"


def line(name: str, measured: str, ok: bool | None) -> bool | None:
    verdict = "    " if ok is None else ("PASS" if ok else "MISS")
    print(f"{verdict}  {name:66s} {measured}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    run = parser.parse_args().run
    summary_path, board_path = run / "report" / "summary.csv", run / "board" / "board.csv"
    if not summary_path.is_file():
        print(f"Error: {summary_path} does not exist; run `digitedge run` first", file=sys.stderr)
        return 1
    summary = pd.read_csv(summary_path, index_col="variant")
    board = pd.read_csv(board_path) if board_path.is_file() else None
    stages = json.loads((run / "manifest.json").read_text())["stages"]
    results = []

    print(f"run {run}\n\nint4_qat on TensorFlow Lite Micro")
    int4 = summary.loc["int4_qat"] if "int4_qat" in summary.index else None
    if int4 is None:
        results.append(line("int4_qat in the run", "missing", False))
    else:
        results.append(line("TFLM test accuracy >= 99.45 %", f"{int4['tflm_accuracy']:.2%}",
                            int4["tflm_accuracy"] >= 0.9945))
        results.append(line(".tflite <= 15,360 B", f"{int4['size_bytes']:,.0f} B", int4["size_bytes"] <= 15_360))

    on_board = board[board.board == BOARD].set_index("variant") if board is not None else None
    print(f"\ngenerated C on the {BOARD} against int8_qat's")
    if on_board is None or "int8_qat" not in on_board.index:
        results.append(line(f"board table with int8_qat on {BOARD}", "missing (run with --board all)", False))
    else:
        base = on_board.loc["int8_qat"]
        if "int4_qat" in on_board.index:
            c4 = on_board.loc["int4_qat"]
            results.append(line("int4_qat flash (code + weights) <= 15,360 B", f"{c4.model_flash_bytes:,} B",
                                c4.model_flash_bytes <= 15_360))
            results.append(line("int4_qat RAM <= int8_qat's + 512 B",
                                f"{c4.ram_bytes:,} B (int8_qat {base.ram_bytes:,} B)",
                                c4.ram_bytes <= base.ram_bytes + 512))
            ratio = c4.instructions_per_inference / base.instructions_per_inference
            results.append(line("int4_qat instructions <= 1.25 x int8_qat's",
                                f"x{ratio:.3f} ({c4.instructions_per_inference:,.0f})", ratio <= 1.25))
        else:
            results.append(line("int4_qat on the board", "not in board.csv", False))
        accurate = [name for name in on_board.index if name in summary.index and name in (*LOW_BIT,)
                    and summary.at[name, "tflm_accuracy"] >= 0.994]
        best = min(accurate, key=lambda name: on_board.at[name, "model_flash_bytes"], default=None)
        results.append(line("best low-bit variant >= 99.40 % at <= 10,240 B flash",
                            f"{best}: {summary.at[best, 'tflm_accuracy']:.2%}, "
                            f"{on_board.at[best, 'model_flash_bytes']:,} B" if best else "none at >= 99.40 %",
                            best is not None and on_board.at[best, "model_flash_bytes"] <= 10_240))
        if SPARSE in on_board.index:
            sparse = on_board.loc[SPARSE]
            accuracy = summary.at[SPARSE, "tflm_accuracy"]
            results.append(line(f"{SPARSE} TFLM accuracy >= 99.40 %", f"{accuracy:.2%}", accuracy >= 0.994))
            speed = sparse.instructions_per_inference / base.instructions_per_inference
            flash = sparse.model_flash_bytes / base.model_flash_bytes
            results.append(line(f"{SPARSE} instructions <= 0.55 x int8_qat's", f"x{speed:.3f}", speed <= 0.55))
            results.append(line(f"{SPARSE} flash <= 0.55 x int8_qat's",
                                f"x{flash:.3f} ({sparse.model_flash_bytes:,} B)", flash <= 0.55))
        else:
            results.append(line(f"{SPARSE} on the board", "not in board.csv", False))

    print("\nbit-exact with TensorFlow Lite Micro, every low-bit variant on every core")
    if board is None:
        results.append(line("board table", "missing", False))
    else:
        for row in board[board.variant.isin(LOW_BIT)].itertuples():
            results.append(line(f"{row.variant} on {row.board}", f"{row.bit_exact:,}/{row.images:,}",
                                row.bit_exact == row.images >= 1000))
        missing = [name for name in LOW_BIT if name not in set(board.variant)]
        if missing:
            results.append(line("low-bit variants on the boards", f"missing {', '.join(missing)}", False))

    seconds = sum(record.get("seconds", 0) for record in stages.values())
    print("\nthe whole run")
    results.append(line("stage times add up to <= 12 min", f"{seconds / 60:.1f} min ({seconds:,.0f} s)",
                        seconds <= 720))
    misses = sum(result is False for result in results)
    print(f"\n{len(results) - misses} PASS, {misses} MISS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
