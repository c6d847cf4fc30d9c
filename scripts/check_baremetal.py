"""Print the bare-metal figures of an int8 .tflite compiled to standalone C: bit-exactness with
TFLite Micro on the host (all test digits) and on QEMU's emulated Cortex-M4 (mps2-an386), flash,
RAM, instructions per inference and QEMU wall time, against the project's targets.

    python scripts/check_baremetal.py [MODEL.tflite] [--host-images N] [--qemu-images N] [--keep DIR]

Without a path it builds the default compact model, trains it one epoch on 10,000 training images,
converts it to full-integer int8 (PTQ, strings stripped) and caches it in the temp folder.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

CACHED_MODEL = Path(tempfile.gettempdir()) / "digitedge_check_baremetal_compact_int8.tflite"
FLASH_OVER_TFLITE = 16 * 1024
QEMU_SECONDS = 60.0
QEMU_MIN_IMAGES = 1000


def build_default_int8(mnist) -> bytes:
    """The compact model after one epoch on 10,000 training images, int8 PTQ, strings stripped."""
    import tensorflow as tf

    from digitedge.config import ModelConfig
    from digitedge.convert import convert_variant, representative_images, strip_strings
    from digitedge.data import normalize
    from digitedge.model import build_model
    from digitedge.rundir import write_bytes

    tf.random.set_seed(0)
    images, labels = normalize(mnist.x_train[:10000]), mnist.y_train[:10000]
    model = build_model(ModelConfig())
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(images, labels, epochs=1, batch_size=128, verbose=0)
    unstripped = convert_variant("int8_ptq", model, representative_images(images, 200, seed=0))
    int8_tflite_bytes = strip_strings(unstripped, images[:100], "int8_ptq")
    write_bytes(CACHED_MODEL, int8_tflite_bytes)
    return int8_tflite_bytes


def row(name: str, measured: str, target: str, ok: bool) -> str:
    return f"  {name:<38} {measured:>14}  {target:<36} {'ok' if ok else 'FAILS'}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", type=Path, help="int8 .tflite (default: build/cached compact model)")
    parser.add_argument("--host-images", type=int, default=10000, help="test digits run on the host (10000)")
    parser.add_argument("--qemu-images", type=int, default=QEMU_MIN_IMAGES, help="test digits run on QEMU (1000)")
    parser.add_argument("--keep", type=Path, help="keep the QEMU build (sources, image.elf, image.map) here")
    args = parser.parse_args()

    import numpy as np

    from digitedge.cgen import format_qemu_result, missing_tools, quantize_images, run_on_host, run_on_qemu
    from digitedge.cgen import tflm_outputs
    from digitedge.cgen.qemu import install_hint
    from digitedge.data import load_mnist
    from digitedge.errors import DigitedgeError
    from digitedge.tflite_model import read_tflite, read_tflite_file

    mnist = load_mnist()
    try:
        if args.model is not None:
            model = read_tflite_file(args.model)
            label = str(args.model)
        elif CACHED_MODEL.is_file():
            model, label = read_tflite(CACHED_MODEL.read_bytes(), str(CACHED_MODEL)), f"{CACHED_MODEL} (cached)"
        else:
            print("building the default compact model (1 epoch on 10,000 digits, int8 PTQ) ...", flush=True)
            model, label = read_tflite(build_default_int8(mnist)), f"{CACHED_MODEL} (built now)"
    except DigitedgeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    tflite_bytes = model.data
    count = max(args.host_images, args.qemu_images)
    print(f"model: {label}, {len(tflite_bytes):,} B, ops {', '.join(model.op_names)}")

    started = time.perf_counter()
    model_inputs = quantize_images(mnist.x_test[:count], model.input)
    expected = tflm_outputs(tflite_bytes, model_inputs)
    print(f"TFLite Micro outputs for {count:,} test digits in {time.perf_counter() - started:.0f} s")
    started = time.perf_counter()
    host = run_on_host(tflite_bytes, model_inputs[:args.host_images])
    host_exact = int(np.sum(np.all(host == expected[:args.host_images], axis=1)))
    host_accuracy = float(np.mean(host.argmax(1) == mnist.y_test[:args.host_images]))
    print(f"host (gcc -O2, portable C): {host_exact:,}/{args.host_images:,} outputs bit-exact with TFLite Micro, "
          f"accuracy {host_accuracy:.2%}, {time.perf_counter() - started:.1f} s")

    checks = [row("host bit-exact", f"{host_exact:,}/{args.host_images:,}", "all 10,000",
                  host_exact == args.host_images >= 10000)]
    if missing_tools():
        print(f"QEMU run skipped: missing {', '.join(missing_tools())}; install with: {install_hint()}")
        checks.append(row("QEMU run", "not run", "toolchain installed", False))
    else:
        started = time.perf_counter()
        result = run_on_qemu(tflite_bytes, mnist.x_test[:args.qemu_images], mnist.y_test[:args.qemu_images],
                             expected_outputs=expected[:args.qemu_images], build_dir=args.keep)
        print(format_qemu_result(result))
        print(f"  whole QEMU check (generate, build, boot, parse): {time.perf_counter() - started:.1f} s")
        arena_text, arena_ok = "not measured", False
        try:
            from digitedge.micro.arena import find_arena_size

            arena = find_arena_size(tflite_bytes).minimum_bytes
            arena_text, arena_ok = f"<= TFLM arena {arena:,} B", result.ram_bytes <= arena
        except ImportError:
            pass
        flash_limit = len(tflite_bytes) + FLASH_OVER_TFLITE
        checks += [
            row("QEMU bit-exact", f"{result.bit_exact:,}/{result.images:,}", f"all, >= {QEMU_MIN_IMAGES:,} images",
                result.bit_exact == result.images >= QEMU_MIN_IMAGES and result.exit_status == 0),
            row("firmware flash (code + weights)", f"{result.flash_bytes:,} B", f"<= .tflite + 16 KB = {flash_limit:,} B",
                result.flash_bytes <= flash_limit),
            row("firmware RAM (data + bss + stack)", f"{result.ram_bytes:,} B", arena_text, arena_ok),
            row(f"QEMU wall time, {result.images:,} images", f"{result.qemu_seconds:.1f} s", f"<= {QEMU_SECONDS:.0f} s",
                result.qemu_seconds <= QEMU_SECONDS),
            row("instructions per inference", f"{result.instructions_per_inference:,.0f}", "(reported, -icount)", True),
        ]
    print(f"\n  {'requirement':<38} {'measured':>14}  {'target':<36} verdict")
    print("\n".join(checks))
    return 0 if all(line.endswith(" ok") for line in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
