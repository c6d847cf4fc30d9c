"""Print issue 15's targets from one search and the full run of its best configuration.

Usage: python scripts/check_search.py SEARCH_RUN FULL_RUN
  SEARCH_RUN  the --run of `digitedge search` (reads SEARCH_RUN/search/trials.csv and best.toml)
  FULL_RUN    the run made with `digitedge run --config SEARCH_RUN/search/best.toml --out FULL_RUN`

Every figure comes from those artifacts: the trials' own timestamps and seconds, the full run's
manifest (TFLite Micro accuracy on the test set, measured arena, stage timings) and its .tflite file.
"""

from __future__ import annotations

import argparse
import json
import tomllib
from pathlib import Path

import pandas as pd


def line(name: str, measured: str, ok: bool | None) -> None:
    verdict = "    " if ok is None else ("PASS" if ok else "MISS")
    print(f"{verdict}  {name:58s} {measured}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("search_run")
    parser.add_argument("full_run")
    args = parser.parse_args()
    folder, run = Path(args.search_run) / "search", Path(args.full_run)
    trials = pd.read_csv(folder / "trials.csv", parse_dates=["started", "finished"])
    manifest = json.loads((run / "manifest.json").read_text())
    stages = manifest["stages"]

    print(f"search {folder}  ->  full run {run}\n")
    span = (trials["finished"].max() - trials["started"].min()).total_seconds()
    counts = trials["outcome"].value_counts().to_dict()
    line("search wall time <= 30 min", f"{span / 60:.1f} min, {len(trials)} trials "
         f"({counts.get('trained', 0)} trained, {counts.get('rejected', 0)} rejected, "
         f"{counts.get('pruned', 0)} pruned)", span <= 30 * 60)
    rejected = trials[trials["outcome"] == "rejected"]
    if len(rejected):
        worst = rejected["seconds"].max()
        line("over-budget proposal rejected in <= 5 s (slowest)", f"{worst:.2f} s over {len(rejected)} rejections",
             worst <= 5)
    else:
        line("over-budget proposal rejected in <= 5 s", "no proposal was rejected in this search", None)

    best = tomllib.loads((folder / "best.toml").read_text())
    differing = [f"{section}.{key}" for section, values in best.items() if isinstance(values, dict)
                 for key, value in values.items() if manifest["config"].get(section, {}).get(key) != value]
    line("full run used every value of best.toml", "yes" if not differing else f"no: {', '.join(differing)}",
         not differing)
    variant = stages["micro"].get("deployed") or manifest["config"]["export"]["variant"]
    parity = stages["micro"]["parity"]
    accuracy = parity["tflm_accuracy"]
    line(f"{variant} TFLite Micro test accuracy >= 99.45%", f"{accuracy:.2%} on {parity['images']:,} test images",
         accuracy >= 0.9945 and parity["images"] == 10_000)
    flash = (run / "tflite" / f"{variant}.tflite").stat().st_size
    line(f"{variant} .tflite <= 24,576 B", f"{flash:,} B", flash <= 24_576)
    arena = stages["micro"][variant]["arena"]["minimum_bytes"]
    line(f"{variant} TFLM arena <= 12,288 B", f"{arena:,} B (measured minimum)", arena <= 12_288)
    seconds = sum(stage["seconds"] for stage in stages.values() if isinstance(stage, dict) and "seconds" in stage)
    line("full run <= 12 min on 2 cores (sum of stage times)", f"{seconds / 60:.1f} min", seconds <= 12 * 60)
    model = best["model"]
    print(f"\nbest: filters {model['filters']}, kernels {model['kernel_sizes']}, separable {model['separable']}, "
          f"pools after {model['pool_after']}, head {model['head']}; {stages['train']['parameters']:,} parameters; "
          f"{best['train']['epochs']} epochs")


if __name__ == "__main__":
    main()
