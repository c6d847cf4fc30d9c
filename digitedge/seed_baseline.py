"""The seed preset's float model as a baseline row beside this run's variants.

The seed preset (`digitedge train --arch seed`) is another, much larger model trained in its own
run. It is not a variant of this run's model, so it is never exported or deployed: the evaluate
stage converts it to float32 TFLite exactly as this run's float32 variant is converted, then
evaluates and times it on the same test images so the report can say what the compact model costs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from digitedge.config import load as load_config
from digitedge.errors import DigitedgeError
from digitedge.rundir import RunDir

SEED_FLOAT = "seed_float"


def seed_model_path(seed_run: str | Path) -> Path:
    """The float model of `seed_run`, after checking it is a finished run trained with --arch seed."""
    run = RunDir(seed_run)
    where = f"evaluate.seed_run {run.root}"
    if not run.root.is_dir():
        raise DigitedgeError(f"{where}: no such run directory")
    if not run.path("config.toml").is_file():
        raise DigitedgeError(f"{where} is not a digitedge run (no config.toml)")
    arch = load_config(run.path("config.toml")).model.arch
    if arch != "seed":
        raise DigitedgeError(f"{where} is a run of the '{arch}' model, not one trained with --arch seed")
    from digitedge.pipeline.train_stage import float_model_file

    model = float_model_file(run)
    if "train" not in run.read_manifest().get("stages", {}) or not model.is_file():
        raise DigitedgeError(f"{where} has no finished train stage (train/model.keras); "
                             f"run `digitedge train --arch seed --out {run.root}` first")
    return model


def seed_float_tflite(model_path: Path, check_images: np.ndarray) -> bytes:
    """The seed model as float32 TFLite, converted and stripped like the run's float32 variant."""
    from digitedge.convert import convert_variant, strip_strings
    from digitedge.modelio import load_keras_model

    return strip_strings(convert_variant("float32", load_keras_model(model_path)), check_images, SEED_FLOAT)


def seed_float_facts(tflite_bytes: bytes) -> dict:
    """What the summary shows of a variant that the convert and micro stages never see."""
    from digitedge.checks import check_variant
    from digitedge.micro.profile import layer_table
    from digitedge.tflite_model import read_tflite

    check = check_variant("float32", tflite_bytes)  # checked as what it is: a float32 conversion
    return {"weight_sparsity": round(check.weight_sparsity, 6),
            "macs": int(layer_table(read_tflite(tflite_bytes, SEED_FLOAT))["macs"].sum())}
