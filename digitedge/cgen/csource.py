"""Standalone C99 for an int8 .tflite: weights as const arrays and one `<name>_infer` function.

Each layer becomes a function with its shapes as literals, running TFLite Micro's int8 reference
arithmetic (integer_ops/conv.h, depthwise_conv.h, pooling.h, fully_connected.h, softmax.h with
gemmlowp's fixed-point exp). Accumulation is exact integer arithmetic, so reordering it (folding
the input zero point into the bias, SIMD dot products, skipping pruned zeros) keeps every output bit.
One source compiles for every core: the compiler's feature macros choose the MVE (Cortex-M55),
DSP (Cortex-M4/M7/M33) or plain C kernels (digitedge.cgen.convolution). Each MAX_POOL_2D is fused
into the convolution before it, and every activation and working buffer has an offset in one
static arena (digitedge.cgen.plan).

TFLite Micro, not LiteRT, is the reference: LiteRT's reference FULLY_CONNECTED rescales the
accumulator from the float scales and rounds once, while TFLM multiplies by QuantizeMultiplier's
Q31 significand and rounds twice (SaturatingRoundingDoublingHighMul, then RoundingDivideByPOT);
where the first rounding lands on a tie the two differ by one step (~0.3-1% of MNIST images).
"""

from __future__ import annotations

import hashlib
import re

import numpy as np

from digitedge.cgen import convolution
from digitedge.cgen.ctext import array, checked_int32, describe, requant_arrays, requant_call
from digitedge.cgen.layers import (Conv, ConvPool, FullyConnected, Graph, Pool, Reshape, Softmax, fuse_pools,
                                   parse_model)
from digitedge.cgen.plan import ArenaPlan, plan_arena
from digitedge.cgen.sparse import MASK_WORD_BITS, sparse_if_smaller
from digitedge.errors import DigitedgeError

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

_FIXED_POINT = r"""
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
"""

_DOT = r"""
#if CGEN_DSP
/* Bytes 1 and 3 sign-extended to two halfwords (SXTB16 with its rotate, which GCC does not fuse). */
static inline uint32_t sxtb16_ror8(uint32_t word)
{
    uint32_t result;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(result) : "r"(word));
    return result;
}

static inline uint32_t read_u32(const void *bytes)
{
    uint32_t word;
    memcpy(&word, bytes, 4);
    return word;
}
#endif

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
"""

_MASKED_DOT = r"""
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
"""

_SUM = r"""
/* Sum of the inputs, for a per-tensor filter zero point. */
static inline int32_t sum_s8(const int8_t *a, int n)
{
    int32_t sum = 0;
    for (; n > 0; --n) {
        sum += *a++;
    }
    return sum;
}
"""

_SOFTMAX = r"""
/* gemmlowp SaturatingRoundingMultiplyByPOT with a positive exponent: a saturating left shift. */
static int32_t shift_left_saturating(int32_t x, int exponent)
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
static int32_t exp_on_interval(int32_t a)
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
static int32_t exp_on_negative_values(int32_t a)
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
static int32_t one_over_one_plus_x(int32_t a)
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

static int count_leading_zeros(uint32_t x)
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

/* TFLite's reference int8 Softmax (output scale 1/256, zero point -128) over one row. */
static void softmax_row(const int8_t *input, int8_t *output, int depth, int32_t input_multiplier,
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
"""


def generate_c_sources(tflite_bytes: bytes, *, name: str = "digitedge", label: str = "model") -> dict[str, str]:
    """{'<name>_model.h': ..., '<name>_model.c': ...} for a full-integer int8 model.

    DigitedgeError (before anything is produced) for an operator the generator does not implement,
    a model that is not int8, or a `name` that is not a C identifier.
    """
    if not _IDENTIFIER.match(name):
        raise DigitedgeError(f"C name prefix {name!r} is not a C identifier")
    graph, plan = planned_graph(tflite_bytes, label)
    digest = hashlib.sha256(tflite_bytes).hexdigest()
    return {f"{name}_model.h": _header(graph, plan, name, digest),
            f"{name}_model.c": _source(graph, plan, name, digest)}


def planned_graph(tflite_bytes: bytes, label: str = "model") -> tuple[Graph, ArenaPlan]:
    """The model with its pools fused into their convolutions, and its arena plan (windows included)."""
    graph = fuse_pools(parse_model(tflite_bytes, label))
    scratch = {index: convolution.scratch_bytes(layer) for index, layer in enumerate(graph.layers)
               if _windowed(layer)}
    return graph, plan_arena(graph, scratch)


def arena_bytes(tflite_bytes: bytes) -> int:
    """Bytes of the generated C's one static activation arena (`<NAME>_ARENA_BYTES`)."""
    return planned_graph(tflite_bytes)[1].arena_bytes


def _windowed(layer) -> bool:
    """Convolutions emitted by digitedge.cgen.convolution (windows in the arena)."""
    conv = layer.conv if isinstance(layer, ConvPool) else layer
    return isinstance(conv, Conv) and conv.op == "CONV_2D" and conv.filter.shape[3] == conv.in_shape[2]


def _header(graph: Graph, plan: ArenaPlan, name: str, digest: str) -> str:
    macro = name.upper()
    source, result = graph.tensors[graph.input], graph.tensors[graph.output]
    return f"""/* Generated by digitedge from a .tflite with sha256 {digest}.
 * Layers: {', '.join(layer.op for layer in graph.layers)}.
 * Standalone C99, no TensorFlow Lite Micro: outputs are bit-exact with its int8 reference kernels.
 * The compiler's feature macros pick the kernels: MVE (Cortex-M55), DSP/SIMD32 (Cortex-M4/M7/M33)
 * or plain C (Cortex-M0/M3, any host). */
#ifndef {macro}_MODEL_H
#define {macro}_MODEL_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {{
#endif

#define {macro}_INPUT_SIZE {graph.size(graph.input)}     /* {'x'.join(str(d) for d in source.shape)} int8 */
#define {macro}_OUTPUT_SIZE {graph.size(graph.output)}   /* {'x'.join(str(d) for d in result.shape)} int8 */
#define {macro}_INPUT_SCALE {source.scales[0]!r}f
#define {macro}_INPUT_ZERO_POINT ({source.zero_points[0]})
#define {macro}_OUTPUT_SCALE {result.scales[0]!r}f
#define {macro}_OUTPUT_ZERO_POINT ({result.zero_points[0]})
#define {macro}_ARENA_BYTES {plan.arena_bytes}   /* every activation and convolution window, in {name}_model.c */
#define {macro}_WINDOW_BYTES {max(map(window_bytes, graph.layers), default=0)}   /* largest window on the stack (grouped convolutions) */

/* One inference. `input`: the image quantized with the input scale and zero point, row-major HWC.
 * Not reentrant: the layers share one static arena. */
void {name}_infer(const int8_t input[{macro}_INPUT_SIZE], int8_t output[{macro}_OUTPUT_SIZE]);

#ifdef __cplusplus
}}
#endif

#endif /* {macro}_MODEL_H */
"""


def _source(graph: Graph, plan: ArenaPlan, name: str, digest: str) -> str:
    macro = name.upper()
    kinds = [type(layer) for layer in graph.layers]
    offset_fc = any(isinstance(layer, FullyConnected) and layer.filter_offset for layer in graph.layers)
    parts = [f"""/* Generated by digitedge from a .tflite with sha256 {digest}. Do not edit. */
#include "{name}_model.h"

#include <string.h>
#if defined(__GNUC__) && defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#define CGEN_MVE 1
#include <arm_mve.h>
#elif defined(__GNUC__) && defined(__ARM_FEATURE_SIMD32)
#define CGEN_DSP 1
#include <arm_acle.h>
#endif
#ifndef CGEN_MVE
#define CGEN_MVE 0
#endif
#ifndef CGEN_DSP
#define CGEN_DSP 0
#endif

/* One register allocation per layer: inlining all layers into one function spills the inner loops. */
#if defined(__GNUC__)
#define NOINLINE __attribute__((noinline))
#define MAYBE_UNUSED __attribute__((unused))   /* dot_s8 when the path's kernels do their own */
#else
#define NOINLINE
#define MAYBE_UNUSED
#endif

#define POOL_FIRST 1   /* phase bits of a fused pool: the window's first conv pixel, its last */
#define POOL_LAST 2
""", _FIXED_POINT]
    if any(_sparse(layer) is None and (isinstance(layer, FullyConnected) or _windowed(layer)
                                       or window_bytes(layer)) for layer in graph.layers):
        parts.append(_DOT)
    if any(_sparse(layer) is not None for layer in graph.layers):
        parts.append(_MASKED_DOT)
    if offset_fc:
        parts.append(_SUM)
    if Softmax in kinds:
        parts.append(_SOFTMAX)
    if plan.arena_bytes:
        parts.append(f"\n/* Activations and convolution windows; buffers whose lifetimes do not overlap share bytes. */\n"
                     f"static union {{\n    int32_t align;\n    int8_t bytes[{plan.arena_bytes}];\n"
                     f"    int16_t halves[{plan.arena_bytes // 2}];\n    int32_t words[{plan.arena_bytes // 4}];\n}} arena;\n")
    calls = []
    for index, layer in enumerate(graph.layers):
        function = f"layer{index}_{layer.op.lower().replace('+', '_')}"
        source, target = _location(graph, plan, layer.input), _location(graph, plan, layer.output)
        if isinstance(layer, Reshape):
            if source != target:
                calls.append(f"    memcpy({target}, {source}, {layer.size});   /* {index}: RESHAPE */")
            continue
        if _windowed(layer):
            parts.append(convolution.emit(layer, function, plan.scratch[index]))
        else:
            parts.append(_LAYER_EMITTERS[type(layer)](layer, function))
        note = "   /* in place: each output precedes the inputs it reads */" if index in plan.in_place else ""
        calls.append(f"    {function}({source}, {target});{note}")
    parts.append(f"""
void {name}_infer(const int8_t input[{macro}_INPUT_SIZE], int8_t output[{macro}_OUTPUT_SIZE])
{{
{chr(10).join(calls)}
}}
""")
    return "".join(parts)


def _sparse(layer):
    """The sparse form of a convolution's or fully connected layer's weights, when smaller than dense."""
    if isinstance(layer, FullyConnected):
        return sparse_if_smaller(layer.filter)
    if _windowed(layer):
        return sparse_if_smaller(convolution.rows(layer.conv if isinstance(layer, ConvPool) else layer))
    return None


def _location(graph: Graph, plan: ArenaPlan, tensor: int) -> str:
    if tensor == graph.input:
        return "input"
    if tensor == graph.output:
        return "output"
    return f"arena.bytes + {plan.offsets[tensor]}"


def window_bytes(layer) -> int:
    """Bytes of the on-stack window a grouped CONV_2D gathers for one output pixel (0 for other layers:
    the other convolutions keep their windows in the arena)."""
    if not isinstance(layer, Conv) or layer.op != "CONV_2D" or _windowed(layer):
        return 0
    return int(np.prod(layer.filter.shape[1:]))


def _conv(layer: Conv, function: str) -> str:
    """Grouped CONV_2D (input depth a multiple of the filter depth), plain C on every core."""
    if layer.op == "DEPTHWISE_CONV_2D":
        return _depthwise(layer, function)
    (in_h, in_w, in_c), (out_h, out_w, out_c) = layer.in_shape, layer.out_shape
    kernel_h, kernel_w, filter_depth = (int(d) for d in layer.filter.shape[1:4])
    groups, window = in_c // filter_depth, window_bytes(layer)
    bias = layer.bias.astype(np.int64) if layer.bias is not None else np.zeros(out_c, np.int64)
    # Padded taps are gathered as the input zero point, where (x + input_offset) is 0, so every
    # window is complete and input_offset * sum(filter) is a per-channel constant.
    folded = checked_int32(bias + layer.input_offset * layer.filter.reshape(out_c, -1).astype(np.int64).sum(1), function)
    return (describe(layer, function)
            + array("int8_t", f"{function}_filter", layer.filter, 24)
            + "/* bias + input_offset * sum(filter): the zero point folded in once per channel */\n"
            + array("int32_t", f"{function}_bias", folded, 8)
            + requant_arrays(function, layer.requant) + f"""
static NOINLINE void {function}(const int8_t *input, int8_t *output)
{{
    int8_t window[{window}];
    int out_y, out_x, group, out_c, filter_y, filter_x;
    for (out_y = 0; out_y < {out_h}; ++out_y) {{
        const int in_y0 = out_y * {layer.stride[0]} - {layer.padding[0]};
        for (out_x = 0; out_x < {out_w}; ++out_x) {{
            const int in_x0 = out_x * {layer.stride[1]} - {layer.padding[1]};
            for (group = 0; group < {groups}; ++group) {{
                const int8_t *filter = {function}_filter + group * {out_c // groups * window};
                for (filter_y = 0; filter_y < {kernel_h}; ++filter_y) {{
                    const int in_y = in_y0 + {layer.dilation[0]} * filter_y;
                    for (filter_x = 0; filter_x < {kernel_w}; ++filter_x) {{
                        const int in_x = in_x0 + {layer.dilation[1]} * filter_x;
                        int8_t *tap = window + (filter_y * {kernel_w} + filter_x) * {filter_depth};
                        if (in_y >= 0 && in_y < {in_h} && in_x >= 0 && in_x < {in_w}) {{
                            memcpy(tap, input + (in_y * {in_w} + in_x) * {in_c} + group * {filter_depth}, {filter_depth});
                        }} else {{
                            memset(tap, {-layer.input_offset}, {filter_depth});
                        }}
                    }}
                }}
                for (out_c = group * {out_c // groups}; out_c < (group + 1) * {out_c // groups}; ++out_c, filter += {window}) {{
                    const int32_t acc = {function}_bias[out_c] + dot_s8(window, filter, {window});
                    *output++ = {requant_call(function, layer.requant, "out_c")};
                }}
            }}
        }}
    }}
}}
""")


def _depthwise(layer: Conv, function: str) -> str:
    (in_h, in_w, in_c), (out_h, out_w, out_c) = layer.in_shape, layer.out_shape
    kernel_h, kernel_w = (int(d) for d in layer.filter.shape[1:3])
    stride_h, stride_w = layer.stride
    dilation_h, dilation_w = layer.dilation
    pad_h, pad_w = layer.padding
    multiplier = layer.depth_multiplier
    bias = layer.bias.astype(np.int64) if layer.bias is not None else np.zeros(out_c, np.int64)
    return (describe(layer, function)
            + array("int8_t", f"{function}_filter", layer.filter, 24)
            + array("int32_t", f"{function}_bias", bias, 8)
            + requant_arrays(function, layer.requant) + f"""
static NOINLINE void {function}(const int8_t *input, int8_t *output)
{{
    int out_y, out_x, in_c, m, filter_y, filter_x;
    for (out_y = 0; out_y < {out_h}; ++out_y) {{
        const int in_y0 = out_y * {stride_h} - {pad_h};
        for (out_x = 0; out_x < {out_w}; ++out_x) {{
            const int in_x0 = out_x * {stride_w} - {pad_w};
            for (in_c = 0; in_c < {in_c}; ++in_c) {{
                for (m = 0; m < {multiplier}; ++m) {{
                    const int out_c = in_c * {multiplier} + m;
                    int32_t acc = {function}_bias[out_c];
                    for (filter_y = 0; filter_y < {kernel_h}; ++filter_y) {{
                        const int in_y = in_y0 + {dilation_h} * filter_y;
                        if (in_y < 0 || in_y >= {in_h}) {{
                            continue;
                        }}
                        for (filter_x = 0; filter_x < {kernel_w}; ++filter_x) {{
                            const int in_x = in_x0 + {dilation_w} * filter_x;
                            if (in_x < 0 || in_x >= {in_w}) {{
                                continue;
                            }}
                            acc += {function}_filter[(filter_y * {kernel_w} + filter_x) * {out_c} + out_c]
                                   * (input[(in_y * {in_w} + in_x) * {in_c} + in_c] + {layer.input_offset});
                        }}
                    }}
                    *output++ = {requant_call(function, layer.requant, "out_c")};
                }}
            }}
        }}
    }}
}}
""")


def _pool(layer: Pool, function: str) -> str:
    (in_h, in_w, depth), (out_h, out_w, _) = layer.in_shape, layer.out_shape
    window_h, window_w = layer.window
    if layer.op == "MAX_POOL_2D":
        start, update = "int32_t best = -128;", "best = value > best ? value : best;"
        finish = "best"
    else:
        start, update = "int32_t acc = 0, count = 0;", "acc += value;\n                        ++count;"
        finish = "acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count"
    return describe(layer, function) + f"""
static NOINLINE void {function}(const int8_t *input, int8_t *output)
{{
    int out_y, out_x, c, y, x;
    for (out_y = 0; out_y < {out_h}; ++out_y) {{
        const int in_y0 = out_y * {layer.stride[0]} - {layer.padding[0]};
        const int y_start = in_y0 < 0 ? -in_y0 : 0;
        const int y_end = {in_h} - in_y0 < {window_h} ? {in_h} - in_y0 : {window_h};
        for (out_x = 0; out_x < {out_w}; ++out_x) {{
            const int in_x0 = out_x * {layer.stride[1]} - {layer.padding[1]};
            const int x_start = in_x0 < 0 ? -in_x0 : 0;
            const int x_end = {in_w} - in_x0 < {window_w} ? {in_w} - in_x0 : {window_w};
            for (c = 0; c < {depth}; ++c) {{
                {start}
                int32_t result;
                for (y = y_start; y < y_end; ++y) {{
                    for (x = x_start; x < x_end; ++x) {{
                        const int32_t value = input[((in_y0 + y) * {in_w} + in_x0 + x) * {depth} + c];
                        {update}
                    }}
                }}
                result = {finish};
                result = result < {layer.act_min} ? {layer.act_min} : result;
                result = result > {layer.act_max} ? {layer.act_max} : result;
                *output++ = (int8_t)result;
            }}
        }}
    }}
}}
"""


def _fully_connected(layer: FullyConnected, function: str) -> str:
    units, depth = layer.units, layer.depth
    bias = layer.bias.astype(np.int64) if layer.bias is not None else np.zeros(units, np.int64)
    row_sums = layer.filter.astype(np.int64).sum(1)
    # (f + fo)(x + io) summed = f.x + io*sum(f) + fo*sum(x) + depth*fo*io; only fo*sum(x) needs the input
    folded = checked_int32(bias + layer.input_offset * row_sums
                    + depth * layer.filter_offset * layer.input_offset, function)
    input_term = f" + {layer.filter_offset} * input_sum" if layer.filter_offset else ""
    input_sum = f"    const int32_t input_sum = sum_s8(input, {depth});\n" if layer.filter_offset else ""
    kind = "per-channel" if layer.per_channel else "per-tensor"
    sparse = sparse_if_smaller(layer.filter)
    if sparse is None:
        weights = array("int8_t", f"{function}_filter", layer.filter, 24)
        start = f"    const int8_t *filter = {function}_filter;\n"
        advance, dot = f", filter += {depth}", f"dot_s8(input, filter, {depth})"
        inner = ""
    else:
        weights = (f"/* {sparse.values.size} of {layer.filter.size} weights nonzero: bitmask + values, "
                   f"{sparse.nbytes} B instead of {layer.filter.size} B */\n"
                   + array("uint32_t", f"{function}_mask", sparse.masks, 8)
                   + array("int8_t", f"{function}_values", sparse.values, 24))
        start = (f"    const uint32_t *mask = {function}_mask;\n    const int8_t *value = {function}_values;\n"
                 "    int word;\n")
        advance, dot = "", "sparse_sum"
        inner = (f"        int32_t sparse_sum = 0;\n        for (word = 0; word < {sparse.masks.shape[1]}; ++word) {{\n"
                 f"            sparse_sum += masked_dot(*mask++, &value, input + {MASK_WORD_BITS} * word);\n"
                 "        }\n")
    return (f"\n/* {function}: FULLY_CONNECTED {depth} -> {units}, {kind} weights, {layer.activation} */\n"
            + weights
            + "/* bias + input_offset * sum(filter): the zero point folded in once per unit */\n"
            + array("int32_t", f"{function}_bias", folded, 8)
            + requant_arrays(function, layer.requant) + f"""
static NOINLINE void {function}(const int8_t *input, int8_t *output)
{{
{input_sum}{start}    int unit;
    for (unit = 0; unit < {units}; ++unit{advance}) {{
{inner}        const int32_t acc = {function}_bias[unit] + {dot}{input_term};
        output[unit] = {requant_call(function, layer.requant, "unit")};
    }}
}}
""")


def _softmax(layer: Softmax, function: str) -> str:
    return f"""
/* {function}: SOFTMAX over {layer.depth} values; TFLM's input multiplier/shift and diff_min */
static NOINLINE void {function}(const int8_t *input, int8_t *output)
{{
    int row;
    for (row = 0; row < {layer.rows}; ++row) {{
        softmax_row(input + row * {layer.depth}, output + row * {layer.depth}, {layer.depth}, {layer.input_multiplier},
                    {layer.input_left_shift}, {layer.diff_min});
    }}
}}
"""


_LAYER_EMITTERS = {Conv: _conv, Pool: _pool, FullyConnected: _fully_connected, Softmax: _softmax}
