/* FULLY_CONNECTED with 2-bit weights packed four per byte: fully_connected_s4.h's kernel at 2 bits.
 * A layer is `FULLY_CONNECTED_S2_LAYER(name, params)`. */
#ifndef DIGITEDGE_FULLY_CONNECTED_S2_H
#define DIGITEDGE_FULLY_CONNECTED_S2_H

#include "fully_connected_s4.h"

#define FULLY_CONNECTED_S2_LAYER(name, params) FULLY_CONNECTED_PACKED_LAYER(name, params, 2)

#endif /* DIGITEDGE_FULLY_CONNECTED_S2_H */
