"""Structured pruning for the low-bit model: zeros a kernel can skip a group at a time, kept through 4-bit QAT.

"block" zeroes whole `prune_block` blocks of (filter taps x output channels), where a filter's taps
are its weights in TFLite's order (kernel row, column, input channel): the generated C skips an
all-zero block of 4 taps x 2 channels with one mask bit. tfmot's block_size works on 2-D kernels
only, so each pruned Conv2D is trained as a stand-in holding its kernel as that 2-D matrix, and put
back as a Conv2D afterwards. The convolutions hold 99 % of the MACs: a pattern that skipped only the
dense layer's zeros would make inference no faster.
"2:4" (tfmot's sparsity_m_by_n) zeroes 2 of every 4 consecutive input channels of each filter row.
"filters" removes whole filters instead (`digitedge.optimize.filters`).
"unstructured" is the magnitude pruning of `train_pruned`.
As there, layers under 2 % of the weights (the first convolution) stay dense.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import tensorflow as tf
import tensorflow_model_optimization as tfmot
import tf_keras as keras

from digitedge.config import ModelConfig, OptimizeConfig
from digitedge.optimize.filters import train_filter_pruned
from digitedge.optimize.finetune import KERNEL_NAMES, clone_with_weights, fine_tune, steps_per_epoch
from digitedge.optimize.lowbit import low_bit_recipe, train_low_bit_qat
from digitedge.optimize.prune import MAX_PRUNING_FREQUENCY, layer_sparsities, pruning_schedule

M_BY_N = (2, 4)


class FlatKernelConv2D(keras.layers.Layer, tfmot.sparsity.keras.PrunableLayer):
    """A stride-1 'valid' Conv2D whose kernel is the 2-D (taps, filters) matrix, for 2-D block pruning."""

    def __init__(self, filters: int, kernel_size: tuple[int, int], activation=None, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.kernel_size = filters, tuple(kernel_size)
        self.activation = keras.activations.get(activation)

    @classmethod
    def stands_in_for(cls, layer: keras.layers.Layer) -> bool:
        return type(layer) is keras.layers.Conv2D and layer.padding == "valid" and tuple(layer.strides) == (1, 1) \
            and tuple(layer.dilation_rate) == (1, 1) and layer.groups == 1 and layer.use_bias

    def build(self, input_shape):
        self.input_depth = int(input_shape[-1])
        taps = self.kernel_size[0] * self.kernel_size[1] * self.input_depth
        self.kernel = self.add_weight("kernel", shape=(taps, self.filters))
        self.bias = self.add_weight("bias", shape=(self.filters,), initializer="zeros")
        super().build(input_shape)

    def call(self, inputs):
        kernel = tf.reshape(self.kernel, (*self.kernel_size, self.input_depth, self.filters))
        return self.activation(tf.nn.conv2d(inputs, kernel, 1, "VALID") + self.bias)

    def get_prunable_weights(self):
        return [self.kernel]

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "activation": keras.activations.serialize(self.activation)}


def block_kernel_shapes(model: keras.Model, pruned: dict) -> dict[str, tuple[int, int]]:
    """(filter taps, output channels) of each layer in `pruned` that block pruning reaches."""
    return {layer.name: (int(np.prod(layer.kernel.shape[:-1])), int(layer.kernel.shape[-1]))
            for layer in model.layers if layer.name in pruned
            and (type(layer) is keras.layers.Dense or FlatKernelConv2D.stands_in_for(layer))}


def _prune_arguments(layer: keras.layers.Layer, config: OptimizeConfig, sparsity: float, num_images: int,
                     batch_size: int) -> dict:
    """prune_low_magnitude's keyword arguments for `layer` under config.prune_structure."""
    if config.prune_structure == "2:4":  # the pattern fixes the sparsity; the schedule only times mask updates
        frequency = max(1, min(MAX_PRUNING_FREQUENCY, steps_per_epoch(num_images, batch_size) // 2))
        return {"sparsity_m_by_n": M_BY_N,
                "pruning_schedule": tfmot.sparsity.keras.ConstantSparsity(0.5, begin_step=0, frequency=frequency)}
    arguments = {"pruning_schedule": pruning_schedule(num_images, batch_size, config.prune_epochs, sparsity)}
    if config.prune_structure == "block" and isinstance(layer, (FlatKernelConv2D, keras.layers.Dense)):
        arguments["block_size"] = tuple(config.prune_block)
    return arguments


def train_structured_pruned(model: keras.Model, x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray,
                            y_val: np.ndarray, config: OptimizeConfig, seed: int,
                            batch_size: int = 128) -> tuple[keras.Model, pd.DataFrame]:
    """Pruned copy of `model` with config.prune_structure zeros ("2:4", or "block" at config.block_sparsity),
    wrappers stripped."""
    copy = clone_with_weights(model)
    sparsities = layer_sparsities(copy, config.block_sparsity)
    flat = {layer.name: FlatKernelConv2D(layer.filters, layer.kernel_size, layer.activation, name=layer.name)
            for layer in copy.layers if layer.name in sparsities and config.prune_structure == "block"
            and FlatKernelConv2D.stands_in_for(layer)}

    def wrap(layer):
        if layer.name not in sparsities:
            return layer
        layer = flat.get(layer.name, layer)
        return tfmot.sparsity.keras.prune_low_magnitude(
            layer, **_prune_arguments(layer, config, sparsities[layer.name], len(x_train), batch_size))

    wrapped = keras.models.clone_model(copy, clone_function=wrap)
    for name, stand_in in flat.items():
        kernel, bias = copy.get_layer(name).get_weights()
        stand_in.set_weights([kernel.reshape(-1, kernel.shape[-1]), bias])
    metrics = fine_tune(wrapped, x_train, y_train, x_val, y_val, epochs=config.prune_epochs,
                        learning_rate=config.prune_learning_rate, batch_size=batch_size, seed=seed,
                        callbacks=(tfmot.sparsity.keras.UpdatePruningStep(),), track_sparsity=True)
    for name, stand_in in flat.items():  # back to the Conv2D the rest of the pipeline knows, same weights
        kernel, bias = stand_in.get_weights()
        copy.get_layer(name).set_weights([kernel.reshape(copy.get_layer(name).kernel.shape), bias])
    return copy, metrics  # its other layers are the ones that were wrapped and trained


class KeepZeros(keras.callbacks.Callback):
    """Puts the pruned weights back to zero after every training step, so QAT keeps the sparsity pattern.

    tfmot's prune-preserving QAT scheme is 8-bit only; this does the same for any bit width."""

    def on_train_begin(self, logs=None):
        self.masks = [(weight, weight.numpy() != 0) for weight in self.model.weights
                      if weight.name.split("/")[-1].split(":")[0] in KERNEL_NAMES]

    def on_train_batch_end(self, batch, logs=None):
        for weight, mask in self.masks:
            weight.assign(weight * mask)


def train_structured_for_low_bit(model: keras.Model, x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray,
                                 y_val: np.ndarray, config: OptimizeConfig, model_config: ModelConfig, seed: int,
                                 batch_size: int = 128) -> tuple[keras.Model, pd.DataFrame]:
    """pruned_int4_qat's pruning by config.prune_structure: zeros in blocks or 2:4, or filters removed."""
    if config.prune_structure == "filters":
        return train_filter_pruned(model, x_train, y_train, x_val, y_val, config, model_config, seed,
                                   batch_size=batch_size, shift_pixels=config.low_bit_shift_pixels)
    return train_structured_pruned(model, x_train, y_train, x_val, y_val, config, seed, batch_size=batch_size)


def train_pruned_low_bit_qat(pruned_model: keras.Model, layer_bits: list[int], x_train: np.ndarray,
                             y_train: np.ndarray, x_val: np.ndarray, y_val: np.ndarray, config: OptimizeConfig,
                             seed: int, batch_size: int = 128) -> tuple[keras.Model, pd.DataFrame]:
    """Low-bit QAT copy of a pruned (stripped) model by the low-bit recipe, its zeros kept (a model
    narrowed by filter removal has none to keep)."""
    return train_low_bit_qat(pruned_model, layer_bits, x_train, y_train, x_val, y_val, seed=seed,
                             batch_size=batch_size, **low_bit_recipe(config),
                             callbacks=() if config.prune_structure == "filters" else (KeepZeros(),))
