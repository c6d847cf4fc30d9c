/* CONV_2D with packed 4-bit (or, through conv_s2.h, 2-bit) weights, optionally with a fused
 * MAX_POOL_2D: the windows, the pool and the requantization are conv_s8.h's; the weights stay packed
 * in flash in the compiled path's layout (packed_weights.h), unpacked in registers:
 * - CGEN_DSP: dsp_packed_halves against int16 windows, two pixels x two channels per pass; one
 *   32-bit weight load per channel gives 32 / bits taps, one shift-and-mask per SMLAD operand (two taps).
 * - CGEN_MVE: mve_packed, four channels per pass, one VMLADAVA.S8 per 16 taps (a one-channel conv whose
 *   pool windows read one 16-byte patch runs conv_s8_mve_patch on int8 mve_patch weights instead).
 * - plain C: the packed layout, two channels per window load.
 *
 * A layer is `CONV_S4_LAYER(name, params)` (a static const conv_s8_params). */
#ifndef DIGITEDGE_CONV_S4_H
#define DIGITEDGE_CONV_S4_H

#include "conv_s8.h"
#include "packed_weights.h"

#if CGEN_DSP
/* dsp_packed_halves: the word shifted left by k * bits, masked to the top field of each halfword, is the
 * SMLAD operand of taps (2k, 2k + 1), int16 weights times 2^(16 - bits). */
#define PACKED_HALVES_MASK(bits) ((bits) == 4 ? 0xF000F000u : 0xC000C000u)
/* Taps summed at that scale before it is shifted back: window taps are int8 and scaled weights at most
 * 2^15 in magnitude, so 256 taps of products of at most 2^22 stay below 2^31. */
#define PACKED_HALVES_CHUNK_TAPS 256

/* `operands` operands of one block (w0: channel 0, w1: channel 1) for two pixels (x, x + padded): one
 * AND with a shifted register per operand and channel (`mask` in a register, PACKED_HALVES_MASK), its
 * SMLAD for each pixel. */
CGEN_KERNEL void conv_packed_dsp_block(const int16_t *x, int padded, uint32_t w0, uint32_t w1, int channels,
                                       int operands, int bits, uint32_t mask, int32_t acc[4])
{
    int k;
    CGEN_UNROLL
    for (k = 0; k < operands; ++k) {
        const uint32_t x0 = read_u32(x + 2 * k), x1 = read_u32(x + padded + 2 * k);
        uint32_t pair = (w0 << (bits * k)) & mask;
        acc[0] = __smlad(pair, x0, acc[0]);
        acc[2] = __smlad(pair, x1, acc[2]);
        if (channels == 2) {
            pair = (w1 << (bits * k)) & mask;
            acc[1] = __smlad(pair, x0, acc[1]);
            acc[3] = __smlad(pair, x1, acc[3]);
        }
    }
}

/* One or two channels (rows f, f + row_bytes) for two pixels: sums[0..3] (ch0 px0, ch1 px0, ch0 px1,
 * ch1 px1) plus the row's dot products, chunk by chunk: whole blocks, then the last one's operands. */
CGEN_KERNEL void conv_packed_dsp_channels(const int8_t *f, int row_bytes, const int16_t *x, int padded,
                                          int channels, int bits, uint32_t mask, int32_t sums[4])
{
    const int block = PACKED_BLOCK_TAPS(bits), scale = 16 - bits;
    int start, k;
    for (start = 0; start < padded; start += PACKED_HALVES_CHUNK_TAPS) {
        const int end = padded - start > PACKED_HALVES_CHUNK_TAPS ? start + PACKED_HALVES_CHUNK_TAPS : padded;
        int32_t acc[4] = {0, 0, 0, 0};
        for (k = start; k + block <= end; k += block, f += 4) {
            conv_packed_dsp_block(x + k, padded, read_u32(f), channels == 2 ? read_u32(f + row_bytes) : 0,
                                  channels, block / 2, bits, mask, acc);
        }
        if (k < end) {
            conv_packed_dsp_block(x + k, padded, read_u32(f), channels == 2 ? read_u32(f + row_bytes) : 0,
                                  channels, (end - k) / 2, bits, mask, acc);
        }
        sums[0] += acc[0] >> scale;
        sums[1] += acc[1] >> scale;
        sums[2] += acc[2] >> scale;
        sums[3] += acc[3] >> scale;
    }
}

/* Two pixels (window, window + padded) x two channels at a time. */
CGEN_KERNEL void conv_packed_dsp_pair(const conv_s8_params *p, int bits, const int16_t *window, int32_t *best,
                                      int8_t *out0, int8_t *out1, int phase)
{
    const int padded = CONV_PADDED_TAPS(p), row_bytes = PACKED_ROW_BYTES(padded, bits);
    const int8_t *filter = p->filter;
    uint32_t mask = PACKED_HALVES_MASK(bits);
    int c;
    __asm__("" : "+r"(mask));   /* a register, not an immediate: GCC then fuses each shift into its AND */
    for (c = 0; c < p->out_c - p->out_c % 2; c += 2, filter += 2 * row_bytes) {
        int32_t sums[4] = {(*p->bias)[c], (*p->bias)[c + 1], (*p->bias)[c], (*p->bias)[c + 1]};
        conv_packed_dsp_channels(filter, row_bytes, window, padded, 2, bits, mask, sums);
        conv_s8_finish_pair(p, best, out0, out1, phase, c, sums[0], sums[2]);
        conv_s8_finish_pair(p, best, out0, out1, phase, c + 1, sums[1], sums[3]);
    }
    if (p->out_c % 2) {
        int32_t sums[4] = {(*p->bias)[c], 0, (*p->bias)[c], 0};
        conv_packed_dsp_channels(filter, row_bytes, window, padded, 1, bits, mask, sums);
        conv_s8_finish_pair(p, best, out0, out1, phase, c, sums[0], sums[2]);
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
        int32_t acc[4] = {0, 0, 0, 0};
        packed_dot_mve(window, filter, row_bytes, 4, taps, bits, acc);
        for (r = 0; r < 4; ++r) {
            conv_s8_finish(p, best, out, phase, c + r, (*p->bias)[c + r] + (acc[r] >> (8 - bits)));
        }
    }
    if (p->out_c % 4) {
        int32_t acc[4] = {0, 0, 0, 0};
        packed_dot_mve(window, filter, row_bytes, p->out_c % 4, taps, bits, acc);
        for (r = 0; r < p->out_c % 4; ++r) {
            conv_s8_finish(p, best, out, phase, c + r, (*p->bias)[c + r] + (acc[r] >> (8 - bits)));
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
        int32_t acc0 = (*p->bias)[c], acc1 = (*p->bias)[c + 1];
        packed_dot_plain(window, filter, filter + row_bytes, taps, bits, &acc0, &acc1);
        conv_s8_finish(p, best, out, phase, c, acc0);
        conv_s8_finish(p, best, out, phase, c + 1, acc1);
    }
    if (p->out_c % 2) {
        int32_t acc0 = (*p->bias)[c];
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
        CONV_S8_PATCH(params, input, output)                                                               \
        conv_s8_run(&(params), input, output, name##_pixel, (conv_pair_fn)0, (conv_pooled_pair_fn)0, 0);  \
    }
#endif

#define CONV_S4_LAYER(name, params) CONV_PACKED_LAYER(name, params, 4)

#endif /* DIGITEDGE_CONV_S4_H */
