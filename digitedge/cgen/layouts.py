"""Weight layouts: how one layer's int8 filter is laid out in flash for the kernel that reads it.

Each function takes the filter as the layer holds it and returns the array the generated C stores.
A layout's name is the value `digitedge.cgen.lower` writes into a layer's description; the kernel
headers (digitedge/cgen/kernels/) say which layouts they read.
"""

from __future__ import annotations

import numpy as np

from digitedge.cgen.layers import Conv, Pool

MVE_VECTOR_BYTES = 16


def padded_taps(taps: int) -> int:
    """Taps rounded up to whole groups of four (the DSP path reads one 32-bit word per group)."""
    return -(-taps // 4) * 4


def conv_rows(conv: Conv) -> np.ndarray:
    """`dense`: the filter as (output channels, taps) in window order (filter_y, filter_x, input channel)."""
    return conv.filter.reshape(conv.out_shape[2], -1)


def dsp_reordered(filter_rows: np.ndarray) -> np.ndarray:
    """`dsp_reordered`: rows zero-padded to a multiple of 4 taps, each group of four stored w0 w2 w1 w3,
    so one word load, SXTB16 and SXTB16 ROR 8 give the halfword pairs (w0 w1) and (w2 w3)."""
    count, taps = filter_rows.shape
    padded = np.zeros((count, padded_taps(taps)), dtype=np.int8)
    padded[:, :taps] = filter_rows
    return padded.reshape(count, -1, 4)[:, :, [0, 2, 1, 3]].reshape(count, -1)


def patch_shape(conv: Conv, pool: Pool) -> tuple[int, int]:
    """Input rows and columns one pool window's conv pixels read (stride-1 convolution)."""
    (kernel_h, kernel_w), (window_h, window_w) = conv.filter.shape[1:3], pool.window
    return kernel_h + window_h - 1, kernel_w + window_w - 1


def patch_fits(conv: Conv, pool: Pool | None) -> bool:
    """Whether `mve_patch` applies: a fused pool whose every window's conv pixels read one input patch
    of at most 16 bytes (conv1 of a one-channel image), so one vector load serves the whole window."""
    if pool is None or pool.padding_name != "VALID" or conv.padding != (0, 0):
        return False
    if conv.stride != (1, 1) or conv.dilation != (1, 1):
        return False
    patch_h, patch_w = patch_shape(conv, pool)
    return patch_h * patch_w * conv.in_shape[2] <= MVE_VECTOR_BYTES


def mve_patch(conv: Conv, pool: Pool) -> np.ndarray:
    """`mve_patch`: (channel, conv pixel dy dx of the pool window) rows of 16 bytes, filter[c] placed at
    offset (dy, dx) of the input patch, zeros elsewhere."""
    (kernel_h, kernel_w), (window_h, window_w) = conv.filter.shape[1:3], pool.window
    patch_h, patch_w = patch_shape(conv, pool)
    in_c, out_c = conv.in_shape[2], conv.out_shape[2]
    placed = np.zeros((out_c, window_h, window_w, patch_h, patch_w, in_c), dtype=np.int8)
    for dy in range(window_h):
        for dx in range(window_w):
            placed[:, dy, dx, dy:dy + kernel_h, dx:dx + kernel_w, :] = conv.filter
    rows16 = np.zeros((out_c * window_h * window_w, MVE_VECTOR_BYTES), dtype=np.int8)
    rows16[:, :patch_h * patch_w * in_c] = placed.reshape(out_c * window_h * window_w, -1)
    return rows16.reshape(-1)


# Packed 4- and 2-bit weights: `8 // bits` fields per byte, field i in bits [i * bits, (i + 1) * bits),
# two's complement. A layout is a block of taps mapped to (byte, field); rows are zero-padded to whole
# blocks, so the kernels read whole blocks and skip the fields past the row's taps.

def fields_per_byte(bits: int) -> int:
    return 8 // bits


def _pack_blocks(rows: np.ndarray, bits: int, tap_of: np.ndarray) -> np.ndarray:
    """Rows packed block by block: `tap_of[b, i]` is the tap (within the block) in byte b, field i."""
    count, taps = rows.shape
    block_bytes, per = tap_of.shape
    block_taps = block_bytes * per
    blocks = -(-taps // block_taps)
    padded = np.zeros((count, blocks * block_taps), dtype=np.int8)
    padded[:, :taps] = rows
    fields = padded.reshape(count, blocks, block_taps)[:, :, tap_of].view(np.uint8) & ((1 << bits) - 1)
    shifts = (bits * np.arange(per)).astype(np.uint8)
    packed = np.bitwise_or.reduce(fields << shifts, axis=-1).astype(np.uint8)
    return packed.reshape(count, blocks * block_bytes).view(np.int8)


def packed(rows: np.ndarray, bits: int) -> np.ndarray:
    """`packed`: each row's taps in order, low field first (TFLite's INT4 order), rows padded to whole bytes."""
    return _pack_blocks(rows, bits, np.arange(fields_per_byte(bits))[None, :])


def dsp_packed(rows: np.ndarray, bits: int) -> np.ndarray:
    """`dsp_packed`: 32-bit blocks of 4 * fields taps, byte b field i holding tap 4i + b: masking field i
    to the top of each byte, SXTB16 gives taps (4i, 4i+2), SXTB16 ROR 8 taps (4i+1, 4i+3), as SXTB16
    splits a word of four int8 inputs (fully connected on the DSP path)."""
    per = fields_per_byte(bits)
    return _pack_blocks(rows, bits, (4 * np.arange(per)[None, :] + np.arange(4)[:, None]))


def dsp_packed_halves(rows: np.ndarray, bits: int) -> np.ndarray:
    """`dsp_packed_halves`: 32-bit blocks of 32 / bits taps whose field j (bits [j * bits, (j + 1) * bits) of
    the word) holds tap 2 (H - 1 - j) for j < H = 16 / bits, tap 2 (2H - 1 - j) + 1 above: shifting the word
    left by k * bits and masking the top field of each halfword gives taps (2k, 2k + 1) as two int16 weights
    times 2^(16 - bits), one instruction (AND with a shifted register) per SMLAD operand of an int16 window
    (convolutions on the DSP path)."""
    per = fields_per_byte(bits)
    half = 16 // bits
    field = per * np.arange(4)[:, None] + np.arange(per)[None, :]   # field j of the word for (byte b, field i)
    return _pack_blocks(rows, bits, np.where(field < half, 2 * (half - 1 - field), 2 * (2 * half - 1 - field) + 1))


def mve_packed(rows: np.ndarray, bits: int) -> np.ndarray:
    """`mve_packed`: 16-byte blocks of 16 * fields taps, byte j field i holding tap 16i + j: one vector
    load and a shift pair per field give 16 int8 weights in input order (MVE path)."""
    per = fields_per_byte(bits)
    return _pack_blocks(rows, bits, (MVE_VECTOR_BYTES * np.arange(per)[None, :]
                                     + np.arange(MVE_VECTOR_BYTES)[:, None]))


# Block-sparse 4-bit weights: blocks of 4 taps x 2 output channels (a channel pair), all-zero blocks
# not stored. Per channel pair (an odd last channel paired with zeros): ceil(groups / 32) uint32 mask
# words, bit g set when taps 4g..4g+3 of either channel hold a nonzero weight; then one 32-bit word per
# set bit: byte b holds tap `order[b]` of the group, channel 0 in the low nibble, channel 1 in the high.
BLOCK_TAPS = 4
BLOCK_ROWS = 2
PAIRS_ORDER = (0, 2, 1, 3)  # SXTB16 / ROR 8 give taps (0, 1) / (2, 3): an int16 window's pairs (conv, DSP)
INPUT_ORDER = (0, 1, 2, 3)  # taps (0, 2) / (1, 3): SXTB16 of four int8 inputs (fully connected, DSP; plain C)


def block_sparse_s4(rows: np.ndarray, order: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """`block_sparse_s4`: (masks (pairs, words) uint32, the nonzero blocks' words as int8 bytes)."""
    count, taps = rows.shape
    groups = -(-taps // BLOCK_TAPS)
    words = -(-groups // MASK_BITS)
    padded = np.zeros((-(-count // BLOCK_ROWS) * BLOCK_ROWS, groups * BLOCK_TAPS), dtype=np.int8)
    padded[:count, :taps] = rows
    blocks = padded.reshape(-1, BLOCK_ROWS, groups, BLOCK_TAPS).transpose(0, 2, 1, 3)  # pair, group, row, tap
    present = np.any(blocks != 0, axis=(2, 3))
    bits = np.zeros((len(present), words * MASK_BITS), dtype=np.uint64)
    bits[:, :groups] = present
    masks = (bits.reshape(len(present), words, MASK_BITS) << np.arange(MASK_BITS, dtype=np.uint64)).sum(axis=2)
    nibbles = blocks[present][:, :, list(order)].view(np.uint8) & 0x0F  # block, row, byte
    packed = (nibbles[:, 0] | (nibbles[:, 1] << 4)).astype(np.uint8)
    return masks.astype(np.uint32), packed.reshape(-1).view(np.int8)


def block_sparse_bytes(rows: np.ndarray) -> int:
    masks, blocks = block_sparse_s4(rows, INPUT_ORDER)
    return masks.size * 4 + blocks.size


MASK_BITS = 32
