/* FULLY_CONNECTED, dense int8 weights (units, depth) (TFLM's integer_ops/fully_connected.h):
 * (f + fo)(x + io) summed is f.x + io*sum(f) + fo*sum(x) + depth*fo*io, and all but f.x and
 * fo*sum(x) are folded into the bias; fo (the filter offset) is nonzero only for per-tensor weights.
 *
 * A layer is `FULLY_CONNECTED_S8_LAYER(name, params)` (a static const fully_connected_s8_params). */
#ifndef DIGITEDGE_FULLY_CONNECTED_S8_H
#define DIGITEDGE_FULLY_CONNECTED_S8_H

#include "cgen.h"
#include "dot_s8.h"
#include "requantize.h"

typedef struct {
    int depth, units;
    int32_t filter_offset;              /* minus the filter zero point (per-tensor weights), else 0 */
    const int8_t *filter;               /* dense: (units, depth); sparse_bitmask: the nonzero values */
    const uint32_t *mask;               /* sparse_bitmask: mask_words words per unit */
    int mask_words;
    const int32_t *bias;                /* bias + input_offset * sum(filter) + depth * fo * io */
    requant_params requant;
} fully_connected_s8_params;

/* Unit `unit`'s accumulator from its weights' dot product with the input (`input_sum`: sum of the input). */
CGEN_KERNEL int8_t fully_connected_s8_output(const fully_connected_s8_params *p, int unit, int32_t dot,
                                             int32_t input_sum)
{
    const int32_t acc = p->bias[unit] + dot + p->filter_offset * input_sum;
    return requantize_channel(&p->requant, unit, acc);
}

CGEN_KERNEL void fully_connected_s8(const fully_connected_s8_params *p, const int8_t *input, int8_t *output)
{
    const int32_t input_sum = p->filter_offset ? sum_s8(input, p->depth) : 0;
    const int8_t *filter = p->filter;
    int unit;
    for (unit = 0; unit < p->units; ++unit, filter += p->depth) {
        output[unit] = fully_connected_s8_output(p, unit, dot_s8(input, filter, p->depth), input_sum);
    }
}

#define FULLY_CONNECTED_S8_LAYER(name, params)                                                             \
    static NOINLINE void name(const int8_t *input, int8_t *output)                                         \
    {                                                                                                      \
        fully_connected_s8(&(params), input, output);                                                      \
    }

#endif /* DIGITEDGE_FULLY_CONNECTED_S8_H */
