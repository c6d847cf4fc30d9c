/* The int8 dot product every dense kernel without a path of its own uses (fully connected layers,
 * grouped convolutions, the odd channel of a plain convolution). Not specialised: one copy serves
 * every layer. */
#ifndef DIGITEDGE_DOT_S8_H
#define DIGITEDGE_DOT_S8_H

#include "cgen.h"

/* Sum of a[i] * b[i]: VMLADAVA.S8 on MVE, SMLAD on two halfword pairs with DSP, else one MAC a step. */
static NOINLINE MAYBE_UNUSED int32_t dot_s8(const int8_t *a, const int8_t *b, int n)
{
    int32_t sum = 0;
#if CGEN_MVE
    for (; n >= 16; n -= 16, a += 16, b += 16) {
        sum = vmladavaq_s8(sum, vldrbq_s8(a), vldrbq_s8(b));
    }
    if (n > 0) {
        const mve_pred16_t tail = vctp8q((uint32_t)n);
        sum = vmladavaq_s8(sum, vldrbq_z_s8(a, tail), vldrbq_z_s8(b, tail));
    }
    return sum;
#else
#if CGEN_DSP
    for (; n >= 8; n -= 8, a += 8, b += 8) {
        const uint32_t a_low = read_u32(a), a_high = read_u32(a + 4);
        const uint32_t b_low = read_u32(b), b_high = read_u32(b + 4);
        sum = __smlad(__sxtb16(a_low), __sxtb16(b_low), sum);            /* bytes 0 and 2 */
        sum = __smlad(sxtb16_ror8(a_low), sxtb16_ror8(b_low), sum);      /* bytes 1 and 3 */
        sum = __smlad(__sxtb16(a_high), __sxtb16(b_high), sum);
        sum = __smlad(sxtb16_ror8(a_high), sxtb16_ror8(b_high), sum);
    }
#endif
    for (; n > 0; --n) {
        sum += *a++ * *b++;
    }
    return sum;
#endif
}

/* Sum of the inputs, for a per-tensor filter zero point. */
static inline int32_t sum_s8(const int8_t *a, int n)
{
    int32_t sum = 0;
    for (; n > 0; --n) {
        sum += *a++;
    }
    return sum;
}

#endif /* DIGITEDGE_DOT_S8_H */
