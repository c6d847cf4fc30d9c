"""End to end on real MNIST: `digitedge run --quick` writes every artifact, and each parses."""

import json
import re
import subprocess
import sys

import pandas as pd
import pytest

from digitedge.cgen.qemu import missing_tools
from digitedge.rundir import RunDir

pytestmark = pytest.mark.mnist

VARIANTS = ["float32", "float16", "dynamic_range", "int8_ptq", "int8_qat",
            "pruned_float32", "pruned_int8", "pruned_qat_int8", "int4_qat", "mixed_qat", "pruned_int4_qat"]


def digitedge(*args, cwd):
    return subprocess.run([sys.executable, "-m", "digitedge", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=1200)


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory, mnist):
    folder = tmp_path_factory.mktemp("pipeline")
    result = digitedge("run", "--quick", "--out", "run", cwd=folder)
    assert result.returncode == 0, result.stderr[-3000:]
    return folder / "run", result


def test_train_stage_artifacts_exist_and_parse(quick_run):
    run, _ = quick_run
    metrics = pd.read_csv(run / "train" / "training_metrics.csv")
    assert list(metrics.columns) == ["epoch", "loss", "accuracy", "val_loss", "val_accuracy",
                                     "learning_rate", "seconds"]
    assert len(metrics) == 1 and 0 < metrics["val_accuracy"].iloc[0] <= 1
    confusion = pd.read_csv(run / "train" / "confusion_matrix.csv", index_col=0)
    assert confusion.shape == (10, 10) and confusion.to_numpy().sum() == 10_000
    report = pd.read_csv(run / "train" / "classification_report.csv", index_col=0)
    assert {"precision", "recall", "f1-score"} <= set(report.columns)
    for png in ("curves.png", "confusion_matrix.png"):
        assert (run / "train" / png).read_bytes()[:4] == b"\x89PNG"
    assert "precision" in (run / "train" / "classification_report.txt").read_text()
    assert (run / "train" / "model.keras").stat().st_size > 0
    assert any((run / "train" / "tensorboard").rglob("events.out.tfevents.*"))


def test_manifest_describes_the_run(quick_run):
    run, _ = quick_run
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["seed"] == 42 and len(manifest["data"]["checksum"]) == 64
    assert {"tensorflow", "tf-keras", "tensorflow-model-optimization"} <= set(manifest["versions"])
    board = set() if missing_tools() else {"board"}  # the board stage skips itself without the ARM toolchain
    assert set(manifest["stages"]) == {"train", "optimize", "convert", "micro", "mobile", "evaluate", "benchmark",
                                      "report"} | board
    assert manifest["stages"]["train"]["parameters"] <= 30_000
    assert RunDir(run).verify() == []
    assert "[train]" in (run / "config.toml").read_text()


def test_every_variant_is_converted_checked_and_reported(quick_run):
    run, _ = quick_run
    manifest = json.loads((run / "manifest.json").read_text())
    convert = manifest["stages"]["convert"]
    for name in VARIANTS:
        assert (run / "tflite" / f"{name}.tflite").read_bytes()[4:8] == b"TFL3"
        assert convert[name]["size_bytes"] == (run / "tflite" / f"{name}.tflite").stat().st_size
    for name in ("int8_ptq", "int8_qat", "pruned_int8", "pruned_qat_int8"):
        assert convert[name]["full_integer"] and convert[name]["input_dtype"] == "int8"
        assert convert[name]["input_scale"] > 0
    for name in ("pruned_float32", "pruned_int8", "pruned_qat_int8"):
        assert convert[name]["weight_sparsity"] >= 0.74
    micro = manifest["stages"]["micro"]
    assert micro["pruned_int4_qat"]["macs"] < 0.8 * micro["int4_qat"]["macs"]  # filters removed (35 % by default)
    assert convert["int4_qat"]["weight_bits"] == [4, 4, 4, 4]
    assert convert["mixed_qat"]["weight_bits"] == [8, 4, 4, 2]  # the default: first 8-bit, last 2-bit
    for name in ("int4_qat", "mixed_qat", "pruned_int4_qat"):  # low-bit variants are measured like int8 ones
        assert convert[name]["full_integer"] and "int4" in convert[name]["weight_dtypes"]
        assert micro[name]["tflm_images"] > 0 and micro[name]["arena"]["minimum_bytes"] > 0
    summary = pd.read_csv(run / "report" / "summary.csv")
    assert set(VARIANTS) | {"keras_float", "mobile_uint8", "mobile_float16"} <= set(summary["variant"])
    html = (run / "report" / "report.html").read_text()
    assert "data:image/png;base64," in html and "src=\"http" not in html


def test_micro_stage_exports_a_header_that_matches_the_model(quick_run):
    run, _ = quick_run
    micro = json.loads((run / "manifest.json").read_text())["stages"]["micro"]
    assert micro["int8_qat"]["tflm"]["runs"] and not micro["dynamic_range"]["tflm"]["runs"]
    assert micro["parity"]["reference"]["same_prediction"] >= 0.99
    deployed = micro["deployed"]  # export.variant = auto: the smallest full-integer variant within tolerance
    assert deployed in ("int8_ptq", "int8_qat", "pruned_int8", "pruned_qat_int8", "int4_qat", "mixed_qat",
                        "pruned_int4_qat") and micro["parity"]["variant"] == deployed
    header = (run / "micro" / "model_data.h").read_text()
    assert "kTensorArenaSize" in header and "g_digitedge_model_len" in header
    for name in ("model_data.h", "model_data.cc", "model_ops.h", "sample_digits.h"):  # each names the TFLM accuracy
        text = (run / "micro" / name).read_text()
        assert f"Test accuracy: {100 * micro[deployed]['tflm_accuracy']:.2f}% (TFLite Micro, 1,000 MNIST test images)" \
            in text, name
    assert (run / "micro" / f"{deployed}.tflite").read_bytes() == (run / "tflite" / f"{deployed}.tflite").read_bytes()


def test_the_run_ends_with_the_summary_formatted_like_the_report(quick_run):
    _, result = quick_run
    summary = re.split(r"== stage (\d+)/\1: report", result.stdout)[-1]  # the last stage
    assert "Variant" in summary and "TFLM accuracy" in summary and " KB" in summary and "%" in summary
    assert "nan" not in summary.lower() and not re.search(r"\b\d{4,}\.0\b", summary)


def test_the_run_opens_with_the_data_source_line(quick_run):
    _, result = quick_run
    first = result.stdout.splitlines()[0]
    assert re.fullmatch(r"MNIST: .+, sha256:[0-9a-f]{64}( \(not used: .+\))?", first), first
    assert "Downloading data from" not in result.stdout + result.stderr


def test_a_second_run_skips_finished_stages(quick_run):
    run, _ = quick_run
    before = (run / "manifest.json").read_text()
    again = digitedge("run", "--quick", "--out", "run", cwd=run.parent)
    assert again.returncode == 0, again.stderr[-2000:]
    for stage in ("train", "optimize", "convert", "micro", "evaluate", "benchmark"):
        assert f"[{stage}] already done" in again.stdout
    assert json.loads(before)["stages"]["train"] == json.loads((run / "manifest.json").read_text())["stages"]["train"]


def test_a_successful_run_prints_no_failure_looking_tensorflow_line(quick_run):
    """TensorFlow's benign C++ lines (see digitedge.tflogs) never reach a run's output."""
    _, result = quick_run
    lines = (result.stdout + result.stderr).splitlines()
    assert [line for line in lines if any(mark in line for mark in ("E0000", "cuInit", "oneDNN", "absl::"))] == []


def test_the_report_says_why_int8_is_slower_only_on_a_cpu_without_an_int8_dot_product():
    from digitedge.pipeline.report_stage import int8_speed_note

    summary = pd.DataFrame({"variant": ["float32", "int8_qat"], "speedup_vs_float32": [1.0, 0.63]})
    avx2 = {"machine": {"cpu_features": {"simd": ["avx2"], "int8_dot_product": []}}}
    note = int8_speed_note(summary, "int8_qat", avx2)
    assert "×0.63" in note and "avx2" in note and "no int8 dot-product instruction" in note
    vnni = {"machine": {"cpu_features": {"simd": ["avx2"], "int8_dot_product": ["avx_vnni"]}}}
    assert int8_speed_note(summary, "int8_qat", vnni) == ""
    faster = pd.DataFrame({"variant": ["float32", "int8_qat"], "speedup_vs_float32": [1.0, 1.8]})
    assert int8_speed_note(faster, "int8_qat", avx2) == ""
    assert int8_speed_note(summary, "int8_qat", {"machine": {}}) == ""  # runs benchmarked before it was recorded
