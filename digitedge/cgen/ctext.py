"""C text shared by the layer emitters: constant arrays, requantization calls, layer comments."""

from __future__ import annotations

import numpy as np

from digitedge.errors import DigitedgeError

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1


def array(ctype: str, name: str, values, per_line: int = 16) -> str:
    flat = [int(v) for v in np.asarray(values).reshape(-1)]
    lines = [", ".join(str(v) for v in flat[i:i + per_line]) for i in range(0, len(flat), per_line)]
    body = ",\n    ".join(lines)
    return f"static const {ctype} {name}[{len(flat)}] = {{\n    {body}\n}};\n"


def requant_arrays(prefix: str, requant) -> str:
    return array("int32_t", f"{prefix}_multiplier", requant.multipliers, 8) \
        + array("int8_t", f"{prefix}_shift", requant.shifts, 16)


def requant_call(prefix: str, requant, channel: str, acc: str = "acc") -> str:
    return (f"requantize({acc}, {prefix}_multiplier[{channel}], {prefix}_shift[{channel}], "
            f"{requant.output_offset}, {requant.act_min}, {requant.act_max})")


def checked_int32(values: np.ndarray, where: str) -> np.ndarray:
    if values.size and (values.min() < INT32_MIN or values.max() > INT32_MAX):
        raise DigitedgeError(f"{where}: folded bias does not fit in int32")
    return values


def describe(layer, function: str) -> str:
    (in_h, in_w, in_c), (out_h, out_w, out_c) = layer.in_shape, layer.out_shape
    extra = f", filter {layer.filter.shape[1]}x{layer.filter.shape[2]}" if hasattr(layer, "filter") \
        else f", window {layer.window[0]}x{layer.window[1]}"
    return (f"\n/* {function}: {layer.op} {in_h}x{in_w}x{in_c} -> {out_h}x{out_w}x{out_c}{extra}, "
            f"stride {layer.stride[0]}x{layer.stride[1]}, padding {layer.padding_name}, {layer.activation} */\n")
