/* TFLite Micro's int8 requantization in gemmlowp's fixed point: an int32 accumulator times a Q31
 * multiplier and a power of two, rounded as TFLM rounds (twice), plus the output zero point and the
 * activation clamp. */
#ifndef DIGITEDGE_REQUANTIZE_H
#define DIGITEDGE_REQUANTIZE_H

#include "cgen.h"

/* One layer's requantization: per output channel multiplier and shift, then zero point and clamp. */
typedef struct {
    const int32_t *multiplier;
    const int8_t *shift;
    int32_t zero_point;
    int32_t act_min;
    int32_t act_max;
} requant_params;

/* gemmlowp SaturatingRoundingDoublingHighMul: (a * b) / 2^31, rounded to nearest, saturated. */
static inline int32_t high_mul(int32_t a, int32_t b)
{
    int64_t ab, nudged;
    if (a == INT32_MIN && b == INT32_MIN) {
        return INT32_MAX;
    }
    ab = (int64_t)a * (int64_t)b;
    nudged = ab + (ab >= 0 ? (1 << 30) : (1 - (1 << 30)));
    /* truncating division by 2^31 (as gemmlowp's "/"), without a 64-bit division call */
    return (int32_t)(nudged >= 0 ? nudged >> 31 : -((-nudged) >> 31));
}

/* gemmlowp RoundingDivideByPOT: x / 2^exponent, rounded to nearest, ties away from zero. */
static inline int32_t divide_by_pot(int32_t x, int exponent)
{
    const int32_t mask = (int32_t)((1LL << exponent) - 1);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* high_mul for a positive multiplier b (never INT32_MIN, so no saturation): truncating the nudged
 * product towards zero is, for either sign, one arithmetic shift of product + 2^30. */
static inline int32_t high_mul_positive(int32_t a, int32_t b)
{
    return (int32_t)(((int64_t)a * (int64_t)b + (1 << 30)) >> 31);
}

/* MultiplyByQuantizedMultiplier (double rounding), plus the output zero point and the activation clamp. */
static inline int8_t requantize(int32_t acc, int32_t multiplier, int shift, int32_t zero_point,
                                int32_t act_min, int32_t act_max)
{
    const int left_shift = shift > 0 ? shift : 0;
    const int right_shift = shift > 0 ? 0 : -shift;
    int32_t value = divide_by_pot(high_mul_positive(acc * (1 << left_shift), multiplier), right_shift) + zero_point;
    if (value < act_min) {
        value = act_min;
    }
    if (value > act_max) {
        value = act_max;
    }
    return (int8_t)value;
}

/* Output channel c's accumulator as the layer's int8 output. */
CGEN_KERNEL int8_t requantize_channel(const requant_params *requant, int c, int32_t acc)
{
    return requantize(acc, requant->multiplier[c], requant->shift[c], requant->zero_point, requant->act_min,
                      requant->act_max);
}

#endif /* DIGITEDGE_REQUANTIZE_H */
