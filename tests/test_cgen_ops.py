"""The generated C against TFLite Micro, one operator at a time, on random single-layer int8 models.

Each model has random int8 weights, per-channel or per-tensor scales and random zero points; each
is run on random int8 inputs by TFLM's Python interpreter and by the generated C compiled with gcc
(-std=c99 -pedantic -Werror). Every output byte must be equal.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from digitedge.cgen import run_on_host, tflm_outputs
from digitedge.cgen.layers import Pool, parse_model
from digitedge.cgen.plan import pool_in_place_safe
from digitedge.cgen.quantization import activation_range, quantize_multiplier, tflite_round
from cgen_fixtures import (compact_int8, conv_model, fully_connected_model, pool_model, random_inputs,
                                softmax_model)

CASES = {
    "conv_valid_per_channel": lambda: conv_model(1),
    "conv_same_stride2_relu6": lambda: conv_model(2, padding="SAME", stride=(2, 2), activation="RELU6"),
    "conv_dilation2_relu_per_tensor_no_bias": lambda: conv_model(3, dilation=(2, 2), activation="RELU",
                                                                 per_channel=False, bias=False),
    "conv_1x1_multiplier_above_one": lambda: conv_model(4, kernel=(1, 1), boost=200.0),
    "conv_same_5x5_stride2x1": lambda: conv_model(15, in_shape=(8, 7, 2), kernel=(5, 5), stride=(2, 1),
                                                  padding="SAME", filters=4),
    "depthwise_multiplier2_same_relu6": lambda: conv_model(5, depthwise=True, depth_multiplier=2, padding="SAME",
                                                           activation="RELU6"),
    "depthwise_same_stride2": lambda: conv_model(6, depthwise=True, stride=(2, 2), padding="SAME"),
    "max_pool_same_3x3_stride2_relu6": lambda: pool_model(7, padding="SAME", window=(3, 3), stride=(2, 2),
                                                          activation="RELU6"),
    "max_pool_valid": lambda: pool_model(16),
    "average_pool_same_3x3_stride2": lambda: pool_model(8, kind="AVERAGE_POOL_2D", padding="SAME",
                                                        window=(3, 3), stride=(2, 2)),
    "average_pool_valid": lambda: pool_model(9, kind="AVERAGE_POOL_2D"),
    "reshape_fully_connected_per_tensor": lambda: fully_connected_model(10),
    "fully_connected_per_channel_relu_softmax": lambda: fully_connected_model(11, per_channel=True,
                                                                              activation="RELU", softmax_beta=1.0),
    "fully_connected_no_bias": lambda: fully_connected_model(12, in_shape=(1, 20), bias=False),
    "fully_connected_filter_zero_point": lambda: fully_connected_model(17, in_shape=(1, 20), filter_zero_point=5),
    "softmax_beta_half": lambda: softmax_model(13, beta=0.5),
    "softmax_coarse_input_scale": lambda: softmax_model(14, input_scale=0.5),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_single_operator_matches_tflite_micro(case):
    tflite_bytes = CASES[case]()
    model_inputs = random_inputs(tflite_bytes, 64, seed=1)
    expected = tflm_outputs(tflite_bytes, model_inputs)
    assert len(np.unique(expected)) > 8, "degenerate test model: outputs barely vary"
    actual = run_on_host(tflite_bytes, model_inputs)
    differing = np.flatnonzero(np.any(actual != expected, axis=1))
    assert differing.size == 0, f"{case}: {differing.size} of {len(expected)} outputs differ, first {differing[:5]}"


def test_every_operator_is_covered():
    covered = {layer.op for build in CASES.values() for layer in parse_model(build()).layers}
    assert covered == {"CONV_2D", "DEPTHWISE_CONV_2D", "MAX_POOL_2D", "AVERAGE_POOL_2D", "FULLY_CONNECTED",
                       "RESHAPE", "SOFTMAX"}


@pytest.mark.parametrize("real", [0.75, 1e-3, 3.2e-6, 1.5, 37.0, 0.5, 1 - 2 ** -40])
def test_quantize_multiplier_is_a_q31_significand_and_exponent(real):
    multiplier, shift = quantize_multiplier(real)
    assert 1 << 30 <= multiplier < 1 << 31
    assert math.isclose(multiplier * 2.0 ** (shift - 31), real, rel_tol=2 ** -30)


def test_quantize_multiplier_edge_cases():
    assert quantize_multiplier(0.0) == (0, 0)
    assert quantize_multiplier(2 ** -40) == (0, 0)  # below 2^-31 TFLM flushes to zero
    assert quantize_multiplier(1 - 2 ** -40) == (1 << 30, 1)  # rounds up to 2^31: halved, shift + 1


def test_tflite_round_goes_away_from_zero_on_halves():
    assert [tflite_round(v) for v in (2.5, -2.5, 0.5, -0.5, 1.4999, 0.49999999999999994)] == [3, -3, 1, -1, 1, 0]


def test_activation_range_quantizes_relu6_bounds():
    low, high = activation_range(3, 6 / 200, -100)  # 6.0 is exactly 200 steps above the zero point
    assert (low, high) == (-100, 100)
    assert activation_range(1, 0.1, -5) == (-5, 127)  # RELU: only the lower bound
    assert activation_range(0, 0.1, -5) == (-128, 127)


def test_pooling_writes_in_place_only_when_every_output_precedes_its_inputs():
    layers = [layer for layer in parse_model(compact_int8()).layers if isinstance(layer, Pool)]
    assert all(pool_in_place_safe(layer) for layer in layers)
    trailing = parse_model(pool_model(3, in_shape=(4, 4, 2), window=(2, 2), stride=(1, 1), padding="SAME"))
    assert pool_in_place_safe(trailing.layers[0])  # SAME pads only after: each output reads itself onwards
    leading = parse_model(pool_model(3, in_shape=(4, 4, 2), window=(3, 3), stride=(1, 1), padding="SAME"))
    assert not pool_in_place_safe(leading.layers[0])  # output (0, 1) reads input (0, 0), overwritten by output 0
