"""Measure batch-1 latency of the default model's float32 and int8 .tflite, or of any .tflite files.

    python scripts/bench_latency.py                       # default compact model, float32 vs int8
    python scripts/bench_latency.py --model a.tflite --model b.tflite --out bench/

Prints the benchmark table, then the project's targets against what was measured:
int8 median <= 0.6 x float32 median, and p90 within 1.5 x median on an idle machine.
Latency does not depend on weight values, so the default model is converted untrained; the int8
calibration uses real MNIST images when the Keras cache has them, random pixels otherwise.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

INT8_TARGET = 0.6  # int8 median / float32 median
P90_TARGET = 1.5  # p90 / median, idle machine


def default_variants(arch: str) -> dict[str, bytes]:
    """float32 and full-integer int8 .tflite of build_model(ModelConfig(arch=arch)), untrained."""
    import numpy as np
    import tensorflow as tf

    from digitedge.config import ModelConfig
    from digitedge.model import build_model

    model = build_model(ModelConfig(arch=arch))
    cache = Path("~/.keras/datasets/mnist.npz").expanduser()
    if cache.exists():
        with np.load(cache) as data:
            calibration = data["x_train"][:200].astype(np.float32)[..., None] / 255.0
    else:
        calibration = np.random.default_rng(0).random((200, 28, 28, 1), dtype=np.float32)

    float32 = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([image[None]] for image in calibration)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = converter.inference_output_type = tf.int8
    return {"float32": float32, "int8_ptq": converter.convert()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", default=[], metavar="FILE", help="a .tflite file (repeatable)")
    parser.add_argument("--arch", default="compact", choices=["compact", "seed"], help="default model to build")
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--tflm-runs", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-memory", action="store_true", help="skip the per-model peak memory subprocesses")
    parser.add_argument("--out", type=Path, help="folder for benchmark.csv and benchmark.json")
    args = parser.parse_args(argv)

    from digitedge.benchmark import benchmark_files, benchmark_variants, save_benchmark
    from digitedge.errors import DigitedgeError

    options = dict(runs=args.runs, warmup=args.warmup, threads=args.threads, tflm_runs=args.tflm_runs,
                   seed=args.seed, measure_memory=not args.no_memory)
    try:
        result = (benchmark_files(args.model, **options) if args.model
                  else benchmark_variants(default_variants(args.arch), **options))
        if args.out:
            for path in save_benchmark(result, args.out):
                print(f"wrote {path}")
    except DigitedgeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    table = result.table
    print(result.format())
    print(f"machine: {result.machine['cpus']} CPUs, 1-min load average at start {result.machine['load_average_1min']:.2f}")
    for name, row in table.iterrows():
        spread = row.latency_p90_us / row.latency_median_us
        print(f"{name}: p90 / median = {spread:.2f} (target <= {P90_TARGET} on an idle machine: "
              f"{'met' if spread <= P90_TARGET else 'missed'})")
    int8 = [name for name in table.index if "int8" in name]
    if "float32" in table.index:
        for name in int8:
            share = table.at[name, "latency_median_us"] / table.at["float32", "latency_median_us"]
            net_share = table.at[name, "latency_net_median_us"] / table.at["float32", "latency_net_median_us"]
            print(f"{name} median / float32 median = {share:.2f} (net of per-invoke overhead {net_share:.2f}); "
                  f"target <= {INT8_TARGET}: {'met' if share <= INT8_TARGET else 'missed'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
