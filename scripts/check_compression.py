"""Print the compression figures of the default configuration against the project's targets.

    python scripts/check_compression.py [--float-model PATH] [--save-float PATH] [--eval-limit N] [--train-limit N]
                                        [--set KEY=VALUE ...]

Trains the default float baseline (digitedge.train.train_float, or loads --float-model), then runs
QAT, pruning and pruning-preserving QAT and converts every variant, timing that part, and measures
each variant's accuracy on the MNIST test set through LiteRT. Heavy: run it rarely.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

QAT_MIN_ACCURACY = 0.994
QAT_MAX_DROP_PP = 0.1
QAT_MIN_AGREEMENT = 0.998
INT8_MAX_SIZE_RATIO = 0.30
MIN_PRUNED_SPARSITY = 0.74
PRUNED_MAX_GZIP_RATIO = 0.20
PRUNED_QAT_MAX_DROP_PP = 0.3
MAX_SECONDS = 6 * 60


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--float-model", help="a trained float .keras to start from instead of training one")
    parser.add_argument("--save-float", help="save the trained float baseline here (.keras) for later runs")
    parser.add_argument("--eval-limit", type=int, default=0, help="test images to evaluate (0 = all 10,000)")
    parser.add_argument("--train-limit", type=int, default=0, help="training images to use (0 = all; for smoke runs)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config default, e.g. --set optimize.qat_epochs=2 (TOML value)")
    args = parser.parse_args()

    import numpy as np

    from digitedge.checks import check_variant
    from digitedge.config import load as load_config
    from digitedge.convert import convert_all, representative_images
    from digitedge.data import load_mnist, normalize, split_validation
    from digitedge.evaluate import tflite_probabilities
    from digitedge.model import build_model
    from digitedge.modelio import load_keras_model, save_keras_model
    from digitedge.optimize import train_pruned, train_pruned_qat, train_qat

    config = load_config(overrides=dict(_parse_override(item) for item in args.set))
    mnist = load_mnist()
    x_train, y_train, x_val, y_val = split_validation(mnist.x_train, mnist.y_train,
                                                      config.data.validation_size, config.seed)
    if args.train_limit:
        x_train, y_train = x_train[:args.train_limit], y_train[:args.train_limit]
    x_train, x_val = normalize(x_train), normalize(x_val)
    limit = args.eval_limit or len(mnist.x_test)
    test_images, test_labels = mnist.x_test[:limit], mnist.y_test[:limit]

    if args.float_model:
        float_model = load_keras_model(args.float_model)
    else:
        from digitedge.train import make_deterministic, train_float

        make_deterministic(config.seed)
        started = time.perf_counter()
        result = train_float(build_model(config.model), x_train, y_train, x_val, y_val, config.train,
                             config.seed, progress=False)
        float_model = result.model
        print(f"float baseline: {len(result.metrics)} epochs (best {result.best_epoch}) "
              f"in {time.perf_counter() - started:.0f} s")
        if args.save_float:
            save_keras_model(float_model, args.save_float)

    opt, batch = config.optimize, config.train.batch_size
    started, cpu_started = time.perf_counter(), time.process_time()
    models, seconds = {"float": float_model}, {}
    for name, job in [("qat", lambda: train_qat(float_model, x_train, y_train, x_val, y_val, opt, config.seed, batch)),
                      ("pruned", lambda: train_pruned(float_model, x_train, y_train, x_val, y_val, opt,
                                                      config.seed, batch)),
                      ("pruned_qat", lambda: train_pruned_qat(models["pruned"], x_train, y_train, x_val, y_val, opt,
                                                              config.seed, batch))]:
        begun = time.perf_counter()
        models[name], metrics = job()
        seconds[name] = time.perf_counter() - begun
        print(f"{name:10s} {seconds[name]:6.1f} s  " + "  ".join(
            f"ep{int(r.epoch)} val_acc {r.val_accuracy:.4f} ({r.seconds:.0f} s)" for r in metrics.itertuples()))
    begun = time.perf_counter()
    representative = representative_images(x_train, config.export.representative_samples, config.seed)
    converted = convert_all(models, representative, normalize(test_images[:100]))
    checks = {name: check_variant(name, v.tflite_bytes, opt.target_sparsity if name.startswith("pruned") else None)
              for name, v in converted.items()}
    seconds["convert"] = time.perf_counter() - begun
    total_seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started  # all threads; on an idle machine wall ~ cpu / cores
    load_average = os.getloadavg()[1]  # other processes on the machine stretch the wall time
    print(f"convert    {seconds['convert']:6.1f} s")

    predictions = {name: tflite_probabilities(v.tflite_bytes, test_images, label=name).argmax(axis=1)
                   for name, v in converted.items()}
    accuracy = {name: float(np.mean(p == test_labels)) for name, p in predictions.items()}
    agreement = {name: float(np.mean(p == predictions["float32"])) for name, p in predictions.items()}
    keras_accuracy = float(np.mean(float_model.predict(normalize(test_images), verbose=0).argmax(1) == test_labels))

    print(f"\nfloat Keras accuracy on {limit} test images: {keras_accuracy:.4%}")
    print(f"{'variant':16s} {'bytes':>8s} {'unstripped':>10s} {'saved':>6s} {'gzip':>7s} {'sparsity':>8s} "
          f"{'accuracy':>9s} {'delta_pp':>8s} {'agree':>8s}")
    for name, v in converted.items():
        c = checks[name]
        print(f"{name:16s} {len(v.tflite_bytes):8d} {v.unstripped_size:10d} {v.strings_bytes_saved:6d} "
              f"{c.gzip_bytes:7d} {c.weight_sparsity:8.2%} {accuracy[name]:9.4%} "
              f"{100 * (accuracy[name] - accuracy['float32']):+8.2f} {agreement[name]:8.4%}")

    size = {name: len(v.tflite_bytes) for name, v in converted.items()}
    float_gzip = checks["float32"].gzip_bytes
    drop_pp = 100 * (accuracy["float32"] - accuracy["int8_qat"])
    results = [
        (f"int8_qat accuracy {accuracy['int8_qat']:.4%} >= {QAT_MIN_ACCURACY:.1%}",
         accuracy["int8_qat"] >= QAT_MIN_ACCURACY),
        (f"int8_qat {-drop_pp:+.2f} pp vs float32 >= -{QAT_MAX_DROP_PP}", drop_pp <= QAT_MAX_DROP_PP),
        (f"int8_qat agreement with float {agreement['int8_qat']:.4%} >= {QAT_MIN_AGREEMENT:.1%}",
         agreement["int8_qat"] >= QAT_MIN_AGREEMENT),
        (f"int8_qat size {size['int8_qat'] / size['float32']:.3f} x float32 <= {INT8_MAX_SIZE_RATIO}",
         size["int8_qat"] <= INT8_MAX_SIZE_RATIO * size["float32"]),
        (f"pruned_int8 sparsity {checks['pruned_int8'].weight_sparsity:.2%} >= {MIN_PRUNED_SPARSITY:.0%}",
         checks["pruned_int8"].weight_sparsity >= MIN_PRUNED_SPARSITY),
        (f"gzip(pruned_int8) {checks['pruned_int8'].gzip_bytes / float_gzip:.3f} x gzip(float32) "
         f"<= {PRUNED_MAX_GZIP_RATIO}", checks["pruned_int8"].gzip_bytes <= PRUNED_MAX_GZIP_RATIO * float_gzip),
        (f"pruned_qat_int8 sparsity {checks['pruned_qat_int8'].weight_sparsity:.2%} >= {MIN_PRUNED_SPARSITY:.0%}",
         checks["pruned_qat_int8"].weight_sparsity >= MIN_PRUNED_SPARSITY),
        (f"pruned_qat_int8 {100 * (accuracy['pruned_qat_int8'] - accuracy['float32']):+.2f} pp vs float32 "
         f"within {PRUNED_QAT_MAX_DROP_PP}",
         abs(accuracy["float32"] - accuracy["pruned_qat_int8"]) * 100 <= PRUNED_QAT_MAX_DROP_PP),
        (f"optimization + conversion {total_seconds:.0f} s <= {MAX_SECONDS} "
         f"(CPU {cpu_seconds:.0f} s; load average {load_average:.1f} on {os.cpu_count()} cores)",
         total_seconds <= MAX_SECONDS),
    ]
    print()
    for text, ok in results:
        print(f"{'PASS' if ok else 'MISS'}  {text}")
    return 0 if all(ok for _, ok in results) else 1


def _parse_override(item: str) -> tuple[str, object]:
    import tomllib

    key, _, value = item.partition("=")
    return key.strip(), tomllib.loads(f"value = {value}")["value"]


if __name__ == "__main__":
    sys.exit(main())
