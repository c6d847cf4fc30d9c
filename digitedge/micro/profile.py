"""A microcontroller profile of a .tflite (after `mltk profile`): per-layer ops, shapes, parameters,
MACs and activation bytes; flash, measured TFLM arena, MACs, and labelled latency estimates.

MACs, parameters and bytes are counted from the model's tensors; RAM is the arena measured on
TFLite Micro. Latency is NOT measured: it is MACs x cycles-per-MAC / clock, with the source of
each cycles-per-MAC figure stated beside it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from digitedge.micro.arena import find_arena_size
from digitedge.runtime.tflm import TflmError
from digitedge.tflite_model import TensorInfo, TfliteModel, read_tflite

DTYPE_BYTES = {"float32": 4, "float16": 2, "int32": 4, "int64": 8, "int16": 2, "int8": 1, "uint8": 1}


@dataclass(frozen=True)
class Target:
    name: str
    clock_hz: float
    cycles_per_mac: float
    basis: str


TARGETS = (
    Target("Cortex-M4F @ 64 MHz", 64e6, 2.0,
           "assumed, not measured: CMSIS-NN's int8 kernels on DSP-extension cores issue SMLAD (two 16-bit MACs "
           "per single-cycle instruction); loads, int8->int16 unpacking and requantization are taken to cost as "
           "much again. No citable per-MAC benchmark was found."),
    Target("Cortex-M7 @ 216 MHz", 216e6, 1.0,
           "assumed, not measured: the same CMSIS-NN kernels on the dual-issue Cortex-M7, taken as half the "
           "Cortex-M4F figure. No citable per-MAC benchmark was found."),
    Target("ESP32-S3 @ 240 MHz", 240e6, 2.66,
           "ESP-NN README (espressif/esp-nn), 'Kernelwise performance on ESP32-S3', optimized s8 convolution: "
           "43,578 ticks for an 8x8x16 input and 16x1x1x16 filter (16,384 MACs); its other convolution rows give "
           "1.13 (10x10, 64->64 1x1) and 5.82 (10x10, 3->64 3x3) cycles per MAC."),
)


@dataclass(frozen=True)
class Profile:
    layers: pd.DataFrame  # one row per operator
    totals: dict  # flash_bytes, ram_bytes (measured arena), arena_bytes (with margin), params, macs
    latency: pd.DataFrame  # one row per target: estimated ms, with the figure's basis
    text: str


def layer_macs(model: TfliteModel, index: int) -> int:
    """Multiply-accumulates of one operator; 0 for ops that do no weighted sums (pooling, reshape...)."""
    op = model.operators[index]
    tensors = [model.tensors[i] for i in op.inputs if i >= 0]
    out = model.tensors[op.outputs[0]].shape
    if op.name == "CONV_2D":
        _, kh, kw, cin = tensors[1].shape
        return int(np.prod(out)) * kh * kw * cin
    if op.name == "DEPTHWISE_CONV_2D":
        _, kh, kw, _ = tensors[1].shape
        return int(np.prod(out)) * kh * kw
    if op.name == "FULLY_CONNECTED":
        return int(np.prod(out)) * tensors[1].shape[-1]
    if op.name == "TRANSPOSE_CONV":
        _, kh, kw, _ = tensors[1].shape
        return int(np.prod(tensors[2].shape)) * kh * kw * tensors[1].shape[0]
    return 0


def _bytes(tensor: TensorInfo) -> int:
    return int(np.prod(tensor.shape)) * DTYPE_BYTES.get(tensor.dtype, 4)


def layer_table(model: TfliteModel) -> pd.DataFrame:
    rows = []
    for index, op in enumerate(model.operators):
        inputs = [model.tensors[i] for i in op.inputs if i >= 0]
        outputs = [model.tensors[i] for i in op.outputs]
        macs = layer_macs(model, index)
        # Constant int32 inputs of ops without weights are shapes or axes (RESHAPE, PAD...), not parameters.
        constants = [t for t in inputs if t.buffer is not None and (macs or t.dtype not in ("int32", "int64"))]
        activations = [t for t in inputs if t.buffer is None]
        rows.append({
            "index": index,
            "op": op.name,
            "input_shape": "x".join(map(str, activations[0].shape)) if activations else "",
            "output_shape": "x".join(map(str, outputs[0].shape)),
            "params": sum(int(np.prod(t.shape)) for t in constants),
            "param_bytes": sum(_bytes(t) for t in constants),
            "macs": macs,
            "activation_bytes": sum(_bytes(t) for t in activations + outputs),
        })
    return pd.DataFrame(rows)


def profile_model(tflite_bytes: bytes, label: str = "model", arena_margin: float = 0.10) -> Profile:
    """Profile `tflite_bytes`; RAM is measured on TFLM (None, with the reason, when TFLM refuses it)."""
    model = read_tflite(tflite_bytes, label)
    layers = layer_table(model)
    totals = {"flash_bytes": len(tflite_bytes), "params": int(layers["params"].sum()),
              "macs": int(layers["macs"].sum()), "ram_bytes": None, "arena_bytes": None, "tflm_refusal": None}
    try:
        arena = find_arena_size(tflite_bytes, arena_margin, label)
        totals.update(ram_bytes=arena.minimum_bytes, arena_bytes=arena.arena_bytes)
    except TflmError as exc:
        totals["tflm_refusal"] = exc.failure.describe()
    latency = pd.DataFrame([{
        "target": target.name, "cycles_per_mac": target.cycles_per_mac,
        "estimated_ms": totals["macs"] * target.cycles_per_mac / target.clock_hz * 1000, "basis": target.basis,
    } for target in TARGETS])
    return Profile(layers, totals, latency, render_profile(label, layers, totals, latency))


def render_profile(label: str, layers: pd.DataFrame, totals: dict, latency: pd.DataFrame) -> str:
    table = layers.to_string(index=False, formatters={name: "{:,}".format for name in
                                                      ("params", "param_bytes", "macs", "activation_bytes")})
    if totals["ram_bytes"] is not None:
        ram = (f"{totals['ram_bytes']:,} bytes tensor arena, measured on the tflite-micro Python interpreter "
               f"(kTensorArenaSize with margin: {totals['arena_bytes']:,})")
    else:
        ram = f"not measured: {totals['tflm_refusal']}"
    lines = [
        f"Profile of {label}", "", table, "",
        f"Flash (model bytes): {totals['flash_bytes']:,}",
        f"RAM: {ram}",
        f"Parameters: {totals['params']:,}    MACs per inference: {totals['macs']:,}",
        "",
        "Latency ESTIMATES (MACs x cycles per MAC / clock; not measured on hardware):",
    ]
    for row in latency.itertuples():
        lines.append(f"  {row.target:<22} {row.estimated_ms:8.2f} ms  at {row.cycles_per_mac} cycles/MAC")
        lines.append(f"      basis: {row.basis}")
    return "\n".join(lines) + "\n"
