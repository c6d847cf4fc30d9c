/* CONV_2D with 2-bit weights packed four per byte: conv_s4.h's kernels at 2 bits.
 * A layer is `CONV_S2_LAYER(name, params)`. */
#ifndef DIGITEDGE_CONV_S2_H
#define DIGITEDGE_CONV_S2_H

#include "conv_s4.h"

#define CONV_S2_LAYER(name, params) CONV_PACKED_LAYER(name, params, 2)

#endif /* DIGITEDGE_CONV_S2_H */
