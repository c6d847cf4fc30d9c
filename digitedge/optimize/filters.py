"""Filter removal: a narrower copy of a compact model, keeping each convolution's strongest filters.

Zeros inside a filter still cost the generated C a test per block; a removed filter costs nothing, in
the .tflite, in TFLite Micro and in the C alike, and every kernel keeps its dense SIMD path. Each
convolution after the first loses `sparsity` of its filters, ranked by the L1 norm of their weights
(Li et al., "Pruning Filters for Efficient ConvNets", ICLR 2017), and the first one `first_sparsity`
(it has a few percent of the MACs, but one input channel: on the board it is the slowest layer per MAC,
and each of its filters is an input channel of the second). The layers reading a removed filter's
channel lose that input too; the survivors keep their trained weights, and the narrower model is then
fine-tuned.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import tf_keras as keras

from digitedge.config import ModelConfig, OptimizeConfig
from digitedge.model import build_compact
from digitedge.optimize.finetune import fine_tune, steps_per_epoch
from digitedge.optimize.lowbit import low_bit_learning_rate


def kept_filters(kernel: np.ndarray, sparsity: float) -> np.ndarray:
    """Indices (ascending) of the output channels of `kernel` (..., outputs) with the largest L1 norms,
    at least one, `sparsity` of them removed."""
    outputs = kernel.shape[-1]
    keep = max(1, outputs - int(round(outputs * sparsity)))
    norms = np.abs(kernel).reshape(-1, outputs).sum(axis=0)
    return np.sort(np.argsort(-norms, kind="stable")[:keep])


def _shares(model_config: ModelConfig, sparsity: float, first_sparsity: float) -> list[float]:
    return [first_sparsity] + [sparsity] * (len(model_config.filters) - 1)


def narrowed_widths(model_config: ModelConfig, sparsity: float, first_sparsity: float) -> list[int]:
    """The filter counts filter removal leaves: each convolution's, reduced by its share."""
    return [max(1, width - int(round(width * share)))
            for width, share in zip(model_config.filters, _shares(model_config, sparsity, first_sparsity))]


def narrow(model: keras.Model, model_config: ModelConfig, sparsity: float, first_sparsity: float) -> keras.Model:
    """A compact model with `first_sparsity` of the first convolution's filters and `sparsity` of every
    later one's removed, trained weights kept."""
    if model_config.arch != "compact":
        raise ValueError("filter removal needs the compact architecture")
    narrow_model = build_compact(dataclasses.replace(
        model_config, filters=narrowed_widths(model_config, sparsity, first_sparsity)))
    shares = _shares(model_config, sparsity, first_sparsity)
    channels = np.arange(model.input_shape[-1])  # the channels the current layer reads
    for index, separable in enumerate(model_config.separable, 1):
        if separable:  # the depthwise filter of each surviving channel, then the 1x1 mix
            kernel, bias = model.get_layer(f"conv{index}_dw").get_weights()
            narrow_model.get_layer(f"conv{index}_dw").set_weights([kernel[:, :, channels], bias[channels]])
        kernel, bias = model.get_layer(f"conv{index}").get_weights()
        kernel = kernel[:, :, channels]
        keep = kept_filters(kernel, shares[index - 1])
        narrow_model.get_layer(f"conv{index}").set_weights([kernel[..., keep], bias[keep]])
        channels = keep
    kernel, bias = model.get_layer("probs").get_weights()
    rows = np.arange(kernel.shape[0]).reshape(-1, model_config.filters[-1])[:, channels].reshape(-1)  # (h, w, c)
    narrow_model.get_layer("probs").set_weights([kernel[rows], bias])
    return narrow_model


def train_filter_pruned(model: keras.Model, x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray,
                        y_val: np.ndarray, config: OptimizeConfig, model_config: ModelConfig, seed: int,
                        batch_size: int = 128, shift_pixels: int = 0) -> tuple[keras.Model, pd.DataFrame]:
    """The narrowed model, fine-tuned config.prune_epochs at config.prune_learning_rate (cosine to 0)."""
    narrow_model = narrow(model, model_config, config.filter_sparsity, config.first_filter_sparsity)
    rate = low_bit_learning_rate(config.prune_learning_rate, "cosine",
                                 config.prune_epochs * steps_per_epoch(len(x_train), batch_size))
    metrics = fine_tune(narrow_model, x_train, y_train, x_val, y_val, epochs=config.prune_epochs,
                        learning_rate=rate, batch_size=batch_size, seed=seed, shift_pixels=shift_pixels)
    return narrow_model, metrics
