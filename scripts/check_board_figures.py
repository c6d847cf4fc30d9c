"""Print the generated C's figures for every int8 variant of a run against issue 13's targets, PASS/MISS:
bit-exactness with TFLite Micro on the host (all test digits) and on every emulated core, instructions
per MAC, RAM (model arena + measured stack) and flash (the model's code + weights, from the linker map).

    python scripts/check_board_figures.py RUN_DIR [--boards all] [--images 1000] [--host-images 10000]
                                          [--variants int8_ptq,...] [--keep DIR]

RUN_DIR is a finished run (its tflite/ folder holds the variants), e.g. runs/default.
Instructions are counted by QEMU under -icount: not cycles, not time.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Today's generated C before issue 13 (instructions per MAC of the default model, per core): no core may be slower.
BEFORE_PER_MAC = {"m0": 8.26, "m3": 5.59, "m4": 3.22, "m7": 3.22, "m33": 3.23, "m55": 3.14}
TARGET_PER_MAC = {"m4": 1.6, "m55": 0.5}
M4_RAM_BYTES = 7000
PRUNED_FLASH_RATIO = 0.6
M0_RAM_BYTES = 16 * 1024
QEMU_SECONDS = 30.0


def verdict(name: str, measured: str, target: str, ok: bool) -> tuple[str, bool]:
    return f"  {name:<52} {measured:>16}  {target:<28} {'PASS' if ok else 'MISS'}", ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--boards", default="all", help="board names, comma-separated, or all (default)")
    parser.add_argument("--images", type=int, default=1000, help="test digits per QEMU run (1000)")
    parser.add_argument("--host-images", type=int, default=10000, help="test digits on the host (10000)")
    parser.add_argument("--variants", default=None, help="comma-separated (default: every int8 variant found)")
    parser.add_argument("--keep", type=Path, help="keep every build here (KEEP/VARIANT/BOARD)")
    args = parser.parse_args()

    import numpy as np

    from digitedge.cgen import quantize_images, run_on_host, tflm_outputs
    from digitedge.cgen.board_table import INT8_VARIANTS, format_board_table, run_board_table
    from digitedge.cgen.boards import boards
    from digitedge.cgen.csource import arena_bytes
    from digitedge.data import load_mnist
    from digitedge.errors import DigitedgeError
    from digitedge.tflite_model import read_tflite

    wanted = args.variants.split(",") if args.variants else list(INT8_VARIANTS)
    variants = {name: (args.run_dir / "tflite" / f"{name}.tflite").read_bytes() for name in wanted
                if (args.run_dir / "tflite" / f"{name}.tflite").is_file()}
    if not variants:
        print(f"error: {args.run_dir / 'tflite'} holds none of {', '.join(wanted)}", file=sys.stderr)
        return 2
    try:
        targets = boards(args.boards)
    except DigitedgeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    mnist = load_mnist()
    checks = []
    for name, tflite_bytes in variants.items():
        started = time.perf_counter()
        model_inputs = quantize_images(mnist.x_test[:args.host_images], read_tflite(tflite_bytes, name).input)
        exact = int(np.sum(np.all(run_on_host(tflite_bytes, model_inputs) == tflm_outputs(tflite_bytes, model_inputs),
                                  axis=1)))
        print(f"{name}: host {exact:,}/{len(model_inputs):,} bit-exact with TFLite Micro, generated arena "
              f"{arena_bytes(tflite_bytes):,} B ({time.perf_counter() - started:.0f} s)", flush=True)
        checks.append(verdict(f"{name} host bit-exact", f"{exact:,}/{len(model_inputs):,}", "all, 10,000 digits",
                              exact == len(model_inputs) >= 10000))

    table = run_board_table(variants, targets, mnist.x_test[:args.images], mnist.y_test[:args.images],
                            build_root=args.keep, echo=lambda line: print(line, flush=True))
    print()
    print(format_board_table(table))
    rows = {(row["variant"], row["board"]): row for row in table.to_dict("records")}
    for (name, board_name), row in rows.items():
        checks.append(verdict(f"{name} on {board_name} bit-exact", f"{row['bit_exact']:,}/{row['images']:,}",
                              "all, >= 1,000 digits", row["bit_exact"] == row["images"] >= 1000))
        per_mac = row["instructions_per_mac"]
        target = min(TARGET_PER_MAC.get(board_name, BEFORE_PER_MAC[board_name]), BEFORE_PER_MAC[board_name])
        if name in ("int8_ptq", "int8_qat") and board_name in TARGET_PER_MAC:
            checks.append(verdict(f"{name} on {board_name} instructions/MAC", f"{per_mac:.2f}", f"<= {target}",
                                  per_mac <= target))
        else:
            checks.append(verdict(f"{name} on {board_name} instructions/MAC", f"{per_mac:.2f}",
                                  f"<= before ({BEFORE_PER_MAC[board_name]})", per_mac <= BEFORE_PER_MAC[board_name]))
        checks.append(verdict(f"{name} on {board_name} QEMU wall", f"{row['qemu_seconds']:.1f} s",
                              f"<= {QEMU_SECONDS:.0f} s", row["qemu_seconds"] <= QEMU_SECONDS))
        if board_name == "m4":
            checks.append(verdict(f"{name} on m4 RAM (arena + stack)", f"{row['ram_bytes']:,} B",
                                  f"<= {M4_RAM_BYTES:,} B", row["ram_bytes"] <= M4_RAM_BYTES))
        if board_name == "m0":
            checks.append(verdict(f"{name} on m0 RAM (arena + stack)", f"{row['ram_bytes']:,} B",
                                  f"<= {M0_RAM_BYTES:,} B (micro:bit)", row["ram_bytes"] <= M0_RAM_BYTES))
    for pruned, dense in (("pruned_int8", "int8_ptq"), ("pruned_qat_int8", "int8_qat")):
        for board_name in sorted({b for _, b in rows}):
            if (pruned, board_name) in rows and (dense, board_name) in rows:
                ratio = rows[(pruned, board_name)]["model_flash_bytes"] / rows[(dense, board_name)]["model_flash_bytes"]
                checks.append(verdict(f"{pruned} / {dense} flash on {board_name}",
                                      f"{ratio:.3f}", f"<= {PRUNED_FLASH_RATIO}", ratio <= PRUNED_FLASH_RATIO))
    print(f"\n  {'requirement':<52} {'measured':>16}  {'target':<28} verdict")
    print("\n".join(line for line, _ in checks))
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
