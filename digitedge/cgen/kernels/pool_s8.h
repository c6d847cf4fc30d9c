/* MAX_POOL_2D and AVERAGE_POOL_2D on int8 (TFLM's reference pooling: padded taps are left out, the
 * average rounds half away from zero), plain C on every core.
 *
 * A layer is `POOL_S8_LAYER(name, params)` (a static const pool_s8_params). */
#ifndef DIGITEDGE_POOL_S8_H
#define DIGITEDGE_POOL_S8_H

#include "cgen.h"

typedef struct {
    int in_h, in_w, depth;
    int out_h, out_w;
    int window_h, window_w, stride_h, stride_w, pad_h, pad_w;
    int average;                              /* 0: MAX_POOL_2D, 1: AVERAGE_POOL_2D */
    int32_t act_min, act_max;
} pool_s8_params;

CGEN_KERNEL void pool_s8(const pool_s8_params *p, const int8_t *input, int8_t *output)
{
    int out_y, out_x, c, y, x;
    for (out_y = 0; out_y < p->out_h; ++out_y) {
        const int in_y0 = out_y * p->stride_h - p->pad_h;
        const int y_start = in_y0 < 0 ? -in_y0 : 0;
        const int y_end = p->in_h - in_y0 < p->window_h ? p->in_h - in_y0 : p->window_h;
        for (out_x = 0; out_x < p->out_w; ++out_x) {
            const int in_x0 = out_x * p->stride_w - p->pad_w;
            const int x_start = in_x0 < 0 ? -in_x0 : 0;
            const int x_end = p->in_w - in_x0 < p->window_w ? p->in_w - in_x0 : p->window_w;
            for (c = 0; c < p->depth; ++c) {
                int32_t best = -128, acc = 0, count = 0, result;
                for (y = y_start; y < y_end; ++y) {
                    for (x = x_start; x < x_end; ++x) {
                        const int32_t value = input[((in_y0 + y) * p->in_w + in_x0 + x) * p->depth + c];
                        if (p->average) {
                            acc += value;
                            ++count;
                        } else {
                            best = value > best ? value : best;
                        }
                    }
                }
                if (p->average) {
                    result = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
                } else {
                    result = best;
                }
                result = result < p->act_min ? p->act_min : result;
                result = result > p->act_max ? p->act_max : result;
                *output++ = (int8_t)result;
            }
        }
    }
}

#define POOL_S8_LAYER(name, params)                                                                        \
    static NOINLINE void name(const int8_t *input, int8_t *output)                                         \
    {                                                                                                      \
        pool_s8(&(params), input, output);                                                                 \
    }

#endif /* DIGITEDGE_POOL_S8_H */
