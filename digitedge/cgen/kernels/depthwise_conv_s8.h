/* DEPTHWISE_CONV_2D, dense int8 weights (1, H, W, out_c), plain C on every core (TFLM's
 * integer_ops/depthwise_conv.h arithmetic: taps outside the image are skipped).
 *
 * A layer is `DEPTHWISE_CONV_S8_LAYER(name, params)` (a static const depthwise_conv_s8_params). */
#ifndef DIGITEDGE_DEPTHWISE_CONV_S8_H
#define DIGITEDGE_DEPTHWISE_CONV_S8_H

#include "cgen.h"
#include "requantize.h"

typedef struct {
    int in_h, in_w, in_c;
    int out_h, out_w, out_c;
    int kernel_h, kernel_w, depth_multiplier;
    int stride_h, stride_w, dilation_h, dilation_w, pad_h, pad_w;
    int32_t input_offset;                    /* minus the input zero point */
    const int8_t *filter;
    const int32_t *bias;
    requant_params requant;
} depthwise_conv_s8_params;

CGEN_KERNEL void depthwise_conv_s8(const depthwise_conv_s8_params *p, const int8_t *input, int8_t *output)
{
    int out_y, out_x, in_c, m, filter_y, filter_x;
    for (out_y = 0; out_y < p->out_h; ++out_y) {
        const int in_y0 = out_y * p->stride_h - p->pad_h;
        for (out_x = 0; out_x < p->out_w; ++out_x) {
            const int in_x0 = out_x * p->stride_w - p->pad_w;
            for (in_c = 0; in_c < p->in_c; ++in_c) {
                for (m = 0; m < p->depth_multiplier; ++m) {
                    const int out_c = in_c * p->depth_multiplier + m;
                    int32_t acc = p->bias[out_c];
                    for (filter_y = 0; filter_y < p->kernel_h; ++filter_y) {
                        const int in_y = in_y0 + p->dilation_h * filter_y;
                        if (in_y < 0 || in_y >= p->in_h) {
                            continue;
                        }
                        for (filter_x = 0; filter_x < p->kernel_w; ++filter_x) {
                            const int in_x = in_x0 + p->dilation_w * filter_x;
                            if (in_x < 0 || in_x >= p->in_w) {
                                continue;
                            }
                            acc += p->filter[(filter_y * p->kernel_w + filter_x) * p->out_c + out_c]
                                   * (input[(in_y * p->in_w + in_x) * p->in_c + in_c] + p->input_offset);
                        }
                    }
                    *output++ = requantize_channel(&p->requant, out_c, acc);
                }
            }
        }
    }
}

#define DEPTHWISE_CONV_S8_LAYER(name, params)                                                              \
    static NOINLINE void name(const int8_t *input, int8_t *output)                                         \
    {                                                                                                      \
        depthwise_conv_s8(&(params), input, output);                                                       \
    }

#endif /* DIGITEDGE_DEPTHWISE_CONV_S8_H */
