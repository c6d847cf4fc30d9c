"""The board table: every int8 variant's generated C on every emulated Cortex-M core, beside what
TFLite Micro needs for the same .tflite (its size and its measured arena).

One row per variant x board: bit-exact count, flash (the generated model's code + weights, from the
linker map; the whole self-test image beside it), RAM (model arena + stack high-water mark),
instructions per inference and per MAC (QEMU counts instructions under -icount: not cycles, not time). TFLite Micro's outputs are computed once per
variant and shared by every board.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from digitedge.cgen.boards import Board
from digitedge.cgen.oracle import quantize_images, tflm_outputs
from digitedge.cgen.qemu import require_tools, run_on_qemu
from digitedge.rundir import write_text_files

TABLE_CSV, TABLE_JSON, TABLE_MARKDOWN = "board.csv", "board.json", "board.md"
COLUMNS = ("variant", "board", "core", "machine", "images", "bit_exact", "accuracy", "flash_bytes",
           "model_flash_bytes", "ram_bytes", "model_ram_bytes", "stack_used_bytes", "macs",
           "instructions_per_inference", "instructions_per_mac", "tflite_bytes", "tflm_arena_bytes",
           "qemu_seconds", "qemu_cpu_seconds", "build_seconds")


def tflm_facts(variants: dict[str, bytes], micro_stage: dict | None = None) -> dict[str, dict]:
    """MACs and TFLite Micro's minimum arena per variant: from the run manifest's `micro` stage where
    it has them, measured here (digitedge.micro) otherwise."""
    from digitedge.micro.profile import layer_table
    from digitedge.tflite_model import read_tflite

    facts = {}
    for name, tflite_bytes in variants.items():
        recorded = (micro_stage or {}).get(name) or {}
        macs = recorded.get("macs")
        if macs is None:
            macs = int(layer_table(read_tflite(tflite_bytes, name))["macs"].sum())
        arena = (recorded.get("arena") or {}).get("minimum_bytes")
        if arena is None:
            from digitedge.micro.arena import find_arena_size

            arena = find_arena_size(tflite_bytes, label=name).minimum_bytes
        facts[name] = {"macs": int(macs), "tflm_arena_bytes": int(arena)}
    return facts


def run_board_table(variants: dict[str, bytes], boards: Iterable[Board], images_uint8: np.ndarray,
                    labels: np.ndarray, *, micro_stage: dict | None = None, build_root: str | Path | None = None,
                    echo: Callable[[str], None] | None = None) -> pd.DataFrame:
    """Run each variant (name -> int8 .tflite bytes) on each board with these test images; one row each.

    `build_root` keeps every build (build_root/VARIANT/BOARD); `echo` gets a line per finished run.
    DigitedgeError if the toolchain is missing, a board is unknown or a variant is not a full-int8 model.
    """
    from digitedge.tflite_model import read_tflite

    require_tools()
    boards = list(boards)
    facts = tflm_facts(variants, micro_stage)
    expected = {name: tflm_outputs(tflite_bytes, quantize_images(images_uint8, read_tflite(tflite_bytes, name).input))
                for name, tflite_bytes in variants.items()}

    def measure(name: str, target: Board) -> dict:
        build_dir = Path(build_root) / name / target.name if build_root is not None else None
        result = run_on_qemu(variants[name], images_uint8, labels, board=target, expected_outputs=expected[name],
                             build_dir=build_dir)
        per_inference = result.instructions_per_inference
        row = {"variant": name, **{key: value for key, value in result.to_dict().items() if key in COLUMNS},
               **facts[name], "instructions_per_mac": per_inference / facts[name]["macs"] if per_inference else None}
        row = {column: row[column] for column in COLUMNS}
        if echo is not None:
            echo(format_row(row))
        return row

    # one QEMU per core: each run is a single-threaded process, and instruction counts do not depend on load
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        rows = list(pool.map(lambda job: measure(*job), [(name, target) for name in variants for target in boards]))
    return pd.DataFrame(rows, columns=list(COLUMNS))


def format_row(row: dict) -> str:
    per_mac = f"{row['instructions_per_mac']:.2f}" if row["instructions_per_mac"] is not None else "-"
    return (f"[board] {row['variant']} on {row['board']} ({row['core']}): {row['bit_exact']}/{row['images']} "
            f"bit-exact, flash {row['model_flash_bytes']:,} B (image {row['flash_bytes']:,} B), "
            f"RAM {row['ram_bytes']:,} B, {per_mac} instructions/MAC, QEMU {row['qemu_seconds']:.1f} s wall, {row['qemu_cpu_seconds']:.1f} s CPU")


def format_board_table(table: pd.DataFrame) -> str:
    """The table as text: variant x core, with TFLite Micro's .tflite size and arena beside."""
    header = (f"{'variant':<16} {'core':<11} {'bit-exact':>11} {'flash B':>9} {'image B':>9} {'RAM B':>7} "
              f"{'instr/inference':>16} {'instr/MAC':>9} {'.tflite B':>10} {'TFLM arena B':>12}")
    lines = [header, "-" * len(header)]
    for row in table.to_dict("records"):
        counted = bool(pd.notna(row["instructions_per_inference"]) and row["instructions_per_inference"])
        per_inference = f"{row['instructions_per_inference']:,.0f}" if counted else "-"
        per_mac = f"{row['instructions_per_mac']:.2f}" if counted else "-"
        exact = f"{row['bit_exact']}/{row['images']}"
        lines.append(f"{row['variant']:<16} {row['core']:<11} {exact:>11} {row['model_flash_bytes']:>9,} "
                     f"{row['flash_bytes']:>9,} "
                     f"{row['ram_bytes']:>7,} {per_inference:>16} {per_mac:>9} {row['tflite_bytes']:>10,} "
                     f"{row['tflm_arena_bytes']:>12,}")
    lines.append("flash = the model's code + weights (linker map); image = the whole self-test image (start-up, "
                 "semihosting, test loop; no test data: it is streamed)\nRAM = model arena + the inferences' stack "
                 "high-water mark; instructions counted by QEMU -icount (not cycles or time)")
    return "\n".join(lines)


def write_board_table(table: pd.DataFrame, folder: str | Path) -> list[Path]:
    """board.csv, board.json and board.md in `folder`, all or none."""
    records = json.loads(table.to_json(orient="records"))
    return write_text_files({TABLE_CSV: table.to_csv(index=False), TABLE_JSON: json.dumps(records, indent=1) + "\n",
                             TABLE_MARKDOWN: board_markdown(table)}, Path(folder))


def board_markdown(table: pd.DataFrame) -> str:
    """The table as Markdown for the report: variant x core beside TFLite Micro's .tflite and arena."""
    lines = ["| variant | core | bit-exact with TFLM | flash (code + weights) | RAM (arena + stack) | "
             "instructions / inference | instructions / MAC | TFLM .tflite | TFLM arena |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for row in table.to_dict("records"):
        counted = bool(pd.notna(row["instructions_per_inference"]) and row["instructions_per_inference"])
        lines.append(f"| {row['variant']} | {row['core']} | {row['bit_exact']:,}/{row['images']:,} | "
                     f"{row['model_flash_bytes']:,} B | {row['ram_bytes']:,} B | "
                     f"{format(row['instructions_per_inference'], ',.0f') if counted else '-'} | "
                     f"{format(row['instructions_per_mac'], '.2f') if counted else '-'} | "
                     f"{row['tflite_bytes']:,} B | {row['tflm_arena_bytes']:,} B |")
    return "\n".join(lines) + "\n"
