"""Pruned weights as a bitmask plus their nonzero values, chosen per layer only when that is smaller.

Per output channel (row of the filter): ceil(depth / 32) little-endian uint32 words, bit k set when
weight k is nonzero, then all rows' nonzero values packed in order. Inference walks the set bits,
so zeros cost neither flash nor multiplies; the sum over the nonzero weights is the same integer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MASK_WORD_BITS = 32


@dataclass(frozen=True)
class SparseWeights:
    masks: np.ndarray  # (rows, words) uint32
    values: np.ndarray  # nonzero weights, row after row, int8

    @property
    def nbytes(self) -> int:
        return self.masks.size * 4 + self.values.size


def encode(rows: np.ndarray) -> SparseWeights:
    """Bitmask + values of a (rows, depth) int8 filter."""
    rows = np.asarray(rows, dtype=np.int8)
    count, depth = rows.shape
    words = -(-depth // MASK_WORD_BITS)
    bits = np.zeros((count, words * MASK_WORD_BITS), dtype=np.uint64)
    bits[:, :depth] = rows != 0
    weights = np.uint64(1) << np.arange(MASK_WORD_BITS, dtype=np.uint64)
    masks = (bits.reshape(count, words, MASK_WORD_BITS) * weights).sum(axis=2).astype(np.uint32)
    return SparseWeights(masks, rows[rows != 0])


def decode(sparse: SparseWeights, depth: int) -> np.ndarray:
    """The dense (rows, depth) filter back (for tests)."""
    count, words = sparse.masks.shape
    bits = (sparse.masks[:, :, None] >> np.arange(MASK_WORD_BITS, dtype=np.uint32)) & 1
    present = bits.reshape(count, words * MASK_WORD_BITS)[:, :depth].astype(bool)
    dense = np.zeros((count, depth), dtype=np.int8)
    dense[present] = sparse.values
    return dense


def sparse_if_smaller(rows: np.ndarray) -> SparseWeights | None:
    """The sparse form when it takes fewer bytes than the dense int8 rows, else None."""
    sparse = encode(rows)
    return sparse if sparse.nbytes < np.asarray(rows).size else None
