/* Dot products over pruned weights stored as a bitmask plus their nonzero values (the
 * `sparse_bitmask` layout): per output channel ceil(depth / 32) uint32 words, bit k set when weight
 * k is nonzero, the nonzero values packed in order. Only the nonzero weights are multiplied. */
#ifndef DIGITEDGE_MASKED_DOT_S8_H
#define DIGITEDGE_MASKED_DOT_S8_H

#include "cgen.h"

#define MASK_WORD_BITS 32

/* Sum over the set bits k of `bits` of (next nonzero weight) * x[k]; advances *values. */
static inline int32_t masked_dot(uint32_t bits, const int8_t **values, const int8_t *x)
{
    const int8_t *value = *values;
    int32_t sum = 0;
#if defined(__GNUC__) && (!defined(__arm__) || __ARM_ARCH >= 7)
    while (bits) {
        sum += *value++ * x[__builtin_ctz(bits)];   /* RBIT + CLZ on Cortex-M3 and later */
        bits &= bits - 1;
    }
#else
    for (; bits; bits >>= 1, ++x) {
        if (bits & 1) {
            sum += *value++ * *x;
        }
    }
#endif
    *values = value;
    return sum;
}

/* The same walk for two windows x and x + second at once: each decoded weight is used twice. */
static inline void masked_dot_pair(uint32_t bits, const int8_t **values, const int8_t *x, int second,
                                   int32_t *acc0, int32_t *acc1)
{
    const int8_t *value = *values;
    int32_t sum0 = 0, sum1 = 0;
#if defined(__GNUC__) && (!defined(__arm__) || __ARM_ARCH >= 7)
    while (bits) {
        const int k = __builtin_ctz(bits);
        const int32_t weight = *value++;
        sum0 += weight * x[k];
        sum1 += weight * x[k + second];
        bits &= bits - 1;
    }
#else
    for (; bits; bits >>= 1, ++x) {
        if (bits & 1) {
            const int32_t weight = *value++;
            sum0 += weight * x[0];
            sum1 += weight * x[second];
        }
    }
#endif
    *values = value;
    *acc0 += sum0;
    *acc1 += sum1;
}

#endif /* DIGITEDGE_MASKED_DOT_S8_H */
