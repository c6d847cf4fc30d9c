"""Structured pruning for the low-bit model: zeros a kernel can skip a group at a time, kept through 4-bit QAT.

"2:4" (tfmot's sparsity_m_by_n) zeroes 2 of every 4 consecutive input channels of each filter row
(TFLite's layout), in convolutions and dense layers alike: the convolutions hold 99 % of the MACs,
so only a pattern that reaches them can make inference faster. "block" zeroes whole
`prune_block` blocks of the dense kernels (tfmot's block_size works on 2-D kernels only; the
convolutions are pruned weight by weight). "unstructured" is the magnitude pruning of `train_pruned`.
As there, layers under 2 % of the weights (the first convolution) stay dense.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import tensorflow_model_optimization as tfmot
import tf_keras as keras

from digitedge.config import OptimizeConfig
from digitedge.optimize.finetune import KERNEL_NAMES, clone_with_weights, fine_tune, steps_per_epoch
from digitedge.optimize.lowbit import train_low_bit_qat
from digitedge.optimize.prune import MAX_PRUNING_FREQUENCY, layer_sparsities, pruning_schedule

M_BY_N = (2, 4)


def _prune_arguments(layer: keras.layers.Layer, config: OptimizeConfig, sparsity: float, num_images: int,
                     batch_size: int) -> dict:
    """prune_low_magnitude's keyword arguments for `layer` under config.prune_structure."""
    if config.prune_structure == "2:4":  # the pattern fixes the sparsity; the schedule only times mask updates
        frequency = max(1, min(MAX_PRUNING_FREQUENCY, steps_per_epoch(num_images, batch_size) // 2))
        return {"sparsity_m_by_n": M_BY_N,
                "pruning_schedule": tfmot.sparsity.keras.ConstantSparsity(0.5, begin_step=0, frequency=frequency)}
    arguments = {"pruning_schedule": pruning_schedule(num_images, batch_size, config.prune_epochs, sparsity)}
    if config.prune_structure == "block" and len(layer.kernel.shape) == 2:
        arguments["block_size"] = tuple(config.prune_block)
    return arguments


def train_structured_pruned(model: keras.Model, x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray,
                            y_val: np.ndarray, config: OptimizeConfig, seed: int,
                            batch_size: int = 128) -> tuple[keras.Model, pd.DataFrame]:
    """Pruned copy of `model` with config.prune_structure zeros ("2:4" or "block"), wrappers stripped."""
    copy = clone_with_weights(model)
    sparsities = layer_sparsities(copy, config.target_sparsity)

    def wrap(layer):
        if layer.name not in sparsities:
            return layer
        return tfmot.sparsity.keras.prune_low_magnitude(
            layer, **_prune_arguments(layer, config, sparsities[layer.name], len(x_train), batch_size))

    wrapped = keras.models.clone_model(copy, clone_function=wrap)
    metrics = fine_tune(wrapped, x_train, y_train, x_val, y_val, epochs=config.prune_epochs,
                        learning_rate=config.prune_learning_rate, batch_size=batch_size, seed=seed,
                        callbacks=(tfmot.sparsity.keras.UpdatePruningStep(),), track_sparsity=True)
    return tfmot.sparsity.keras.strip_pruning(wrapped), metrics


class KeepZeros(keras.callbacks.Callback):
    """Puts the pruned weights back to zero after every training step, so QAT keeps the sparsity pattern.

    tfmot's prune-preserving QAT scheme is 8-bit only; this does the same for any bit width."""

    def on_train_begin(self, logs=None):
        self.masks = [(weight, weight.numpy() != 0) for weight in self.model.weights
                      if weight.name.split("/")[-1].split(":")[0] in KERNEL_NAMES]

    def on_train_batch_end(self, batch, logs=None):
        for weight, mask in self.masks:
            weight.assign(weight * mask)


def train_pruned_low_bit_qat(pruned_model: keras.Model, layer_bits: list[int], x_train: np.ndarray,
                             y_train: np.ndarray, x_val: np.ndarray, y_val: np.ndarray, config: OptimizeConfig,
                             seed: int, batch_size: int = 128) -> tuple[keras.Model, pd.DataFrame]:
    """Low-bit QAT copy of a pruned (stripped) model, fine-tuned config.low_bit_epochs with its zeros kept."""
    return train_low_bit_qat(pruned_model, layer_bits, x_train, y_train, x_val, y_val,
                             epochs=config.low_bit_epochs, learning_rate=config.low_bit_learning_rate, seed=seed,
                             batch_size=batch_size, callbacks=(KeepZeros(),))
