/* CONV_2D with packed 4-bit (or, through conv_s2.h, 2-bit) weights, optionally with a fused
 * MAX_POOL_2D: the windows, the pool and the requantization are conv_s8.h's; the weights stay packed
 * in flash in the compiled path's layout (packed_weights.h), unpacked in registers:
 * - CGEN_DSP: dsp_packed_pairs against int16 windows, two pixels x two channels per pass; one
 *   32-bit weight load per channel gives 4 * (8 / bits) taps, one shift-and-mask per four taps.
 * - CGEN_MVE: mve_packed, four channels per pass, one VMLADAVA.S8 per 16 taps.
 * - plain C: the packed layout, two channels per window load.
 *
 * A layer is `CONV_S4_LAYER(name, params)` (a static const conv_s8_params). */
#ifndef DIGITEDGE_CONV_S4_H
#define DIGITEDGE_CONV_S4_H

#include "conv_s8.h"
#include "packed_weights.h"

#if CGEN_DSP
/* `groups` groups of four taps of one dsp_packed_pairs block (w0: channel 0, w1: channel 1) for two
 * pixels (x, x + padded): each weight pair word feeds two SMLADs per pixel. */
CGEN_KERNEL void conv_packed_dsp_block(const int16_t *x, int padded, uint32_t w0, uint32_t w1, int channels,
                                       int groups, int bits, int32_t acc[4])
{
    int i;
    PACKED_UNROLL
    for (i = 0; i < groups; ++i) {
        const int16_t *group = x + 4 * i;
        const uint32_t x0_low = read_u32(group), x0_high = read_u32(group + 2);
        const uint32_t x1_low = read_u32(group + padded), x1_high = read_u32(group + padded + 2);
        uint32_t top = packed_top(w0, i, bits), low = __sxtb16(top), high = sxtb16_ror8(top);
        acc[0] = __smlad(low, x0_low, acc[0]);
        acc[0] = __smlad(high, x0_high, acc[0]);
        acc[2] = __smlad(low, x1_low, acc[2]);
        acc[2] = __smlad(high, x1_high, acc[2]);
        if (channels == 2) {
            top = packed_top(w1, i, bits);
            low = __sxtb16(top);
            high = sxtb16_ror8(top);
            acc[1] = __smlad(low, x0_low, acc[1]);
            acc[1] = __smlad(high, x0_high, acc[1]);
            acc[3] = __smlad(low, x1_low, acc[3]);
            acc[3] = __smlad(high, x1_high, acc[3]);
        }
    }
}

/* One or two channels (rows f, f + row_bytes) for two pixels: scaled sums acc[0..3] = (ch0 px0, ch1 px0,
 * ch0 px1, ch1 px1); whole blocks, then the groups of four of the last one. */
CGEN_KERNEL void conv_packed_dsp_channels(const int8_t *f, int row_bytes, const int16_t *x, int padded,
                                          int channels, int bits, int32_t acc[4])
{
    const int block = PACKED_BLOCK_TAPS(bits), groups = (padded % block) / 4;
    int k;
    for (k = 0; k + block <= padded; k += block, f += 4, x += block) {
        conv_packed_dsp_block(x, padded, read_u32(f), channels == 2 ? read_u32(f + row_bytes) : 0, channels,
                              PACKED_FIELDS(bits), bits, acc);
    }
    if (groups) {
        conv_packed_dsp_block(x, padded, read_u32(f), channels == 2 ? read_u32(f + row_bytes) : 0, channels,
                              groups, bits, acc);
    }
}

/* Two pixels (window, window + padded) x two channels at a time. */
CGEN_KERNEL void conv_packed_dsp_pair(const conv_s8_params *p, int bits, const int16_t *window, int32_t *best,
                                      int8_t *out0, int8_t *out1, int phase)
{
    const int padded = CONV_PADDED_TAPS(p), row_bytes = PACKED_ROW_BYTES(padded, bits), scale = 8 - bits;
    const int8_t *filter = p->filter;
    int c;
    for (c = 0; c < p->out_c - p->out_c % 2; c += 2, filter += 2 * row_bytes) {
        int32_t acc[4] = {0, 0, 0, 0};
        conv_packed_dsp_channels(filter, row_bytes, window, padded, 2, bits, acc);
        conv_s8_finish_pair(p, best, out0, out1, phase, c, p->bias[c] + (acc[0] >> scale),
                            p->bias[c] + (acc[2] >> scale));
        conv_s8_finish_pair(p, best, out0, out1, phase, c + 1, p->bias[c + 1] + (acc[1] >> scale),
                            p->bias[c + 1] + (acc[3] >> scale));
    }
    if (p->out_c % 2) {
        int32_t acc[4] = {0, 0, 0, 0};
        conv_packed_dsp_channels(filter, row_bytes, window, padded, 1, bits, acc);
        conv_s8_finish_pair(p, best, out0, out1, phase, c, p->bias[c] + (acc[0] >> scale),
                            p->bias[c] + (acc[2] >> scale));
    }
}

#define CONV_PACKED_LAYER(name, params, bits)                                                              \
    static NOINLINE MAYBE_UNUSED void name##_pair(const void *windows, int8_t *out0, int8_t *out1)         \
    {                                                                                                      \
        conv_packed_dsp_pair(&(params), bits, (const int16_t *)windows, (int32_t *)0, out0, out1, 0);     \
    }                                                                                                      \
    static NOINLINE MAYBE_UNUSED void name##_pooled_pair(const void *windows, int32_t *best, int8_t *out, \
                                                         int phase)                                        \
    {                                                                                                      \
        conv_packed_dsp_pair(&(params), bits, (const int16_t *)windows, best, out, out, phase);           \
    }                                                                                                      \
    static NOINLINE void name(const int8_t *input, int8_t *output)                                         \
    {                                                                                                      \
        conv_s8_run(&(params), input, output, (conv_pixel_fn)0, name##_pair, name##_pooled_pair, 1);     \
    }
#else

#if CGEN_MVE
/* Four channels per pass share each input vector; the last one to three channels together. */
CGEN_KERNEL void conv_packed_pixel(const conv_s8_params *p, int bits, const int8_t *window, int32_t *best,
                                   int8_t *out, int phase)
{
    const int taps = CONV_TAPS(p), row_bytes = PACKED_ROW_BYTES(taps, bits), whole = p->out_c - p->out_c % 4;
    const int8_t *filter = p->filter;
    int c, r;
    for (c = 0; c < whole; c += 4, filter += 4 * row_bytes) {
        int32_t acc[4] = {p->bias[c], p->bias[c + 1], p->bias[c + 2], p->bias[c + 3]};
        packed_dot_mve(window, filter, row_bytes, 4, taps, bits, acc);
        for (r = 0; r < 4; ++r) {
            conv_s8_finish(p, best, out, phase, c + r, acc[r]);
        }
    }
    if (p->out_c % 4) {
        int32_t acc[4] = {0, 0, 0, 0};
        packed_dot_mve(window, filter, row_bytes, p->out_c % 4, taps, bits, acc);
        for (r = 0; r < p->out_c % 4; ++r) {
            conv_s8_finish(p, best, out, phase, c + r, p->bias[c + r] + acc[r]);
        }
    }
}
#else
/* The reference: two channels per pass share each window load; an odd channel goes alone. */
CGEN_KERNEL void conv_packed_pixel(const conv_s8_params *p, int bits, const int8_t *window, int32_t *best,
                                   int8_t *out, int phase)
{
    const int taps = CONV_TAPS(p), row_bytes = PACKED_ROW_BYTES(taps, bits);
    const int8_t *filter = p->filter;
    int c;
    for (c = 0; c < p->out_c - p->out_c % 2; c += 2, filter += 2 * row_bytes) {
        int32_t acc0 = p->bias[c], acc1 = p->bias[c + 1];
        packed_dot_plain(window, filter, filter + row_bytes, taps, bits, &acc0, &acc1);
        conv_s8_finish(p, best, out, phase, c, acc0);
        conv_s8_finish(p, best, out, phase, c + 1, acc1);
    }
    if (p->out_c % 2) {
        int32_t acc0 = p->bias[c];
        packed_dot_plain(window, filter, (const int8_t *)0, taps, bits, &acc0, &acc0);
        conv_s8_finish(p, best, out, phase, c, acc0);
    }
}
#endif

#define CONV_PACKED_LAYER(name, params, bits)                                                              \
    static NOINLINE MAYBE_UNUSED void name##_pixel(const int8_t *window, int32_t *best, int8_t *out,       \
                                                   int phase)                                              \
    {                                                                                                      \
        conv_packed_pixel(&(params), bits, window, best, out, phase);                                     \
    }                                                                                                      \
    static NOINLINE void name(const int8_t *input, int8_t *output)                                         \
    {                                                                                                      \
        conv_s8_run(&(params), input, output, name##_pixel, (conv_pair_fn)0, (conv_pooled_pair_fn)0, 0);  \
    }
#endif

#define CONV_S4_LAYER(name, params) CONV_PACKED_LAYER(name, params, 4)

#endif /* DIGITEDGE_CONV_S4_H */
