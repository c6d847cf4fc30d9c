"""Low-bit quantization-aware training: 4- and 2-bit weights (one bit width per conv/dense layer),
int8 activations, with tfmot's experimental n-bit scheme.

Each 8- or 4-bit layer is annotated with the n-bit registry's own QuantizeConfig for its bit width
(per-channel symmetric narrow-range weights for convolutions, per-tensor for dense layers: with a
per-channel 4-bit dense layer the converter fails, "'tfl.transpose' op has mismatched quantized axes"),
so one model can mix bit widths. TFLite has no 2-bit type, and the converter fails on tfmot's 2-bit fake
quantization (a nonzero filter zero point); a 2-bit layer is therefore clipped to one quantization
step either side of zero and fake-quantized at 4 bits: the converter stores it as INT4 whose values
lie in [-1, 1] (narrow-range 2-bit), which TFLite Micro runs like any INT4 filter.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import tensorflow as tf
import tensorflow_model_optimization as tfmot
import tf_keras as keras
from tensorflow_model_optimization.python.core.quantization.keras.experimental.default_n_bit import (
    default_n_bit_quantize_configs as n_bit_configs, default_n_bit_quantize_registry as n_bit_registry,
    default_n_bit_quantize_scheme as n_bit_scheme, default_n_bit_quantizers as n_bit_quantizers)

from digitedge.config import OptimizeConfig
from digitedge.optimize.finetune import fine_tune, steps_per_epoch

ACTIVATION_BITS = 8
WEIGHTED_LAYERS = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.Dense)
STORAGE_BITS = 4  # what the converter packs sub-8-bit weights into
TERNARY_SCALE = 1.4  # 2-bit step / mean |weight|: rounds weights under 0.7 mean |w| to zero (ternary-weight networks)


class TwoBitWeightsQuantizer(tfmot.quantization.keras.quantizers.Quantizer):
    """Weights at -step, 0 or +step (step from the mean magnitude, per output channel or per tensor),
    expressed as a 4-bit fake quantization the converter turns into INT4 values in [-1, 1]."""

    def __init__(self, per_axis: bool):
        self.per_axis = per_axis

    def build(self, tensor_shape, name, layer):
        shape = (tensor_shape[-1],) if self.per_axis else ()
        return {"step": layer.add_weight(f"{name}_step", shape=shape, initializer=keras.initializers.Constant(1.0),
                                         trainable=False)}

    def __call__(self, inputs, training, weights, **kwargs):
        step = weights["step"]
        if training:  # like tfmot's LastValueQuantizer: the range follows the weights while training
            axes = list(range(len(inputs.shape) - 1)) if self.per_axis else None
            step = weights["step"].assign(TERNARY_SCALE * tf.reduce_mean(tf.abs(inputs), axis=axes) + 1e-8)
        levels = 2 ** (STORAGE_BITS - 1) - 1  # 7: the narrow 4-bit range whose step is `step`
        clipped = tf.clip_by_value(inputs, -step, step)
        if self.per_axis:
            return tf.quantization.fake_quant_with_min_max_vars_per_channel(
                clipped, -levels * step, levels * step, num_bits=STORAGE_BITS, narrow_range=True)
        return tf.quantization.fake_quant_with_min_max_vars(clipped, -levels * step, levels * step,
                                                            num_bits=STORAGE_BITS, narrow_range=True)

    def get_config(self):
        return {"per_axis": self.per_axis}

    def __eq__(self, other):
        return isinstance(other, TwoBitWeightsQuantizer) and self.per_axis == other.per_axis


class TwoBitQuantizeConfig(n_bit_registry.DefaultNBitQuantizeConfig):
    """The n-bit config of a conv/dense layer with its weights quantized by TwoBitWeightsQuantizer."""

    def __init__(self, weight_attrs, activation_attrs, quantize_output, per_axis: bool):
        super().__init__(weight_attrs, activation_attrs, quantize_output, num_bits_weight=2,
                         num_bits_activation=ACTIVATION_BITS)
        self.per_axis = per_axis
        self.weight_quantizer = TwoBitWeightsQuantizer(per_axis)

    def get_config(self):
        return {"weight_attrs": self.weight_attrs, "activation_attrs": self.activation_attrs,
                "quantize_output": self.quantize_output, "per_axis": self.per_axis}


def layer_quantize_config(layer: keras.layers.Layer, bits: int):
    """The QuantizeConfig of one conv/dense layer whose weights have `bits` bits."""
    registry = n_bit_registry.DefaultNBitQuantizeRegistry(num_bits_weight=max(bits, STORAGE_BITS),
                                                          num_bits_activation=ACTIVATION_BITS)
    config = registry.get_quantize_config(layer)
    if bits != 2:
        return config
    return TwoBitQuantizeConfig(config.weight_attrs, config.activation_attrs, config.quantize_output,
                                per_axis=not isinstance(layer, keras.layers.Dense))


def weighted_layer_names(model: keras.Model) -> list[str]:
    """The conv/dense layers in model order: what optimize.layer_bits lists one entry for."""
    return [layer.name for layer in model.layers if isinstance(layer, WEIGHTED_LAYERS)]


def int4_layer_bits(layer_count: int) -> list[int]:
    """int4_qat's bits: every conv/dense layer 4-bit.

    The first convolution (90 weights) stays 4-bit too: keeping it 8-bit did not help on validation
    (default model, 2 QAT epochs at 1e-4: 99.26 % with it 8-bit, 99.32 % all 4-bit, on TFLite Micro);
    neither did an 8-bit dense layer (99.22 %)."""
    return [4] * layer_count


def mixed_layer_bits(layer_bits: list[int], layer_count: int) -> list[int]:
    """mixed_qat's bits: optimize.layer_bits, or when empty the first layer 8-bit, the last 2-bit, the rest 4-bit."""
    if layer_bits:
        return list(layer_bits)
    return [8] + [4] * (layer_count - 2) + [2] if layer_count >= 2 else [8]


def n_bit_objects() -> dict:
    """The n-bit scheme's configs and quantizers by name, for loading a saved low-bit QAT model."""
    classes = (n_bit_registry.DefaultNBitQuantizeConfig, n_bit_registry.DefaultNBitConvQuantizeConfig,
               n_bit_registry.DefaultNBitActivationQuantizeConfig, n_bit_configs.DefaultNBitOutputQuantizeConfig,
               n_bit_configs.NoOpQuantizeConfig, n_bit_quantizers.DefaultNBitConvWeightsQuantizer,
               TwoBitWeightsQuantizer, TwoBitQuantizeConfig)
    return {cls.__name__: cls for cls in classes}


def quantize_low_bit(model: keras.Model, layer_bits: list[int]) -> keras.Model:
    """A fake-quantized copy of `model` with layer i's weights at layer_bits[i] bits and int8 activations."""
    names = weighted_layer_names(model)
    if len(layer_bits) != len(names):
        raise ValueError(f"{len(layer_bits)} bit widths for {len(names)} conv/dense layers {names}")
    bits_of = dict(zip(names, layer_bits))

    def annotate(layer):  # a fresh layer (clone_model would otherwise share the caller's), annotated
        fresh = layer.__class__.from_config(layer.get_config())
        if layer.name not in bits_of:
            return tfmot.quantization.keras.quantize_annotate_layer(fresh)
        config = layer_quantize_config(fresh, bits_of[layer.name])
        return tfmot.quantization.keras.quantize_annotate_layer(fresh, config)

    annotated = keras.models.clone_model(model, clone_function=annotate)
    annotated.set_weights(model.get_weights())
    scheme = n_bit_scheme.DefaultNBitQuantizeScheme(num_bits_weight=max(min(layer_bits), STORAGE_BITS),
                                                    num_bits_activation=ACTIVATION_BITS)
    with tfmot.quantization.keras.quantize_scope(n_bit_objects()):
        return tfmot.quantization.keras.quantize_apply(annotated, scheme)


def low_bit_learning_rate(learning_rate: float, schedule: str, steps: int):
    """Adam's learning rate for low-bit QAT: constant, or cosine decay from `learning_rate` to 0 over `steps`.

    A large step first lets weights cross 4-bit rounding boundaries; the decay then settles them."""
    if schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(learning_rate, steps)
    return learning_rate


def low_bit_recipe(config: OptimizeConfig) -> dict:
    """train_low_bit_qat's schedule arguments from the config: every low-bit model trains the same way."""
    return {"epochs": config.low_bit_epochs, "learning_rate": config.low_bit_learning_rate,
            "schedule": config.low_bit_schedule, "shift_pixels": config.low_bit_shift_pixels}


def train_low_bit_qat(model: keras.Model, layer_bits: list[int], x_train: np.ndarray, y_train: np.ndarray,
                      x_val: np.ndarray, y_val: np.ndarray, *, epochs: int, learning_rate: float, seed: int,
                      schedule: str = "constant", batch_size: int = 128, shift_pixels: int = 0,
                      callbacks: tuple = ()) -> tuple[keras.Model, pd.DataFrame]:
    """QAT copy of `model` at `layer_bits` fine-tuned `epochs` (learning rate by `schedule`, images shifted
    by up to `shift_pixels`); `model` is untouched."""
    qat_model = quantize_low_bit(model, layer_bits)
    rate = low_bit_learning_rate(learning_rate, schedule, epochs * steps_per_epoch(len(x_train), batch_size))
    metrics = fine_tune(qat_model, x_train, y_train, x_val, y_val, epochs=epochs, learning_rate=rate,
                        batch_size=batch_size, seed=seed, callbacks=callbacks, shift_pixels=shift_pixels)
    return qat_model, metrics
