"""The board stage: every int8 variant's generated C on the emulated Cortex-M boards of
`board.boards` (QEMU; m4 by default, `all` for the six cores), with `board.images` real test digits
streamed to each: bit-exact count against TFLite Micro, flash, RAM, instructions per inference and
per MAC, beside TFLite Micro's .tflite size and arena (from the micro stage). Writes board/board.csv,
board.json and board.md.

Without the ARM toolchain or QEMU the stage says what to install and records nothing, so the rest
of `digitedge run` still finishes and a later run (after installing) fills it in; `digitedge board`
itself refuses to start without them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pandas as pd

from digitedge.errors import DigitedgeError
from digitedge.pipeline.context import Context, Stage
from digitedge.pipeline.convert_stage import tflite_variants
from digitedge.rundir import RunDir

if TYPE_CHECKING:
    from digitedge.cgen.boards import Board

SUMMARY_BOARD = "m4"  # the board whose figures go into the summary table (the first board otherwise)


def board_variants(run: RunDir, names: Sequence[str] | None = None) -> dict[str, bytes]:
    """The run's full-integer variants (digitedge.convert.FULL_INTEGER), which the generator compiles; or
    the `names` asked for, each of which the run must have."""
    from digitedge.convert import FULL_INTEGER

    variants = tflite_variants(run)
    for name in names or ():
        if name not in variants:
            raise DigitedgeError(f"--variant '{name}' is not in {run.root}; choose one of {', '.join(variants)}")
    return {name: variants[name] for name in (names or [name for name in FULL_INTEGER if name in variants])}


def measure_boards(context: Context, targets: Sequence[Board], variants: dict[str, bytes], images: int) -> pd.DataFrame:
    """The board table of `variants` on `targets` with the run's first `images` test digits: the one
    implementation behind `digitedge board` (which records it in the run) and `digitedge firmware run`
    (which prints it, or writes it to --out)."""
    from digitedge.cgen.board_table import run_board_table

    return run_board_table(variants, targets, context.data.x_test[:images], context.data.y_test[:images],
                           micro_stage=context.stage_facts("micro"), echo=context.echo)


def run_board(context: Context) -> None:
    from digitedge.cgen.board_table import format_board_table, write_board_table
    from digitedge.cgen.boards import boards
    from digitedge.cgen.qemu import install_hint, missing_tools

    config, run = context.config, context.run
    if missing_tools():
        context.echo(f"[board] skipped: missing {', '.join(missing_tools())}; install with: {install_hint()}")
        return
    variants = board_variants(run)
    if not variants:
        context.echo("[board] skipped: the run has no int8 variant")
        return
    with context.recording("board") as facts:
        table = measure_boards(context, boards(config.board.boards), variants, config.board.images)
        write_board_table(table, run.path("board"))
        facts.update(boards=sorted(set(table.board), key=list(table.board).index), images=len(context.data.x_test[:config.board.images]),
                     rows=table.to_dict("records"))
    context.echo(format_board_table(table))
    mismatched = table[table.bit_exact != table.images]
    for row in mismatched.itertuples():
        context.echo(f"[board] MISMATCH: {row.variant} on {row.board}: {row.images - row.bit_exact} of {row.images} "
                     f"outputs differ from TFLite Micro")


def read_board_table(run: RunDir) -> pd.DataFrame:
    return pd.read_csv(run.path("board", "board.csv"))


def _summary(run: RunDir) -> pd.DataFrame:
    table = read_board_table(run)
    board = SUMMARY_BOARD if SUMMARY_BOARD in set(table.board) else table.board.iloc[0]
    rows = table[table.board == board].set_index("variant")
    return pd.DataFrame({"c_board": rows.core, "c_bit_exact": rows.bit_exact / rows.images,
                         "c_flash_bytes": rows.model_flash_bytes, "c_ram_bytes": rows.ram_bytes,
                         "c_instructions_per_inference": rows.instructions_per_inference,
                         "c_instructions_per_mac": rows.instructions_per_mac})


def _per_mac(row: dict) -> str:
    return f"{row['instructions_per_mac']:.2f}" if row["instructions_per_mac"] else "-"


def _facts(record: dict) -> dict[str, str]:
    """One line per board: each variant's bit-exact count, flash, RAM and instructions per MAC."""
    facts = {}
    for board in record.get("boards", []):
        rows = [row for row in record["rows"] if row["board"] == board]
        facts[f"generated C on {rows[0]['core']} (QEMU {rows[0]['machine']}, {record['images']:,} digits)"] = "; ".join(
            f"{row['variant']} {row['bit_exact']:,}/{row['images']:,} bit-exact, flash {row['model_flash_bytes']:,} B, "
            f"RAM {row['ram_bytes']:,} B, {_per_mac(row)} instructions/MAC" for row in rows)
    return facts


def _section(run: RunDir) -> list:
    """The variant x core table beside TFLite Micro's .tflite size and arena."""
    from digitedge.report.render import Heading, Paragraph, Table

    table = read_board_table(run)
    header = ["Variant", "Core", "Bit-exact with TFLM", "Flash (code + weights)", "RAM (arena + stack)",
              "Instructions / inference", "Instructions / MAC", "TFLM .tflite", "TFLM arena"]
    rows = []
    for row in table.to_dict("records"):
        counted = bool(pd.notna(row["instructions_per_inference"]) and row["instructions_per_inference"])
        rows.append([row["variant"], row["core"], f"{row['bit_exact']:,}/{row['images']:,}",
                     f"{row['model_flash_bytes']:,} B", f"{row['ram_bytes']:,} B",
                     f"{row['instructions_per_inference']:,.0f}" if counted else "—",
                     f"{row['instructions_per_mac']:.2f}" if counted else "—",
                     f"{row['tflite_bytes']:,} B", f"{row['tflm_arena_bytes']:,} B"])
    return [Heading("The generated C on the boards"),
            Paragraph("Every int8 variant as dependency-free C (`digitedge export --int8 --target c`), built for each "
                      "core and run on QEMU with real test digits streamed from the host. Flash is the model's code "
                      "and weights from the linker map; RAM is its arena plus the measured stack high-water mark. QEMU "
                      "counts instructions (`-icount`), not cycles or time."),
            Table(header, rows, [False, False] + [True] * 7)]


STAGE = Stage("board", ("board",), run_board, summary=_summary, facts=_facts, section=_section)
