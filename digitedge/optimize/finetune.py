"""The fine-tuning loop shared by every technique: seeded, plain model.fit, one row per epoch.

Fine-tuning starts from a trained model, so there is no early stopping: the techniques need their
fixed number of steps (the pruning schedule is laid out on them). Augmentation is off unless asked
for: the low-bit QAT and filter removal's retraining take the float training's random shifts
(optimize.low_bit_shift_pixels).
"""

from __future__ import annotations

import math
import time

import numpy as np
import pandas as pd
import tf_keras as keras

from digitedge.config import TrainConfig
from digitedge.train import make_dataset

KERNEL_NAMES = ("kernel", "depthwise_kernel")  # the variables pruning zeroes
METRIC_COLUMNS = ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "learning_rate", "seconds"]


def clone_with_weights(model: keras.Model) -> keras.Model:
    """A copy that shares no layer with `model` (tfmot's wrappers would otherwise train the caller's layers)."""
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    return copy


def steps_per_epoch(num_images: int, batch_size: int) -> int:
    return math.ceil(num_images / batch_size)


def kernel_sparsity(model: keras.Model) -> float:
    """Fraction of zeros over all Conv2D/DepthwiseConv2D/Dense kernels, tfmot wrappers included."""
    kernels = [w.numpy() for w in model.weights if w.name.split("/")[-1].split(":")[0] in KERNEL_NAMES]
    total = sum(k.size for k in kernels)
    return sum(int(np.count_nonzero(k == 0)) for k in kernels) / total if total else 0.0


class _EpochLog(keras.callbacks.Callback):
    """One row per epoch: Keras' logs plus the learning rate in force and wall-clock seconds."""

    def __init__(self, track_sparsity: bool):
        super().__init__()
        self.track_sparsity = track_sparsity
        self.rows: list[dict] = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        lr = self.model.optimizer.learning_rate
        if isinstance(lr, keras.optimizers.schedules.LearningRateSchedule):
            lr = lr(self.model.optimizer.iterations)
        row = {"epoch": epoch + 1, **{k: float(v) for k, v in (logs or {}).items()},
               "learning_rate": float(keras.backend.get_value(lr)), "seconds": time.perf_counter() - self._start}
        if self.track_sparsity:
            row["sparsity"] = kernel_sparsity(self.model)
        self.rows.append(row)


def fine_tune(model: keras.Model, x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray,
              y_val: np.ndarray, *, epochs: int, learning_rate: float, batch_size: int, seed: int,
              callbacks: tuple = (), track_sparsity: bool = False, shift_pixels: int = 0) -> pd.DataFrame:
    """Compile `model` with Adam and fit it in place (each training image shifted by up to
    `shift_pixels`, as in the float training); return the per-epoch metrics."""
    keras.utils.set_random_seed(seed)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    log = _EpochLog(track_sparsity)
    validation = (np.asarray(x_val, np.float32), np.asarray(y_val))
    if shift_pixels > 0:
        shifting = TrainConfig(batch_size=batch_size, augment=True, max_shift_pixels=shift_pixels)
        dataset, steps = make_dataset(np.asarray(x_train, np.float32), np.asarray(y_train), shifting, seed, True)
        model.fit(dataset, steps_per_epoch=steps, epochs=epochs, validation_data=validation,
                  callbacks=[*callbacks, log], verbose=0)
    else:
        model.fit(np.asarray(x_train, np.float32), np.asarray(y_train), batch_size=batch_size, epochs=epochs,
                  validation_data=validation, shuffle=True, callbacks=[*callbacks, log], verbose=0)
    columns = METRIC_COLUMNS + (["sparsity"] if track_sparsity else [])
    return pd.DataFrame(log.rows)[columns]
