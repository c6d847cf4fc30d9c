/* Block-sparse 4-bit weights (the `block_sparse_s4` layout, digitedge.cgen.layouts): blocks of 4 taps x
 * 2 output channels, only the blocks holding a nonzero weight stored. Per channel pair: mask_words
 * uint32 words, bit g for taps 4g..4g+3, then one 32-bit word per set bit (channel 0 in the low
 * nibbles, channel 1 in the high ones). The kernels walk the set bits: an all-zero block costs nothing,
 * a stored one is a whole SIMD step for both channels (DSP: two masks, four SXTB16, eight SMLADs for
 * two pixels). */
#ifndef DIGITEDGE_BLOCK_SPARSE_S4_H
#define DIGITEDGE_BLOCK_SPARSE_S4_H

#include "packed_weights.h"

#define BLOCK_TAPS 4
#define BLOCK_GROUPS_PER_WORD 32

/* The lowest set bit's index, cleared from *bits (RBIT + CLZ on Cortex-M3 and later). */
static inline int block_next(uint32_t *bits)
{
#if defined(__GNUC__) && (!defined(__arm__) || __ARM_ARCH >= 7)
    const int group = __builtin_ctz(*bits);
#else
    int group = 0;
    while (!((*bits >> group) & 1u)) {
        ++group;
    }
#endif
    *bits &= *bits - 1;
    return group;
}

/* One stored block against four int8 inputs x[0..3] (input order): both channels' sums, plain C. */
static inline void block_plain(const int8_t *x, const int8_t *block, int taps, int32_t *sum0, int32_t *sum1)
{
    int b;
    for (b = 0; b < BLOCK_TAPS && b < taps; ++b) {
        *sum0 += x[b] * packed_field(block[b], 0, 4);
        *sum1 += x[b] * packed_field(block[b], 1, 4);
    }
}

#if CGEN_SIMD32
/* One stored block (input order) against a word of four int8 inputs: SXTB16 splits both into taps
 * (0, 2) and (1, 3); both channels' sums scaled by 16 (packed_weights.h). */
static inline void block_smlad(uint32_t in, uint32_t w, int32_t *scaled0, int32_t *scaled1)
{
    const uint32_t low = packed_top(w, 0, 4), high = packed_top(w, 1, 4);
    const uint32_t in_even = __sxtb16(in), in_odd = sxtb16_ror8(in);
    *scaled0 = __smlad(__sxtb16(low), in_even, *scaled0);
    *scaled0 = __smlad(sxtb16_ror8(low), in_odd, *scaled0);
    *scaled1 = __smlad(__sxtb16(high), in_even, *scaled1);
    *scaled1 = __smlad(sxtb16_ror8(high), in_odd, *scaled1);
}
#endif

#endif /* DIGITEDGE_BLOCK_SPARSE_S4_H */
