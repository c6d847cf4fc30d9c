"""The optimize stage: QAT, pruning and prune-preserving QAT of the float baseline, each saved with its metrics."""

from __future__ import annotations

import time

from digitedge.errors import DigitedgeError
from digitedge.pipeline.context import Context, Stage
from digitedge.pipeline.train_stage import load_float_model, train_val
from digitedge.rundir import RunDir, write_text

OPTIMIZED_FILES = {"qat": "qat.h5", "pruned": "pruned.keras", "pruned_qat": "pruned_qat.h5"}
TECHNIQUE_OF = {"qat": "qat", "pruned": "prune", "pruned_qat": "prune_qat"}


def run_optimize(context: Context) -> None:
    from digitedge.modelio import save_keras_model
    from digitedge.optimize import kernel_sparsity, train_pruned, train_pruned_qat, train_qat
    from digitedge.train import make_deterministic

    config, run = context.config, context.run
    techniques = config.optimize.techniques
    if "prune_qat" in techniques and "prune" not in techniques:
        raise DigitedgeError("optimize technique 'prune_qat' needs 'prune' too (it starts from the pruned model)")
    float_model = load_float_model(run)
    args = (*train_val(context), config.optimize, config.seed)
    batch = config.train.batch_size
    make_deterministic(config.seed)  # op determinism too, when train was done by an earlier process
    with context.recording("optimize") as facts:
        pruned = None
        jobs = {"qat": lambda: train_qat(float_model, *args, batch_size=batch),
                "pruned": lambda: train_pruned(float_model, *args, batch_size=batch),
                "pruned_qat": lambda: train_pruned_qat(pruned, *args, batch_size=batch)}
        for name, job in jobs.items():
            if TECHNIQUE_OF[name] not in techniques:
                continue
            context.echo(f"[optimize] {name} ...")
            started = time.perf_counter()
            model, metrics = job()
            if name == "pruned":
                pruned = model
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
