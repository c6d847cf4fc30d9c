"""Print the microcontroller figures of an int8 .tflite: flash, measured TFLM arena, TFLM vs LiteRT
parity and accuracy on the MNIST test set, TFLM time per image, against the project's targets.

    python scripts/check_micro.py [MODEL.tflite] [--limit N]

Without a path it builds the default compact model, trains it one epoch on 10,000 training images,
converts it to full-integer int8 (PTQ) and caches it in the temp folder for later runs.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

CACHED_MODEL = Path(tempfile.gettempdir()) / "digitedge_check_micro_compact_int8.tflite"
FLASH_TARGET = 32 * 1024
ARENA_TARGET = 16 * 1024
AGREEMENT_TARGET = 0.9995


def build_default_int8(mnist) -> bytes:
    """The compact model after one epoch on 10,000 training images, int8 PTQ, strings stripped."""
    import tensorflow as tf
    import tf_keras as keras

    from digitedge.config import ModelConfig
    from digitedge.convert import convert_variant, representative_images, strip_strings
    from digitedge.data import normalize
    from digitedge.model import build_model
    from digitedge.rundir import write_bytes

    tf.random.set_seed(0)
    images, labels = normalize(mnist.x_train[:10000]), mnist.y_train[:10000]
    model = build_model(ModelConfig())
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = 0.9  # 79 steps are too few for the default 0.99 moving averages to settle
    model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy")
    model.fit(images, labels, epochs=1, batch_size=128, verbose=0)
    unstripped = convert_variant("int8_ptq", model, representative_images(images, 500, seed=0))
    int8_tflite_bytes = strip_strings(unstripped, images[:100], "int8_ptq")
    write_bytes(CACHED_MODEL, int8_tflite_bytes)
    return int8_tflite_bytes


def verdict(ok: bool) -> str:
    return "meets target" if ok else "MISSES target"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", type=Path, help="int8 .tflite (default: build/cached compact model)")
    parser.add_argument("--limit", type=int, default=10000, help="test images to compare (default 10000)")
    args = parser.parse_args()

    from digitedge.data import load_mnist, normalize
    from digitedge.errors import DigitedgeError
    from digitedge.micro import compare_tflm_litert, find_arena_size
    from digitedge.runtime import tflm_support

    try:
        mnist = load_mnist()
        if args.model is not None:
            label, int8_tflite_bytes = args.model.name, args.model.read_bytes()
        elif CACHED_MODEL.exists():
            label, int8_tflite_bytes = f"{CACHED_MODEL} (cached)", CACHED_MODEL.read_bytes()
        else:
            print("building the default compact model (1 epoch on 10,000 images, int8 PTQ)...", flush=True)
            label, int8_tflite_bytes = f"{CACHED_MODEL} (built now)", build_default_int8(mnist)
        support = tflm_support(int8_tflite_bytes, label)
        if not support.runs:
            print(f"{label}: TFLite Micro refuses it: {support.failure.describe()}")
            return 1
        started = time.perf_counter()
        arena = find_arena_size(int8_tflite_bytes, 0.10, label)
        arena_seconds = time.perf_counter() - started
        images, labels = normalize(mnist.x_test[:args.limit]), mnist.y_test[:args.limit]
        parity = compare_tflm_litert(int8_tflite_bytes, images, labels, arena.arena_bytes, label)
    except (DigitedgeError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    agreement = parity.xnnpack.same_prediction
    print(f"model: {label}")
    print(f"flash (.tflite bytes): {len(int8_tflite_bytes):,}  <= {FLASH_TARGET:,}: "
          f"{verdict(len(int8_tflite_bytes) <= FLASH_TARGET)}")
    print(f"TFLM arena, measured minimum: {arena.minimum_bytes:,} bytes  <= {ARENA_TARGET:,}: "
          f"{verdict(arena.minimum_bytes <= ARENA_TARGET)}  (RecordingMicroAllocator total {arena.recorded_bytes:,}; "
          f"{arena.probes} probes in {arena_seconds:.2f} s; kTensorArenaSize with 10% margin {arena.arena_bytes:,})")
    print(f"test images: {parity.images:,}; TFLM {parity.tflm_seconds:.1f} s ({parity.tflm_ms_per_image:.2f} ms/image)")
    print(f"accuracy: TFLM {parity.tflm_accuracy:.4f}, LiteRT XNNPACK {parity.xnnpack.accuracy:.4f}, "
          f"LiteRT reference {parity.reference.accuracy:.4f}")
    for name, result in (("LiteRT XNNPACK (default)", parity.xnnpack), ("LiteRT reference kernels", parity.reference)):
        print(f"TFLM vs {name}: same class {result.same_prediction:.4%}, byte-identical outputs "
              f"{result.identical_outputs:.2%}, max difference {result.max_abs_difference:g} steps, "
              f"differing images {result.differing_images[:20]}{' ...' if len(result.differing_images) > 20 else ''}")
    print(f"TFLM class equal to LiteRT's (default) on {agreement:.4%} >= {AGREEMENT_TARGET:.2%}: "
          f"{verdict(agreement >= AGREEMENT_TARGET)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
