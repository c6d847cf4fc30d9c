"""Packed 4- and 2-bit weights in the generated C against TFLite Micro, on every path.

Each case is a single-operator model of cgen_fixtures whose conv / dense filter became a TFLite
INT4 tensor (lowbit_fixtures): 4-bit values with both extremes -8 and 7, or 2-bit values ([-2, 1])
that the generator packs four per byte. Shapes cover odd tap counts (a nibble or crumb alone at the
end of a row), tails of the DSP and MVE blocks, and channel counts that are not multiples of 2, 4 or 16.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

from digitedge.cgen import run_on_host, tflm_outputs
from digitedge.cgen.layers import parse_model
from digitedge.cgen.layouts import INPUT_ORDER, block_sparse_s4
from digitedge.cgen.lower import lower
from digitedge.tflite_model import pack_int4, read_tflite, unpack_int4
from arm_toolchain import needs_arm_toolchain
from cgen_cross import run_cases_on_board
from lowbit_fixtures import low_bit, qat_int4, with_layer_bits
from cgen_fixtures import (assert_board_matches_tflite_micro, assert_host_matches_tflite_micro, case_with_oracle,
                           conv_model, fully_connected_model, random_inputs)

CASES = {
    # 27 taps (odd: the last byte of each row holds one nibble), 5 channels, input zero point -128
    "s4_conv_27_taps_5ch": lambda: low_bit(conv_model(41, in_shape=(7, 8, 3), filters=5, input_zero_point=-128), 4, 1),
    # 45 taps: a DSP block tail of one group of four plus one tap; 7 channels; SAME, stride 2, RELU6
    "s4_conv_same_stride2_45_taps_7ch_relu6": lambda: low_bit(conv_model(42, in_shape=(6, 7, 5), filters=7,
                                                                         padding="SAME", stride=(2, 2),
                                                                         activation="RELU6"), 4, 2),
    "s4_conv_1x1_17_taps_per_tensor": lambda: low_bit(conv_model(43, in_shape=(5, 5, 17), filters=3, kernel=(1, 1),
                                                                 per_channel=False), 4, 3),
    # fused pools: 144 taps (whole blocks), and a one-channel 9-tap conv like the first layer of the CNN
    "s4_conv_pool2x2_144_taps_6ch": lambda: low_bit(conv_model(44, in_shape=(8, 8, 16), filters=6, activation="RELU",
                                                               pool=dict(window=(2, 2))), 4, 4),
    "s4_conv_pool2x2_one_channel_10ch": lambda: low_bit(conv_model(45, in_shape=(9, 10, 1), filters=10,
                                                                   pool=dict(window=(2, 2))), 4, 5),
    "s4_conv_pool3x3_same_odd_edges_9ch": lambda: low_bit(conv_model(46, in_shape=(7, 7, 3), filters=9,
                                                                     padding="SAME", pool=dict(window=(3, 3),
                                                                                               padding="SAME")), 4, 6),
    "s2_conv_27_taps_5ch": lambda: low_bit(conv_model(47, in_shape=(7, 8, 3), filters=5), 2, 7),
    # 35 taps: three crumbs in the last byte; 45 taps: one; 144: whole 16-tap DSP blocks
    "s2_conv_1x5_35_taps_3ch": lambda: low_bit(conv_model(48, in_shape=(6, 9, 7), filters=3, kernel=(1, 5)), 2, 8),
    "s2_conv_same_45_taps_7ch_relu": lambda: low_bit(conv_model(49, in_shape=(6, 7, 5), filters=7, padding="SAME",
                                                                activation="RELU"), 2, 9),
    "s2_conv_pool2x2_144_taps_6ch": lambda: low_bit(conv_model(50, in_shape=(8, 8, 16), filters=6,
                                                               pool=dict(window=(2, 2))), 2, 10),
    # TFLite Micro's FULLY_CONNECTED takes INT4 filters per-tensor only
    "s4_fully_connected_72_deep_7_units": lambda: low_bit(fully_connected_model(51), 4, 11),
    "s4_fully_connected_21_deep_9_units": lambda: low_bit(fully_connected_model(52, in_shape=(1, 21), units=9), 4, 12),
    "s4_fully_connected_37_deep_17_units_softmax": lambda: low_bit(fully_connected_model(
        53, in_shape=(1, 37), units=17, softmax_beta=1.0), 4, 13),
    "s2_fully_connected_63_deep_7_units": lambda: low_bit(fully_connected_model(54, in_shape=(1, 3, 3, 7)), 2, 14),
    "s2_fully_connected_50_deep_11_units_relu": lambda: low_bit(fully_connected_model(
        55, in_shape=(1, 50), units=11, activation="RELU"), 2, 15),
    # block-sparse 4-bit: 2 x 4 blocks zeroed; 7 channels (the last pair half empty), channels 2 and 3
    # (one whole pair: an all-zero block row) zero, 45 taps (a block past the last tap), fused pool
    "sparse_s4_conv_pool_zero_pair_7ch": lambda: low_bit(conv_model(61, in_shape=(6, 7, 5), filters=7,
                                                                    pool=dict(window=(2, 2))),
                                                         4, 21, 0.6, (2, 4), (2, 3)),
    # 36 taps on 9 channels at 80 %; one 1x1 conv deeper than 32 blocks (two mask words per pair)
    "sparse_s4_conv_same_stride2_9ch": lambda: low_bit(conv_model(63, in_shape=(7, 8, 4), filters=9,
                                                                  padding="SAME", stride=(2, 2)), 4, 23, 0.8, (2, 4)),
    "sparse_s4_conv_1x1_150_taps": lambda: low_bit(conv_model(64, in_shape=(4, 4, 150), filters=4, kernel=(1, 1)),
                                                   4, 24, 0.5, (2, 4)),
    # 37 deep: the last block holds one tap; 9 units
    "sparse_s4_fully_connected_37_deep_9_units": lambda: low_bit(fully_connected_model(62, in_shape=(1, 37), units=9),
                                                                 4, 22, 0.7, (2, 4)),
    # a few zeros only: the block-sparse form would be larger, the packed one is kept
    "s4_conv_barely_pruned_stays_packed": lambda: low_bit(conv_model(65, in_shape=(6, 6, 4), filters=5), 4, 25,
                                                          0.02, (2, 4)),
}


@functools.lru_cache(maxsize=None)
def _case(name: str) -> tuple[bytes, np.ndarray, np.ndarray]:
    return case_with_oracle(CASES[name]())


@pytest.mark.parametrize("name", sorted(CASES))
def test_plain_path_on_the_host_matches_tflite_micro(name):
    assert_host_matches_tflite_micro(name, _case(name))


@needs_arm_toolchain
@pytest.mark.parametrize("board_name", ["m0", "m3", "m4", "m7", "m33", "m55"])
def test_every_case_matches_tflite_micro_on_the_core(board_name, tmp_path):
    assert_board_matches_tflite_micro(board_name, {name: _case(name) for name in CASES}, tmp_path)


@needs_arm_toolchain
@pytest.mark.parametrize("bits", [4, 2])
def test_a_deep_row_of_extremes_on_extreme_inputs_does_not_overflow_the_scaled_sums(bits, tmp_path):
    """600 taps of the lowest weight against inputs all -128: 600 * 2^22, past int32 at the DSP path's
    2^(16 - bits) scale, unless the sums are shifted back every 256 taps."""
    tflite_bytes = low_bit(conv_model(66, in_shape=(2, 2, 600), filters=3, kernel=(1, 1)), bits, 26,
                           extreme_rows=(0,))
    model_inputs = random_inputs(tflite_bytes, 6, seed=4)
    model_inputs[0], model_inputs[1] = -128, 127
    expected = tflm_outputs(tflite_bytes, model_inputs)
    assert (run_on_host(tflite_bytes, model_inputs) == expected).all()
    assert run_cases_on_board("m4", [tflite_bytes], [model_inputs], [expected], tmp_path) == [0]


def test_each_case_is_packed_at_its_bits_with_both_extremes():
    for name in CASES:
        layer = next(layer for layer in parse_model(_case(name)[0]).layers if hasattr(layer, "weight_bits"))
        bits = int(name.removeprefix("sparse_")[1])
        assert layer.weight_bits == bits, name
        assert (layer.filter.min(), layer.filter.max()) == (-(1 << (bits - 1)), (1 << (bits - 1)) - 1), name
        lowered = next(each for each in lower(_case(name)[0]).layers if each.arrays)
        assert lowered.kernel.endswith(f"_s{bits}"), name
        assert ("sparse" in lowered.kernel) == name.startswith("sparse"), name
        if name.startswith("sparse"):
            continue
        plain = next(array for array in lowered.arrays if array.layout == "packed")
        rows = layer.filter.reshape(layer.filter.shape[0], -1)
        assert plain.values.size == rows.shape[0] * -(-rows.shape[1] * bits // 8), name


def test_int4_bytes_unpack_low_nibble_first_in_twos_complement():
    assert unpack_int4(np.array([0x78, 0x0F, 0x81], np.uint8), 5).tolist() == [-8, 7, -1, 0, 1]
    values = np.random.default_rng(0).integers(-8, 8, 41).astype(np.int8)
    assert np.array_equal(unpack_int4(pack_int4(values), 41), values)


def test_read_tflite_gives_int4_filters_their_element_shape():
    model = read_tflite(_case("s4_conv_27_taps_5ch")[0])
    weights = next(tensor for tensor in model.tensors if tensor.dtype == "int4")
    assert (weights.shape, weights.buffer.shape, weights.buffer.dtype) == ((5, 3, 3, 3), (5, 3, 3, 3), np.int8)


def test_an_int4_filter_with_a_value_outside_the_2_bit_range_stays_4_bit():
    layer = parse_model(_case("s4_fully_connected_72_deep_7_units")[0]).layers[-1]
    assert layer.weight_bits == 4 and layer.filter.min() == -8


def test_block_sparse_stores_only_the_nonzero_blocks_and_is_smaller_than_packed():
    for name in (name for name in CASES if name.startswith("sparse")):
        layer = next(layer for layer in parse_model(_case(name)[0]).layers if hasattr(layer, "weight_bits"))
        rows = layer.filter.reshape(layer.filter.shape[0], -1)
        masks, blocks = block_sparse_s4(rows, INPUT_ORDER)
        padded = np.zeros((-(-rows.shape[0] // 2) * 2, -(-rows.shape[1] // 4) * 4), np.int8)
        padded[:rows.shape[0], :rows.shape[1]] = rows
        nonzero = np.any(padded.reshape(len(padded) // 2, 2, -1, 4) != 0, axis=(1, 3))
        assert blocks.size == 4 * nonzero.sum(), name
        bits = np.unpackbits(masks.view(np.uint8), bitorder="little").reshape(len(masks), -1)
        assert np.array_equal(bits[:, :nonzero.shape[1]].astype(bool), nonzero), name
        assert masks.size * 4 + blocks.size < rows.shape[0] * -(-rows.shape[1] // 2), name
    zero_pair = parse_model(_case("sparse_s4_conv_pool_zero_pair_7ch")[0]).layers[0].filter
    assert not block_sparse_s4(zero_pair.reshape(7, -1), INPUT_ORDER)[0][1].any()  # channels 2, 3: no block


def test_a_4_bit_qat_model_has_packed_int4_filters_and_runs_bit_exact_on_the_host():
    tflite_bytes = qat_int4()
    filters = [layer.filter for layer in parse_model(tflite_bytes).layers if hasattr(layer, "weight_bits")]
    assert [layer.weight_bits for layer in parse_model(tflite_bytes).layers if hasattr(layer, "weight_bits")] == [4] * 3
    assert all(-7 <= f.min() and f.max() <= 7 for f in filters)  # narrow-range symmetric 4-bit
    assert [f.shape for f in filters] == [(6, 3, 3, 1), (9, 3, 3, 6), (10, 225)]
    assert {lowered.kernel for lowered in lower(tflite_bytes).layers} >= {"conv_s4", "fully_connected_s4"}
    model_inputs = random_inputs(tflite_bytes, 64, seed=5)
    expected = tflm_outputs(tflite_bytes, model_inputs)
    assert np.array_equal(run_on_host(tflite_bytes, model_inputs), expected)


@needs_arm_toolchain
def test_a_4_bit_qat_model_is_bit_exact_on_the_cortex_m4(tmp_path):
    tflite_bytes = qat_int4()
    model_inputs = random_inputs(tflite_bytes, 32, seed=6)
    expected = tflm_outputs(tflite_bytes, model_inputs)
    assert run_cases_on_board("m4", [tflite_bytes], [model_inputs], [expected], tmp_path) == [0]


def _mixed() -> tuple[bytes, np.ndarray, np.ndarray]:
    tflite_bytes = with_layer_bits(qat_int4(), [8, 4, 2])
    model_inputs = random_inputs(tflite_bytes, 32, seed=7)
    return tflite_bytes, model_inputs, tflm_outputs(tflite_bytes, model_inputs)


def test_a_mixed_precision_model_runs_each_layer_at_its_bits_bit_exact_on_the_host():
    tflite_bytes, model_inputs, expected = _mixed()
    assert [layer.kernel for layer in lower(tflite_bytes).layers if layer.arrays] == \
        ["conv_s8", "conv_s4", "fully_connected_s2"]
    assert np.array_equal(run_on_host(tflite_bytes, model_inputs), expected)


@needs_arm_toolchain
@pytest.mark.parametrize("board_name", ["m4", "m55"])
def test_a_mixed_precision_model_is_bit_exact_on_the_core(board_name, tmp_path):
    tflite_bytes, model_inputs, expected = _mixed()
    assert run_cases_on_board(board_name, [tflite_bytes], [model_inputs], [expected], tmp_path) == [0]
