"""The pipeline's stages over a run directory: each reads its inputs from the run, calls the
stage module that does the work, writes artifacts atomically and records itself in the manifest.

The CLI calls these one at a time (`digitedge train`, `optimize`, ...) or all in order
(`digitedge run`); a stage already done for the same config is skipped unless forced.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from digitedge import stages
from digitedge.config import Config, to_toml
from digitedge.errors import DigitedgeError
from digitedge.rundir import RunDir, git_commit, package_versions, write_text

Echo = Callable[[str], None]


@dataclass
class Context:
    """What every stage needs: the run, its config, the data, and where to print."""

    run: RunDir
    config: Config
    data_path: str | None = None
    force: bool = False
    echo: Echo = print
    _data: object = None

    @property
    def data(self):
        if self._data is None:
            from digitedge.data import load_mnist

            self._data = load_mnist(self.data_path)
        return self._data

    def fingerprint(self, stage: str) -> str:
        return stages.fingerprint(self.config, stage, self.data.checksum)

    def should_skip(self, stage: str) -> bool:
        if not self.force and stages.is_done(self.run, stage, self.fingerprint(stage)):
            self.echo(f"[{stage}] already done for this config in {self.run.root} (use --force to redo)")
            return True
        return False

    def check_not_overwriting(self, stage: str) -> None:
        """A finished stage with another config is only replaced with --force."""
        recorded = stages.recorded_fingerprint(self.run, stage)
        if recorded and recorded != self.fingerprint(stage) and not self.force:
            raise DigitedgeError(
                f"{self.run.root} already holds a '{stage}' stage made with another config; "
                "pass --force to replace it or choose another --out"
            )


def start_run(context: Context) -> None:
    """Create the run directory and record what reproduces it (config, seed, data, versions)."""
    context.run.ensure()
    data = context.data
    from digitedge.data import summary

    write_text(context.run.path("config.toml"), to_toml(context.config))
    context.run.update_manifest(
        run=str(context.run.root),
        seed=context.config.seed,
        data=summary(data),
        versions=package_versions(),
        git_commit=git_commit(),
    )


def stage_train(context: Context) -> None:
    if context.should_skip("train"):
        return
    context.check_not_overwriting("train")
    start_run(context)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from digitedge.data import normalize, split_validation
    from digitedge.model import build_model
    from digitedge.modelio import save_keras_model
    from digitedge.train import make_deterministic, train_float
    from digitedge.training_report import write_training_report

    config, run, data = context.config, context.run, context.data
    x_train, y_train, x_val, y_val = split_validation(
        data.x_train, data.y_train, config.data.validation_size, config.seed)
    if config.train.train_subset:
        x_train, y_train = x_train[: config.train.train_subset], y_train[: config.train.train_subset]
    make_deterministic(config.seed)
    model = build_model(config.model)
    context.echo(f"[train] {model.name}: {model.count_params():,} parameters, "
                 f"{len(x_train):,} training / {len(x_val):,} validation images, up to {config.train.epochs} epochs")
    with stages.recording(run, "train", context.fingerprint("train")) as facts:
        result = train_float(model, normalize(x_train), y_train, normalize(x_val), y_val, config.train,
                             config.seed, checkpoint_dir=run.path("train", "checkpoint"),
                             tensorboard_dir=run.path("train", "tensorboard"))
        save_keras_model(result.model, run.path("train", "model.keras"))
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
    context.echo(f"[train] test accuracy {test_accuracy:.2%} (best epoch {result.best_epoch} of "
                 f"{len(result.metrics)}, {result.seconds:.0f} s) -> {run.path('train')}")


def load_float_model(run: RunDir):
    stages.require_done(run, "train", "run `digitedge train` first")
    from digitedge.modelio import load_keras_model

    return load_keras_model(run.path("train", "model.keras"))


def verify_run(root: str | Path) -> list[str]:
    run = RunDir(root)
    if not run.root.is_dir():
        raise DigitedgeError(f"run directory {run.root} does not exist")
    return run.verify()
