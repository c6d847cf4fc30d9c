"""Pruning-preserving QAT: quantization-aware fine-tuning that keeps the pruned zeros at zero.

Plain `quantize_model` on a pruned model lets the optimizer move the zeros again, so the
int8 model loses its sparsity; tfmot's prune-preserve scheme masks their updates.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import tensorflow_model_optimization as tfmot
import tf_keras as keras

from digitedge.config import OptimizeConfig
from digitedge.optimize.finetune import clone_with_weights, fine_tune


def train_pruned_qat(pruned_model: keras.Model, x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray,
                     y_val: np.ndarray, config: OptimizeConfig, seed: int,
                     batch_size: int = 128) -> tuple[keras.Model, pd.DataFrame]:
    """QAT copy of a pruned (stripped) model fine-tuned `config.prune_qat_epochs`, sparsity kept."""
    annotated = tfmot.quantization.keras.quantize_annotate_model(clone_with_weights(pruned_model))
    qat_model = tfmot.quantization.keras.quantize_apply(
        annotated, tfmot.experimental.combine.Default8BitPrunePreserveQuantizeScheme())
    metrics = fine_tune(qat_model, x_train, y_train, x_val, y_val, epochs=config.prune_qat_epochs,
                        learning_rate=config.learning_rate, batch_size=batch_size, seed=seed,
                        track_sparsity=True)
    return qat_model, metrics
