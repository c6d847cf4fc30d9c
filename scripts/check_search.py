"""Print issue 20's numbers, PASS/MISS each, from one search folder and the full runs of its picks.

Usage: python scripts/check_search.py SEARCH_RUN [--default RUN] [--tflm RUN] [--c RUN ...]
  SEARCH_RUN  the --run of `digitedge search` (reads SEARCH_RUN/search/trials.csv and pareto.csv)
  --default   today's default run (its report/summary.csv, or a report folder holding summary.csv):
              the hand-made variants the front must dominate at the default budget
  --tflm      the full run of the TFLite Micro pick (`digitedge run --config .../best-24576.toml`)
  --c         a full run of a generated-C pick (`--board m4`), checked at its config's budget.flash_bytes

Every figure comes from those artifacts: the trials' own timestamps, outcomes and seconds, the
front's figures, the runs' summary.csv (test-set accuracy, TFLM arena, the generated C on the board)
and manifest.json (stage times).
"""

from __future__ import annotations

import argparse
import json
import tomllib
from pathlib import Path

import pandas as pd

DEFAULT_FLASH, DEFAULT_RAM = 24_576, 12_288
HAND_MADE = ("int8_ptq", "int8_qat", "pruned_int8", "pruned_qat_int8")  # today's default run's int8 variants
C_TARGETS = {12_288: 0.9945, 8_192: 0.9920}  # flash budget (code + weights) -> test accuracy on the M4


def line(name: str, measured: str, ok: bool | None) -> None:
    verdict = "    " if ok is None else ("PASS" if ok else "MISS")
    print(f"{verdict}  {name:62s} {measured}")


def summary_of(run: Path) -> pd.DataFrame:
    path = run / "summary.csv" if (run / "summary.csv").is_file() else run / "report" / "summary.csv"
    return pd.read_csv(path).set_index("variant")


def search_numbers(folder: Path) -> pd.DataFrame:
    trials = pd.read_csv(folder / "trials.csv", parse_dates=["started", "finished"])
    proposals = trials[trials["rung"] == 0]
    span = (trials["finished"].max() - trials["started"].min()).total_seconds()
    done = trials[trials["outcome"] == "trained"]
    trained = [int((done["rung"] == rung).sum()) for rung in range(int(trials["rung"].max()) + 1)]
    in_full = int((done["rung_name"] == "full").sum())  # the top rung: the proposal's own recipe
    line("search wall time <= 30 min", f"{span / 60:.1f} min", span <= 30 * 60)
    line("proposals measured >= 150", f"{len(proposals)} ({(proposals['outcome'] == 'rejected').sum()} rejected "
         f"before training)", len(proposals) >= 150)
    line("trained at the first rung >= 60", f"{trained[0]} (per rung: {' / '.join(map(str, trained))})",
         trained[0] >= 60)
    line("trained in full (top rung) >= 8", str(in_full), in_full >= 8)
    rejected = proposals[(proposals["outcome"] == "rejected") & proposals["measure_seconds"].notna()]
    if len(rejected):  # from its parameters to the verdict: convert, measure (compile, for C)
        slowest = rejected["measure_seconds"].max()
        line("over-limit proposal rejected in <= 5 s (slowest measurement)",
             f"{slowest:.2f} s over {len(rejected)} rejections (whole trial incl. sampling: "
             f"{rejected['seconds'].max():.2f} s)", slowest <= 5)
    else:
        line("over-limit proposal rejected in <= 5 s", "no proposal was rejected", None)
    return trials


def dominates(front: pd.DataFrame, accuracy: float, flash: float, ram: float) -> pd.DataFrame:
    """Front points at least as good on all three and better on one."""
    at_least = (front["val_accuracy"] >= accuracy) & (front["flash_bytes"] <= flash) & (front["ram_bytes"] <= ram)
    better = (front["val_accuracy"] > accuracy) | (front["flash_bytes"] < flash) | (front["ram_bytes"] < ram)
    return front[at_least & better]


def front_against_hand_made(folder: Path, trials: pd.DataFrame, default_run: Path) -> None:
    front = pd.read_csv(folder / "pareto.csv")
    front = front[(front["flash_bytes"] <= DEFAULT_FLASH) & (front["ram_bytes"] <= DEFAULT_RAM)]
    on_c = not (trials["measured_on"] == "tflm").any()
    flash_column, ram_column = ("c_flash_bytes", "c_ram_bytes") if on_c else ("size_bytes", "tflm_arena_bytes")
    summary = summary_of(default_run)
    print(f"\nfront (validation accuracy, {len(front)} points within {DEFAULT_FLASH:,} B / {DEFAULT_RAM:,} B) against "
          f"{default_run}'s hand-made variants (test accuracy), on {'the generated C' if on_c else 'TFLite Micro'}:")
    for variant in HAND_MADE:
        if variant not in summary.index:
            continue
        row = summary.loc[variant]
        accuracy, flash, ram = float(row["accuracy"]), float(row[flash_column]), float(row[ram_column])
        if flash > DEFAULT_FLASH or ram > DEFAULT_RAM:
            line(f"{variant} is outside the default budget", f"{flash:,.0f} B / {ram:,.0f} B", None)
            continue
        better = dominates(front, accuracy, flash, ram)
        shown = (f"by trial {int(better.iloc[0]['number'])}: {better.iloc[0]['val_accuracy']:.2%}, "
                 f"{better.iloc[0]['flash_bytes']:,.0f} B, {better.iloc[0]['ram_bytes']:,.0f} B" if len(better)
                 else "by no front point")
        line(f"front dominates {variant} ({accuracy:.2%}, {flash:,.0f} B, {ram:,.0f} B)", shown, len(better) > 0)


def full_run_seconds(run: Path) -> float:
    stages = json.loads((run / "manifest.json").read_text())["stages"]
    return sum(stage["seconds"] for stage in stages.values() if isinstance(stage, dict) and "seconds" in stage)


def deployed_row(run: Path) -> tuple[str, pd.Series, dict]:
    config = tomllib.loads((run / "config.toml").read_text())
    variant = config["export"]["variant"]
    return variant, summary_of(run).loc[variant], config


def tflm_pick(run: Path) -> None:
    variant, row, _ = deployed_row(run)
    print(f"\nTFLite Micro pick: {run} ({variant})")
    line("TFLM test accuracy >= 99.55%", f"{row['tflm_accuracy']:.2%}", row["tflm_accuracy"] >= 0.9955)
    line(f".tflite <= {DEFAULT_FLASH:,} B", f"{row['size_bytes']:,.0f} B", row["size_bytes"] <= DEFAULT_FLASH)
    arena = row["tflm_arena_bytes"]
    line(f"TFLM arena <= {DEFAULT_RAM:,} B", f"{arena:,.0f} B", arena <= DEFAULT_RAM)
    seconds = full_run_seconds(run)
    line("full run <= 12 min on 2 cores (sum of stage times)", f"{seconds / 60:.1f} min", seconds <= 12 * 60)


def c_pick(run: Path) -> None:
    variant, row, config = deployed_row(run)
    budget = int(config["budget"]["flash_bytes"])
    print(f"\ngenerated-C pick: {run} ({variant}, budget {budget:,} B, {row['c_board']})")
    bit_exact = float(row["c_bit_exact"]) == 1.0
    line("generated C bit-exact with TFLM on the board", f"{float(row['c_bit_exact']):.2%} of its images", bit_exact)
    line(f"flash (code + weights) <= {budget:,} B", f"{row['c_flash_bytes']:,.0f} B", row["c_flash_bytes"] <= budget)
    needed = next((accuracy for limit, accuracy in sorted(C_TARGETS.items()) if budget <= limit), None)
    accuracy = float(row["tflm_accuracy"])  # bit-exact: the C's predictions are TFLM's
    line(f"test accuracy >= {needed:.2%}" if needed else "test accuracy (no target at this budget)",
         f"{accuracy:.2%}", accuracy >= needed if needed and bit_exact else (False if needed else None))
    line("on the Cortex-M4", str(row["c_board"]), "M4" in str(row["c_board"]))
    seconds = full_run_seconds(run)
    line("full run <= 12 min on 2 cores (sum of stage times)", f"{seconds / 60:.1f} min", seconds <= 12 * 60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("search_run", type=Path)
    parser.add_argument("--default", type=Path, default=Path("reports/default"))
    parser.add_argument("--tflm", type=Path)
    parser.add_argument("--c", type=Path, action="append", default=[])
    args = parser.parse_args()
    folder = args.search_run / "search"
    print(f"search {folder}\n")
    trials = search_numbers(folder)
    front_against_hand_made(folder, trials, args.default)
    if args.tflm:
        tflm_pick(args.tflm)
    for run in args.c:
        c_pick(run)


if __name__ == "__main__":
    main()
