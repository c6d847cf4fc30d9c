"""The same config and seed on the same machine give the same metrics and the same .tflite bytes,
and the manifest holds everything needed to reproduce a run."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_cli_errors import must_succeed, small_config, small_run  # noqa: E402

pytestmark = pytest.mark.mnist

TIMING_COLUMNS = ["seconds"]


def _metrics(path: Path) -> pd.DataFrame:
    return pd.read_csv(path).drop(columns=TIMING_COLUMNS)


def test_same_config_and_seed_give_the_same_metrics_and_tflite_bytes(tmp_path):
    first = small_run()
    second = tmp_path / "again"
    must_succeed("train", "--config", small_config(), "--out", second)
    must_succeed("optimize", "--run", second)
    must_succeed("export", "--run", second, "--all")

    for name in ("train/training_metrics.csv", "optimize/qat_metrics.csv", "train/confusion_matrix.csv"):
        if name.endswith("metrics.csv"):
            pd.testing.assert_frame_equal(_metrics(first / name), _metrics(second / name))
        else:
            assert (first / name).read_bytes() == (second / name).read_bytes(), name
    variants = sorted(path.name for path in (first / "tflite").glob("*.tflite"))
    assert variants == sorted(path.name for path in (second / "tflite").glob("*.tflite"))
    assert "int8_qat.tflite" in variants and "int8_ptq.tflite" in variants
    for name in variants:
        assert (first / "tflite" / name).read_bytes() == (second / "tflite" / name).read_bytes(), name

    import json

    one, two = (json.loads((run / "manifest.json").read_text()) for run in (first, second))
    assert one["stages"]["train"]["test_accuracy"] == two["stages"]["train"]["test_accuracy"]
    assert one["data"]["checksum"] == two["data"]["checksum"]


def test_manifest_records_what_reproduces_the_run():
    import json

    from digitedge import config as config_module
    from digitedge.rundir import RunDir

    run = small_run()
    manifest = json.loads((run / "manifest.json").read_text())
    saved = config_module.load(run / "config.toml")
    assert manifest["config"] == config_module.to_dict(saved)
    assert manifest["seed"] == saved.seed == 7
    assert len(manifest["data"]["checksum"]) == 64 and manifest["data"]["counts"] == {"train": 60000, "test": 10000}
    assert {"python", "tensorflow", "tf-keras", "tensorflow-model-optimization", "numpy"} <= set(manifest["versions"])
    assert "git_commit" in manifest
    assert {"train", "optimize", "convert"} <= set(manifest["stages"])
    assert all(len(manifest["stages"][stage]["fingerprint"]) == 16 for stage in ("train", "optimize", "convert"))
    assert "export/int8_qat.tflite" in manifest["files"]  # `digitedge export` into the run is recorded too
    assert RunDir(run).verify() == []


def test_stage_overrides_are_saved_with_the_run(tmp_path):
    """`digitedge optimize --epochs 2` on a run: config.toml and the manifest then say 2, so the run reproduces."""
    import json
    import shutil

    from digitedge import config as config_module

    run = tmp_path / "run"
    shutil.copytree(small_run(), run)
    must_succeed("optimize", "--run", run, "--epochs", "2", "--force")
    saved = config_module.load(run / "config.toml")
    assert saved.optimize.qat_epochs == 2
    assert json.loads((run / "manifest.json").read_text())["config"]["optimize"]["qat_epochs"] == 2
    assert len(pd.read_csv(run / "optimize" / "qat_metrics.csv")) == 2
    assert must_succeed("verify", run)
