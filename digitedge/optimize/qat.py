"""Quantization-aware training: fake-quantize the float model, then fine-tune at a low rate.

tfmot fake-quantizes weights and activations where the converter's fused int8 operators
will round them, so fine-tuning learns weights that survive the rounding on the device.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import tensorflow_model_optimization as tfmot
import tf_keras as keras

from digitedge.config import OptimizeConfig
from digitedge.optimize.finetune import clone_with_weights, fine_tune


def train_qat(model: keras.Model, x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray,
              y_val: np.ndarray, config: OptimizeConfig, seed: int,
              batch_size: int = 128) -> tuple[keras.Model, pd.DataFrame]:
    """QAT copy of `model` fine-tuned `config.qat_epochs` at `config.learning_rate`; `model` is untouched."""
    qat_model = tfmot.quantization.keras.quantize_model(clone_with_weights(model))
    metrics = fine_tune(qat_model, x_train, y_train, x_val, y_val, epochs=config.qat_epochs,
                        learning_rate=config.learning_rate, batch_size=batch_size, seed=seed)
    return qat_model, metrics
