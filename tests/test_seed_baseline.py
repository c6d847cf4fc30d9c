"""The seed preset's float model as the seed_float row: the seed run is checked in one line, its
model is part of the evaluate stage's fingerprint, and a run given one reports it like a variant,
measured from the converted file, without ever exporting it."""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from digitedge import config as config_module
from digitedge.errors import DigitedgeError
from digitedge.pipeline import STAGE_NAMES, Context
from digitedge.rundir import RunDir, sha256_file
from digitedge.seed_baseline import seed_model_path

sys.path.insert(0, str(Path(__file__).parent))
from test_cli_errors import copy_run, must_succeed, small_config  # noqa: E402

SEED_CONFIG = """\
[model]
arch = "seed"

[data]
validation_size = 500

[train]
epochs = 1
train_subset = 500
batch_size = 100
"""


def fake_seed_run(folder: Path, arch: str = "seed", trained: bool = True) -> Path:
    """The files seed_model_path reads, without training anything."""
    folder.mkdir()
    (folder / "config.toml").write_text(f'[model]\narch = "{arch}"\n')
    if trained:
        (folder / "train").mkdir()
        (folder / "train" / "model.keras").write_bytes(b"seed weights, version 1")
        (folder / "manifest.json").write_text(json.dumps({"stages": {"train": {}}}))
    return folder


@pytest.mark.parametrize("make, message", [
    (lambda tmp: tmp / "nope", "nope: no such run directory"),
    (lambda tmp: (tmp / "empty").mkdir() or tmp / "empty", "empty is not a digitedge run (no config.toml)"),
    (lambda tmp: fake_seed_run(tmp / "compact", arch="compact"),
     "compact is a run of the 'compact' model, not one trained with --arch seed"),
    (lambda tmp: fake_seed_run(tmp / "untrained", trained=False), "untrained has no finished train stage"),
])
def test_a_seed_run_is_checked_in_one_line(tmp_path, make, message):
    with pytest.raises(DigitedgeError) as caught:
        seed_model_path(make(tmp_path))
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_the_seed_model_is_part_of_the_evaluate_fingerprint(tmp_path):
    seed_run = fake_seed_run(tmp_path / "seed")

    def fingerprints(seed_run_setting: str) -> dict[str, str]:
        config = config_module.load(None, {"evaluate.seed_run": seed_run_setting})
        context = Context(RunDir(tmp_path / "run"), config, _data=SimpleNamespace(checksum="0" * 64))
        return {stage: context.fingerprint(stage) for stage in STAGE_NAMES}

    without, first = fingerprints(""), fingerprints(str(seed_run))
    (seed_run / "train" / "model.keras").write_bytes(b"seed weights, version 2")
    retrained = fingerprints(str(seed_run))
    for stage in STAGE_NAMES:  # later stages read the evaluate stage's files and are redone with it
        assert (without[stage] != first[stage]) == (stage == "evaluate"), stage
        assert (first[stage] != retrained[stage]) == (stage == "evaluate"), stage


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    """A small run given a one-epoch seed run: `digitedge run --seed-run SEED`, then the same again."""
    root = tmp_path_factory.mktemp("seeded")
    (root / "seed.toml").write_text(SEED_CONFIG)
    seed_run = root / "seed"
    must_succeed("train", "--config", root / "seed.toml", "--out", seed_run)
    run = copy_run(root / "run")  # train, optimize and convert are done
    must_succeed("run", "--config", small_config(), "--out", run, "--seed-run", seed_run)
    again = must_succeed("run", "--config", small_config(), "--out", run, "--seed-run", seed_run)
    return run, seed_run, again


@pytest.mark.mnist
def test_the_seed_row_is_measured_from_its_own_file(seeded, mnist):
    from digitedge.evaluate import tflite_probabilities

    run, _, _ = seeded
    summary = pd.read_csv(run / "report" / "summary.csv", index_col="variant")
    seed, float32 = summary.loc["seed_float"], summary.loc["float32"]
    data = (run / "evaluate" / "seed_float.tflite").read_bytes()
    assert seed["size_bytes"] == len(data) and seed["gzip_bytes"] == len(gzip.compress(data, 9, mtime=0))
    assert seed["size_ratio"] == pytest.approx(len(data) / float32["size_bytes"])
    assert seed["gzip_ratio"] == pytest.approx(seed["gzip_bytes"] / float32["gzip_bytes"])
    assert seed["size_bytes"] > 4 * 1_150_000 and seed["macs"] > 5 * float32["macs"]  # the seed CNN, in float32
    assert seed["latency_median_us"] > 0
    assert seed["speedup_vs_float32"] == pytest.approx(float32["latency_median_us"] / seed["latency_median_us"],
                                                       rel=1e-3)  # benchmark.csv keeps 4 decimals
    assert summary.loc["seed_float", ["tflm_runs", "tflm_arena_bytes", "tflm_latency_median_us"]].isna().all()

    images, labels = mnist.x_test[:200], mnist.y_test[:200]  # the small config's eval_limit
    predictions = tflite_probabilities(data, images).argmax(axis=1)
    saved = pd.read_csv(run / "evaluate" / "predictions.csv", index_col="test_index")
    assert (saved["seed_float"].to_numpy() == predictions).all()
    assert seed["accuracy"] == pytest.approx(np.mean(predictions == labels))
    assert seed["agreement"] == pytest.approx(np.mean(predictions == saved["keras_float"].to_numpy()))
    assert seed["delta_pp"] == pytest.approx(100 * (seed["accuracy"] - summary.at["keras_float", "accuracy"]))


@pytest.mark.mnist
def test_the_seed_baseline_is_reported_never_deployed(seeded):
    from digitedge.pipeline.convert_stage import tflite_variants
    from digitedge.report.tables import kilobytes

    run, seed_run, again = seeded
    manifest = RunDir(run).read_manifest()
    assert "seed_float" not in tflite_variants(RunDir(run)) and "seed_float" not in manifest["stages"]["micro"]
    assert "evaluate/seed_float.tflite" in manifest["stages"]["evaluate"]["outputs"]
    recorded = manifest["stages"]["evaluate"]["seed_float"]
    assert recorded["seed_model_sha256"] == sha256_file(seed_run / "train" / "model.keras")
    assert RunDir(run).verify() == []
    assert all(f"[{stage}] already done" in again for stage in ("evaluate", "benchmark", "report"))

    summary = pd.read_csv(run / "report" / "summary.csv", index_col="variant")
    markdown = (run / "report" / "REPORT.md").read_text()
    assert "| seed_float |" in markdown and "Deploy `seed_float`" not in markdown
    assert (f"`int8_qat` is {summary.at['seed_float', 'size_bytes'] / summary.at['int8_qat', 'size_bytes']:,.1f}× "
            f"smaller ({kilobytes(summary.at['int8_qat', 'size_bytes'])} against "
            f"{kilobytes(summary.at['seed_float', 'size_bytes'])})") in markdown
