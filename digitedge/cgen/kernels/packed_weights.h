/* Packed 4- and 2-bit weights: 8 / bits two's-complement fields per byte, field i in bits
 * [i * bits, (i + 1) * bits). Each path reads its own layout (digitedge.cgen.layouts), rows padded
 * with zeros to whole blocks, so every load is a whole block and unpacking costs a shift or a mask:
 *   packed            plain C: taps in order, low field first (TFLite's INT4 order), whole bytes
 *   dsp_packed        CGEN_DSP, int8 inputs: 4-byte blocks, byte b field i = tap 4i + b
 *   dsp_packed_pairs  CGEN_DSP, int16 windows: 4-byte blocks, byte b field i = tap 4i + (0 2 1 3)[b]
 *   mve_packed        CGEN_MVE: 16-byte blocks, byte j field i = tap 16i + j
 * On the DSP path field i is masked to the top of each byte, so SXTB16 yields it times 2^(8 - bits):
 * the sums are scaled by that power of two, exactly, and shifted back once per output. */
#ifndef DIGITEDGE_PACKED_WEIGHTS_H
#define DIGITEDGE_PACKED_WEIGHTS_H

#include "cgen.h"

#if defined(__GNUC__)
#define PACKED_UNROLL _Pragma("GCC unroll 4")
#else
#define PACKED_UNROLL
#endif

#define PACKED_FIELDS(bits) (8 / (bits))
/* Taps of one block of the compiled path's layout, and the bytes of a row of `taps` taps. */
#if CGEN_MVE
#define PACKED_BLOCK_TAPS(bits) (16 * PACKED_FIELDS(bits))
#define PACKED_BLOCK_BYTES 16
#elif CGEN_DSP
#define PACKED_BLOCK_TAPS(bits) (4 * PACKED_FIELDS(bits))
#define PACKED_BLOCK_BYTES 4
#else
#define PACKED_BLOCK_TAPS(bits) PACKED_FIELDS(bits)
#define PACKED_BLOCK_BYTES 1
#endif
#define PACKED_ROW_BYTES(taps, bits) (((taps) + PACKED_BLOCK_TAPS(bits) - 1) / PACKED_BLOCK_TAPS(bits) * PACKED_BLOCK_BYTES)

/* Field `field` of a byte, sign-extended: moved to the top of an int8, shifted back arithmetically. */
static inline int32_t packed_field(uint8_t byte, int field, int bits)
{
    return (int32_t)(int8_t)(uint8_t)(byte << (8 - bits * (field + 1))) >> (8 - bits);
}

/* The plain layout: one or two rows (row0, row1) against the same taps; each input read once. */
CGEN_KERNEL void packed_dot_plain(const int8_t *x, const int8_t *row0, const int8_t *row1, int taps, int bits,
                                  int32_t *acc0, int32_t *acc1)
{
    const int per = PACKED_FIELDS(bits);
    int32_t sum0 = 0, sum1 = 0;
    int k, i;
    for (k = 0; k < taps; k += per, x += per) {
        const uint8_t byte0 = (uint8_t)*row0++;
        const uint8_t byte1 = row1 ? (uint8_t)*row1++ : 0;
        PACKED_UNROLL
        for (i = 0; i < per; ++i) {
            if (i < taps - k) {   /* the last byte of a row may hold fewer taps */
                sum0 += x[i] * packed_field(byte0, i, bits);
                if (row1) {
                    sum1 += x[i] * packed_field(byte1, i, bits);
                }
            }
        }
    }
    *acc0 += sum0;
    if (row1) {
        *acc1 += sum1;
    }
}

#if CGEN_DSP
/* Field `field` of each byte of w at the byte's top bits, the rest zero. */
static inline uint32_t packed_top(uint32_t w, int field, int bits)
{
    return (w << (8 - bits * (field + 1))) & (bits == 4 ? 0xF0F0F0F0u : 0xC0C0C0C0u);
}

/* Scaled sum over `groups` groups of four int8 inputs of one dsp_packed block. */
CGEN_KERNEL int32_t packed_block_dsp(const int8_t *x, uint32_t w, int groups, int bits, int32_t scaled)
{
    int i;
    PACKED_UNROLL
    for (i = 0; i < groups; ++i) {
        const uint32_t in = read_u32(x + 4 * i), top = packed_top(w, i, bits);
        scaled = __smlad(__sxtb16(top), __sxtb16(in), scaled);            /* taps 4i, 4i + 2 */
        scaled = __smlad(sxtb16_ror8(top), sxtb16_ror8(in), scaled);      /* taps 4i + 1, 4i + 3 */
    }
    return scaled;
}

/* A dsp_packed row against int8 inputs: whole groups of four by SMLAD, the last taps one by one. */
CGEN_KERNEL int32_t packed_dot_dsp(const int8_t *x, const int8_t *row, int taps, int bits)
{
    const int block = PACKED_BLOCK_TAPS(bits), groups = (taps % block) / 4;
    int32_t scaled = 0, sum;
    int k, tap;
    for (k = 0; k + block <= taps; k += block, row += 4, x += block) {
        scaled = packed_block_dsp(x, read_u32(row), PACKED_FIELDS(bits), bits, scaled);
    }
    if (groups) {
        scaled = packed_block_dsp(x, read_u32(row), groups, bits, scaled);
    }
    sum = scaled >> (8 - bits);
    for (tap = 4 * groups; tap < taps % block; ++tap) {
        sum += x[tap] * packed_field((uint8_t)row[tap % 4], tap / 4, bits);
    }
    return sum;
}
#endif

#if CGEN_MVE
/* Field `field` of 16 packed bytes as 16 int8 weights (immediate shifts, one branch per layer). */
CGEN_KERNEL int8x16_t packed_field_mve(int8x16_t v, int field, int bits)
{
    if (bits == 4) {
        return field == 0 ? vshrq_n_s8(vshlq_n_s8(v, 4), 4) : vshrq_n_s8(v, 4);
    }
    switch (field) {
    case 0:
        return vshrq_n_s8(vshlq_n_s8(v, 6), 6);
    case 1:
        return vshrq_n_s8(vshlq_n_s8(v, 4), 6);
    case 2:
        return vshrq_n_s8(vshlq_n_s8(v, 2), 6);
    default:
        return vshrq_n_s8(v, 6);
    }
}

/* Up to four mve_packed rows (rows[r] at row + r * row_bytes) against the same taps: one input vector
 * per 16 taps feeds every row; the last block's inputs zero-predicated past the taps. */
CGEN_KERNEL void packed_dot_mve(const int8_t *x, const int8_t *row, int row_bytes, int rows, int taps, int bits,
                                int32_t acc[4])
{
    const int per = PACKED_FIELDS(bits);
    int k, i, r;
    for (k = 0; k < taps; k += 16 * per, row += 16) {
        PACKED_UNROLL
        for (i = 0; i < per; ++i) {
            if (16 * i < taps - k) {
                const int left = taps - k - 16 * i;
                const int8x16_t in = left >= 16 ? vldrbq_s8(x + k + 16 * i)
                                                : vldrbq_z_s8(x + k + 16 * i, vctp8q((uint32_t)left));
                for (r = 0; r < rows; ++r) {
                    acc[r] = vmladavaq_s8(acc[r], in, packed_field_mve(vldrbq_s8(row + r * row_bytes), i, bits));
                }
            }
        }
    }
}
#endif

/* One row's dot product with the compiled path's layout (fully connected layers). */
CGEN_KERNEL int32_t packed_dot(const int8_t *x, const int8_t *row, int taps, int bits)
{
#if CGEN_MVE
    int32_t acc[4] = {0, 0, 0, 0};
    packed_dot_mve(x, row, 0, 1, taps, bits, acc);
    return acc[0];
#elif CGEN_DSP
    return packed_dot_dsp(x, row, taps, bits);
#else
    int32_t acc = 0;
    packed_dot_plain(x, row, (const int8_t *)0, taps, bits, &acc, &acc);
    return acc;
#endif
}

#endif /* DIGITEDGE_PACKED_WEIGHTS_H */
