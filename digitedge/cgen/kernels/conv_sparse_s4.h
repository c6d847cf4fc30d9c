/* CONV_2D with block-sparse 4-bit weights (block_sparse_s4.h), optionally with a fused MAX_POOL_2D:
 * the windows, the pool and the requantization are conv_s8.h's. Wherever SMLAD exists (CGEN_SIMD32)
 * two pixels per pass, one stored block a SIMD step for both channels: on CGEN_DSP against int16
 * windows with the blocks in the DSP pair order (bytes hold taps 0 2 1 3, so SXTB16 / ROR 8 give the
 * window's halfword pairs); on the M55 (MVE's int8 windows) with the blocks in input order, SXTB16
 * splitting the inputs too. Plain C: one pixel, one tap at a time, input order.
 *
 * A layer is `CONV_SPARSE_S4_LAYER(name, params)` (a static const conv_s8_params: `mask` the masks,
 * `filter` the stored blocks). */
#ifndef DIGITEDGE_CONV_SPARSE_S4_H
#define DIGITEDGE_CONV_SPARSE_S4_H

#include "block_sparse_s4.h"
#include "conv_s4.h"

#if CGEN_DSP
#define CONV_SPARSE_S4_WIDE 1   /* int16 windows (conv_s8_run's DSP form), blocks in the pair order */
/* One stored block w for two pixels (x, x + padded): channel 0's nibbles (the low ones) moved to the top of
 * each byte, channel 1's masked there; SXTB16 / ROR 8 give taps (0, 1) / (2, 3) times 16. */
CGEN_KERNEL void conv_sparse_s4_block(const int16_t *x, int padded, uint32_t w, int32_t acc[4])
{
    const uint32_t low = (w << 4) & 0xF0F0F0F0u, high = w & 0xF0F0F0F0u;
    const uint32_t x0 = read_u32(x), x1 = read_u32(x + padded), x2 = read_u32(x + 2), x3 = read_u32(x + padded + 2);
    uint32_t pair = __sxtb16(low);
    acc[0] = __smlad(pair, x0, acc[0]);
    acc[2] = __smlad(pair, x1, acc[2]);
    pair = sxtb16_ror8(low);
    acc[0] = __smlad(pair, x2, acc[0]);
    acc[2] = __smlad(pair, x3, acc[2]);
    pair = __sxtb16(high);
    acc[1] = __smlad(pair, x0, acc[1]);
    acc[3] = __smlad(pair, x1, acc[3]);
    pair = sxtb16_ror8(high);
    acc[1] = __smlad(pair, x2, acc[1]);
    acc[3] = __smlad(pair, x3, acc[3]);
}

CGEN_KERNEL void conv_sparse_s4_pair(const conv_s8_params *p, const void *windows, int32_t *best, int8_t *out0,
                                     int8_t *out1, int phase)
{
    const int padded = CONV_PADDED_TAPS(p);
    const uint32_t *mask = p->mask;
    const int8_t *block = p->filter;
    int c, word;
    for (c = 0; c < p->out_c; c += 2) {
        int32_t acc[4] = {0, 0, 0, 0};
        const int16_t *x = (const int16_t *)windows;
        for (word = 0; word < p->mask_words; ++word, x += BLOCK_TAPS * BLOCK_GROUPS_PER_WORD) {
            uint32_t bits = *mask++;
            while (bits) {
                const uint32_t w = read_u32(block);
                block += 4;
                conv_sparse_s4_block(x + BLOCK_TAPS * block_next(&bits), padded, w, acc);
            }
        }
        conv_s8_finish_pair(p, best, out0, out1, phase, c, (*p->bias)[c] + (acc[0] >> 4),
                            (*p->bias)[c] + (acc[2] >> 4));
        if (c + 1 < p->out_c) {
            conv_s8_finish_pair(p, best, out0, out1, phase, c + 1, (*p->bias)[c + 1] + (acc[1] >> 4),
                                (*p->bias)[c + 1] + (acc[3] >> 4));
        }
    }
}
#elif CGEN_SIMD32
#define CONV_SPARSE_S4_WIDE 0   /* the M55: int8 windows (MVE's form), blocks in input order */
CGEN_KERNEL void conv_sparse_s4_pair(const conv_s8_params *p, const void *windows, int32_t *best, int8_t *out0,
                                     int8_t *out1, int phase)
{
    const int taps = CONV_TAPS(p);
    const uint32_t *mask = p->mask;
    const int8_t *block = p->filter;
    int c, word;
    for (c = 0; c < p->out_c; c += 2) {
        int32_t acc[4] = {0, 0, 0, 0};
        const int8_t *x = (const int8_t *)windows;
        for (word = 0; word < p->mask_words; ++word, x += BLOCK_TAPS * BLOCK_GROUPS_PER_WORD) {
            uint32_t bits = *mask++;
            while (bits) {
                const int8_t *group = x + BLOCK_TAPS * block_next(&bits);
                const uint32_t w = read_u32(block);
                block += 4;
                block_smlad(read_u32(group), w, &acc[0], &acc[1]);
                block_smlad(read_u32(group + taps), w, &acc[2], &acc[3]);
            }
        }
        conv_s8_finish_pair(p, best, out0, out1, phase, c, (*p->bias)[c] + (acc[0] >> 4),
                            (*p->bias)[c] + (acc[2] >> 4));
        if (c + 1 < p->out_c) {
            conv_s8_finish_pair(p, best, out0, out1, phase, c + 1, (*p->bias)[c + 1] + (acc[1] >> 4),
                                (*p->bias)[c + 1] + (acc[3] >> 4));
        }
    }
}
#endif

#if CGEN_SIMD32
#define CONV_SPARSE_S4_LAYER(name, params)                                                                 \
    static NOINLINE MAYBE_UNUSED void name##_pair(const void *windows, int8_t *out0, int8_t *out1)         \
    {                                                                                                      \
        conv_sparse_s4_pair(&(params), windows, (int32_t *)0, out0, out1, 0);                             \
    }                                                                                                      \
    static NOINLINE MAYBE_UNUSED void name##_pooled_pair(const void *windows, int32_t *best, int8_t *out, \
                                                         int phase)                                        \
    {                                                                                                      \
        conv_sparse_s4_pair(&(params), windows, best, out, out, phase);                                   \
    }                                                                                                      \
    static NOINLINE void name(const int8_t *input, int8_t *output)                                         \
    {                                                                                                      \
        conv_s8_run(&(params), input, output, (conv_pixel_fn)0, name##_pair, name##_pooled_pair,          \
                    CONV_SPARSE_S4_WIDE);                                                                  \
    }
#else
CGEN_KERNEL void conv_sparse_s4_pixel(const conv_s8_params *p, const int8_t *window, int32_t *best, int8_t *out,
                                      int phase)
{
    const uint32_t *mask = p->mask;
    const int8_t *block = p->filter;
    int c, word;
    for (c = 0; c < p->out_c; c += 2) {
        int32_t sum0 = (*p->bias)[c], sum1 = c + 1 < p->out_c ? (*p->bias)[c + 1] : 0;
        for (word = 0; word < p->mask_words; ++word) {
            const int8_t *x = window + BLOCK_TAPS * BLOCK_GROUPS_PER_WORD * word;
            uint32_t bits = *mask++;
            while (bits) {
                block_plain(x + BLOCK_TAPS * block_next(&bits), block, BLOCK_TAPS, &sum0, &sum1);
                block += 4;
            }
        }
        conv_s8_finish(p, best, out, phase, c, sum0);
        if (c + 1 < p->out_c) {
            conv_s8_finish(p, best, out, phase, c + 1, sum1);
        }
    }
}

#define CONV_SPARSE_S4_LAYER(name, params)                                                                 \
    static NOINLINE MAYBE_UNUSED void name##_pixel(const int8_t *window, int32_t *best, int8_t *out,       \
                                                   int phase)                                              \
    {                                                                                                      \
        conv_sparse_s4_pixel(&(params), window, best, out, phase);                                        \
    }                                                                                                      \
    static NOINLINE void name(const int8_t *input, int8_t *output)                                         \
    {                                                                                                      \
        conv_s8_run(&(params), input, output, name##_pixel, (conv_pair_fn)0, (conv_pooled_pair_fn)0, 0);  \
    }
#endif

#endif /* DIGITEDGE_CONV_SPARSE_S4_H */
