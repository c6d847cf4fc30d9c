/* SOFTMAX on int8: TFLite's reference int8 softmax (output scale 1/256, zero point -128) with
 * gemmlowp's fixed-point exp and reciprocal, over rows of `depth` values; the input multiplier, left
 * shift and diff_min are TFLM's, computed by the generator.
 *
 * A layer is `SOFTMAX_S8_LAYER(name, params)` (a static const softmax_s8_params). */
#ifndef DIGITEDGE_SOFTMAX_S8_H
#define DIGITEDGE_SOFTMAX_S8_H

#include "cgen.h"
#include "requantize.h"

typedef struct {
    int rows, depth;
    int32_t input_multiplier;
    int input_left_shift;
    int32_t diff_min;
} softmax_s8_params;

/* gemmlowp SaturatingRoundingMultiplyByPOT with a positive exponent: a saturating left shift. */
static MAYBE_UNUSED int32_t shift_left_saturating(int32_t x, int exponent)
{
    const int32_t threshold = (int32_t)((1UL << (31 - exponent)) - 1);
    if (x > threshold) {
        return INT32_MAX;
    }
    if (x < -threshold) {
        return INT32_MIN;
    }
    return x * (1 << exponent);
}

/* gemmlowp exp_on_interval_between_negative_one_quarter_and_0_excl, Q0.31 in and out. */
static MAYBE_UNUSED int32_t exp_on_interval(int32_t a)
{
    const int32_t constant_term = 1895147668;     /* exp(-1/8) */
    const int32_t constant_1_over_3 = 715827883;
    const int32_t x = a + (1 << 28);              /* Taylor expansion around -1/8 */
    const int32_t x2 = high_mul(x, x);
    const int32_t x3 = high_mul(x2, x);
    const int32_t x4 = high_mul(x2, x2);
    const int32_t x4_over_4 = divide_by_pot(x4, 2);
    const int32_t polynomial = divide_by_pot(high_mul(x4_over_4 + x3, constant_1_over_3) + x2, 1);
    return constant_term + high_mul(constant_term, x + polynomial);
}

/* gemmlowp exp_on_negative_values for Q5.26 input, Q0.31 result. */
static MAYBE_UNUSED int32_t exp_on_negative_values(int32_t a)
{
    static const int32_t barrel[7] = {1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242};
    const int32_t one_quarter = 1 << 24;
    const int32_t a_mod_quarter_minus_one_quarter = (a & (one_quarter - 1)) - one_quarter;
    const int32_t remainder = a_mod_quarter_minus_one_quarter - a;
    int32_t result = exp_on_interval(shift_left_saturating(a_mod_quarter_minus_one_quarter, 5));
    int bit;
    for (bit = 0; bit < 7; ++bit) {               /* exp(-2^k) factors for k = -2 .. 4 */
        if (remainder & (1L << (24 + bit))) {
            result = high_mul(result, barrel[bit]);
        }
    }
    return a == 0 ? INT32_MAX : result;
}

/* gemmlowp one_over_one_plus_x_for_x_in_0_1: Newton-Raphson division, Q0.31 in and out. */
static MAYBE_UNUSED int32_t one_over_one_plus_x(int32_t a)
{
    const int64_t sum = (int64_t)a + INT32_MAX;
    const int32_t half_denominator = (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
    int32_t x = 1515870810 + high_mul(half_denominator, -1010580540);   /* 48/17 - 32/17 d, Q2.29 */
    int iteration;
    for (iteration = 0; iteration < 3; ++iteration) {
        const int32_t one_minus_half_denominator_times_x = (1 << 29) - high_mul(half_denominator, x);
        x = x + shift_left_saturating(high_mul(x, one_minus_half_denominator_times_x), 2);
    }
    return shift_left_saturating(x, 1);
}

static MAYBE_UNUSED int count_leading_zeros(uint32_t x)
{
    int zeros = 0;
    if (x == 0) {
        return 32;
    }
    while (!(x & 0x80000000UL)) {
        x <<= 1;
        ++zeros;
    }
    return zeros;
}

/* One row of `depth` values. */
static MAYBE_UNUSED void softmax_row(const int8_t *input, int8_t *output, int depth, int32_t input_multiplier,
                                     int input_left_shift, int32_t diff_min)
{
    int32_t max_in_row = -128, sum_of_exps = 0, shifted_scale;
    int c, headroom_plus_one, exponent;
    for (c = 0; c < depth; ++c) {
        if (input[c] > max_in_row) {
            max_in_row = input[c];
        }
    }
    for (c = 0; c < depth; ++c) {
        const int32_t input_diff = input[c] - max_in_row;
        if (input_diff >= diff_min) {
            const int32_t scaled_diff = high_mul(input_diff * (1 << input_left_shift), input_multiplier);
            sum_of_exps += divide_by_pot(exp_on_negative_values(scaled_diff), 12);   /* Q12.19 */
        }
    }
    headroom_plus_one = count_leading_zeros((uint32_t)sum_of_exps);
    shifted_scale = one_over_one_plus_x((int32_t)(((uint32_t)sum_of_exps << headroom_plus_one) - 0x80000000UL));
    exponent = (12 - headroom_plus_one) + 31 - 8;
    for (c = 0; c < depth; ++c) {
        const int32_t input_diff = input[c] - max_in_row;
        int32_t value = -128;
        if (input_diff >= diff_min) {
            const int32_t scaled_diff = high_mul(input_diff * (1 << input_left_shift), input_multiplier);
            value = divide_by_pot(high_mul(shifted_scale, exp_on_negative_values(scaled_diff)), exponent) - 128;
            value = value > 127 ? 127 : value;
        }
        output[c] = (int8_t)value;
    }
}

CGEN_KERNEL void softmax_s8(const softmax_s8_params *p, const int8_t *input, int8_t *output)
{
    int row;
    for (row = 0; row < p->rows; ++row) {
        softmax_row(input + row * p->depth, output + row * p->depth, p->depth, p->input_multiplier,
                    p->input_left_shift, p->diff_min);
    }
}

#define SOFTMAX_S8_LAYER(name, params)                                                                     \
    static NOINLINE void name(const int8_t *input, int8_t *output)                                         \
    {                                                                                                      \
        softmax_s8(&(params), input, output);                                                              \
    }

#endif /* DIGITEDGE_SOFTMAX_S8_H */
