/* CONV_2D with pruned int8 weights in the sparse_bitmask layout (masked_dot_s8.h), on every path:
 * the windows, the fused pool and the requantization are conv_s8.h's; only the nonzero weights are
 * multiplied, each decoded weight for two pixels at once.
 *
 * A layer is `CONV_SPARSE_S8_LAYER(name, params)` (a static const conv_s8_params: `filter` holds the
 * nonzero values, `mask` mask_words words per channel). */
#ifndef DIGITEDGE_CONV_SPARSE_S8_H
#define DIGITEDGE_CONV_SPARSE_S8_H

#include "conv_s8.h"
#include "masked_dot_s8.h"

/* Each set bit of a channel's mask is one weight for both pixels (window, window + taps), so decoding
 * the mask costs half as much per MAC. */
CGEN_KERNEL void conv_sparse_s8_pair(const conv_s8_params *p, const int8_t *window, int32_t *best, int8_t *out0,
                                     int8_t *out1, int phase)
{
    const uint32_t *mask = p->mask;
    const int8_t *value = p->filter;
    int c, word;
    for (c = 0; c < p->out_c; ++c) {
        int32_t acc0 = p->bias[c], acc1 = acc0;
        for (word = 0; word < p->mask_words; ++word) {
            masked_dot_pair(*mask++, &value, window + MASK_WORD_BITS * word, CONV_TAPS(p), &acc0, &acc1);
        }
        conv_s8_finish_pair(p, best, out0, out1, phase, c, acc0, acc1);
    }
}

#define CONV_SPARSE_S8_LAYER(name, params)                                                                 \
    static NOINLINE MAYBE_UNUSED void name##_pair(const void *windows, int8_t *out0, int8_t *out1)         \
    {                                                                                                      \
        conv_sparse_s8_pair(&(params), (const int8_t *)windows, (int32_t *)0, out0, out1, 0);             \
    }                                                                                                      \
    static NOINLINE MAYBE_UNUSED void name##_pooled_pair(const void *windows, int32_t *best, int8_t *out, \
                                                         int phase)                                        \
    {                                                                                                      \
        conv_sparse_s8_pair(&(params), (const int8_t *)windows, best, out, out, phase);                   \
    }                                                                                                      \
    static NOINLINE void name(const int8_t *input, int8_t *output)                                         \
    {                                                                                                      \
        conv_s8_run(&(params), input, output, (conv_pixel_fn)0, name##_pair, name##_pooled_pair, 0);     \
    }

#endif /* DIGITEDGE_CONV_SPARSE_S8_H */
