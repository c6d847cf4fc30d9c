"""Every kernel path of the generated C against TFLite Micro on small random layers: plain C on the
host, and the same sources cross-compiled for the Cortex-M4 (DSP path), the Cortex-M55 (MVE path) and
the Cortex-M0 (plain path on ARM) on QEMU, all cases in one image per core. Also the sparse weight
format and the fused-pool arena plan.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

from digitedge.cgen import generate_c_sources
from digitedge.cgen.lower import lower, planned_graph
from digitedge.cgen.layers import ConvPool, fuse_pools, parse_model
from digitedge.cgen.plan import ALIGNMENT
from digitedge.cgen.sparse import decode, encode, sparse_if_smaller
from arm_toolchain import needs_arm_toolchain
from cgen_fixtures import (assert_board_matches_tflite_micro, assert_host_matches_tflite_micro, case_with_oracle,
                           compact_int8, conv_model, fully_connected_model)

CASES = {
    # channel counts: odd, not multiples of 4 or 16; taps 27 and 45 pad to groups of four / 16-lane tails
    "conv_odd_channels_input_zp_min": lambda: conv_model(21, in_shape=(7, 8, 3), filters=5, input_zero_point=-128),
    "conv_same_stride2_7ch_input_zp_max_relu6": lambda: conv_model(22, in_shape=(6, 7, 5), filters=7, padding="SAME",
                                                                  stride=(2, 2), input_zero_point=127,
                                                                  activation="RELU6"),
    "conv_1x1_17_taps_per_tensor": lambda: conv_model(23, in_shape=(5, 5, 17), filters=3, kernel=(1, 1),
                                                      per_channel=False),
    "conv_dilated_same": lambda: conv_model(24, in_shape=(7, 7, 2), filters=3, dilation=(2, 2), padding="SAME"),
    # SAME, stride 2 on an even size: no leading padding, but the last windows run past the image
    "conv_same_stride2_trailing_padding_only": lambda: conv_model(34, in_shape=(8, 8, 1), filters=4, padding="SAME",
                                                                  stride=(2, 2)),
    # fused pools: even and odd conv outputs, windows of 9 (odd), 2 and edge windows of 1 or 2 pixels
    "pool2x2_fused_144_taps": lambda: conv_model(25, in_shape=(8, 8, 16), filters=6, activation="RELU",
                                                 pool=dict(window=(2, 2))),
    "pool2x2_fused_odd_conv_output": lambda: conv_model(26, filters=4, pool=dict(window=(2, 2))),
    "pool3x3_same_stride3_fused_relu": lambda: conv_model(27, in_shape=(8, 9, 3), filters=5, padding="SAME",
                                                          pool=dict(window=(3, 3), padding="SAME",
                                                                    activation="RELU")),
    "pool1x2_fused": lambda: conv_model(28, in_shape=(6, 7, 4), filters=3, pool=dict(window=(1, 2))),
    "pool2x2_same_fused_odd_edges": lambda: conv_model(29, in_shape=(7, 7, 3), filters=9, input_zero_point=-128,
                                                       pool=dict(window=(2, 2), padding="SAME")),
    # one input channel: each pool window's conv pixels read one input patch of 16 (4x4) or 12 (3x4) bytes
    "pool2x2_fused_one_channel_patch_relu": lambda: conv_model(35, in_shape=(9, 10, 1), filters=6,
                                                               activation="RELU", pool=dict(window=(2, 2))),
    "pool1x2_fused_one_channel_12_byte_patch": lambda: conv_model(36, in_shape=(6, 7, 1), filters=5,
                                                                  input_zero_point=-128, pool=dict(window=(1, 2))),
    # sparse: pruned with an all-zero output channel (fused pool), dense when sparse would be larger
    "sparse_conv_zero_channel_fused": lambda: conv_model(30, in_shape=(8, 8, 6), filters=7, zero_fraction=0.8,
                                                         zero_channels=(2,), pool=dict(window=(2, 2))),
    "sparse_would_be_larger_conv": lambda: conv_model(31, in_shape=(6, 6, 4), filters=5, zero_fraction=0.1),
    "sparse_fully_connected": lambda: fully_connected_model(32, in_shape=(1, 4, 4, 5), units=9, zero_fraction=0.75),
    "fully_connected_20_deep_filter_zero_point": lambda: fully_connected_model(33, in_shape=(1, 20),
                                                                              filter_zero_point=5),
}


@functools.lru_cache(maxsize=None)
def _case(name: str) -> tuple[bytes, np.ndarray, np.ndarray]:
    return case_with_oracle(CASES[name]())


@pytest.mark.parametrize("name", sorted(CASES))
def test_plain_path_on_the_host_matches_tflite_micro(name):
    assert_host_matches_tflite_micro(name, _case(name))


@needs_arm_toolchain
@pytest.mark.parametrize("board_name", ["m4", "m55", "m0"])  # DSP, MVE, plain C on ARM
def test_every_case_matches_tflite_micro_on_the_core(board_name, tmp_path):
    assert_board_matches_tflite_micro(board_name, {name: _case(name) for name in CASES}, tmp_path)


def test_the_cases_exercise_fusion_and_every_weight_layout():
    layouts = {name: {array.layout for layer in lower(_case(name)[0]).layers for array in layer.arrays}
               for name in CASES}
    assert "sparse_bitmask" in layouts["sparse_conv_zero_channel_fused"]
    assert "sparse_bitmask" in layouts["sparse_fully_connected"]
    assert "sparse_bitmask" not in layouts["sparse_would_be_larger_conv"]
    assert layouts["conv_odd_channels_input_zp_min"] == {"dense", "dsp_reordered", None}
    patched = sorted(name for name, found in layouts.items() if "mve_patch" in found)
    assert patched == ["pool1x2_fused_one_channel_12_byte_patch", "pool2x2_fused_one_channel_patch_relu"]
    fused = [name for name in CASES if any(isinstance(layer, ConvPool)
                                           for layer in fuse_pools(parse_model(_case(name)[0])).layers)]
    assert sorted(fused) == sorted(name for name in CASES if "fused" in name)


def test_pair_kernels_skip_the_odd_pixel_only_where_none_can_occur():
    def even_pairs(name: str) -> int:
        return lower(_case(name)[0]).layers[0].params["even_pairs"]

    assert even_pairs("pool2x2_fused_144_taps") == 1  # 6x6 conv output, every 2x2 window 4 pixels
    assert even_pairs("pool3x3_same_stride3_fused_relu") == 0  # windows of 9 pixels
    assert even_pairs("pool2x2_same_fused_odd_edges") == 0  # 5x5 conv output: edge windows of 2 and 1
    assert even_pairs("conv_odd_channels_input_zp_min") == 1  # no pool, 5x6 output pixels
    assert even_pairs("conv_1x1_17_taps_per_tensor") == 0  # no pool, 5x5 output pixels


def test_the_sources_hold_the_model_and_only_the_kernels_it_uses():
    sources = generate_c_sources(_case("sparse_fully_connected")[0])
    assert set(sources) == {"digitedge_model.h", "digitedge_model.c", "fully_connected_sparse_s8.h",
                            "fully_connected_s8.h", "masked_dot_s8.h", "dot_s8.h", "requantize.h", "cgen.h"}
    assert "for (" not in sources["digitedge_model.c"].split("_infer(")[0]  # no loop outside the kernels


def test_sparse_form_round_trips_and_keeps_an_all_zero_channel():
    rng = np.random.default_rng(0)
    rows = np.where(rng.random((5, 70)) < 0.7, 0, rng.integers(-127, 128, (5, 70))).astype(np.int8)
    rows[3] = 0
    sparse = encode(rows)
    assert sparse.masks.shape == (5, 3) and not sparse.masks[3].any()
    assert sparse.values.size == np.count_nonzero(rows) and np.all(sparse.values != 0)
    np.testing.assert_array_equal(decode(sparse, 70), rows)


def test_sparse_form_is_chosen_only_when_smaller():
    rng = np.random.default_rng(1)
    dense = rng.integers(1, 128, (4, 64)).astype(np.int8)  # no zero at all
    assert sparse_if_smaller(dense) is None
    mostly_dense = dense.copy()
    mostly_dense[:, :6] = 0  # 1/8 bit per weight of mask costs more than the zeros save
    assert sparse_if_smaller(mostly_dense) is None
    pruned = dense.copy()
    pruned[:, :48] = 0
    chosen = sparse_if_smaller(pruned)
    assert chosen is not None and chosen.nbytes == 4 * 2 * 4 + 4 * 16 < pruned.size


def test_arena_reaches_the_largest_live_set_of_the_fused_compact_model():
    graph, plan = planned_graph(compact_int8())
    assert [layer.op for layer in graph.layers][:3] == ["CONV_2D+MAX_POOL_2D", "CONV_2D", "CONV_2D+MAX_POOL_2D"]
    last_read = {layer.input: index for index, layer in enumerate(graph.layers)}
    live_bytes = []
    for index, layer in enumerate(graph.layers):
        alive = {(plan.offsets[t], graph.size(t)) for t in plan.offsets  # a RESHAPE output shares its input's bytes
                 if any(other.output == t for other in graph.layers[:index + 1]) and last_read.get(t, -1) >= index}
        live_bytes.append((sum(size for _, size in alive) + plan.scratch_bytes.get(index, 0), len(alive) + 1))
    largest = max(size for size, _ in live_bytes)
    # no byte wasted beyond what must coexist, but for each buffer's padding to a word boundary
    assert largest <= plan.arena_bytes <= max(size + (ALIGNMENT - 1) * buffers for size, buffers in live_bytes)
    unfused_conv1 = parse_model(compact_int8()).layers[0]
    assert plan.arena_bytes < int(np.prod(unfused_conv1.out_shape))  # the 26x26x12 output is never stored
    header = generate_c_sources(compact_int8())["digitedge_model.h"]
    assert f"#define DIGITEDGE_ARENA_BYTES {plan.arena_bytes}" in header
