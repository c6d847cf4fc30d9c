/* FULLY_CONNECTED with pruned int8 weights in the sparse_bitmask layout (masked_dot_s8.h): only the
 * nonzero weights are multiplied; the bias folding is fully_connected_s8.h's.
 *
 * A layer is `FULLY_CONNECTED_SPARSE_S8_LAYER(name, params)` (a static const fully_connected_s8_params
 * whose `filter` holds the nonzero values). */
#ifndef DIGITEDGE_FULLY_CONNECTED_SPARSE_S8_H
#define DIGITEDGE_FULLY_CONNECTED_SPARSE_S8_H

#include "fully_connected_s8.h"
#include "masked_dot_s8.h"

CGEN_KERNEL void fully_connected_sparse_s8(const fully_connected_s8_params *p, const int8_t *input,
                                           int8_t *output)
{
    const int32_t input_sum = p->filter_offset ? sum_s8(input, p->depth) : 0;
    const uint32_t *mask = p->mask;
    const int8_t *value = p->filter;
    int unit, word;
    for (unit = 0; unit < p->units; ++unit) {
        int32_t sparse_sum = 0;
        for (word = 0; word < p->mask_words; ++word) {
            sparse_sum += masked_dot(*mask++, &value, input + MASK_WORD_BITS * word);
        }
        output[unit] = fully_connected_s8_output(p, unit, sparse_sum, input_sum);
    }
}

#define FULLY_CONNECTED_SPARSE_S8_LAYER(name, params)                                                      \
    static NOINLINE void name(const int8_t *input, int8_t *output)                                         \
    {                                                                                                      \
        fully_connected_sparse_s8(&(params), input, output);                                               \
    }

#endif /* DIGITEDGE_FULLY_CONNECTED_SPARSE_S8_H */
