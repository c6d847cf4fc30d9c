/* Grouped CONV_2D (input depth a multiple of the filter depth), dense int8 weights OHWI, plain C on
 * every core: each output pixel's group window is gathered on the stack (padded taps as the input
 * zero point, so input_offset * sum(filter) is folded into the bias), then one dot_s8 per channel.
 *
 * A layer is `CONV_GROUPED_S8_LAYER(name, params)` (a static const conv_grouped_s8_params). */
#ifndef DIGITEDGE_CONV_GROUPED_S8_H
#define DIGITEDGE_CONV_GROUPED_S8_H

#include "cgen.h"
#include "dot_s8.h"
#include "requantize.h"

typedef struct {
    int in_h, in_w, in_c;
    int out_h, out_w, out_c;
    int kernel_h, kernel_w, filter_depth;   /* filter_depth: input channels per group */
    int stride_h, stride_w, dilation_h, dilation_w, pad_h, pad_w;
    int32_t input_zero_point;
    const int8_t *filter;                   /* dense (out_c, kernel_h, kernel_w, filter_depth) */
    const int32_t *bias;                    /* bias + input_offset * sum(filter), per channel */
    requant_params requant;
} conv_grouped_s8_params;

CGEN_KERNEL void conv_grouped_s8(const conv_grouped_s8_params *p, const int8_t *input, int8_t *output)
{
    const int window_bytes = p->kernel_h * p->kernel_w * p->filter_depth;
    const int groups = p->in_c / p->filter_depth, per_group = p->out_c / groups;
    int8_t window[window_bytes];   /* a constant size once the layer's parameters are inlined */
    int out_y, out_x, group, out_c, filter_y, filter_x;
    for (out_y = 0; out_y < p->out_h; ++out_y) {
        const int in_y0 = out_y * p->stride_h - p->pad_h;
        for (out_x = 0; out_x < p->out_w; ++out_x) {
            const int in_x0 = out_x * p->stride_w - p->pad_w;
            for (group = 0; group < groups; ++group) {
                const int8_t *filter = p->filter + group * per_group * window_bytes;
                for (filter_y = 0; filter_y < p->kernel_h; ++filter_y) {
                    const int in_y = in_y0 + p->dilation_h * filter_y;
                    for (filter_x = 0; filter_x < p->kernel_w; ++filter_x) {
                        const int in_x = in_x0 + p->dilation_w * filter_x;
                        int8_t *tap = window + (filter_y * p->kernel_w + filter_x) * p->filter_depth;
                        if (in_y >= 0 && in_y < p->in_h && in_x >= 0 && in_x < p->in_w) {
                            memcpy(tap, input + (in_y * p->in_w + in_x) * p->in_c + group * p->filter_depth,
                                   (size_t)p->filter_depth);
                        } else {
                            memset(tap, (int)p->input_zero_point, (size_t)p->filter_depth);
                        }
                    }
                }
                for (out_c = group * per_group; out_c < (group + 1) * per_group; ++out_c, filter += window_bytes) {
                    const int32_t acc = p->bias[out_c] + dot_s8(window, filter, window_bytes);
                    *output++ = requantize_channel(&p->requant, out_c, acc);
                }
            }
        }
    }
}

#define CONV_GROUPED_S8_LAYER(name, params)                                                                \
    static NOINLINE void name(const int8_t *input, int8_t *output)                                         \
    {                                                                                                      \
        conv_grouped_s8(&(params), input, output);                                                         \
    }

#endif /* DIGITEDGE_CONV_GROUPED_S8_H */
