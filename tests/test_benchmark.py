"""benchmark: figures from a real (short) interleaved run on tiny models, saved files, and the
one-line error for a file that is not a TFLite model."""

import importlib.util
import json
import math
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pandas as pd
import pytest

from digitedge.benchmark import benchmark_files, benchmark_variants, save_benchmark
from digitedge.errors import DigitedgeError

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "bench_latency.py"


@pytest.fixture(scope="module")
def tiny_variants():
    """float32 and full-int8 .tflite of a tiny tf_keras model (pool + dense)."""
    import tensorflow as tf
    import tf_keras as keras

    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.MaxPooling2D(4), keras.layers.Flatten(),
                              keras.layers.Dense(10, activation="softmax")])
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    float32 = converter.convert()
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    rng = np.random.default_rng(0)
    converter.representative_dataset = lambda: ([rng.random((1, 28, 28, 1), dtype=np.float32)] for _ in range(20))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = converter.inference_output_type = tf.int8
    return {"float32": float32, "int8": converter.convert()}


@pytest.fixture(scope="module")
def result(tiny_variants):
    return benchmark_variants(tiny_variants, runs=30, warmup=3, tflm_runs=10)


def test_every_figure_is_positive_and_finite(result, tiny_variants):
    table = result.table
    assert list(table.index) == ["float32", "int8"]
    for column in ["load_ms", "latency_median_us", "latency_p90_us", "latency_p99_us", "images_per_second"]:
        assert np.all(np.isfinite(table[column])) and np.all(table[column] > 0), column
    assert np.all(table["latency_p90_us"] >= table["latency_median_us"])
    assert np.all(table["latency_p99_us"] >= table["latency_p90_us"])
    assert np.allclose(table["images_per_second"], 1e6 / table["latency_median_us"])
    assert table.at["float32", "speedup_vs_float32"] == 1.0
    assert table.at["int8", "speedup_vs_float32"] == pytest.approx(
        table.at["float32", "latency_median_us"] / table.at["int8", "latency_median_us"])
    assert table.at["int8", "size_bytes"] == len(tiny_variants["int8"])
    assert result.overhead_median_us > 0 and math.isfinite(result.overhead_median_us)
    assert np.allclose(table["latency_net_median_us"], table["latency_median_us"] - result.overhead_median_us)
    assert np.all(np.isfinite(table["peak_rss_delta_kib"])) and np.all(table["peak_rss_delta_kib"] >= 0)
    assert math.isfinite(result.overhead_peak_rss_kib) and result.overhead_peak_rss_kib >= 0


def test_tflm_times_int8_only(result):
    table = result.table
    assert table.at["int8", "tflm_latency_median_us"] > 0 and table.at["int8", "tflm_note"] == ""
    assert math.isnan(table.at["float32", "tflm_latency_median_us"])
    assert "not an int8 model" in table.at["float32", "tflm_note"]


def test_saved_csv_and_json_hold_the_table(result, tmp_path):
    csv_path, json_path = save_benchmark(result, tmp_path / "bench")
    saved = pd.read_csv(csv_path, index_col="variant")
    assert list(saved.index) == list(result.table.index)
    assert np.allclose(saved["latency_median_us"], result.table["latency_median_us"], rtol=1e-4)
    document = json.loads(json_path.read_text())
    assert [row["variant"] for row in document["variants"]] == ["float32", "int8"]
    assert document["overhead"]["median_us"] == result.overhead_median_us
    assert document["settings"]["runs"] == 30
    printed = result.format()
    assert "float32" in printed and "int8" in printed and "overhead" in printed


def test_benchmark_files_names_rows_after_files(tiny_variants, tmp_path):
    path = tmp_path / "mine.tflite"
    path.write_bytes(tiny_variants["int8"])
    result = benchmark_files([path], runs=5, warmup=1, tflm_runs=2, measure_memory=False)
    assert list(result.table.index) == ["mine"]
    assert result.table.at["mine", "latency_median_us"] > 0


@pytest.mark.parametrize("content", [b"definitely not a model", None])
def test_a_file_that_is_not_tflite_is_a_one_line_error(tiny_variants, tmp_path, content):
    path = tmp_path / "bad.tflite"
    path.write_bytes(content if content is not None else tiny_variants["float32"][:200])  # None: truncated
    with pytest.raises(DigitedgeError) as error:
        benchmark_files([path], runs=1, warmup=0, measure_memory=False)
    assert str(path) in str(error.value) and "\n" not in str(error.value)


def test_script_reports_a_bad_model_in_one_line(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("bench_latency", SCRIPT)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    assert script.main(["--model", str(path), "--no-memory"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and str(path) in err and "\n" not in err


def test_a_sample_averages_back_to_back_invokes_sized_from_the_warm_up(result):
    from digitedge.benchmark import MAX_INVOKES_PER_SAMPLE, _run_rounds, _Timed

    calls = []
    entry = _Timed(feed=lambda: None, invoke=lambda: calls.append(1), rounds=4)
    _run_rounds([entry], warmup=2, seed=0)
    assert entry.invokes_per_sample == MAX_INVOKES_PER_SAMPLE  # a no-op invoke is far below SAMPLE_US
    assert len(calls) == 1 + 2 + 4 * (1 + MAX_INVOKES_PER_SAMPLE)  # first, warm-up, then per round: untimed + a sample
    assert len(entry.samples_ns) == 4 and len(entry.warmup_ns) == 2 and entry.first_ns > 0
    table = result.table  # tiny real models take microseconds: several invokes fill a sample
    assert (table["invokes_per_sample"] > 1).all() and (table["invokes_per_sample"] <= MAX_INVOKES_PER_SAMPLE).all()


def test_cpu_features_name_the_vector_and_int8_dot_product_flags(result):
    from digitedge.benchmark import cpu_features

    epyc = "processor\t: 0\nflags\t\t: fpu sse2 avx fma avx2 bmi2\nprocessor\t: 1\nflags\t\t: fpu avx2\n"
    assert cpu_features(epyc) == {"simd": ["avx2"], "int8_dot_product": []}
    icelake = "flags\t: avx2 avx512f avx512_vnni\n"
    assert cpu_features(icelake) == {"simd": ["avx2", "avx512f"], "int8_dot_product": ["avx512_vnni"]}
    graviton = "Features\t: fp asimd evtstrm asimddp i8mm\n"
    assert cpu_features(graviton) == {"simd": ["asimd"], "int8_dot_product": ["asimddp", "i8mm"]}
    recorded = result.machine["cpu_features"]  # this host's, kept with the figures it explains
    assert recorded is None or set(recorded) == {"simd", "int8_dot_product"}


def test_benchmark_model_fields_are_measured_per_variant(result):
    """LiteRT benchmark_model's fields: init, first inference, warm-up average, average and std."""
    table = result.table
    for column in ["init_ms", "first_inference_us", "warmup_avg_us", "latency_avg_us", "latency_std_us"]:
        assert np.all(np.isfinite(table[column])), column
    assert np.all(table["init_ms"] > 0) and np.all(table["first_inference_us"] > 0)
    assert np.all(table["latency_std_us"] >= 0)
    # samples are means of back-to-back invokes: their average lies between the fastest and the p99
    assert np.all(table["latency_avg_us"] > 0) and np.all(table["latency_avg_us"] <= table["latency_p99_us"] * 1.5)
    row = json.loads(json.dumps(result.to_json()))["variants"][0]
    assert {"init_ms", "first_inference_us", "warmup_avg_us", "latency_avg_us", "latency_std_us",
            "peak_rss_delta_kib", "size_bytes"} <= set(row)
    text = result.format()
    for head in ("Init ms", "First us", "Warm-up us", "Avg us", "Std us", "Peak RSS KiB", "XNNPACK"):
        assert head in text, head


def test_thread_list_and_builtin_kernels_are_measured_and_said(tiny_variants):
    from digitedge.benchmark import benchmark_threads, parse_thread_counts, results_json

    assert parse_thread_counts("1,2,4") == [1, 2, 4]
    for bad in ("0", "1,x", "", "2,2"):
        with pytest.raises(DigitedgeError, match="--threads"):
            parse_thread_counts(bad)
    results = benchmark_threads(tiny_variants, [1, 2], runs=10, warmup=2, tflm_runs=0, measure_memory=False,
                                xnnpack=False)
    assert [r.threads for r in results] == [1, 2] and all(not r.xnnpack for r in results)
    assert all((r.table["threads"] == r.threads).all() for r in results)
    document = results_json(results)
    assert [b["settings"]["threads"] for b in document["benchmarks"]] == [1, 2]
    assert all("BUILTIN_WITHOUT_DEFAULT_DELEGATES" in b["settings"]["kernels"] for b in document["benchmarks"])
    assert "BUILTIN_WITHOUT_DEFAULT_DELEGATES" in results[0].format()
