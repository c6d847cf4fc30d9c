"""The train stage: the float baseline with its monitoring artifacts, resumable per epoch."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from digitedge.errors import DigitedgeError
from digitedge.pipeline import manifest
from digitedge.pipeline.context import Context, Stage, start_run
from digitedge.rundir import RunDir, write_text


def training_pool_size(context: Context) -> int:
    """How many images the training split holds after the validation split and train_subset."""
    available = len(context.data.x_train) - context.config.data.validation_size
    subset = context.config.train.train_subset
    return min(subset, available) if subset else available


def check_budgets(context: Context) -> None:
    """Config values that only the data can rule out, checked before any stage writes."""
    pool, samples = training_pool_size(context), context.config.export.representative_samples
    if samples > pool:
        raise DigitedgeError(f"export.representative_samples ({samples}) is larger than the training set "
                             f"({pool} images after the validation split and train.train_subset)")


def train_val(context: Context):
    """Normalized (x_train, y_train, x_val, y_val): the validation split and train_subset of the config."""
    from digitedge.data import normalize, split_validation

    x_train, y_train, x_val, y_val = split_validation(
        context.data.x_train, context.data.y_train, context.config.data.validation_size, context.config.seed)
    if context.config.train.train_subset:
        x_train, y_train = x_train[: context.config.train.train_subset], y_train[: context.config.train.train_subset]
    return normalize(x_train), y_train, normalize(x_val), y_val


def _fresh_checkpoint(folder: Path, stage_fingerprint: str) -> Path:
    """The epoch checkpoint folder, emptied if an interrupted run with another config left it."""
    stamp = folder / "FINGERPRINT"
    if folder.exists() and (not stamp.is_file() or stamp.read_text().strip() != stage_fingerprint):
        shutil.rmtree(folder)
    if not folder.exists():
        write_text(stamp, stage_fingerprint + "\n")
    return folder


def run_train(context: Context) -> None:
    start_run(context)
    from digitedge.data import normalize
    from digitedge.model import build_model
    from digitedge.modelio import save_keras_model
    from digitedge.train import make_deterministic, train_float
    from digitedge.training_report import write_training_report

    config, run, data = context.config, context.run, context.data
    x_train, y_train, x_val, y_val = train_val(context)
    make_deterministic(config.seed)
    model = build_model(config.model)
    context.echo(f"[train] {model.name}: {model.count_params():,} parameters, "
                 f"{len(x_train):,} training / {len(x_val):,} validation images, up to {config.train.epochs} epochs")
    stage_fingerprint = context.fingerprint("train")
    with context.recording("train") as facts:
        result = train_float(model, x_train, y_train, x_val, y_val, config.train, config.seed,
                             checkpoint_dir=_fresh_checkpoint(run.path("train", "checkpoint"), stage_fingerprint),
                             tensorboard_dir=run.path("train", "tensorboard"))
        save_keras_model(result.model, float_model_file(run))
        started = time.perf_counter()
        probabilities = result.model.predict(normalize(data.x_test), batch_size=1000, verbose=0)
        predictions = probabilities.argmax(axis=1)
        test_accuracy = float((predictions == data.y_test).mean())
        write_training_report(run.path("train"), result.metrics, data.y_test, predictions,
                              f"{model.name} (float)")
        facts.update(
            parameters=int(model.count_params()),
            epochs_run=int(len(result.metrics)),
            best_epoch=result.best_epoch,
            best_val_accuracy=float(result.metrics["val_accuracy"].max()),
            test_accuracy=test_accuracy,
            train_seconds=round(result.seconds, 2),
            test_seconds=round(time.perf_counter() - started, 2),
        )
    shutil.rmtree(run.path("train", "checkpoint"), ignore_errors=True)  # resume state of a finished training
    context.echo(f"[train] test accuracy {test_accuracy:.2%} (best epoch {result.best_epoch} of "
                 f"{len(result.metrics)}, {result.seconds:.0f} s) -> {run.path('train')}")


def float_model_file(run: RunDir) -> Path:
    """Where the train stage keeps the float model (the seed baseline reads another run's)."""
    return run.path("train", "model.keras")


def load_float_model(run: RunDir):
    manifest.require_done(run, "train", "run `digitedge train` first")
    from digitedge.modelio import load_keras_model

    return load_keras_model(float_model_file(run))


def training_metrics_file(run: RunDir) -> Path:
    """The per-epoch metrics CSV the train stage wrote (the report plots it)."""
    return run.path("train", "training_metrics.csv")


def _facts(record: dict) -> dict[str, str]:
    return {"float training": f"{record['epochs_run']} epochs, {record['train_seconds']:.0f} s"}


STAGE = Stage("train", ("seed", "data", "model", "train"), run_train, facts=_facts)
