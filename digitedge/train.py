"""Float baseline training: Adam with a warm-up + cosine schedule, light augmentation,
early stopping on validation loss with the best weights kept, per-epoch metrics.

Determinism: a seed sets Python/NumPy/TF RNGs and TensorFlow's op determinism, and the
augmentation runs single-threaded on whole batches, so the same seed, data and machine
give the same metrics.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import tensorflow as tf
import tf_keras as keras

from digitedge.config import TrainConfig
from digitedge.rundir import atomic_path, write_text

METRIC_COLUMNS = ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "learning_rate", "seconds"]


def make_deterministic(seed: int) -> None:
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


@dataclass
class TrainResult:
    model: object  # the tf_keras model with the best validation weights
    metrics: pd.DataFrame  # METRIC_COLUMNS, one row per epoch
    seconds: float
    best_epoch: int


def _random_shift(max_shift: int, seed: int):
    """Shift each image by up to `max_shift` pixels (zero-padded), from a stateless seed per
    (position, epoch order), so parallel map threads cannot change the result."""

    def shift(index, example):
        image, label = example
        padded = tf.pad(image, [[max_shift, max_shift], [max_shift, max_shift], [0, 0]])
        cropped = tf.image.stateless_random_crop(padded, tf.shape(image), seed=tf.stack([seed, index]))
        return cropped, label

    return shift


def make_dataset(x, y, config: TrainConfig, seed: int, training: bool):
    """Batched tf.data pipeline; training images are shuffled and randomly shifted."""
    dataset = tf.data.Dataset.from_tensor_slices((x, y))
    if training:
        dataset = dataset.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
        if config.augment and config.max_shift_pixels > 0:
            # The counter runs across epochs, so every epoch draws new shifts; the repeat is endless
            # because Keras takes a fixed steps_per_epoch from it (a finite one runs out mid-epoch).
            dataset = dataset.repeat().enumerate().map(
                _random_shift(config.max_shift_pixels, seed), num_parallel_calls=tf.data.AUTOTUNE)
            steps = int(np.ceil(len(x) / config.batch_size))
            return dataset.batch(config.batch_size).prefetch(2), steps
    return dataset.batch(config.batch_size).prefetch(2), None


class EpochLog(keras.callbacks.Callback):
    """Records METRIC_COLUMNS per epoch; with `path`, keeps them on disk so a resumed run has them all."""

    def __init__(self, path: Path | None = None):
        super().__init__()
        self.path = path
        self.rows: list[dict] = []
        if path is not None and path.exists():
            self.rows = pd.read_csv(path).to_dict("records")

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        optimizer = self.model.optimizer
        rate = optimizer.learning_rate
        if callable(rate):
            rate = rate(optimizer.iterations)
        self.rows = [row for row in self.rows if row["epoch"] <= epoch]
        self.rows.append({
            "epoch": epoch + 1,
            **{key: float(logs[key]) for key in ("loss", "accuracy", "val_loss", "val_accuracy")},
            "learning_rate": float(rate),
            "seconds": round(time.perf_counter() - self.started, 3),
        })
        if self.path is not None:
            write_text(self.path, self.frame().to_csv(index=False))

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=METRIC_COLUMNS)


class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
    """EarlyStopping (best weights restored) whose state survives an interrupted run: the best
    weights so far are kept in `best_path`, the earlier scores come from the resumed epoch log."""

    def __init__(self, epoch_log: EpochLog, best_path: Path | None, **kwargs):
        super().__init__(restore_best_weights=True, **kwargs)
        self.resumed_rows = list(epoch_log.rows)
        self.best_path = best_path

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        if self.resumed_rows and self.best_path is not None and self.best_path.is_file():
            scores = np.array([row[self.monitor] for row in self.resumed_rows])
            best = int(np.argmax(scores) if self.monitor_op == np.greater else np.argmin(scores))
            self.best, self.best_epoch, self.wait = float(scores[best]), best, len(scores) - 1 - best
            with np.load(self.best_path) as saved:
                self.best_weights = [saved[f"w{i}"] for i in range(len(saved.files))]

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch, logs)
        if self.best_path is not None and self.best_epoch == epoch:  # a new best: keep it for a resume
            with atomic_path(self.best_path) as tmp:
                np.savez(tmp, **{f"w{i}": weights for i, weights in enumerate(self.best_weights)})


def learning_rate_schedule(config: TrainConfig, steps_per_epoch: int):
    total = steps_per_epoch * config.epochs
    warmup = min(steps_per_epoch, total // 4)
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=config.learning_rate * 0.1,
        decay_steps=max(total - warmup, 1),
        warmup_target=config.learning_rate,
        warmup_steps=warmup,
        alpha=0.01,
    )


def train_float(model, x_train, y_train, x_val, y_val, config: TrainConfig, seed: int,
                checkpoint_dir: Path | None = None, tensorboard_dir: Path | None = None,
                progress: bool = True, extra_callbacks: tuple = ()) -> TrainResult:
    """Train `model` in place on float images (N, 28, 28, 1); keep the best validation weights.

    `checkpoint_dir` holds per-epoch state (BackupAndRestore) so an interrupted run resumes
    from its last finished epoch, with the same early-stopping state and best weights.
    `extra_callbacks` run after ours each epoch (the search's pruner reads the epoch's val_accuracy).
    """
    train_data, steps_per_epoch = make_dataset(x_train, y_train, config, seed, training=True)
    val_data, _ = make_dataset(x_val, y_val, config, seed, training=False)
    steps = int(np.ceil(len(x_train) / config.batch_size))
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate_schedule(config, steps)),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    epoch_log = EpochLog(checkpoint_dir / "epochs.csv" if checkpoint_dir is not None else None)
    best_path = checkpoint_dir / "best_weights.npz" if checkpoint_dir is not None else None
    callbacks = [
        epoch_log,
        # val_loss, not val_accuracy: on 5,000 images accuracy moves in coarse, noisy steps
        ResumableEarlyStopping(epoch_log, best_path, monitor="val_loss", patience=config.patience),
    ]
    if checkpoint_dir is not None:
        callbacks.append(keras.callbacks.BackupAndRestore(str(checkpoint_dir)))
    if tensorboard_dir is not None:
        callbacks.append(keras.callbacks.TensorBoard(str(tensorboard_dir), profile_batch=0))
    callbacks.extend(extra_callbacks)
    started = time.perf_counter()
    model.fit(train_data, validation_data=val_data, epochs=config.epochs, steps_per_epoch=steps_per_epoch,
              callbacks=callbacks, verbose=2 if progress else 0)
    seconds = time.perf_counter() - started
    metrics = epoch_log.frame()
    best_epoch = int(metrics.loc[metrics["val_loss"].idxmin(), "epoch"]) if len(metrics) else 0
    return TrainResult(model, metrics, seconds, best_epoch)
