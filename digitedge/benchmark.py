"""Batch-1 latency of .tflite variants, timed interleaved in one process so ratios hold on a noisy machine.

Every round gives every variant one slot, in an order shuffled per round with a seeded RNG, so a
burst of load from another process hits all variants alike and int8 / float32 stays meaningful.
A slot is an untimed invoke then timed ones: the timed invokes find the model's weights in cache,
as on a device that runs one model, instead of measuring the cache misses interleaving causes.
A sample is the mean of as many back-to-back invokes as fill ~SAMPLE_US (one for TFLite Micro's
millisecond invokes): a timer interrupt or hypervisor exit then blurs into the sample instead of
doubling a 50 us one, so p90 tells a steady machine from a busy one.
A one-op model timed in the same rounds gives the fixed per-invoke cost (Python binding, delegate
dispatch), which dominates models this small; latencies are also reported with it subtracted.
TFLite Micro's host interpreter (reference kernels, what a microcontroller runs) is timed in the
same rounds for the int8 variants. Peak memory is measured per model in a fresh subprocess.
Each row also has the figures LiteRT's benchmark_model prints: init time, first inference,
warm-up average, then average, median, p90, p99 and standard deviation, and the memory footprint.
`--threads 1,2,4` repeats the whole measurement per thread count; `--no-xnnpack` times LiteRT's
builtin kernels (BUILTIN_WITHOUT_DEFAULT_DELEGATES) instead of the default XNNPACK delegate.
"""

from __future__ import annotations

import functools
import gc
import math
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

import numpy as np
import pandas as pd

from digitedge.errors import DigitedgeError
from digitedge.progress import progress
from digitedge.rundir import write_json, write_text
from digitedge.runtime import (BUILTIN, XNNPACK, TflmError, litert_interpreter, quantize_input, scale_images,
                               tflm_interpreter)
from digitedge.tflite_model import read_tflite, read_tflite_file

SAMPLE_US = 500  # target duration of one timed sample
MAX_INVOKES_PER_SAMPLE = 100

MEMORY_METHOD = ("peak RSS growth (VmHWM, KiB) in a fresh subprocess per model, from just before Interpreter "
                 "construction through allocate_tensors and the invokes; VmHWM reset via /proc/self/clear_refs")

# Run in a fresh interpreter per model: its RSS high-water mark then belongs to that model alone.
_MEMORY_PROBE = r"""
import sys
import numpy as np
import ai_edge_litert.interpreter  # imported before the baseline: only the model's own memory is measured
from digitedge.runtime.litert import litert_interpreter

def status_kib(key):
    with open("/proc/self/status") as handle:
        return next(int(line.split()[1]) for line in handle if line.startswith(key + ":"))

model = sys.stdin.buffer.read()
threads, runs, kernels = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
try:
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")  # resets VmHWM to the current RSS (Linux >= 4.0)
except OSError:
    print("nan")
    sys.exit(0)
before = status_kib("VmRSS")
interpreter = litert_interpreter(model, num_threads=threads, kernels=kernels)
interpreter.allocate_tensors()
detail = interpreter.get_input_details()[0]
interpreter.set_tensor(detail["index"], np.zeros(detail["shape"], detail["dtype"]))
for _ in range(runs):
    interpreter.invoke()
print(status_kib("VmHWM") - before)
"""


@dataclass
class BenchmarkResult:
    table: pd.DataFrame  # one row per variant, index `variant`; columns listed in `benchmark_variants`
    overhead_median_us: float  # per-invoke cost of a one-op model in the same rounds
    overhead_p90_us: float
    threads: int
    runs: int
    warmup: int
    tflm_runs: int
    seed: int
    overhead_peak_rss_kib: float = math.nan  # the one-op model's peak RSS growth: the runtime's own share
    machine: dict = field(default_factory=dict)
    xnnpack: bool = True  # False: LiteRT's builtin kernels (BUILTIN_WITHOUT_DEFAULT_DELEGATES)

    @property
    def kernels(self) -> str:
        return "XNNPACK delegate (LiteRT default)" if self.xnnpack else \
            "LiteRT builtin kernels, no delegate (BUILTIN_WITHOUT_DEFAULT_DELEGATES)"

    def to_json(self) -> dict:
        rows = self.table.reset_index().to_dict(orient="records")
        return {
            "settings": {"threads": self.threads, "runs": self.runs, "warmup": self.warmup,
                         "tflm_runs": self.tflm_runs, "seed": self.seed, "batch": 1, "xnnpack": self.xnnpack,
                         "kernels": self.kernels,
                         "order": "interleaved round-robin, order shuffled per round; each slot = untimed invoke + one "
                                  "timed sample",
                         "sample": f"mean of back-to-back invokes filling ~{SAMPLE_US} us (per variant: "
                                   "invokes_per_sample)"},
            "overhead": {"model": "one float32 ADD on a (1,28,28,1) tensor",
                         "median_us": self.overhead_median_us, "p90_us": self.overhead_p90_us,
                         "peak_rss_delta_kib": _json_value(self.overhead_peak_rss_kib)},
            "memory_method": MEMORY_METHOD,
            "machine": self.machine,
            "variants": [{k: _json_value(v) for k, v in row.items()} for row in rows],
        }

    def format(self) -> str:
        """A fixed-width table, one row per variant, like `yolo benchmark` prints."""
        columns = [
            ("Variant", lambda r: str(r.Index), "<"),
            ("Size KB", lambda r: f"{r.size_bytes / 1024:.1f}", ">"),
            ("Init ms", lambda r: f"{r.init_ms:.2f}", ">"),
            ("First us", lambda r: f"{r.first_inference_us:.1f}", ">"),
            ("Warm-up us", lambda r: f"{r.warmup_avg_us:.1f}", ">"),
            ("Avg us", lambda r: f"{r.latency_avg_us:.1f}", ">"),
            ("Median us", lambda r: f"{r.latency_median_us:.1f}", ">"),
            ("p90 us", lambda r: f"{r.latency_p90_us:.1f}", ">"),
            ("p99 us", lambda r: f"{r.latency_p99_us:.1f}", ">"),
            ("Std us", lambda r: f"{r.latency_std_us:.1f}", ">"),
            ("Net us", lambda r: f"{r.latency_net_median_us:.1f}", ">"),
            ("img/s", lambda r: f"{r.images_per_second:,.0f}", ">"),
            ("vs float32", lambda r: _number(r.speedup_vs_float32, "x{:.2f}"), ">"),
            ("TFLM us", lambda r: _number(r.tflm_latency_median_us, "{:.1f}"), ">"),
            ("Peak RSS KiB", lambda r: _number(r.peak_rss_delta_kib, "{:,.0f}"), ">"),
        ]
        cells = [[head for head, _, _ in columns]]
        cells += [[fmt(row) for _, fmt, _ in columns] for row in self.table.itertuples()]
        widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
        lines = ["  ".join(f"{cell:{align}{width}}" for cell, (_, _, align), width in zip(row, columns, widths))
                 for row in cells]
        lines.insert(1, "  ".join("-" * width for width in widths))
        lines.append(f"threads={self.threads}, {self.kernels}, batch=1, {self.runs} interleaved rounds after {self.warmup} warm-up "
                     f"(TFLM: {self.tflm_runs} rounds), a sample = mean of back-to-back invokes filling "
                     f"~{SAMPLE_US} us; per-invoke overhead {self.overhead_median_us:.1f} us "
                     f"(p90 {self.overhead_p90_us:.1f}), subtracted in 'Net us'")
        lines.append(f"Init: Interpreter construction + allocate_tensors, first time in this process (Load: median of "
                     f"later ones); First: its first invoke; Warm-up: the {max(self.warmup, 1)} invokes after it")
        lines.append(f"Peak RSS: growth in a fresh process per model; the runtime alone (one-op model) takes "
                     f"{_number(self.overhead_peak_rss_kib, '{:,.0f}')} KiB of it")
        return "\n".join(lines)


def _number(value: float, fmt: str) -> str:
    return "—" if not np.isfinite(value) else fmt.format(value)


def _json_value(value):
    if isinstance(value, (np.floating, float)):
        return None if math.isnan(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


SIMD_FLAGS = ("avx2", "avx512f", "asimd")  # x86 AVX2 / AVX-512, Arm NEON
INT8_DOT_FLAGS = ("avx_vnni", "avx512_vnni", "amx_int8", "asimddp", "i8mm")  # int8 dot-product instructions


def cpu_features(cpuinfo: str) -> dict[str, list[str]]:
    """The vector and int8 dot-product features /proc/cpuinfo lists: they decide whether int8 can beat float.

    Without an int8 dot product, XNNPACK's int8 kernels widen each product to 16 bits and gain
    little or nothing over float FMA; with one, they run several times more multiply-adds per cycle.
    """
    flags = set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() in ("flags", "features"):
            flags.update(value.split())
    return {"simd": [flag for flag in SIMD_FLAGS if flag in flags],
            "int8_dot_product": [flag for flag in INT8_DOT_FLAGS if flag in flags]}


def _host_cpu_features() -> dict[str, list[str]] | None:
    try:
        return cpu_features(Path("/proc/cpuinfo").read_text())
    except OSError:  # not Linux
        return None


@functools.cache
def overhead_model_bytes() -> bytes:
    """A one-op float32 ADD model: what an invoke costs when the model does (almost) nothing."""
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec([1, 28, 28, 1], tf.float32)])
    def add_one(x):
        return x + 1.0

    converter = tf.lite.TFLiteConverter.from_concrete_functions([add_one.get_concrete_function()], add_one)
    return converter.convert()


@dataclass
class _Timed:
    """One runtime instance in the rotation: feed its input (untimed), then invoke (timed)."""

    feed: Callable[[], None]
    invoke: Callable[[], object]
    rounds: int
    samples_ns: list[float] = field(default_factory=list)  # per-invoke time: a sample's time / invokes_per_sample
    invokes_per_sample: int = 1
    init_ns: float = math.nan  # construction + allocate_tensors (LiteRT only)
    first_ns: float = math.nan  # the first invoke after allocation
    warmup_ns: list[float] = field(default_factory=list)

    def time_sample(self) -> None:
        self.feed()
        start = time.perf_counter_ns()
        for _ in range(self.invokes_per_sample):
            self.invoke()
        self.samples_ns.append((time.perf_counter_ns() - start) / self.invokes_per_sample)


def _litert_timed(name: str, data: bytes, image: np.ndarray, threads: int, rounds: int, xnnpack: bool) -> _Timed:
    start = time.perf_counter_ns()
    interpreter = litert_interpreter(data, f"variant {name}", num_threads=threads, kernels=_kernels(xnnpack))
    interpreter.allocate_tensors()
    init_ns = time.perf_counter_ns() - start
    detail = interpreter.get_input_details()[0]
    x = quantize_input(scale_images(image[None]), detail)
    return _Timed(lambda: interpreter.set_tensor(detail["index"], x), interpreter.invoke, rounds, init_ns=init_ns)


def _tflm_timed(data: bytes, image: np.ndarray, rounds: int, name: str) -> _Timed:
    # Host memory is not what is measured here, so the arena is the default one (the micro stage sizes it).
    interpreter = tflm_interpreter(data, label=f"variant {name}")
    detail = interpreter.get_input_details(0)
    scales, zero_points = detail["quantization_parameters"]["scales"], detail["quantization_parameters"]["zero_points"]
    x = quantize_input(scale_images(image[None]), {"dtype": detail["dtype"],
                                                    "quantization": (float(scales[0]), int(zero_points[0]))})
    return _Timed(lambda: interpreter.set_input(x, 0), interpreter.invoke, rounds)


def _kernels(xnnpack: bool) -> str:
    return XNNPACK if xnnpack else BUILTIN


def _load_ms(data: bytes, threads: int, repeats: int, xnnpack: bool = True) -> float:
    """Median wall time of Interpreter construction + allocate_tensors."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter_ns()
        litert_interpreter(data, num_threads=threads, kernels=_kernels(xnnpack)).allocate_tensors()
        times.append(time.perf_counter_ns() - start)
    return float(np.median(times)) / 1e6


def peak_rss_delta_kib(data: bytes, threads: int = 1, runs: int = 10, xnnpack: bool = True) -> float:
    """See MEMORY_METHOD; NaN where /proc is not available (not Linux)."""
    if not Path("/proc/self/status").exists():
        return math.nan
    probe = subprocess.run([sys.executable, "-c", _MEMORY_PROBE, str(threads), str(runs), _kernels(xnnpack)], input=data,
                           capture_output=True, timeout=300, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    if probe.returncode != 0:
        raise RuntimeError(f"memory probe failed: {probe.stderr.decode(errors='replace')[-500:]}")
    return float(probe.stdout.decode().split()[-1])


def _stats_us(samples_ns: list[float]) -> tuple[float, float, float]:
    median, p90, p99 = np.percentile(np.asarray(samples_ns, dtype=np.float64) / 1e3, [50, 90, 99])
    return float(median), float(p90), float(p99)


def _mean_std_us(samples_ns: list[float]) -> tuple[float, float]:
    samples_us = np.asarray(samples_ns, dtype=np.float64) / 1e3
    return float(samples_us.mean()), float(samples_us.std())


def _timed_invoke_ns(entry: _Timed) -> float:
    entry.feed()
    start = time.perf_counter_ns()
    entry.invoke()
    return time.perf_counter_ns() - start


def _run_rounds(entries: list[_Timed], warmup: int, seed: int) -> None:
    for entry in entries:
        entry.first_ns = _timed_invoke_ns(entry)
        entry.warmup_ns = [_timed_invoke_ns(entry) for _ in range(max(warmup, 1))]
        entry.invokes_per_sample = int(np.clip(round(SAMPLE_US * 1e3 / max(np.median(entry.warmup_ns), 1.0)),
                                               1, MAX_INVOKES_PER_SAMPLE))
    rng = np.random.default_rng(seed)
    gc_was_enabled = gc.isenabled()
    gc.disable()  # a collection inside a timed invoke would be charged to whichever model was running
    try:
        rounds = range(max(entry.rounds for entry in entries))
        for round_index in progress(rounds, f"benchmark: rounds of {len(entries)} models"):
            active = [entry for entry in entries if round_index < entry.rounds]
            for position in rng.permutation(len(active)):
                entry = active[position]
                entry.feed()
                entry.invoke()  # untimed: brings this model's weights back into cache, as on a device running one model
                entry.time_sample()
    finally:
        if gc_was_enabled:
            gc.enable()


def benchmark_variants(variants: Mapping[str, bytes], *, runs: int = 300, warmup: int = 30, threads: int = 1,
                       seed: int = 0, tflm_runs: int = 100, measure_memory: bool = True, load_repeats: int = 5,
                       image: np.ndarray | None = None, xnnpack: bool = True) -> BenchmarkResult:
    """Time every variant at batch 1; returns a table with, per variant (index `variant`):

    size_bytes, init_ms (first construction + allocate_tensors), load_ms (median of `load_repeats`
    more), first_inference_us, warmup_avg_us, latency_avg_us, latency_std_us,
    latency_median_us, latency_p90_us, latency_p99_us, latency_net_median_us
    (median minus the per-invoke overhead), images_per_second (1e6 / median), speedup_vs_float32
    (float32 median / this median; NaN without a "float32" variant), tflm_latency_median_us,
    tflm_latency_p90_us (int8-input variants only), tflm_note (why TFLM was not timed, else ""),
    peak_rss_delta_kib (see MEMORY_METHOD; NaN when measure_memory is False), threads, timed_runs.
    """
    if not variants:
        raise ValueError("no variants to benchmark")
    if runs < 1 or warmup < 0 or threads < 1 or tflm_runs < 0:
        raise DigitedgeError("benchmark options: runs must be >= 1, warmup >= 0, threads >= 1 and tflm runs >= 0")
    if image is None:  # latency of dense kernels does not depend on pixel values; a fixed image keeps runs alike
        image = np.random.default_rng(seed).integers(0, 256, (28, 28), dtype=np.uint8)
    tflm_runs = min(tflm_runs, runs)
    machine = {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version(),
               "load_average_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
               "cpu_features": _host_cpu_features()}
    input_dtypes = {name: read_tflite(data, f"variant {name}").input.dtype for name, data in variants.items()}

    overhead = _litert_timed("one-op overhead model", overhead_model_bytes(), image, threads, runs, xnnpack)
    litert = {name: _litert_timed(name, data, image, threads, runs, xnnpack) for name, data in variants.items()}
    tflm, tflm_notes = {}, {}
    for name, data in variants.items():
        if input_dtypes[name] != "int8":
            tflm_notes[name] = f"not an int8 model ({input_dtypes[name]} input)"
        elif tflm_runs == 0:
            tflm_notes[name] = "not timed (tflm runs = 0)"
        else:
            try:
                tflm[name] = _tflm_timed(data, image, tflm_runs, name)
            except TflmError as exc:  # unsupported op or allocation failure
                tflm_notes[name] = f"TFLM cannot run it: {exc.failure.describe()}"
    _run_rounds([overhead, *litert.values(), *tflm.values()], warmup, seed)

    overhead_median, overhead_p90, _ = _stats_us(overhead.samples_ns)
    rows = []
    for name, data in variants.items():
        timed = litert[name]
        median, p90, p99 = _stats_us(timed.samples_ns)
        average, deviation = _mean_std_us(timed.samples_ns)
        tflm_median, tflm_p90, _ = _stats_us(tflm[name].samples_ns) if name in tflm else (math.nan,) * 3
        rows.append({
            "variant": name,
            "size_bytes": len(data),
            "init_ms": timed.init_ns / 1e6,
            "load_ms": _load_ms(data, threads, load_repeats, xnnpack),
            "first_inference_us": timed.first_ns / 1e3,
            "warmup_avg_us": float(np.mean(timed.warmup_ns)) / 1e3,
            "latency_avg_us": average,
            "latency_std_us": deviation,
            "latency_median_us": median,
            "latency_p90_us": p90,
            "latency_p99_us": p99,
            "latency_net_median_us": median - overhead_median,
            "images_per_second": 1e6 / median,
            "tflm_latency_median_us": tflm_median,
            "tflm_latency_p90_us": tflm_p90,
            "tflm_note": tflm_notes.get(name, ""),
            "peak_rss_delta_kib": peak_rss_delta_kib(data, threads, xnnpack=xnnpack) if measure_memory else math.nan,
            "threads": threads,
            "timed_runs": runs,
            "invokes_per_sample": timed.invokes_per_sample,
        })
    table = pd.DataFrame(rows).set_index("variant")
    float32_median = table["latency_median_us"].get("float32", math.nan)
    table.insert(table.columns.get_loc("tflm_latency_median_us"), "speedup_vs_float32",
                 float32_median / table["latency_median_us"])
    overhead_rss = peak_rss_delta_kib(overhead_model_bytes(), threads, xnnpack=xnnpack) if measure_memory else math.nan
    return BenchmarkResult(table, overhead_median, overhead_p90, threads, runs, warmup, tflm_runs, seed,
                           overhead_rss, machine, xnnpack)


def benchmark_threads(variants: Mapping[str, bytes], thread_counts: list[int], **options) -> list[BenchmarkResult]:
    """The whole measurement once per thread count (`--threads 1,2,4`), in that order."""
    if not thread_counts or any(count < 1 for count in thread_counts):
        raise DigitedgeError(f"--threads: give thread counts of at least 1, e.g. 1,2,4 (got {thread_counts})")
    return [benchmark_variants(variants, threads=count, **options) for count in thread_counts]


def parse_thread_counts(text: str) -> list[int]:
    """'1,2,4' -> [1, 2, 4]; anything else is a one-line error naming --threads."""
    try:
        counts = [int(part) for part in text.split(",")]
    except ValueError:
        counts = []
    if not counts or any(count < 1 for count in counts) or len(set(counts)) != len(counts):
        raise DigitedgeError(f"--threads '{text}': expected distinct thread counts of at least 1, e.g. 1,2,4")
    return counts


def read_model_files(paths: list[str | Path]) -> dict[str, bytes]:
    """.tflite files named on the command line, keyed by stem; a file that is not TFLite is a one-line error."""
    variants = {}
    for path in paths:
        model = read_tflite_file(path)
        name = Path(path).stem
        while name in variants:  # two files with the same stem stay distinct rows
            name += "_"
        variants[name] = model.data
    return variants


def benchmark_files(paths: list[str | Path], **options) -> BenchmarkResult:
    """Benchmark .tflite files named on the command line."""
    return benchmark_variants(read_model_files(paths), **options)


def results_json(results: list[BenchmarkResult]) -> dict:
    """One JSON document for `--json`: every measurement (one per thread count) in order."""
    return {"benchmarks": [result.to_json() for result in results]}


def save_benchmark(result: BenchmarkResult, folder: str | Path) -> tuple[Path, Path]:
    """benchmark.csv (the table) and benchmark.json (table + settings + overhead + machine) in `folder`."""
    folder = Path(folder)
    csv_path = write_text(folder / "benchmark.csv", result.table.to_csv(float_format="%.4f"))
    json_path = write_json(folder / "benchmark.json", result.to_json())
    return csv_path, json_path
