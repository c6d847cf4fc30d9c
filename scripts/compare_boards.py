"""Compare two board tables (board.csv of `digitedge board`, before and after a change to the
generated C): per variant and core, bit-exact counts, the model's flash and instructions per inference.

    python scripts/compare_boards.py BEFORE/board.csv AFTER/board.csv

Exits 1 when any row lost bit-exactness, grew in flash or executes more instructions.
"""

from __future__ import annotations

import argparse
import sys

import pandas as pd

KEYS = ["variant", "board"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", help="board.csv before the change")
    parser.add_argument("after", help="board.csv after the change")
    args = parser.parse_args()
    before, after = pd.read_csv(args.before), pd.read_csv(args.after)
    table = before.merge(after, on=KEYS, suffixes=("_before", "_after"), validate="one_to_one")
    if len(table) != len(before) or len(table) != len(after):
        print(f"the tables cover different variant x board rows ({len(before)} before, {len(after)} after)")
        return 1
    worse = 0
    print(f"{'variant':<16} {'core':<11} {'bit-exact':>15} {'flash B before':>14} {'after':>7} {'delta':>6} "
          f"{'instr before':>13} {'after':>11} {'delta':>8}")
    for row in table.to_dict("records"):
        flash = row["model_flash_bytes_after"] - row["model_flash_bytes_before"]
        instructions = row["instructions_per_inference_after"] - row["instructions_per_inference_before"]
        exact = row["bit_exact_after"] == row["images_after"]
        worse += flash > 0 or instructions > 0 or not exact
        print(f"{row['variant']:<16} {row['core_after']:<11} "
              f"{row['bit_exact_after']:>7,}/{row['images_after']:<7,} {row['model_flash_bytes_before']:>14,} "
              f"{row['model_flash_bytes_after']:>7,} {flash:>+6,} {row['instructions_per_inference_before']:>13,.0f} "
              f"{row['instructions_per_inference_after']:>11,.0f} {instructions:>+8,.0f}")
    print(f"{worse} of {len(table)} rows worse (larger, slower or not bit-exact)")
    return 1 if worse else 0


if __name__ == "__main__":
    sys.exit(main())
