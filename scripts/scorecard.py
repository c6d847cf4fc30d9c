"""Print every numeric target of the issues against what a finished run measured.

Usage: python scripts/scorecard.py [RUN_DIR] [--seed-run DIR]

Reads only the run's own artifacts (manifest, .tflite files, evaluation and benchmark CSVs);
run `digitedge run` first. Each line: target, measured value, PASS or MISS.
"""

from __future__ import annotations

import argparse
import gzip
import json
from pathlib import Path

import pandas as pd


def line(name: str, measured: str, ok: bool | None) -> None:
    verdict = "    " if ok is None else ("PASS" if ok else "MISS")
    print(f"{verdict}  {name:62s} {measured}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", nargs="?", default="runs/default")
    parser.add_argument("--seed-run", default=None, help="A run trained with --arch seed.")
    args = parser.parse_args()
    run = Path(args.run)
    manifest = json.loads((run / "manifest.json").read_text())
    stages = manifest["stages"]
    train = stages["train"]
    evaluation = pd.read_csv(run / "evaluate" / "evaluation.csv", index_col="variant")
    benchmark = pd.read_csv(run / "benchmark" / "benchmark.csv", index_col="variant")
    size = {path.stem: path.stat().st_size for path in (run / "tflite").glob("*.tflite")}
    gzipped = {name: len(gzip.compress((run / "tflite" / f"{name}.tflite").read_bytes(), 9, mtime=0))
               for name in size}
    convert, micro = stages["convert"], stages["micro"]
    float_accuracy = evaluation.loc["keras_float", "accuracy"]
    images = int(manifest["config"]["benchmark"]["eval_limit"] or 10_000) if "config" in manifest else 10_000

    print(f"run {run}  (data {manifest['data']['checksum'][:12]}, {images:,} test images)\n")
    print("Issue 2: the float baseline")
    line("float test accuracy >= 99.3%", f"{train['test_accuracy']:.2%}", train["test_accuracy"] >= 0.993)
    line("parameters <= 30,000", f"{train['parameters']:,}", train["parameters"] <= 30_000)
    line("training time <= 240 s", f"{train['train_seconds']:.0f} s ({train['epochs_run']} epochs)",
         train["train_seconds"] <= 240)
    if args.seed_run:
        seed = json.loads((Path(args.seed_run) / "manifest.json").read_text())["stages"]["train"]
        line("seed preset test accuracy >= 99.0%", f"{seed['test_accuracy']:.2%} ({seed['parameters']:,} params)",
             seed["test_accuracy"] >= 0.99)

    print("\nIssue 3: compression and conversion (LiteRT, test set)")
    qat = evaluation.loc["int8_qat"]
    line("QAT int8 accuracy >= 99.4%", f"{qat['accuracy']:.2%}", qat["accuracy"] >= 0.994)
    line("QAT int8 no more than 0.1 pp below float", f"{qat['accuracy'] - float_accuracy:+.2%}",
         qat["accuracy"] >= float_accuracy - 0.001)
    line("QAT int8 agrees with float >= 99.8%", f"{qat['agreement']:.2%}", qat["agreement"] >= 0.998)
    ratio = size["int8_qat"] / size["float32"]
    line("int8 size <= 0.30 x float32 size", f"x{ratio:.3f} ({size['int8_qat']:,} / {size['float32']:,} bytes)",
         ratio <= 0.30)
    line("strings stripped from int8 (bytes saved)", f"{convert['int8_qat']['strings_bytes_saved']:,}", None)
    for name in ("pruned_float32", "pruned_int8", "pruned_qat_int8"):
        sparsity = convert[name]["weight_sparsity"]
        line(f"{name} sparsity in the .tflite >= 74%", f"{sparsity:.1%}", sparsity >= 0.74)
    gzip_ratio = gzipped["pruned_int8"] / gzipped["float32"]
    line("gzip(pruned int8) <= 0.20 x gzip(float32)", f"x{gzip_ratio:.3f}", gzip_ratio <= 0.20)
    pq = evaluation.loc["pruned_qat_int8"]
    line("pruned+QAT int8 within 0.3 pp of float", f"{pq['accuracy'] - float_accuracy:+.2%}",
         pq["accuracy"] >= float_accuracy - 0.003)
    compress_seconds = stages["optimize"]["seconds"] + stages["convert"]["seconds"]
    line("optimization + conversion <= 360 s", f"{compress_seconds:.0f} s", compress_seconds <= 360)

    print("\nIssue 4: TFLite Micro")
    deployed = micro["parity"]["variant"]
    line(f"{deployed} flash (.tflite) <= 32 KB", f"{size[deployed]:,} bytes", size[deployed] <= 32 * 1024)
    arena = micro[deployed]["arena"]["minimum_bytes"]
    line(f"{deployed} measured TFLM arena <= 16 KB", f"{arena:,} bytes", arena <= 16 * 1024)
    same = micro["parity"]["xnnpack"]["same_prediction"]
    line("TFLM class == LiteRT class >= 99.95%", f"{same:.2%} (reference kernels "
         f"{micro['parity']['reference']['same_prediction']:.2%}; {micro['parity']['images']:,} images)",
         same >= 0.9995)

    print("\nIssue 5: benchmark and run time")
    int8_ratio = benchmark.loc[deployed, "latency_median_us"] / benchmark.loc["float32", "latency_median_us"]
    line("int8 median latency <= 0.6 x float32 (LiteRT, 1 thread)",
         f"x{int8_ratio:.2f} ({benchmark.loc[deployed, 'latency_median_us']:.1f} / "
         f"{benchmark.loc['float32', 'latency_median_us']:.1f} us)", int8_ratio <= 0.6)
    net_ratio = benchmark.loc[deployed, "latency_net_median_us"] / benchmark.loc["float32", "latency_net_median_us"]
    line("  the same with the per-invoke overhead subtracted", f"x{net_ratio:.2f}", None)
    spread = (benchmark["latency_p90_us"] / benchmark["latency_median_us"]).max()
    line("benchmark p90 within 1.5 x median (worst variant)", f"x{spread:.2f}", spread <= 1.5)
    total = sum(stage["seconds"] for stage in stages.values())
    line("full pipeline time <= 720 s (sum of stage times)", f"{total:.0f} s", total <= 720)


if __name__ == "__main__":
    main()
