"""Print the board matrix of a run — every int8 variant's generated C on six emulated Cortex-M cores
(QEMU: M0 micro:bit, M3, M4, M7, M33, M55) — and check it against issue 13's targets (PASS/MISS).

    python scripts/check_boards.py [--run runs/default] [--images 1000] [--host-images 10000]
                                   [--board all] [--variant NAME,...] [--out DIR]

Every figure comes from the runs themselves: bit-exact counts from the firmware's comparison with
TFLite Micro's outputs, flash from the linker map, RAM = model arena + measured stack high-water
mark, instructions from QEMU's -icount (calibrated per core; not cycles or time), wall times measured
(and QEMU's CPU time beside them: on a shared machine the wall time says more about the neighbours).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# issue 13's targets; the "today" figures are the instructions per MAC before it, which no core may exceed
M4_INSTRUCTIONS_PER_MAC = 1.6
M55_INSTRUCTIONS_PER_MAC = 0.5
TODAY_INSTRUCTIONS_PER_MAC = {"m0": 8.26, "m3": 5.59, "m4": 3.22, "m7": 3.22, "m33": 3.23, "m55": 3.14}
M4_RAM_BYTES = 7000
PRUNED_FLASH_RATIO = 0.6
M0_RAM_BYTES = 16 * 1024
RUN_SECONDS = 30.0
ALL_BOARDS_SECONDS = 300.0


def check(name: str, measured: str, target: str, ok: bool | None) -> tuple[str, bool | None]:
    ok = None if ok is None else bool(ok)  # numpy's bools are not `True`/`False`
    verdict = {True: "PASS", False: "MISS", None: "n/a"}[ok]
    return f"  {name:<58} {measured:>20}  {target:<28} {verdict}", ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, default=Path("runs/default"), help="a finished run (runs/default)")
    parser.add_argument("--images", type=int, default=1000, help="test digits streamed to each board (1000)")
    parser.add_argument("--host-images", type=int, default=10000, help="test digits run on the host (10000; 0: skip)")
    parser.add_argument("--board", default="all", help="boards (all)")
    parser.add_argument("--variant", default=None, help="int8 variants, comma-separated (every int8 variant)")
    parser.add_argument("--out", type=Path, help="save board.csv and board.json here")
    args = parser.parse_args()

    import numpy as np

    from digitedge.cgen import quantize_images, run_on_host, tflm_outputs
    from digitedge.cgen.board_table import format_board_table, run_board_table, write_board_table
    from digitedge.cgen.boards import boards
    from digitedge.data import load_mnist
    from digitedge.errors import DigitedgeError
    from digitedge.config import load as load_config
    from digitedge.pipeline.board_stage import board_variants
    from digitedge.pipeline.micro_stage import deployed_variant
    from digitedge.rundir import RunDir
    from digitedge.tflite_model import read_tflite

    try:
        run = RunDir(args.run)
        variants = board_variants(run, args.variant.split(",") if args.variant else None)
        if not variants:
            raise DigitedgeError(f"{args.run} has no int8 variant")
        # the micro stage's choice; a run recorded before it made one names its variant in the config
        deployed = deployed_variant(run) or load_config(str(args.run / "config.toml")).export.variant
        targets = boards(args.board)
        mnist = load_mnist()
        started = time.perf_counter()
        table = run_board_table(variants, targets, mnist.x_test[:args.images], mnist.y_test[:args.images],
                                micro_stage=run.read_manifest().get("stages", {}).get("micro"),
                                echo=lambda line: print(line, flush=True))
        matrix_seconds = time.perf_counter() - started
    except DigitedgeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print()
    print(format_board_table(table))
    if args.out is not None:
        for path in write_board_table(table, args.out):
            print(f"saved {path}")

    checks = []
    for row in table.itertuples():
        checks.append(check(f"{row.variant} on {row.board}: bit-exact", f"{row.bit_exact:,}/{row.images:,}",
                            "all, >= 1,000 images", row.bit_exact == row.images >= 1000))
    for name in variants if args.host_images else ():
        tflite_bytes = variants[name]
        inputs = quantize_images(mnist.x_test[:args.host_images], read_tflite(tflite_bytes, name).input)
        exact = int(np.sum(np.all(run_on_host(tflite_bytes, inputs) == tflm_outputs(tflite_bytes, inputs), axis=1)))
        checks.append(check(f"{name} on the host (gcc): bit-exact", f"{exact:,}/{len(inputs):,}", "all 10,000",
                            exact == len(inputs) >= 10000))

    def cell(variant: str, board: str, column: str):
        rows = table[(table.variant == variant) & (table.board == board)]
        return rows[column].iloc[0] if len(rows) else None

    default = deployed if deployed in variants else next(iter(variants))
    for board_name, limit in (("m4", M4_INSTRUCTIONS_PER_MAC), ("m55", M55_INSTRUCTIONS_PER_MAC)):
        value = cell(default, board_name, "instructions_per_mac")
        checks.append(check(f"{default} on {board_name}: instructions per MAC", "not run" if value is None else
                            f"{value:.2f}", f"<= {limit}", None if value is None else value <= limit))
    for row in table.itertuples():
        before = TODAY_INSTRUCTIONS_PER_MAC[row.board]
        checks.append(check(f"{row.variant} on {row.board}: no slower than before issue 13",
                            f"{row.instructions_per_mac:.2f} instr/MAC", f"<= {before}",
                            round(row.instructions_per_mac, 2) <= before))  # "before" is rounded to 2 places
    ram = cell(default, "m4", "ram_bytes")
    checks.append(check(f"{default} on m4: RAM (arena + stack high-water)", "not run" if ram is None else f"{ram:,} B",
                        f"<= {M4_RAM_BYTES:,} B", None if ram is None else ram <= M4_RAM_BYTES))
    dense, pruned = cell("int8_ptq", "m4", "model_flash_bytes"), cell("pruned_int8", "m4", "model_flash_bytes")
    checks.append(check("m4 flash: pruned_int8 / int8_ptq", "not run" if None in (dense, pruned) else
                        f"{pruned:,} / {dense:,} B = {pruned / dense:.2f}", f"<= {PRUNED_FLASH_RATIO}",
                        None if None in (dense, pruned) else pruned <= PRUNED_FLASH_RATIO * dense))
    m0 = table[(table.variant == default) & (table.board == "m0")]
    if len(m0):
        row = m0.iloc[0]
        checks.append(check(f"{default} on m0 (micro:bit): RAM, bit-exact", f"{row.ram_bytes:,} B, "
                            f"{row.bit_exact}/{row.images}", f"<= {M0_RAM_BYTES:,} B, all",
                            row.ram_bytes <= M0_RAM_BYTES and row.bit_exact == row.images))
    slowest = table.loc[table.qemu_seconds.idxmax()]
    checks.append(check(f"slowest QEMU run ({slowest.variant} on {slowest.board}, {slowest.images:,} images)",
                        f"{slowest.qemu_seconds:.1f} s wall", f"<= {RUN_SECONDS:.0f} s",
                        slowest.qemu_seconds <= RUN_SECONDS))
    busiest = table.loc[table.qemu_cpu_seconds.idxmax()]  # what the wall time is on an idle core
    checks.append(check(f"most QEMU CPU ({busiest.variant} on {busiest.board}, {busiest.images:,} images)",
                        f"{busiest.qemu_cpu_seconds:.1f} s CPU", f"<= {RUN_SECONDS:.0f} s (idle core)",
                        busiest.qemu_cpu_seconds <= RUN_SECONDS))
    default_rows = table[table.variant == default]
    if len(default_rows) == len(targets) == 6:
        seconds = float(default_rows.qemu_seconds.sum() + default_rows.build_seconds.sum())
        cpu = float(default_rows.qemu_cpu_seconds.sum())
        checks.append(check(f"{default} on all six boards: build + QEMU", f"{seconds:.0f} s wall, {cpu:.0f} s CPU",
                            f"<= {ALL_BOARDS_SECONDS:.0f} s", seconds <= ALL_BOARDS_SECONDS))
    print(f"\nwhole matrix (TFLite Micro outputs, builds, QEMU runs): {matrix_seconds:.0f} s wall")
    print(f"\n  {'requirement':<58} {'measured':>20}  {'target':<28} verdict")
    print("\n".join(line for line, _ in checks))
    passed, missed = sum(ok is True for _, ok in checks), sum(ok is False for _, ok in checks)
    print(f"\n{passed} PASS, {missed} MISS, {len(checks) - passed - missed} n/a")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
