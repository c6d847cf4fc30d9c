/* Packed 4- and 2-bit weights: 8 / bits two's-complement fields per byte, field i in bits
 * [i * bits, (i + 1) * bits). Each path reads its own layout (digitedge.cgen.layouts), rows padded
 * with zeros to whole blocks, so every load is a whole block and unpacking costs a shift or a mask:
 *   packed            plain C: taps in order, low field first (TFLite's INT4 order), whole bytes
 *   dsp_packed        CGEN_DSP, int8 inputs: 4-byte blocks, byte b field i = tap 4i + b
 *   dsp_packed_halves CGEN_DSP, int16 windows (conv_s4.h): 32-bit blocks, word field j = tap
 *                     2 (16 / bits - 1 - j), past the low halfword tap 2 (32 / bits - 1 - j) + 1
 *   mve_packed        CGEN_MVE: 16-byte blocks, byte j field i = tap 16i + j
 * On the DSP and MVE paths a field is masked to the top of its byte (of its halfword in
 * dsp_packed_halves), so it is read as an int8 times 2^(8 - bits) (an int16 times 2^(16 - bits)): the
 * sums are scaled by that power of two, exactly, and shifted back once per output. */
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

/* Field `field` of a packed byte read as int8, sign-extended: moved to the top of a word, shifted back
 * arithmetically (the top field is one shift of the signed byte). */
static inline int32_t packed_field(int8_t byte, int field, int bits)
{
    if (field == PACKED_FIELDS(bits) - 1) {
        return (int32_t)byte >> (8 - bits);
    }
    return (int32_t)((uint32_t)(int32_t)byte << (32 - bits * (field + 1))) >> (32 - bits);
}

/* The first `count` fields of one byte of each row (row1: two rows) against x[0..count). */
CGEN_KERNEL void packed_byte_plain(const int8_t *x, int8_t byte0, int8_t byte1, int rows, int count, int bits,
                                   int32_t *sum0, int32_t *sum1)
{
    int i;
    PACKED_UNROLL
    for (i = 0; i < count; ++i) {
        *sum0 += x[i] * packed_field(byte0, i, bits);
        if (rows == 2) {
            *sum1 += x[i] * packed_field(byte1, i, bits);
        }
    }
}

/* The plain layout: one or two rows (row0, row1) against the same taps; each input read once. Whole
 * bytes, then the last byte's taps. */
CGEN_KERNEL void packed_dot_plain(const int8_t *x, const int8_t *row0, const int8_t *row1, int taps, int bits,
                                  int32_t *acc0, int32_t *acc1)
{
    const int per = PACKED_FIELDS(bits), rows = row1 ? 2 : 1;
    int32_t sum0 = 0, sum1 = 0;
    int k;
    for (k = 0; k + per <= taps; k += per, x += per) {
        packed_byte_plain(x, *row0++, rows == 2 ? *row1++ : 0, rows, per, bits, &sum0, &sum1);
    }
    if (taps % per) {
        packed_byte_plain(x, *row0, rows == 2 ? *row1 : 0, rows, taps % per, bits, &sum0, &sum1);
    }
    *acc0 += sum0;
    if (rows == 2) {
        *acc1 += sum1;
    }
}

#if CGEN_SIMD32
/* Field `field` of each byte of w at the byte's top bits, the rest zero. */
static inline uint32_t packed_top(uint32_t w, int field, int bits)
{
    return (w << (8 - bits * (field + 1))) & (bits == 4 ? 0xF0F0F0F0u : 0xC0C0C0C0u);
}
#endif

#if CGEN_DSP

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
        sum += x[tap] * packed_field(row[tap % 4], tap / 4, bits);
    }
    return sum;
}
#endif

#if CGEN_MVE
/* Field `field` of 16 packed bytes at the top of each byte, the rest zero: 16 int8 weights times
 * 2^(8 - bits) (immediate shifts and a mask, one branch per layer). */
CGEN_KERNEL int8x16_t packed_top_mve(int8x16_t v, int field, int bits)
{
    if (bits == 4) {
        return field == 0 ? vshlq_n_s8(v, 4) : vandq_s8(v, vdupq_n_s8((int8_t)0xF0));
    }
    switch (field) {
    case 0:
        return vshlq_n_s8(v, 6);
    case 1:
        return vandq_s8(vshlq_n_s8(v, 4), vdupq_n_s8((int8_t)0xC0));
    case 2:
        return vandq_s8(vshlq_n_s8(v, 2), vdupq_n_s8((int8_t)0xC0));
    default:
        return vandq_s8(v, vdupq_n_s8((int8_t)0xC0));
    }
}

/* One block of up to four mve_packed rows (row + r * row_bytes) against the inputs x of its `taps` taps
 * (16 * fields for a whole block): each weight vector loads once, each input vector feeds every row; a
 * last partial vector is zero-predicated past the taps. */
CGEN_KERNEL void packed_block_mve(const int8_t *x, const int8_t *row, int row_bytes, int rows, int taps, int bits,
                                  int32_t acc[4])
{
    int8x16_t w[4];
    int i, r;
    PACKED_UNROLL
    for (r = 0; r < rows; ++r) {
        w[r] = vldrbq_s8(row + r * row_bytes);
    }
    PACKED_UNROLL
    for (i = 0; i < PACKED_FIELDS(bits); ++i) {
        if (16 * i < taps) {
            const int8x16_t in = taps - 16 * i >= 16 ? vldrbq_s8(x + 16 * i)
                                                     : vldrbq_z_s8(x + 16 * i, vctp8q((uint32_t)(taps - 16 * i)));
            PACKED_UNROLL
            for (r = 0; r < rows; ++r) {
                acc[r] = vmladavaq_s8(acc[r], in, packed_top_mve(w[r], i, bits));
            }
        }
    }
}

/* Up to four rows against the same taps, sums scaled by 2^(8 - bits) added to acc[r]: whole blocks,
 * then the last one's taps. */
CGEN_KERNEL void packed_dot_mve(const int8_t *x, const int8_t *row, int row_bytes, int rows, int taps, int bits,
                                int32_t acc[4])
{
    const int block = 16 * PACKED_FIELDS(bits);
    int k;
    for (k = 0; k + block <= taps; k += block, row += 16) {
        packed_block_mve(x + k, row, row_bytes, rows, block, bits, acc);
    }
    if (taps % block) {
        packed_block_mve(x + k, row, row_bytes, rows, taps % block, bits, acc);
    }
}
#endif

/* One row's dot product with the compiled path's layout (fully connected layers). */
CGEN_KERNEL int32_t packed_dot(const int8_t *x, const int8_t *row, int taps, int bits)
{
#if CGEN_MVE
    int32_t acc[4] = {0, 0, 0, 0};
    packed_dot_mve(x, row, 0, 1, taps, bits, acc);
    return acc[0] >> (8 - bits);
#elif CGEN_DSP
    return packed_dot_dsp(x, row, taps, bits);
#else
    int32_t acc = 0;
    packed_dot_plain(x, row, (const int8_t *)0, taps, bits, &acc, &acc);
    return acc;
#endif
}

#endif /* DIGITEDGE_PACKED_WEIGHTS_H */
