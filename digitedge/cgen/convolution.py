"""CONV_2D (optionally with its MAX_POOL_2D fused in) as C with three paths chosen by the compiler.

Every output pixel gathers its receptive field into a window in the arena (taps outside the image
hold the input zero point, so input_offset * sum(filter) folds into the bias), then:
- CGEN_DSP (Cortex-M4/M7/M33): the window is widened to int16 once; two pixels x two output
  channels per pass; the int8 weights are reordered at generation time (w0 w2 w1 w3 per group of
  four) so one 32-bit load, SXTB16 and SXTB16 ROR 8 give the halfword pairs (w0 w1) and (w2 w3)
  that two SMLADs multiply with the window's (x0 x1) and (x2 x3) words.
- CGEN_MVE (Cortex-M55): four output channels per pass, VMLADAVA.S8 over 16 taps at a time, the
  tail zero-predicated. A fused pool whose window's conv pixels all read one input patch of at most
  16 bytes (a 3x3 conv + 2x2 pool on one channel: 4x4) skips the windows: the patch is one vector,
  each (channel, conv pixel) one VMLADAV.S8 against its kernel placed in a 16-byte row.
- plain C99 (Cortex-M0/M3, the host): the readable reference, one dot product per channel.
A layer whose weights are smaller as a bitmask + nonzero values (pruned models) uses that form on
every path and multiplies only the nonzero weights.

With a fused pool each conv pixel is requantized and max-combined straight into its pooled pixel
(requantization is monotonic, so max-then-clamp equals TFLM's pool of the stored conv output), and
conv pixels no pooling window reads are never computed.
"""

from __future__ import annotations

import numpy as np

from digitedge.cgen.ctext import array, checked_int32, describe, requant_arrays, requant_call
from digitedge.cgen.layers import Conv, ConvPool
from digitedge.cgen.sparse import MASK_WORD_BITS, sparse_if_smaller


def _parts(layer: Conv | ConvPool) -> tuple[Conv, object]:
    return (layer.conv, layer.pool) if isinstance(layer, ConvPool) else (layer, None)


def _taps(conv: Conv) -> int:
    return int(np.prod(conv.filter.shape[1:]))


def _padded(taps: int) -> int:
    return -(-taps // 4) * 4


def rows(conv: Conv) -> np.ndarray:
    """The filter as (output channels, taps) in window order (filter_y, filter_x, input channel)."""
    return conv.filter.reshape(conv.out_shape[2], -1)


def _window_region(conv: Conv) -> int:
    """Arena bytes for the windows: the most any path uses (two int16 windows on DSP)."""
    taps = _taps(conv)
    if sparse_if_smaller(rows(conv)) is not None:  # two int8 windows on every path
        return _padded(2 * taps)
    return _padded(max(taps, 2 * 2 * _padded(taps)))


def scratch_bytes(layer: Conv | ConvPool) -> int:
    """Arena bytes the layer works in: its windows, then (fused pool) one int32 running max per channel."""
    conv, pool = _parts(layer)
    return _window_region(conv) + (4 * conv.out_shape[2] if pool is not None else 0)


def dsp_order(filter_rows: np.ndarray) -> np.ndarray:
    """Rows zero-padded to a multiple of 4 taps, each group of four stored as w0 w2 w1 w3."""
    count, taps = filter_rows.shape
    padded = np.zeros((count, _padded(taps)), dtype=np.int8)
    padded[:, :taps] = filter_rows
    return padded.reshape(count, -1, 4)[:, :, [0, 2, 1, 3]].reshape(count, -1)


def _patch_shape(conv: Conv, pool) -> tuple[int, int]:
    """Input rows and columns one pool window's conv pixels read (stride-1 convolution)."""
    (kernel_h, kernel_w), (window_h, window_w) = conv.filter.shape[1:3], pool.window
    return kernel_h + window_h - 1, kernel_w + window_w - 1


def patch_fits(conv: Conv, pool) -> bool:
    """MVE: a fused pool whose every window's conv pixels read one input patch of at most 16 bytes
    (conv1 of a one-channel image): one vector load then serves the whole pool window."""
    if pool is None or pool.padding_name != "VALID" or conv.padding != (0, 0):
        return False
    if conv.stride != (1, 1) or conv.dilation != (1, 1):
        return False
    patch_h, patch_w = _patch_shape(conv, pool)
    return patch_h * patch_w * conv.in_shape[2] <= 16


def patch_order(conv: Conv, pool) -> np.ndarray:
    """(channel, conv pixel dy dx of the pool window) rows of 16: filter[c] at offset (dy, dx) of the patch."""
    (kernel_h, kernel_w), (window_h, window_w) = conv.filter.shape[1:3], pool.window
    patch_h, patch_w = _patch_shape(conv, pool)
    in_c, out_c = conv.in_shape[2], conv.out_shape[2]
    placed = np.zeros((out_c, window_h, window_w, patch_h, patch_w, in_c), dtype=np.int8)
    for dy in range(window_h):
        for dx in range(window_w):
            placed[:, dy, dx, dy:dy + kernel_h, dx:dx + kernel_w, :] = conv.filter
    rows16 = np.zeros((out_c * window_h * window_w, 16), dtype=np.int8)
    rows16[:, :patch_h * patch_w * in_c] = placed.reshape(out_c * window_h * window_w, -1)
    return rows16.reshape(-1)


def emit(layer: Conv | ConvPool, function: str, scratch_offset: int) -> str:
    """The layer's constants, window gather, per-path kernels and `function(input, output)`."""
    conv, pool = _parts(layer)
    out_c = conv.out_shape[2]
    filter_rows = rows(conv)
    bias = conv.bias.astype(np.int64) if conv.bias is not None else np.zeros(out_c, np.int64)
    folded = checked_int32(bias + conv.input_offset * filter_rows.astype(np.int64).sum(1), function)
    sparse = sparse_if_smaller(filter_rows)
    patch = sparse is None and patch_fits(conv, pool)
    text = [describe(conv, function)]
    if pool is not None:
        text.append(f"/*   fused {pool.op} {pool.window[0]}x{pool.window[1]}, stride {pool.stride[0]}x"
                    f"{pool.stride[1]}, padding {pool.padding_name} -> "
                    f"{'x'.join(str(d) for d in pool.out_shape)}: the conv output is never stored */\n")
    if sparse is not None:
        text += [f"/* {np.count_nonzero(filter_rows)} of {filter_rows.size} weights nonzero: bitmask + values, "
                 f"{sparse.nbytes} B instead of {filter_rows.size} B */\n",
                 array("uint32_t", f"{function}_mask", sparse.masks, 8),
                 array("int8_t", f"{function}_values", sparse.values, 24)]
    elif patch:
        text += ["#if CGEN_MVE\n/* one 16-byte row per (channel, conv pixel of the pool window): the kernel placed at\n"
                 " * that pixel's offset in the input patch, zeros elsewhere */\n",
                 array("int8_t", f"{function}_patch_filter", patch_order(conv, pool), 24),
                 "#elif CGEN_DSP\n/* groups of four taps stored w0 w2 w1 w3, rows padded to a multiple of 4 */\n",
                 array("int8_t", f"{function}_filter", dsp_order(filter_rows), 24), "#else\n",
                 array("int8_t", f"{function}_filter", filter_rows, 24), "#endif\n"]
    else:
        text += ["#if CGEN_DSP\n/* groups of four taps stored w0 w2 w1 w3, rows padded to a multiple of 4 */\n",
                 array("int8_t", f"{function}_filter", dsp_order(filter_rows), 24), "#else\n",
                 array("int8_t", f"{function}_filter", filter_rows, 24), "#endif\n"]
    text += ["/* bias + input_offset * sum(filter): the zero point folded in once per channel */\n",
             array("int32_t", f"{function}_bias", folded, 8), requant_arrays(function, conv.requant),
             _finish(conv, pool, function)]
    best = scratch_offset + _window_region(conv)
    if sparse is not None:
        text += [_window(conv, function, "int8_t"), _sparse_pair(conv, pool, function, sparse.masks.shape[1]),
                 _driver(conv, pool, function, scratch_offset, best, pair=True, tap="int8_t")]
    else:
        if patch:
            text += ["#if CGEN_MVE\n", _mve_patch(conv, pool, function, scratch_offset), "#else\n"]
        text += ["#if CGEN_DSP\n", _window(conv, function, "int16_t"), _dsp_pair(conv, pool, function),
                 _driver(conv, pool, function, scratch_offset, best, pair=True, tap="int16_t"), "#else\n",
                 _window(conv, function, "int8_t"), "#if CGEN_MVE\n", _mve_pixel(conv, function), "#else\n",
                 _plain_pixel(conv, function), "#endif\n",
                 _driver(conv, pool, function, scratch_offset, best, pair=False), "#endif\n"]
        if patch:
            text.append("#endif\n")
    return "".join(text)


def _finish(conv: Conv, pool, function: str) -> str:
    """Requantize channel c's accumulator into out[c]; with a fused max pool, first keep the running
    max of the accumulators in best[] (requantization is monotonic: one requantization per pooled pixel)."""
    value = requant_call(function, conv.requant, "c")
    if pool is None:
        return f"""
static inline void {function}_finish(int32_t *best, int8_t *out, int phase, int c, int32_t acc)
{{
    (void)best;
    (void)phase;
    out[c] = {value};
}}
"""
    clamp = ""
    if pool.act_min > -128 or pool.act_max < 127:
        clamp = (f"\n        value = value < {pool.act_min} ? {pool.act_min} : value;"
                 f"\n        value = value > {pool.act_max} ? {pool.act_max} : value;")
    return f"""
static inline void {function}_finish(int32_t *best, int8_t *out, int phase, int c, int32_t acc)
{{
    if (!(phase & POOL_FIRST) && best[c] > acc) {{
        acc = best[c];
    }}
    if (phase & POOL_LAST) {{
        int32_t value = {value};{clamp}
        out[c] = (int8_t)value;
    }} else {{
        best[c] = acc;
    }}
}}
"""


def _window(conv: Conv, function: str, tap: str) -> str:
    (in_h, in_w, in_c), (kernel_h, kernel_w) = conv.in_shape, conv.filter.shape[1:3]
    zero_point = -conv.input_offset
    head = f"""
/* Pixel (out_y, out_x)'s receptive field as {tap}, in filter order. */
static inline void {function}_window(const int8_t *input, int out_y, int out_x, {tap} *window)
{{
    const int in_y0 = out_y * {conv.stride[0]} - {conv.padding[0]};
    const int in_x0 = out_x * {conv.stride[1]} - {conv.padding[1]};
    int filter_y, c;
"""
    inside = all((conv.out_shape[a] - 1) * conv.stride[a] + (conv.filter.shape[1 + a] - 1) * conv.dilation[a]
                 < conv.in_shape[a] for a in range(2))
    if conv.padding == (0, 0) and inside and conv.dilation[1] == 1:  # never outside the image: whole rows
        row = kernel_w * in_c
        copy = f"""        for (c = 0; c < {row}; ++c) {{
            window[c] = source[c];
        }}"""
        if tap == "int8_t":  # MVE: 16 bytes a move, the last one predicated
            copy = f"""#if CGEN_MVE
        for (c = 0; c < {row}; c += 16) {{
            const mve_pred16_t lanes = vctp8q((uint32_t)({row} - c));
            vstrbq_p_s8(window + c, vldrbq_z_s8(source + c, lanes), lanes);
        }}
#else
{copy}
#endif"""
        return head + f"""    for (filter_y = 0; filter_y < {kernel_h}; ++filter_y, window += {row}) {{
        const int8_t *source = input + ((in_y0 + {conv.dilation[0]} * filter_y) * {in_w} + in_x0) * {in_c};
{copy}
    }}
}}
"""
    return head + f"""    int filter_x;
    for (filter_y = 0; filter_y < {kernel_h}; ++filter_y) {{
        const int in_y = in_y0 + {conv.dilation[0]} * filter_y;
        for (filter_x = 0; filter_x < {kernel_w}; ++filter_x, window += {in_c}) {{
            const int in_x = in_x0 + {conv.dilation[1]} * filter_x;
            if (in_y >= 0 && in_y < {in_h} && in_x >= 0 && in_x < {in_w}) {{
                const int8_t *source = input + (in_y * {in_w} + in_x) * {in_c};
                for (c = 0; c < {in_c}; ++c) {{
                    window[c] = source[c];
                }}
            }} else {{
                for (c = 0; c < {in_c}; ++c) {{
                    window[c] = {zero_point};
                }}
            }}
        }}
    }}
}}
"""


def _driver(conv: Conv, pool, function: str, window_offset: int, best_offset: int, pair: bool,
            tap: str = "int8_t") -> str:
    """Visit the conv pixels to compute; `pair` kernels take two windows (window, window + second)."""
    out_h, out_w, out_c = conv.out_shape
    second = _padded(_taps(conv)) if tap == "int16_t" else _taps(conv)
    window = (f"int16_t *window = arena.halves + {window_offset // 2};" if tap == "int16_t"
              else f"int8_t *window = arena.bytes + {window_offset};")
    copy_bytes = second * (2 if tap == "int16_t" else 1)
    if pool is None:
        if pair:
            visit = f"""            if (!pending) {{
                {function}_window(input, y, x, window);
                pending_out = out;
                pending = 1;
            }} else {{
                {function}_window(input, y, x, window + {second});
                {function}_pair(window, pending_out, out);
                pending = 0;
            }}"""
            state, flush = "    int8_t *pending_out = output;\n    int pending = 0;\n", f"""    if (pending) {{   /* an odd pixel out: paired with a copy of itself */
        memcpy(window + {second}, window, {copy_bytes});
        {function}_pair(window, pending_out, pending_out);
    }}
"""
        else:
            visit = f"""            {function}_window(input, y, x, window);
            {function}_pixel(window, (int32_t *)0, out, POOL_LAST);"""
            state, flush = "", ""
        return f"""
static NOINLINE void {function}(const int8_t *input, int8_t *output)
{{
    {window}
    int8_t *out = output;
    int y, x;
{state}    for (y = 0; y < {out_h}; ++y) {{
        for (x = 0; x < {out_w}; ++x, out += {out_c}) {{
{visit}
        }}
    }}
{flush}}}
"""
    if pair:
        visit = f"""                    if (!pending) {{
                        {function}_window(input, y, x, window);
                        pending = 1;
                    }} else {{
                        {function}_window(input, y, x, window + {second});
                        remaining -= 2;
                        {function}_pair(window, best, out, phase | (remaining ? 0 : POOL_LAST));
                        phase = 0;
                        pending = 0;
                    }}"""
        state = "            int pending = 0;\n"
        flush = f"""            if (pending) {{   /* an odd pixel out: paired with a copy of itself */
                memcpy(window + {second}, window, {copy_bytes});
                {function}_pair(window, best, out, phase | POOL_LAST);
            }}
"""
    else:
        visit = f"""                    {function}_window(input, y, x, window);
                    --remaining;
                    {function}_pixel(window, best, out, phase | (remaining ? 0 : POOL_LAST));
                    phase = 0;"""
        state, flush = "", ""
    (window_h, window_w), (stride_h, stride_w), (pad_h, pad_w) = pool.window, pool.stride, pool.padding
    pool_h, pool_w, _ = pool.out_shape
    return f"""
/* Each pooled pixel: the conv pixels of its window, max-combined as accumulators, requantized once. */
static NOINLINE void {function}(const int8_t *input, int8_t *output)
{{
    {window}
    int32_t *best = arena.words + {best_offset // 4};
    int8_t *out = output;
    int pool_y, pool_x, y, x;
    for (pool_y = 0; pool_y < {pool_h}; ++pool_y) {{
        const int y0 = pool_y * {stride_h} - {pad_h};
        const int y_start = y0 > 0 ? y0 : 0;
        const int y_end = y0 + {window_h} < {out_h} ? y0 + {window_h} : {out_h};
        for (pool_x = 0; pool_x < {pool_w}; ++pool_x, out += {out_c}) {{
            const int x0 = pool_x * {stride_w} - {pad_w};
            const int x_start = x0 > 0 ? x0 : 0;
            const int x_end = x0 + {window_w} < {out_w} ? x0 + {window_w} : {out_w};
            int remaining = (y_end - y_start) * (x_end - x_start), phase = POOL_FIRST;
{state}            for (y = y_start; y < y_end; ++y) {{
                for (x = x_start; x < x_end; ++x) {{
{visit}
                }}
            }}
{flush}        }}
    }}
}}
"""


_DSP_STEP = """const uint32_t x0_low = read_u32(x + {o}), x0_high = read_u32(x + {o2});
            const uint32_t x1_low = read_u32(x + {p}), x1_high = read_u32(x + {p2});
            uint32_t w = read_u32(f + {o}), w_low = __sxtb16(w), w_high = sxtb16_ror8(w);
            acc00 = __smlad(w_low, x0_low, acc00);
            acc00 = __smlad(w_high, x0_high, acc00);
            acc10 = __smlad(w_low, x1_low, acc10);
            acc10 = __smlad(w_high, x1_high, acc10);"""

_DSP_STEP_SECOND = """
            w = read_u32(f + {p});
            w_low = __sxtb16(w);
            w_high = sxtb16_ror8(w);
            acc01 = __smlad(w_low, x0_low, acc01);
            acc01 = __smlad(w_high, x0_high, acc01);
            acc11 = __smlad(w_low, x1_low, acc11);
            acc11 = __smlad(w_high, x1_high, acc11);"""


def _dsp_steps(padded: int, channels: int) -> str:
    """The inner loop over groups of four taps (two groups per iteration, one more if odd) for one or
    two channels; x is the first window, x + padded the second."""
    def step(offset: int) -> str:
        offsets = dict(o=offset, o2=offset + 2, p=padded + offset, p2=padded + offset + 2)
        return _DSP_STEP.format(**offsets) + (_DSP_STEP_SECOND.format(**offsets) if channels == 2 else "")
    groups = padded // 4
    text = ""
    if groups >= 2:
        text += f"""        int k;
        for (k = 0; k < {groups // 2}; ++k, f += 8, x += 8) {{
            {{
            {step(0)}
            }}
            {{
            {step(4)}
            }}
        }}
"""
    if groups % 2:
        text += f"""        {{
            {step(0)}
        }}
"""
    return text


def _pair_interface(pool, function: str):
    """A pair kernel's parameters, and the C that finishes channel c from its two pixels' accumulators:
    two outputs without a pool, the larger accumulator into one pooled pixel with it."""
    if pool is None:
        def finish(channel: str, first: str, second: str) -> str:
            return (f"        {function}_finish((int32_t *)0, out0, 0, {channel}, {first});\n"
                    f"        {function}_finish((int32_t *)0, out1, 0, {channel}, {second});\n")
        return "int8_t *out0, int8_t *out1", finish

    def pooled(channel: str, first: str, second: str) -> str:
        return f"        {function}_finish(best, out, phase, {channel}, {first} > {second} ? {first} : {second});\n"
    return "int32_t *best, int8_t *out, int phase", pooled


def _sparse_pair(conv: Conv, pool, function: str, words: int) -> str:
    out_c, taps = conv.out_shape[2], _taps(conv)
    signature, finish = _pair_interface(pool, function)
    return f"""
/* Only the nonzero weights: each set bit of a channel's mask is one weight for both pixels
 * (window, window + {taps}), so decoding the mask costs half as much per MAC. */
static NOINLINE void {function}_pair(const int8_t *window, {signature})
{{
    const uint32_t *mask = {function}_mask;
    const int8_t *value = {function}_values;
    int c, word;
    for (c = 0; c < {out_c}; ++c) {{
        int32_t acc0 = {function}_bias[c], acc1 = acc0;
        for (word = 0; word < {words}; ++word) {{
            masked_dot_pair(*mask++, &value, window + {MASK_WORD_BITS} * word, {taps}, &acc0, &acc1);
        }}
{finish("c", "acc0", "acc1")}    }}
}}
"""


def _dsp_pair(conv: Conv, pool, function: str) -> str:
    """Two pixels (window, window + padded) x two channels: each weight word feeds four SMLADs."""
    out_c, padded = conv.out_shape[2], _padded(_taps(conv))
    signature, finish = _pair_interface(pool, function)
    odd = ""
    if out_c % 2:
        odd = f"""    {{
        const int8_t *f = filter;
        const int16_t *x = window;
        int32_t acc00 = {function}_bias[c], acc10 = acc00;
{_dsp_steps(padded, 1)}{finish("c", "acc00", "acc10")}    }}
"""
    return f"""
static NOINLINE void {function}_pair(const int16_t *window, {signature})
{{
    const int8_t *filter = {function}_filter;
    int c;
    for (c = 0; c < {out_c - out_c % 2}; c += 2, filter += {2 * padded}) {{
        const int8_t *f = filter;
        const int16_t *x = window;
        int32_t acc00 = {function}_bias[c], acc01 = {function}_bias[c + 1], acc10 = acc00, acc11 = acc01;
{_dsp_steps(padded, 2)}{finish("c", "acc00", "acc10")}{finish("c + 1", "acc01", "acc11")}    }}
{odd}}}
"""


def _mve_pixel(conv: Conv, function: str) -> str:
    out_c, taps = conv.out_shape[2], _taps(conv)
    chunks, tail = divmod(taps, 16)

    def accumulate(lanes: int, load: str) -> str:
        vector = "vldrbq_s8(x)" if load == "full" else "vldrbq_z_s8(x, tail)"
        weights = "vldrbq_s8" if load == "full" else "vldrbq_z_s8"
        extra = "" if load == "full" else ", tail"
        lines = [f"const int8x16_t in = {vector};"]
        lines += [f"acc{lane} = vmladavaq_s8(acc{lane}, in, {weights}(f + {lane * taps}{extra}));" for lane in range(lanes)]
        return "\n            ".join(lines)

    def block(lanes: int) -> str:
        loop = f"""        for (k = 0; k < {chunks}; ++k, x += 16, f += 16) {{
            {accumulate(lanes, "full")}
        }}
""" if chunks else ""
        masked = f"""        {{
            const mve_pred16_t tail = vctp8q({tail});
            {accumulate(lanes, "tail")}
        }}
""" if tail else ""
        stores = "\n".join(f"        {function}_finish(best, out, phase, c + {lane}, acc{lane});" for lane in range(lanes))
        init = ", ".join(f"acc{lane} = {function}_bias[c + {lane}]" for lane in range(lanes))
        counter = "        int k;\n" if chunks else ""
        return f"""        const int8_t *x = window, *f = filter;
        int32_t {init};
{counter}{loop}{masked}{stores}
"""
    rest = ""
    if out_c % 4:
        rest = f"""    for (; c < {out_c}; ++c, filter += {taps}) {{
{block(1)}    }}
"""
    return f"""
/* Four channels per pass: one window load feeds four VMLADAVA.S8 (16 MACs each). */
static NOINLINE void {function}_pixel(const int8_t *window, int32_t *best, int8_t *out, int phase)
{{
    const int8_t *filter = {function}_filter;
    int c;
    for (c = 0; c < {out_c - out_c % 4}; c += 4, filter += {4 * taps}) {{
{block(4)}    }}
{rest}}}
"""


def _mve_patch(conv: Conv, pool, function: str, patch_offset: int) -> str:
    """Per pooled pixel: its input patch in one vector, one VMLADAV.S8 per (channel, conv pixel), the max
    in registers, one requantization (bias added after the max: max(a + b, c + b) = max(a, c) + b)."""
    in_w, in_c = conv.in_shape[1], conv.in_shape[2]
    out_c = conv.out_shape[2]
    patch_h, patch_w = _patch_shape(conv, pool)
    pool_h, pool_w, _ = pool.out_shape
    positions = pool.window[0] * pool.window[1]
    row, size = patch_w * in_c, patch_h * patch_w * in_c
    copies = "\n".join(f"            memcpy(patch + {r * row}, source + {r * in_w * in_c}, {row});"
                       for r in range(patch_h))
    load = "vldrbq_s8(patch)" if size == 16 else f"vldrbq_z_s8(patch, vctp8q({size}))"
    dots = "\n".join(f"                acc = vmladavq_s8(x, vldrbq_s8(f + {16 * p}));\n"
                     f"                best = acc > best ? acc : best;" for p in range(1, positions))
    return f"""
static NOINLINE void {function}(const int8_t *input, int8_t *output)
{{
    int8_t *patch = arena.bytes + {patch_offset};
    int8_t *out = output;
    int pool_y, pool_x, c;
    for (pool_y = 0; pool_y < {pool_h}; ++pool_y) {{
        for (pool_x = 0; pool_x < {pool_w}; ++pool_x, out += {out_c}) {{
            const int8_t *source = input + (pool_y * {pool.stride[0] * in_w} + pool_x * {pool.stride[1]}) * {in_c};
            const int8_t *f = {function}_patch_filter;
            int8x16_t x;
{copies}
            x = {load};
            for (c = 0; c < {out_c}; ++c, f += {16 * positions}) {{
                int32_t acc, best = vmladavq_s8(x, vldrbq_s8(f));
{dots}
                {function}_finish((int32_t *)0, out, POOL_FIRST | POOL_LAST, c, best + {function}_bias[c]);
            }}
        }}
    }}
}}
"""


def _plain_pixel(conv: Conv, function: str) -> str:
    """The reference: two channels per pass share each window load; an odd channel goes alone."""
    out_c, taps = conv.out_shape[2], _taps(conv)
    odd = f"""    if (c < {out_c}) {{
        {function}_finish(best, out, phase, c, {function}_bias[c] + dot_s8(window, filter, {taps}));
    }}
""" if out_c % 2 else ""
    return f"""
static NOINLINE void {function}_pixel(const int8_t *window, int32_t *best, int8_t *out, int phase)
{{
    const int8_t *filter = {function}_filter;
    int c, k;
    for (c = 0; c < {out_c - out_c % 2}; c += 2, filter += {2 * taps}) {{
        /* indices count up to zero from -taps: the loop test is the increment's own flag */
        const int8_t *x_end = window + {taps}, *f0_end = filter + {taps}, *f1_end = filter + {2 * taps};
        int32_t acc0 = {function}_bias[c], acc1 = {function}_bias[c + 1];
        for (k = -{taps}; k != 0; ++k) {{
            const int32_t x = x_end[k];
            acc0 += f0_end[k] * x;
            acc1 += f1_end[k] * x;
        }}
        {function}_finish(best, out, phase, c, acc0);
        {function}_finish(best, out, phase, c + 1, acc1);
    }}
{odd}}}
"""
