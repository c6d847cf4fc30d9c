/* FULLY_CONNECTED with packed 4-bit (or, through fully_connected_s2.h, 2-bit) weights, read packed
 * from flash on every path (packed_weights.h); the bias folding is fully_connected_s8.h's.
 *
 * A layer is `FULLY_CONNECTED_S4_LAYER(name, params)` (a static const fully_connected_s8_params whose
 * `filter` holds the compiled path's packed layout). */
#ifndef DIGITEDGE_FULLY_CONNECTED_S4_H
#define DIGITEDGE_FULLY_CONNECTED_S4_H

#include "fully_connected_s8.h"
#include "packed_weights.h"

CGEN_KERNEL void fully_connected_packed(const fully_connected_s8_params *p, int bits, const int8_t *input,
                                        int8_t *output)
{
    const int32_t input_sum = p->filter_offset ? sum_s8(input, p->depth) : 0;
    const int row_bytes = PACKED_ROW_BYTES(p->depth, bits);
    const int8_t *filter = p->filter;
    int unit;
    for (unit = 0; unit < p->units; ++unit, filter += row_bytes) {
        output[unit] = fully_connected_s8_output(p, unit, packed_dot(input, filter, p->depth, bits), input_sum);
    }
}

#define FULLY_CONNECTED_PACKED_LAYER(name, params, bits)                                                   \
    static NOINLINE void name(const int8_t *input, int8_t *output)                                         \
    {                                                                                                      \
        fully_connected_packed(&(params), bits, input, output);                                            \
    }
#define FULLY_CONNECTED_S4_LAYER(name, params) FULLY_CONNECTED_PACKED_LAYER(name, params, 4)

#endif /* DIGITEDGE_FULLY_CONNECTED_S4_H */
