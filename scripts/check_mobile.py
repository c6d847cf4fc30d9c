"""Print the mobile figures of a finished run against the issue's targets (PASS / MISS).

    python scripts/check_mobile.py [--run runs/default] [--images 500]

The run is copied into a temporary folder first (nothing is written into it); there
`digitedge export --mobile` is timed as a user runs it (a fresh process), then every figure is
measured from the files it wrote:
- mobile_uint8.tflite is at most 5 KB larger than the run's int8_qat.tflite;
- its accuracy on the 10,000 MNIST test images is within 0.1 points of int8_qat's (and
  mobile_float16's within 0.1 points of float16's);
- MediaPipe Tasks' ImageClassifier (its own environment, see digitedge.mobile.phone) on the first
  `--images` test digits: top-1 agrees with LiteRT on >= 99.8 %, accuracy within 0.1 points of LiteRT's;
- LiteRT's CompiledModel (CPU) gives the Interpreter's outputs;
- `export --mobile` takes <= 60 s.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

SIZE_MARGIN = 5 * 1024
ACCURACY_POINTS = 0.1
AGREEMENT_TARGET = 0.998
EXPORT_SECONDS = 60
SOURCES = {"mobile_uint8": "int8_qat", "mobile_float16": "float16"}  # mobile file -> the measured variant it matches


def line(ok: bool, text: str) -> bool:
    print(f"{'PASS' if ok else 'MISS'}  {text}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, default=Path("runs/default"), help="a finished run (default runs/default)")
    parser.add_argument("--images", type=int, default=500, help="test digits MediaPipe classifies (default 500)")
    args = parser.parse_args()
    if not (args.run / "tflite" / "int8_qat.tflite").is_file():
        print(f"error: {args.run} is not a finished run (no tflite/int8_qat.tflite)", file=sys.stderr)
        return 2

    import numpy as np

    from digitedge.data import load_mnist
    from digitedge.errors import DigitedgeError
    from digitedge.evaluate import tflite_probabilities
    from digitedge.mobile.compiled import compare_compiled_model
    from digitedge.mobile.phone import classify_with_mediapipe, mediapipe_python
    from digitedge.runtime import litert_interpreter, quantize_input, scale_images

    mnist = load_mnist()
    results = []
    with tempfile.TemporaryDirectory(prefix="digitedge-check-mobile-") as folder:
        run, app = Path(folder) / "run", Path(folder) / "app"
        shutil.copytree(args.run, run)
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "digitedge", "export", "--mobile", "--run", str(run),
                               "--out", str(app)], capture_output=True, text=True)
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            print(f"error: export --mobile failed: {done.stderr.strip().splitlines()[-1]}", file=sys.stderr)
            return 1
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        results.append(line(seconds <= EXPORT_SECONDS, f"export --mobile on a finished run: {seconds:.1f} s "
                                                       f"(target <= {EXPORT_SECONDS} s)"))
        files = {name: (app / f"{name}.tflite").read_bytes() for name in SOURCES}
        measured = {source: (run / "tflite" / f"{source}.tflite").read_bytes() for source in SOURCES.values()}

        extra = len(files["mobile_uint8"]) - len(measured["int8_qat"])
        results.append(line(extra <= SIZE_MARGIN, f"mobile_uint8 {len(files['mobile_uint8']):,} bytes = int8_qat "
                                                  f"{len(measured['int8_qat']):,} + {extra:,} (target <= +{SIZE_MARGIN:,})"))
        images, labels = mnist.x_test, mnist.y_test
        for name, source in SOURCES.items():
            accuracy = float(np.mean(tflite_probabilities(files[name], images).argmax(1) == labels))
            reference = float(np.mean(tflite_probabilities(measured[source], images).argmax(1) == labels))
            gap = 100 * abs(accuracy - reference)
            results.append(line(gap <= ACCURACY_POINTS + 1e-9,
                                f"{name} accuracy {accuracy:.2%} vs {source} {reference:.2%} on {len(labels):,} "
                                f"test images: {gap:.2f} points (target <= {ACCURACY_POINTS})"))

        for name, data in files.items():
            detail = litert_interpreter(data, name).get_input_details()[0]
            parity = compare_compiled_model(data, quantize_input(scale_images(images), detail), name)
            results.append(line(parity["identical_outputs"] == 1.0,
                                f"{name} CompiledModel (CPU) vs Interpreter on {parity['images']:,} images: same top-1 "
                                f"{parity['same_prediction']:.2%}, identical outputs {parity['identical_outputs']:.2%}"))

        try:
            python = mediapipe_python(echo=print)
        except DigitedgeError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        images, labels = mnist.x_test[:args.images], mnist.y_test[:args.images]
        for name, data in files.items():
            answers = classify_with_mediapipe(app / f"{name}.tflite", images, python=python)
            litert = tflite_probabilities(data, images).argmax(1)
            agreement = float(np.mean(answers.predictions == litert))
            ties = int(np.sum((answers.predictions != litert)
                              & np.isclose(answers.scores.max(1), answers.scores[np.arange(len(litert)), litert])))
            mediapipe_accuracy, litert_accuracy = np.mean(answers.predictions == labels), np.mean(litert == labels)
            gap = 100 * abs(mediapipe_accuracy - litert_accuracy)
            results.append(line(agreement >= AGREEMENT_TARGET,
                                f"{name} MediaPipe {answers.mediapipe_version} top-1 = LiteRT on {agreement:.2%} of "
                                f"{len(images)} digits ({ties} of the differences are tied top scores) "
                                f"(target >= {AGREEMENT_TARGET:.1%})"))
            results.append(line(gap <= ACCURACY_POINTS + 1e-9,
                                f"{name} MediaPipe accuracy {mediapipe_accuracy:.2%} vs LiteRT {litert_accuracy:.2%}: "
                                f"{gap:.2f} points; labels from metadata: {''.join(answers.category_names)} "
                                f"(target <= {ACCURACY_POINTS})"))
    print(f"{sum(results)} of {len(results)} targets met")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
