"""Which zero structure makes a 4-bit model's generated C faster: prune its INT4 conv and dense
filters by magnitude in each structure, run the generated C on the emulated Cortex-M4 and print flash
and instructions per inference against an int8 model's C.

    python scripts/compare_sparsity.py RUN/tflite/int4_qat.tflite RUN/tflite/int8_qat.tflite [--images 100]

Structures (on each filter's (output channel, tap) view): blocks of 2 channels x 4 taps (the
block_sparse_s4 layout's unit) and 1 x 4 at several fractions, and 2:4 (two of every four taps).
Weights are zeroed without retraining: the figures are speed and size only (accuracy needs pruning
during training); every run is checked bit-exact against TFLite Micro on the same file.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from digitedge.cgen import run_on_qemu
from digitedge.data import load_mnist
from digitedge.errors import DigitedgeError
from digitedge.tflite_model import pack_int4, read_tflite_file, unpack_int4

INT4 = 17
STRUCTURES = [("2x4", 0.5), ("2x4", 0.6), ("2x4", 0.7), ("2x4", 0.75), ("2x4", 0.8), ("1x4", 0.75), ("2:4", 0.5)]


def keep_mask(magnitude: np.ndarray, structure: str, fraction: float) -> np.ndarray:
    """Which weights of a (rows, taps) filter survive: the largest blocks (by summed magnitude) or, for 2:4,
    the two largest of every four taps."""
    rows, taps = magnitude.shape
    if structure == "2:4":
        groups = np.zeros((rows, -(-taps // 4) * 4))
        groups[:, :taps] = magnitude
        order = np.argsort(groups.reshape(rows, -1, 4), axis=2, kind="stable")
        keep = np.zeros(order.shape, dtype=bool)
        np.put_along_axis(keep, order[:, :, 2:], True, axis=2)
        return keep.reshape(rows, -1)[:, :taps]
    block_rows, block_taps = (int(side) for side in structure.split("x"))
    padded = np.zeros((-(-rows // block_rows) * block_rows, -(-taps // block_taps) * block_taps))
    padded[:rows, :taps] = magnitude
    norms = padded.reshape(len(padded) // block_rows, block_rows, -1, block_taps).sum(axis=(1, 3))
    kept = norms > np.quantile(norms, fraction)
    return np.repeat(np.repeat(kept, block_rows, 0), block_taps, 1)[:rows, :taps]


def pruned(tflite_bytes: bytes, structure: str, fraction: float) -> bytes:
    """The model with every INT4 CONV_2D / FULLY_CONNECTED filter pruned in `structure`."""
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(tflite_bytes))
    graph = model.subgraphs[0]
    for op in graph.operators:
        tensor = graph.tensors[op.inputs[1]] if len(op.inputs) > 1 else None
        if flatbuffer_utils.opcode_to_name(model, op.opcodeIndex) not in ("CONV_2D", "FULLY_CONNECTED") \
                or tensor is None or tensor.type != INT4:
            continue
        buffer = model.buffers[tensor.buffer]
        rows = unpack_int4(np.asarray(buffer.data, np.uint8), int(np.prod(tensor.shape))).reshape(tensor.shape[0], -1)
        buffer.data = pack_int4(np.where(keep_mask(np.abs(rows), structure, fraction), rows, 0))
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("int4", help="a .tflite whose conv / dense filters are INT4 (4-bit QAT)")
    parser.add_argument("int8", help="the int8 .tflite to compare with (e.g. int8_qat)")
    parser.add_argument("--images", type=int, default=100, help="test digits per run (default 100)")
    args = parser.parse_args()
    try:
        int4, int8 = read_tflite_file(args.int4), read_tflite_file(args.int8)
        if not any(tensor.dtype == "int4" for tensor in int4.tensors):
            raise DigitedgeError(f"{args.int4} has no INT4 tensor (export a 4-bit QAT variant)")
        mnist = load_mnist()
        images, labels = mnist.x_test[:args.images], mnist.y_test[:args.images]
        reference = run_on_qemu(int8.data, images, labels, board="m4")
        rows = [("int8", "dense", int8.data), ("int4", "dense", int4.data)]
        rows += [("int4", f"{structure} {fraction:.0%}", pruned(int4.data, structure, fraction))
                 for structure, fraction in STRUCTURES]
        print(f"Cortex-M4, {args.images} digits; ratios against the int8 model's C "
              f"({reference.model_flash_bytes:,} B, {reference.instructions_per_inference:,.0f} instructions)")
        print(f"{'weights':<8} {'zeros':<10} {'bit-exact':>10} {'flash B':>8} {'x int8':>7} {'instructions':>13} "
              f"{'x int8':>7}")
        for weights, zeros, data in rows:
            result = reference if data is int8.data else run_on_qemu(data, images, labels, board="m4")
            print(f"{weights:<8} {zeros:<10} {result.bit_exact:>6}/{result.images:<3} {result.model_flash_bytes:>8,} "
                  f"{result.model_flash_bytes / reference.model_flash_bytes:>7.2f} "
                  f"{result.instructions_per_inference:>13,.0f} "
                  f"{result.instructions_per_inference / reference.instructions_per_inference:>7.2f}")
    except DigitedgeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
