"""The optimize stage: QAT, pruning, prune-preserving QAT, 4-bit and mixed-precision QAT, and structured
pruning + 4-bit QAT of the float baseline, each saved with its metrics."""

from __future__ import annotations

import time

from digitedge.config import Config
from digitedge.errors import DigitedgeError
from digitedge.pipeline.context import Context, Stage
from digitedge.pipeline.train_stage import load_float_model, train_val
from digitedge.rundir import RunDir, write_text

OPTIMIZED_FILES = {"qat": "qat.h5", "pruned": "pruned.keras", "pruned_qat": "pruned_qat.h5",
                   "int4_qat": "int4_qat.h5", "mixed_qat": "mixed_qat.h5", "pruned_int4_qat": "pruned_int4_qat.h5"}
TECHNIQUE_OF = {"qat": "qat", "pruned": "prune", "pruned_qat": "prune_qat",
                "int4_qat": "int4_qat", "mixed_qat": "mixed_qat", "pruned_int4_qat": "pruned_int4_qat"}
NEEDS_PRUNED = ("prune_qat",)  # techniques that start from the (unstructured) pruned model


def check_plan(config: Config) -> None:
    """What the config asks of the model's layers, checked on the built (untrained) model before any training."""
    from digitedge.model import build_model
    from digitedge.optimize.lowbit import weighted_layer_names
    from digitedge.optimize.prune import layer_sparsities

    options = config.optimize
    needs_pruned = [*NEEDS_PRUNED, *(["pruned_int4_qat"] if options.prune_structure == "unstructured" else [])]
    for technique in needs_pruned:
        if technique in options.techniques and "prune" not in options.techniques:
            raise DigitedgeError(f"optimize technique '{technique}' needs 'prune' too "
                                 "(it starts from the pruned model)")
    model = build_model(config.model)
    names = weighted_layer_names(model)
    if "mixed_qat" in options.techniques and options.layer_bits and len(options.layer_bits) != len(names):
        raise DigitedgeError(f"optimize.layer_bits has {len(options.layer_bits)} entries; the model has "
                             f"{len(names)} conv/dense layers ({', '.join(names)}): "
                             "give one bit width (8, 4 or 2) each")
    if "pruned_int4_qat" in options.techniques and options.prune_structure == "filters" \
            and config.model.arch != "compact":
        raise DigitedgeError('optimize.prune_structure = "filters" needs model.arch = "compact" '
                             "(the seed CNN's layers are fixed)")
    if "pruned_int4_qat" in options.techniques and options.prune_structure == "block":
        from digitedge.optimize.structured import block_kernel_shapes

        shapes = block_kernel_shapes(model, layer_sparsities(model, options.block_sparsity))
        taps, channels = options.prune_block
        if not any(taps <= rows and channels <= columns for rows, columns in shapes.values()):
            described = ", ".join(f"{name} {rows}x{columns}" for name, (rows, columns) in shapes.items()) or "none"
            raise DigitedgeError(f"optimize.prune_block {options.prune_block} fits no pruned layer of the model "
                                 f"(filter taps x output channels: {described})")


def run_optimize(context: Context) -> None:
    from digitedge.modelio import save_keras_model
    from digitedge.optimize import kernel_sparsity, train_pruned, train_pruned_qat, train_qat
    from digitedge.optimize.lowbit import (int4_layer_bits, low_bit_recipe, mixed_layer_bits, train_low_bit_qat,
                                           weighted_layer_names)
    from digitedge.optimize.structured import train_pruned_low_bit_qat, train_structured_for_low_bit
    from digitedge.train import make_deterministic

    config, run = context.config, context.run
    techniques = config.optimize.techniques
    check_plan(config)
    float_model = load_float_model(run)
    data = train_val(context)
    args = (*data, config.optimize, config.seed)
    batch, options = config.train.batch_size, config.optimize
    layer_count = len(weighted_layer_names(float_model))
    low_bit = {**low_bit_recipe(options), "seed": config.seed, "batch_size": batch}
    make_deterministic(config.seed)  # op determinism too, when train was done by an earlier process
    with context.recording("optimize") as facts:
        trained = {}

        def structured_source():
            """pruned_int4_qat starts from the pruned model, or from its own structured pruning."""
            if options.prune_structure == "unstructured":
                return trained["pruned"]
            model, metrics = train_structured_for_low_bit(float_model, *data, options, config.model, config.seed,
                                                          batch_size=batch)
            write_text(run.path("optimize", "pruned_structured_metrics.csv"), metrics.to_csv(index=False))
            return model

        jobs = {"qat": lambda: train_qat(float_model, *args, batch_size=batch),
                "pruned": lambda: train_pruned(float_model, *args, batch_size=batch),
                "pruned_qat": lambda: train_pruned_qat(trained["pruned"], *args, batch_size=batch),
                "int4_qat": lambda: train_low_bit_qat(float_model, int4_layer_bits(layer_count), *data, **low_bit),
                "mixed_qat": lambda: train_low_bit_qat(float_model, mixed_layer_bits(options.layer_bits, layer_count),
                                                       *data, **low_bit),
                "pruned_int4_qat": lambda: train_pruned_low_bit_qat(structured_source(), int4_layer_bits(layer_count),
                                                                    *args, batch_size=batch)}
        for name, job in jobs.items():
            if TECHNIQUE_OF[name] not in techniques:
                continue
            context.echo(f"[optimize] {name} ...")
            started = time.perf_counter()
            model, metrics = job()
            trained[name] = model
            save_keras_model(model, run.path("optimize", OPTIMIZED_FILES[name]))
            write_text(run.path("optimize", f"{name}_metrics.csv"), metrics.to_csv(index=False))
            facts[name] = {"seconds": round(time.perf_counter() - started, 2),
                           "val_accuracy": float(metrics["val_accuracy"].iloc[-1]),
                           "kernel_sparsity": round(float(kernel_sparsity(model)), 6)}
            context.echo(f"[optimize] {name}: validation accuracy {facts[name]['val_accuracy']:.2%}, "
                         f"kernel sparsity {facts[name]['kernel_sparsity']:.1%}, {facts[name]['seconds']:.0f} s")


def has_optimized(run: RunDir, name: str) -> bool:
    """Whether the optimize stage left model `name` (qat, pruned, pruned_qat) in the run."""
    return run.path("optimize", OPTIMIZED_FILES[name]).is_file()


def load_optimized(run: RunDir, names: tuple[str, ...] = tuple(OPTIMIZED_FILES)) -> dict:
    """The float model and the optimized models among `names` the run has, keyed as convert.SOURCES expects."""
    from digitedge.modelio import load_keras_model

    models = {"float": load_float_model(run)}
    for name in names:
        if has_optimized(run, name):
            models[name] = load_keras_model(run.path("optimize", OPTIMIZED_FILES[name]))
    return models


STAGE = Stage("optimize", ("optimize",), run_optimize)
