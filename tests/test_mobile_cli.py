"""`digitedge export --mobile` and `--all` on a small real run: the files, their signatures, and bad input."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_cli_errors import _as_nobody, copy_run, must_succeed, run_cli, shared_tmp, snapshot  # noqa: E402,F401

pytestmark = pytest.mark.mnist

SIGNATURE = {"serving_default": {"inputs": ["image"], "outputs": ["probabilities"]}}


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    run = copy_run(tmp_path_factory.mktemp("mobile") / "run")
    must_succeed("export", "--run", run, "--mobile", "--all", "--out", run.parent / "app")
    return run, run.parent / "app"


def test_export_mobile_writes_the_app_files_and_records_the_stage(exported):
    import json

    run, app = exported
    names = {path.name for path in app.iterdir()}
    assert {"mobile_uint8.tflite", "mobile_float16.tflite", "labels.txt", "MOBILE.md"} <= names
    for name in ("mobile_uint8.tflite", "mobile_float16.tflite", "labels.txt", "MOBILE.md"):
        assert (app / name).read_bytes() == (run / "mobile" / name).read_bytes(), name
    record = json.loads((run / "manifest.json").read_text())["stages"]["mobile"]
    assert record["mobile_uint8"]["source"] == "qat" and record["mobile_float16"]["source"] == "float"
    assert must_succeed("verify", run).strip().endswith("every file matches the manifest")


def test_every_exported_tflite_has_the_app_signature(exported):
    from digitedge.mobile.signature import signature_names

    run, app = exported
    files = sorted(app.glob("*.tflite"))
    assert len(files) == len(list((run / "tflite").glob("*.tflite"))) + 2
    for path in files:
        assert signature_names(path.read_bytes()) == SIGNATURE, path.name
    for path in (run / "tflite").glob("*.tflite"):  # the measured variants stay stripped
        assert signature_names(path.read_bytes()) == {}, path.name


def test_mobile_files_are_evaluated_and_benchmarked_as_variants(exported):
    import pandas as pd

    run, _ = exported
    must_succeed("evaluate", "--run", run)
    must_succeed("benchmark", "--run", run, "--runs", "5")
    evaluation = pd.read_csv(run / "evaluate" / "evaluation.csv", index_col="variant")
    benchmark = pd.read_csv(run / "benchmark" / "benchmark.csv", index_col="variant")
    for name in ("mobile_uint8", "mobile_float16"):
        assert name in evaluation.index and name in benchmark.index, name
    assert abs(evaluation.at["mobile_uint8", "accuracy"] - evaluation.at["int8_qat", "accuracy"]) <= 0.001
    assert abs(evaluation.at["mobile_float16", "accuracy"] - evaluation.at["float16", "accuracy"]) <= 0.001


def test_mobile_without_a_qat_model_is_one_line_and_writes_nothing(tmp_path):
    run = copy_run(tmp_path / "run")
    (run / "optimize" / "qat.h5").unlink()
    before = snapshot(tmp_path)
    code, out, err = run_cli("export", "--run", run, "--mobile", "--out", tmp_path / "app")
    lines = err.strip().splitlines()
    assert code == 1 and len(lines) == 1, err
    assert "--mobile" in lines[0] and "has no QAT model" in lines[0] and "digitedge optimize --technique qat" in lines[0]
    assert not (tmp_path / "app").exists() and not (run / "mobile").exists()
    assert {k: v for k, v in snapshot(tmp_path).items() if k != "run/manifest.json"} == \
        {k: v for k, v in before.items() if k != "run/manifest.json"}


def test_mobile_into_a_file_path_is_one_line_before_any_work(tmp_path):
    run = copy_run(tmp_path / "run")
    (tmp_path / "a_file").write_text("x")
    before = snapshot(tmp_path)
    code, out, err = run_cli("export", "--run", run, "--mobile", "--out", tmp_path / "a_file" / "app")
    assert code == 1 and err.strip() == f"Error: cannot create export folder {tmp_path / 'a_file' / 'app'}: " \
                                        f"{tmp_path / 'a_file'} is not a folder"
    assert snapshot(tmp_path) == before


def test_mobile_into_a_read_only_folder_is_one_line(shared_tmp):
    run = copy_run(shared_tmp / "run")
    locked = shared_tmp / "locked"
    locked.mkdir(mode=0o555)
    done = _as_nobody(["export", "--run", str(run), "--mobile", "--out", str(locked / "app")], shared_tmp)
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip() == f"Error: cannot write export folder {locked / 'app'}: {locked} is not writable"
    assert list(locked.iterdir()) == [] and not (run / "mobile").exists()


def test_benchmark_thread_list_prints_json_for_every_count_without_recording(exported):
    import json

    run, _ = exported
    before = (run / "manifest.json").read_text()
    document = json.loads(must_succeed("benchmark", "--run", run, "--threads", "1,2", "--no-xnnpack", "--runs", "3",
                                       "--json"))
    assert [b["settings"]["threads"] for b in document["benchmarks"]] == [1, 2]
    assert all(not b["settings"]["xnnpack"] for b in document["benchmarks"])
    rows = {row["variant"]: row for row in document["benchmarks"][0]["variants"]}
    assert {"mobile_uint8", "mobile_float16", "int8_qat"} <= set(rows)
    assert rows["mobile_uint8"]["first_inference_us"] > 0 and rows["mobile_uint8"]["init_ms"] > 0
    assert (run / "manifest.json").read_text() == before  # a sweep is printed, not recorded
