"""The benchmark stage: interleaved batch-1 latency of every variant (LiteRT, and TFLM for int8) and
the seed baseline, in one process."""

from __future__ import annotations

import json

import pandas as pd

from digitedge.pipeline.context import Context, Stage
from digitedge.pipeline.convert_stage import tflite_variants
from digitedge.pipeline.evaluate_stage import baseline_variants
from digitedge.pipeline.mobile_stage import mobile_variants
from digitedge.rundir import RunDir

LATENCY_COLUMNS = ["latency_median_us", "latency_p90_us", "speedup_vs_float32", "tflm_latency_median_us"]


def benchmark_options(context: Context) -> dict:
    config = context.config
    return dict(runs=config.benchmark.runs, warmup=config.benchmark.warmup, threads=config.benchmark.threads,
                seed=config.seed)


def run_variants(run: RunDir) -> dict[str, bytes]:
    """Every .tflite the run times: the converted variants, the mobile files and the seed baseline."""
    return {**tflite_variants(run), **mobile_variants(run), **baseline_variants(run)}


def run_benchmark(context: Context) -> None:
    from digitedge.benchmark import benchmark_variants, save_benchmark

    with context.recording("benchmark") as facts:
        result = benchmark_variants(run_variants(context.run), **benchmark_options(context))
        save_benchmark(result, context.run.path("benchmark"))
        facts.update(overhead_median_us=result.overhead_median_us, machine=result.machine)
    context.echo(result.format())


def read_benchmark_json(run: RunDir) -> dict:
    """benchmark.json as the stage wrote it: settings, overhead, machine and one entry per variant."""
    return json.loads(run.path("benchmark", "benchmark.json").read_text())


def _summary(run: RunDir) -> pd.DataFrame:
    benchmark = pd.read_csv(run.path("benchmark", "benchmark.csv"), index_col="variant")
    return benchmark[[column for column in LATENCY_COLUMNS if column in benchmark.columns]]


STAGE = Stage("benchmark", ("benchmark",), run_benchmark, summary=_summary)
