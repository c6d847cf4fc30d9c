/* FULLY_CONNECTED with block-sparse 4-bit weights (block_sparse_s4.h, input order on every path):
 * two units per pass; on the DSP path a stored block is one input word, SXTB16 / ROR 8 and four SMLADs
 * (a block reaching past the depth is summed tap by tap). The bias folding is fully_connected_s8.h's.
 *
 * A layer is `FULLY_CONNECTED_SPARSE_S4_LAYER(name, params)` (a static const fully_connected_s8_params:
 * `mask` the masks, `filter` the stored blocks). */
#ifndef DIGITEDGE_FULLY_CONNECTED_SPARSE_S4_H
#define DIGITEDGE_FULLY_CONNECTED_SPARSE_S4_H

#include "block_sparse_s4.h"
#include "fully_connected_s8.h"

CGEN_KERNEL void fully_connected_sparse_s4(const fully_connected_s8_params *p, const int8_t *input, int8_t *output)
{
    const int32_t input_sum = p->filter_offset ? sum_s8(input, p->depth) : 0;
    const uint32_t *mask = p->mask;
    const int8_t *block = p->filter;
    int unit, word;
    for (unit = 0; unit < p->units; unit += 2) {
        int32_t sum0 = 0, sum1 = 0;
#if CGEN_SIMD32
        int32_t scaled0 = 0, scaled1 = 0;
#endif
        for (word = 0; word < p->mask_words; ++word) {
            const int first = BLOCK_TAPS * BLOCK_GROUPS_PER_WORD * word;
            uint32_t bits = *mask++;
            while (bits) {
                const int tap = first + BLOCK_TAPS * block_next(&bits);
#if CGEN_SIMD32
                if (p->depth % BLOCK_TAPS == 0 || tap + BLOCK_TAPS <= p->depth) {
                    block_smlad(read_u32(input + tap), read_u32(block), &scaled0, &scaled1);
                    block += 4;
                    continue;
                }
#endif
                block_plain(input + tap, block, p->depth - tap, &sum0, &sum1);
                block += 4;
            }
        }
#if CGEN_SIMD32
        sum0 += scaled0 >> 4;
        sum1 += scaled1 >> 4;
#endif
        output[unit] = fully_connected_s8_output(p, unit, sum0, input_sum);
        if (unit + 1 < p->units) {
            output[unit + 1] = fully_connected_s8_output(p, unit + 1, sum1, input_sum);
        }
    }
}

#define FULLY_CONNECTED_SPARSE_S4_LAYER(name, params)                                                      \
    static NOINLINE void name(const int8_t *input, int8_t *output)                                         \
    {                                                                                                      \
        fully_connected_sparse_s4(&(params), input, output);                                               \
    }

#endif /* DIGITEDGE_FULLY_CONNECTED_SPARSE_S4_H */
