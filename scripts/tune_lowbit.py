"""Tries one low-bit QAT recipe from a trained float model and prints the converted .tflite's accuracy on
TFLite Micro over the validation split, with the training's CPU seconds per epoch. Recipes are chosen
on validation; `--split test` is for measuring the chosen one once, at the end.

    python scripts/tune_lowbit.py RUN_DIR VARIANT --epochs 4 --lr 5e-4 --schedule cosine [--dense-bits 8]
        [--shift 1] [--block-sparsity 0.7 | --filter-sparsity 0.35 [--first-filter-sparsity 0.3] [--qat-bits 8]]
        [--prune-epochs 4]
        [--seed N] [--out FILE.tflite] [--split test]

RUN_DIR holds train/model.keras and config.toml; VARIANT is int4_qat, mixed_qat or pruned_int4_qat.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("variant", choices=["int4_qat", "mixed_qat", "pruned_int4_qat"])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--schedule", choices=["constant", "cosine"], default="constant")
    parser.add_argument("--dense-bits", type=int, default=4)
    parser.add_argument("--block-sparsity", type=float, default=0.5)
    parser.add_argument("--filter-sparsity", type=float, default=0.0,
                        help="pruned_int4_qat: remove this share of filters instead of block pruning")
    parser.add_argument("--first-filter-sparsity", type=float, default=0.0,
                        help="with --filter-sparsity: the share of the first convolution's filters removed")
    parser.add_argument("--qat-bits", type=int, default=4, help="pruned_int4_qat: weight bits of its QAT (8 or 4)")
    parser.add_argument("--prune-epochs", type=int, default=4)
    parser.add_argument("--shift", type=int, default=0, help="QAT images shifted by up to this many pixels")
    parser.add_argument("--seed", type=int, default=None, help="QAT seed (default: the run's)")
    parser.add_argument("--out", type=Path, help="also write the converted .tflite here")
    parser.add_argument("--split", choices=["validation", "test"], default="validation")
    args = parser.parse_args()

    import tf_keras as keras

    from digitedge.config import load as load_config
    from digitedge.convert import convert_variant, representative_images
    from digitedge.data import load_mnist, normalize, split_validation
    from digitedge.modelio import load_keras_model
    from digitedge.optimize.filters import train_filter_pruned
    from digitedge.optimize.finetune import kernel_sparsity, steps_per_epoch
    from digitedge.optimize.lowbit import int4_layer_bits, mixed_layer_bits, train_low_bit_qat, weighted_layer_names
    from digitedge.optimize.structured import KeepZeros, train_structured_pruned
    from digitedge.micro.profile import layer_table
    from digitedge.runtime.tflm import run_tflm
    from digitedge.tflite_model import read_tflite

    config = load_config(args.run_dir / "config.toml")
    mnist = load_mnist()
    x_train, y_train, x_val, y_val = split_validation(mnist.x_train, mnist.y_train, config.data.validation_size,
                                                      config.seed)
    x_train, x_val = normalize(x_train), normalize(x_val)
    model = load_keras_model(args.run_dir / "train" / "model.keras")
    count = len(weighted_layer_names(model))
    bits = mixed_layer_bits([], count) if args.variant == "mixed_qat" else int4_layer_bits(count)
    if args.variant == "int4_qat":
        bits[-1] = args.dense_bits
    cpu = time.process_time()
    prune_cpu = 0.0
    callbacks = ()
    if args.variant == "pruned_int4_qat" and args.filter_sparsity:
        options = dataclasses.replace(config.optimize, prune_structure="filters", filter_sparsity=args.filter_sparsity,
                                      first_filter_sparsity=args.first_filter_sparsity, prune_epochs=args.prune_epochs)
        model, _ = train_filter_pruned(model, x_train, y_train, x_val, y_val, options, config.model, config.seed,
                                       batch_size=config.train.batch_size, shift_pixels=args.shift)
        prune_cpu = time.process_time() - cpu
        bits = [args.qat_bits] * count
    elif args.variant == "pruned_int4_qat":
        options = dataclasses.replace(config.optimize, prune_structure="block", block_sparsity=args.block_sparsity,
                                      prune_epochs=args.prune_epochs)
        model, _ = train_structured_pruned(model, x_train, y_train, x_val, y_val, options, config.seed,
                                           batch_size=config.train.batch_size)
        prune_cpu = time.process_time() - cpu
        callbacks = (KeepZeros(),)
    lr = args.lr
    if args.schedule == "cosine":
        lr = keras.optimizers.schedules.CosineDecay(
            args.lr, args.epochs * steps_per_epoch(len(x_train), config.train.batch_size))
    qat_start = time.process_time()
    qat, metrics = train_low_bit_qat(model, bits, x_train, y_train, x_val, y_val, epochs=args.epochs,
                                     learning_rate=lr, seed=config.seed if args.seed is None else args.seed,
                                     batch_size=config.train.batch_size, shift_pixels=args.shift, callbacks=callbacks)
    qat_cpu = time.process_time() - qat_start
    tflite = convert_variant(args.variant, qat, representative_images(x_train, 500, config.seed))
    if args.out:
        args.out.write_bytes(tflite)
    x_eval, y_eval = (normalize(mnist.x_test), mnist.y_test) if args.split == "test" else (x_val, y_val)
    predictions = run_tflm(tflite, x_eval).argmax(axis=1)
    print(json.dumps({"variant": args.variant, "bits": bits, "epochs": args.epochs, "lr": args.lr,
                      "schedule": args.schedule, "shift": args.shift, "seed": args.seed, "block_sparsity": args.block_sparsity,
                      "prune_epochs": args.prune_epochs if prune_cpu else 0,
                      "keras_val_accuracy": round(float(metrics["val_accuracy"].iloc[-1]), 5),
                      f"tflm_{args.split}_accuracy": round(float(np.mean(predictions == y_eval)), 5),
                      "macs": int(layer_table(read_tflite(tflite, args.variant))["macs"].sum()),
                      "kernel_sparsity": round(kernel_sparsity(qat), 4), "filter_sparsity": args.filter_sparsity,
                      "first_filter_sparsity": args.first_filter_sparsity, "tflite_bytes": len(tflite),
                      "qat_cpu_s_per_epoch": round(qat_cpu / args.epochs, 1),
                      "prune_cpu_s_per_epoch": round(prune_cpu / args.prune_epochs, 1) if prune_cpu else 0}))


if __name__ == "__main__":
    main()
