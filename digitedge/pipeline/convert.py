"""The convert stage: every TFLite variant, stripped of what it does not need, checked from its own bytes."""

from __future__ import annotations

import gzip

import pandas as pd

from digitedge import stages
from digitedge.pipeline.context import Context, Stage
from digitedge.pipeline.optimize import load_optimized
from digitedge.pipeline.train import check_budgets, train_val
from digitedge.rundir import RunDir, write_bytes


def run_convert(context: Context) -> None:
    check_budgets(context)
    from digitedge.checks import check_variant
    from digitedge.convert import convert_all, representative_images
    from digitedge.data import normalize

    config, run = context.config, context.run
    x_train = train_val(context)[0]
    models = load_optimized(run)
    representative = representative_images(x_train, config.export.representative_samples, config.seed)
    check_images = normalize(context.data.x_test[:100])
    with context.recording("convert") as facts:
        converted = convert_all(models, representative, check_images)
        optimized = context.stage_facts("optimize")
        checks = {name: check_variant(name, variant.tflite_bytes, expected_sparsity(variant.source, config, optimized))
                  for name, variant in converted.items()}  # every variant checked before any is written
        for name, variant in converted.items():
            write_bytes(run.path("tflite", f"{name}.tflite"), variant.tflite_bytes)
            facts[name] = {**checks[name].to_dict(), "source": variant.source,
                           "unstripped_bytes": variant.unstripped_size,
                           "strings_bytes_saved": variant.strings_bytes_saved}
            facts[name].pop("weights")
            bits = "/".join(map(str, facts[name]["weight_bits"]))
            context.echo(f"[convert] {name:16s} {len(variant.tflite_bytes):>9,} bytes "
                         f"(-{variant.strings_bytes_saved:,} stripped), sparsity {checks[name].weight_sparsity:.1%}, "
                         f"weight bits per layer {bits}")


def expected_sparsity(source: str, config, optimized: dict) -> float | None:
    """The share of zeros a variant from `source` must keep: the pruning target, or for the structured-pruned
    low-bit model (2:4 fixes its own share) what the optimize stage measured in it."""
    if source == "pruned_int4_qat" and config.optimize.prune_structure != "unstructured":
        return optimized[source]["kernel_sparsity"]
    return config.optimize.target_sparsity if source.startswith("pruned") else None


def tflite_variants(run: RunDir) -> dict[str, bytes]:
    """{variant: .tflite bytes} of every variant the convert stage wrote."""
    stages.require_done(run, "convert", "run `digitedge optimize` and the conversion (`digitedge export --all`) first")
    names = run.read_manifest()["stages"]["convert"]
    return {name: run.path("tflite", f"{name}.tflite").read_bytes()
            for name in names if run.path("tflite", f"{name}.tflite").is_file()}


def file_columns(tflite_bytes: bytes) -> dict:
    """Size columns of one .tflite file, as the summary shows them."""
    return {"size_bytes": len(tflite_bytes), "gzip_bytes": len(gzip.compress(tflite_bytes, 9, mtime=0))}


def _summary(run: RunDir) -> pd.DataFrame:
    recorded = run.read_manifest()["stages"]["convert"]
    rows = {name: {**file_columns(data), "sparsity": recorded[name]["weight_sparsity"],
                   "weight_bits": "/".join(str(bits) for bits in recorded[name].get("weight_bits", []))}
            for name, data in tflite_variants(run).items()}
    return pd.DataFrame.from_dict(rows, orient="index")


STAGE = Stage("convert", ("export",), run_convert, summary=_summary)
