/* CONV_2D, int8 weights, optionally with the MAX_POOL_2D after it fused in (TFLM's
 * integer_ops/conv.h arithmetic). Weight layouts, chosen by the generator per path:
 *   dense          (out_c, taps) in window order (filter_y, filter_x, input channel): plain C and MVE
 *   dsp_reordered  rows zero-padded to a multiple of 4 taps, each group of four stored w0 w2 w1 w3
 *   mve_patch      one 16-byte row per (channel, conv pixel of the pool window): the kernel placed at
 *                  that pixel's offset in the pool window's input patch (conv_s8_mve_patch)
 *
 * Every output pixel gathers its receptive field into a window in the arena (taps outside the image
 * hold the input zero point, so input_offset * sum(filter) is folded into the bias), then:
 * - CGEN_DSP: the window is widened to int16 once; two pixels x two output channels per pass; one
 *   32-bit weight load, SXTB16 and SXTB16 ROR 8 give the halfword pairs (w0 w1) and (w2 w3) that two
 *   SMLADs multiply with the window's (x0 x1) and (x2 x3) words.
 * - CGEN_MVE: four output channels per pass, VMLADAVA.S8 over 16 taps at a time, the tail
 *   zero-predicated. A fused pool whose window's conv pixels all read one input patch of at most 16
 *   bytes skips the windows: the patch is one vector, each (channel, conv pixel) one VMLADAV.S8.
 * - plain C: the readable reference, two channels per window load.
 * With a fused pool each conv pixel's accumulator is max-combined into its pooled pixel and
 * requantized once (requantization is monotonic, so this equals TFLM's pool of the stored conv
 * output), and conv pixels no pooling window reads are never computed.
 *
 * A layer is `CONV_S8_LAYER(name, params)`: it defines `void name(const int8_t *input, int8_t *output)`
 * and the per-layer kernels it calls, all specialised to `params` (a static const conv_s8_params).
 */
#ifndef DIGITEDGE_CONV_S8_H
#define DIGITEDGE_CONV_S8_H

#include "cgen.h"
#include "dot_s8.h"
#include "requantize.h"

#if defined(__GNUC__)
#define CGEN_UNROLL _Pragma("GCC unroll 16")
#else
#define CGEN_UNROLL
#endif

typedef struct {
    int in_h, in_w, in_c;
    int out_h, out_w, out_c;              /* the convolution's output (before a fused pool) */
    int kernel_h, kernel_w;
    int stride_h, stride_w;
    int dilation_h, dilation_w;
    int pad_h, pad_w;                     /* leading rows and columns */
    int whole_rows;                       /* no window leaves the image, columns contiguous: copy rows */
    int mve_patch;                        /* on MVE: `filter` is mve_patch and conv_s8_mve_patch runs */
    int32_t input_zero_point;
    const int8_t *filter;                 /* the layout of the path compiled (see above); sparse: values */
    const uint32_t *mask;                 /* sparse_bitmask layout: mask_words words per channel */
    int mask_words;
    const int32_t *bias;                  /* bias + input_offset * sum(filter), per channel */
    requant_params requant;
    void *window;                         /* arena bytes for two windows (or the MVE patch) */
    int32_t *best;                        /* arena: a fused pool's running max, one per channel */
    int pool_h, pool_w;                   /* fused MAX_POOL_2D output; pool_h 0: no pool */
    int pool_window_h, pool_window_w, pool_stride_h, pool_stride_w, pool_pad_h, pool_pad_w;
    int32_t pool_act_min, pool_act_max;
} conv_s8_params;

#define CONV_TAPS(p) ((p)->kernel_h * (p)->kernel_w * (p)->in_c)
#define CONV_PADDED_TAPS(p) ((CONV_TAPS(p) + 3) / 4 * 4)

/* A pixel kernel: one window; a pair kernel: two windows side by side, without or with a pool. */
typedef void (*conv_pixel_fn)(const int8_t *window, int32_t *best, int8_t *out, int phase);
typedef void (*conv_pair_fn)(const void *windows, int8_t *out0, int8_t *out1);
typedef void (*conv_pooled_pair_fn)(const void *windows, int32_t *best, int8_t *out, int phase);

/* Requantize channel c's accumulator into out[c]; with a fused pool, first keep the running max of
 * the accumulators in best[] (one requantization per pooled pixel). */
CGEN_KERNEL void conv_s8_finish(const conv_s8_params *p, int32_t *best, int8_t *out, int phase, int c, int32_t acc)
{
    if (p->pool_h == 0) {
        out[c] = requantize_channel(&p->requant, c, acc);
        return;
    }
    if (!(phase & POOL_FIRST) && best[c] > acc) {
        acc = best[c];
    }
    if (phase & POOL_LAST) {
        int32_t value = requantize_channel(&p->requant, c, acc);
        value = value < p->pool_act_min ? p->pool_act_min : value;
        value = value > p->pool_act_max ? p->pool_act_max : value;
        out[c] = (int8_t)value;
    } else {
        best[c] = acc;
    }
}

/* Channel c from a pair kernel's two pixels: two outputs without a pool, the larger accumulator into
 * the one pooled pixel with it. */
CGEN_KERNEL void conv_s8_finish_pair(const conv_s8_params *p, int32_t *best, int8_t *out0, int8_t *out1,
                                     int phase, int c, int32_t acc0, int32_t acc1)
{
    if (p->pool_h == 0) {
        conv_s8_finish(p, (int32_t *)0, out0, 0, c, acc0);
        conv_s8_finish(p, (int32_t *)0, out1, 0, c, acc1);
    } else {
        conv_s8_finish(p, best, out0, phase, c, acc0 > acc1 ? acc0 : acc1);
    }
}

/* Pixel (out_y, out_x)'s receptive field in filter order, as int8 or (`wide`) int16 taps. */
CGEN_KERNEL void conv_s8_window(const conv_s8_params *p, const int8_t *input, int out_y, int out_x,
                                void *window, int wide)
{
    const int in_y0 = out_y * p->stride_h - p->pad_h;
    const int in_x0 = out_x * p->stride_w - p->pad_w;
    int8_t *narrow = (int8_t *)window;
    int16_t *widened = (int16_t *)window;
    int filter_y, filter_x, c;
    if (p->whole_rows) {
        const int row = p->kernel_w * p->in_c;
        for (filter_y = 0; filter_y < p->kernel_h; ++filter_y, narrow += row, widened += row) {
            const int8_t *source = input + ((in_y0 + p->dilation_h * filter_y) * p->in_w + in_x0) * p->in_c;
#if CGEN_MVE
            for (c = 0; c < row; c += 16) {   /* 16 bytes a move, the last one predicated */
                const mve_pred16_t lanes = vctp8q((uint32_t)(row - c));
                vstrbq_p_s8(narrow + c, vldrbq_z_s8(source + c, lanes), lanes);
            }
#else
            for (c = 0; c < row; ++c) {
                if (wide) {
                    widened[c] = source[c];
                } else {
                    narrow[c] = source[c];
                }
            }
#endif
        }
        return;
    }
    for (filter_y = 0; filter_y < p->kernel_h; ++filter_y) {
        const int in_y = in_y0 + p->dilation_h * filter_y;
        for (filter_x = 0; filter_x < p->kernel_w; ++filter_x, narrow += p->in_c, widened += p->in_c) {
            const int in_x = in_x0 + p->dilation_w * filter_x;
            if (in_y >= 0 && in_y < p->in_h && in_x >= 0 && in_x < p->in_w) {
                const int8_t *source = input + (in_y * p->in_w + in_x) * p->in_c;
                for (c = 0; c < p->in_c; ++c) {
                    if (wide) {
                        widened[c] = source[c];
                    } else {
                        narrow[c] = source[c];
                    }
                }
            } else {
                for (c = 0; c < p->in_c; ++c) {
                    if (wide) {
                        widened[c] = (int16_t)p->input_zero_point;
                    } else {
                        narrow[c] = (int8_t)p->input_zero_point;
                    }
                }
            }
        }
    }
}

/* Visit the conv pixels to compute, one window at a time (`pixel`) or two side by side (`pair` or,
 * with a fused pool, `pooled_pair`; `wide`: int16 windows, each padded to a multiple of 4 taps). */
CGEN_KERNEL void conv_s8_run(const conv_s8_params *p, const int8_t *input, int8_t *output, conv_pixel_fn pixel,
                             conv_pair_fn pair, conv_pooled_pair_fn pooled_pair, int wide)
{
    int8_t *window = (int8_t *)p->window;
    const int second = wide ? 2 * CONV_PADDED_TAPS(p) : CONV_TAPS(p);   /* bytes to the second window */
    int8_t *out = output;
    int y, x;
    if (p->pool_h == 0) {
        int8_t *pending_out = output;
        int pending = 0;
        for (y = 0; y < p->out_h; ++y) {
            for (x = 0; x < p->out_w; ++x, out += p->out_c) {
                if (pixel) {
                    conv_s8_window(p, input, y, x, window, wide);
                    pixel(window, (int32_t *)0, out, POOL_LAST);
                } else if (!pending) {
                    conv_s8_window(p, input, y, x, window, wide);
                    pending_out = out;
                    pending = 1;
                } else {
                    conv_s8_window(p, input, y, x, window + second, wide);
                    pair(window, pending_out, out);
                    pending = 0;
                }
            }
        }
        if (pending) {   /* an odd pixel out: paired with a copy of itself */
            memcpy(window + second, window, (size_t)second);
            pair(window, pending_out, pending_out);
        }
        return;
    }
    {
        /* Each pooled pixel: the conv pixels of its window, max-combined as accumulators, requantized once. */
        int32_t *best = p->best;
        int pool_y, pool_x;
        for (pool_y = 0; pool_y < p->pool_h; ++pool_y) {
            const int y0 = pool_y * p->pool_stride_h - p->pool_pad_h;
            const int y_start = y0 > 0 ? y0 : 0;
            const int y_end = y0 + p->pool_window_h < p->out_h ? y0 + p->pool_window_h : p->out_h;
            for (pool_x = 0; pool_x < p->pool_w; ++pool_x, out += p->out_c) {
                const int x0 = pool_x * p->pool_stride_w - p->pool_pad_w;
                const int x_start = x0 > 0 ? x0 : 0;
                const int x_end = x0 + p->pool_window_w < p->out_w ? x0 + p->pool_window_w : p->out_w;
                int remaining = (y_end - y_start) * (x_end - x_start), phase = POOL_FIRST;
                int pending = 0;
                for (y = y_start; y < y_end; ++y) {
                    for (x = x_start; x < x_end; ++x) {
                        if (pixel) {
                            conv_s8_window(p, input, y, x, window, wide);
                            --remaining;
                            pixel(window, best, out, phase | (remaining ? 0 : POOL_LAST));
                            phase = 0;
                        } else if (!pending) {
                            conv_s8_window(p, input, y, x, window, wide);
                            pending = 1;
                        } else {
                            conv_s8_window(p, input, y, x, window + second, wide);
                            remaining -= 2;
                            pooled_pair(window, best, out, phase | (remaining ? 0 : POOL_LAST));
                            phase = 0;
                            pending = 0;
                        }
                    }
                }
                if (pending) {   /* an odd pixel out: paired with a copy of itself */
                    memcpy(window + second, window, (size_t)second);
                    pooled_pair(window, best, out, phase | POOL_LAST);
                }
            }
        }
    }
}

#if CGEN_DSP
/* One group of four taps (at `offset`) for two pixels x (x, x + padded) and one or two channels
 * (f, f + padded): each weight word feeds four SMLADs. */
CGEN_KERNEL void conv_s8_dsp_step(const int8_t *f, const int16_t *x, int padded, int offset, int channels,
                                  int32_t *acc00, int32_t *acc01, int32_t *acc10, int32_t *acc11)
{
    const uint32_t x0_low = read_u32(x + offset), x0_high = read_u32(x + offset + 2);
    const uint32_t x1_low = read_u32(x + padded + offset), x1_high = read_u32(x + padded + offset + 2);
    uint32_t w = read_u32(f + offset), w_low = __sxtb16(w), w_high = sxtb16_ror8(w);
    *acc00 = __smlad(w_low, x0_low, *acc00);
    *acc00 = __smlad(w_high, x0_high, *acc00);
    *acc10 = __smlad(w_low, x1_low, *acc10);
    *acc10 = __smlad(w_high, x1_high, *acc10);
    if (channels == 2) {
        w = read_u32(f + padded + offset);
        w_low = __sxtb16(w);
        w_high = sxtb16_ror8(w);
        *acc01 = __smlad(w_low, x0_low, *acc01);
        *acc01 = __smlad(w_high, x0_high, *acc01);
        *acc11 = __smlad(w_low, x1_low, *acc11);
        *acc11 = __smlad(w_high, x1_high, *acc11);
    }
}

/* All groups of four taps of one or two channels: two groups per iteration, one more if odd. */
CGEN_KERNEL void conv_s8_dsp_channels(const int8_t *f, const int16_t *x, int padded, int channels,
                                      int32_t *acc00, int32_t *acc01, int32_t *acc10, int32_t *acc11)
{
    const int groups = padded / 4;
    int k;
    for (k = 0; k < groups / 2; ++k, f += 8, x += 8) {
        conv_s8_dsp_step(f, x, padded, 0, channels, acc00, acc01, acc10, acc11);
        conv_s8_dsp_step(f, x, padded, 4, channels, acc00, acc01, acc10, acc11);
    }
    if (groups % 2) {
        conv_s8_dsp_step(f, x, padded, 0, channels, acc00, acc01, acc10, acc11);
    }
}

/* Two pixels (window, window + padded) x two channels at a time, dsp_reordered weights. */
CGEN_KERNEL void conv_s8_dsp_pair(const conv_s8_params *p, const int16_t *window, int32_t *best, int8_t *out0,
                                  int8_t *out1, int phase)
{
    const int padded = CONV_PADDED_TAPS(p);
    const int8_t *filter = p->filter;
    int c;
    for (c = 0; c < p->out_c - p->out_c % 2; c += 2, filter += 2 * padded) {
        int32_t acc00 = p->bias[c], acc01 = p->bias[c + 1], acc10 = acc00, acc11 = acc01;
        conv_s8_dsp_channels(filter, window, padded, 2, &acc00, &acc01, &acc10, &acc11);
        conv_s8_finish_pair(p, best, out0, out1, phase, c, acc00, acc10);
        conv_s8_finish_pair(p, best, out0, out1, phase, c + 1, acc01, acc11);
    }
    if (p->out_c % 2) {
        int32_t acc00 = p->bias[c], acc10 = acc00, unused0 = 0, unused1 = 0;
        conv_s8_dsp_channels(filter, window, padded, 1, &acc00, &unused0, &acc10, &unused1);
        conv_s8_finish_pair(p, best, out0, out1, phase, c, acc00, acc10);
    }
}
#endif

#if CGEN_MVE
/* One channel's accumulator over a window of `taps` int8 (f: its weights). */
CGEN_KERNEL int32_t conv_s8_mve_channel(const int8_t *x, const int8_t *f, int taps, int32_t acc)
{
    int k;
    for (k = 0; k < taps / 16; ++k, x += 16, f += 16) {
        acc = vmladavaq_s8(acc, vldrbq_s8(x), vldrbq_s8(f));
    }
    if (taps % 16) {
        const mve_pred16_t tail = vctp8q(taps % 16);
        acc = vmladavaq_s8(acc, vldrbq_z_s8(x, tail), vldrbq_z_s8(f, tail));
    }
    return acc;
}

/* Four channels per pass: one window load feeds four VMLADAVA.S8 (16 MACs each). */
CGEN_KERNEL void conv_s8_mve_pixel(const conv_s8_params *p, const int8_t *window, int32_t *best, int8_t *out,
                                   int phase)
{
    const int taps = CONV_TAPS(p);
    const int8_t *filter = p->filter;
    int c, k;
    for (c = 0; c < p->out_c - p->out_c % 4; c += 4, filter += 4 * taps) {
        const int8_t *x = window, *f = filter;
        int32_t acc0 = p->bias[c], acc1 = p->bias[c + 1], acc2 = p->bias[c + 2], acc3 = p->bias[c + 3];
        for (k = 0; k < taps / 16; ++k, x += 16, f += 16) {
            const int8x16_t in = vldrbq_s8(x);
            acc0 = vmladavaq_s8(acc0, in, vldrbq_s8(f));
            acc1 = vmladavaq_s8(acc1, in, vldrbq_s8(f + taps));
            acc2 = vmladavaq_s8(acc2, in, vldrbq_s8(f + 2 * taps));
            acc3 = vmladavaq_s8(acc3, in, vldrbq_s8(f + 3 * taps));
        }
        if (taps % 16) {
            const mve_pred16_t tail = vctp8q(taps % 16);
            const int8x16_t in = vldrbq_z_s8(x, tail);
            acc0 = vmladavaq_s8(acc0, in, vldrbq_z_s8(f, tail));
            acc1 = vmladavaq_s8(acc1, in, vldrbq_z_s8(f + taps, tail));
            acc2 = vmladavaq_s8(acc2, in, vldrbq_z_s8(f + 2 * taps, tail));
            acc3 = vmladavaq_s8(acc3, in, vldrbq_z_s8(f + 3 * taps, tail));
        }
        conv_s8_finish(p, best, out, phase, c, acc0);
        conv_s8_finish(p, best, out, phase, c + 1, acc1);
        conv_s8_finish(p, best, out, phase, c + 2, acc2);
        conv_s8_finish(p, best, out, phase, c + 3, acc3);
    }
    for (; c < p->out_c; ++c, filter += taps) {
        conv_s8_finish(p, best, out, phase, c, conv_s8_mve_channel(window, filter, taps, p->bias[c]));
    }
}

/* Per pooled pixel: its input patch in one vector, one VMLADAV.S8 per (channel, conv pixel), the max in
 * registers, one requantization (bias added after the max: max(a + b, c + b) = max(a, c) + b).
 * mve_patch weights; the patch lives in the window's arena bytes. */
CGEN_KERNEL void conv_s8_mve_patch(const conv_s8_params *p, const int8_t *input, int8_t *output)
{
    const int patch_h = p->kernel_h + p->pool_window_h - 1, patch_w = p->kernel_w + p->pool_window_w - 1;
    const int row = patch_w * p->in_c, size = patch_h * row;
    const int positions = p->pool_window_h * p->pool_window_w;
    int8_t *patch = (int8_t *)p->window;
    int8_t *out = output;
    int pool_y, pool_x, c, r, position;
    for (pool_y = 0; pool_y < p->pool_h; ++pool_y) {
        for (pool_x = 0; pool_x < p->pool_w; ++pool_x, out += p->out_c) {
            const int8_t *source = input + (pool_y * p->pool_stride_h * p->in_w + pool_x * p->pool_stride_w) * p->in_c;
            const int8_t *f = p->filter;
            int8x16_t x;
            CGEN_UNROLL
            for (r = 0; r < patch_h; ++r) {
                memcpy(patch + r * row, source + r * p->in_w * p->in_c, (size_t)row);
            }
            x = size == 16 ? vldrbq_s8(patch) : vldrbq_z_s8(patch, vctp8q(size));
            for (c = 0; c < p->out_c; ++c, f += 16 * positions) {
                int32_t acc, best = vmladavq_s8(x, vldrbq_s8(f));
                CGEN_UNROLL
                for (position = 1; position < positions; ++position) {
                    acc = vmladavq_s8(x, vldrbq_s8(f + 16 * position));
                    best = acc > best ? acc : best;
                }
                conv_s8_finish(p, (int32_t *)0, out, POOL_FIRST | POOL_LAST, c, best + p->bias[c]);
            }
        }
    }
}
#endif

/* The reference: two channels per pass share each window load; an odd channel goes alone. */
CGEN_KERNEL void conv_s8_plain_pixel(const conv_s8_params *p, const int8_t *window, int32_t *best, int8_t *out,
                                     int phase)
{
    const int taps = CONV_TAPS(p);
    const int8_t *filter = p->filter;
    int c, k;
    for (c = 0; c < p->out_c - p->out_c % 2; c += 2, filter += 2 * taps) {
        /* indices count up to zero from -taps: the loop test is the increment's own flag */
        const int8_t *x_end = window + taps, *f0_end = filter + taps, *f1_end = filter + 2 * taps;
        int32_t acc0 = p->bias[c], acc1 = p->bias[c + 1];
        for (k = -taps; k != 0; ++k) {
            const int32_t x = x_end[k];
            acc0 += f0_end[k] * x;
            acc1 += f1_end[k] * x;
        }
        conv_s8_finish(p, best, out, phase, c, acc0);
        conv_s8_finish(p, best, out, phase, c + 1, acc1);
    }
    if (p->out_c % 2) {
        conv_s8_finish(p, best, out, phase, c, p->bias[c] + dot_s8(window, filter, taps));
    }
}

#if CGEN_DSP
#define CONV_S8_LAYER(name, params)                                                                        \
    static NOINLINE MAYBE_UNUSED void name##_pair(const void *windows, int8_t *out0, int8_t *out1)         \
    {                                                                                                      \
        conv_s8_dsp_pair(&(params), (const int16_t *)windows, (int32_t *)0, out0, out1, 0);               \
    }                                                                                                      \
    static NOINLINE MAYBE_UNUSED void name##_pooled_pair(const void *windows, int32_t *best, int8_t *out, \
                                                         int phase)                                        \
    {                                                                                                      \
        conv_s8_dsp_pair(&(params), (const int16_t *)windows, best, out, out, phase);                     \
    }                                                                                                      \
    static NOINLINE void name(const int8_t *input, int8_t *output)                                         \
    {                                                                                                      \
        conv_s8_run(&(params), input, output, (conv_pixel_fn)0, name##_pair, name##_pooled_pair, 1);     \
    }
#else
#if CGEN_MVE
#define CONV_S8_PIXEL conv_s8_mve_pixel
#define CONV_S8_PATCH(params, input, output)                                                               \
    if ((params).mve_patch) {                                                                              \
        conv_s8_mve_patch(&(params), input, output);                                                       \
        return;                                                                                            \
    }
#else
#define CONV_S8_PIXEL conv_s8_plain_pixel
#define CONV_S8_PATCH(params, input, output)
#endif
#define CONV_S8_LAYER(name, params)                                                                        \
    static NOINLINE MAYBE_UNUSED void name##_pixel(const int8_t *window, int32_t *best, int8_t *out,       \
                                                   int phase)                                              \
    {                                                                                                      \
        CONV_S8_PIXEL(&(params), window, best, out, phase);                                                \
    }                                                                                                      \
    static NOINLINE void name(const int8_t *input, int8_t *output)                                         \
    {                                                                                                      \
        CONV_S8_PATCH(params, input, output)                                                               \
        conv_s8_run(&(params), input, output, name##_pixel, (conv_pair_fn)0, (conv_pooled_pair_fn)0, 0);  \
    }
#endif

#endif /* DIGITEDGE_CONV_S8_H */
