"""The micro stage: which variants TFLite Micro runs (and why not), their measured arenas and TFLM
accuracy, the variant `export --int8` deploys, its parity with LiteRT, and its C header files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from digitedge.errors import DigitedgeError
from digitedge.pipeline.context import Context, Stage, evaluation_set
from digitedge.pipeline.convert_stage import tflite_variants
from digitedge.pipeline.train_stage import load_float_model
from digitedge.rundir import RunDir, write_files
from digitedge.targets import Budget, qualifying, smallest

AUTO = "auto"  # export.variant: the smallest full-integer variant TFLM runs within tolerance that fits the budget


def run_micro(context: Context) -> None:
    from digitedge.convert import FULL_INTEGER
    from digitedge.data import normalize
    from digitedge.micro.arena import find_arena_size
    from digitedge.micro.parity import compare_tflm_litert, timed_tflm
    from digitedge.micro.profile import layer_table
    from digitedge.runtime.tflm import tflm_support
    from digitedge.tflite_model import read_tflite

    config, run = context.config, context.run
    models = {name: read_tflite(data, name) for name, data in tflite_variants(run).items()}
    if config.export.variant != AUTO and config.export.variant not in models:
        raise DigitedgeError(f"export.variant '{config.export.variant}' is not in {run.root}; "
                             f"choose {AUTO} or one of {', '.join(models)}")
    images, labels = evaluation_set(context)
    images = normalize(images)
    with context.recording("micro") as facts:
        tflm_runs = {}
        for name, model in models.items():
            support = tflm_support(model, name)
            entry = {"tflm": support.to_dict(), "macs": int(layer_table(model)["macs"].sum())}
            if support.runs:
                entry["arena"] = find_arena_size(model, config.export.arena_margin, name).to_dict()
            if support.runs and name in FULL_INTEGER:  # what export --int8 can deploy: measured on TFLM itself
                tflm_runs[name] = timed_tflm(model, images, entry["arena"]["arena_bytes"], name)
                entry.update(tflm_accuracy=tflm_runs[name].accuracy(labels), tflm_images=len(labels))
            facts[name] = entry
            context.echo(f"[micro] {name:16s} " + (f"TFLM runs it, arena {entry['arena']['minimum_bytes']:,} bytes"
                                                    + (f", TFLM accuracy {entry['tflm_accuracy']:.2%}"
                                                       if "tflm_accuracy" in entry else "")
                                                    if support.runs else f"TFLM refuses it: {support.failure.describe()}"))
        float_accuracy = float(np.mean(load_float_model(run).predict(images, batch_size=1000, verbose=0)
                                       .argmax(axis=1) == labels))
        deployed = config.export.variant if config.export.variant != AUTO \
            else choose_deployed(facts, models, float_accuracy, config.export.accuracy_tolerance_pp,
                                 Budget(config.budget.flash_bytes, config.budget.ram_bytes))
        facts["float_accuracy"] = float_accuracy
        facts["deployed"] = deployed
        if deployed and deployed in tflm_runs:
            arena = facts[deployed]["arena"]["arena_bytes"]
            parity = compare_tflm_litert(models[deployed], images, labels, arena, deployed, tflm=tflm_runs[deployed])
            facts["parity"] = {"variant": deployed, **parity.to_dict()}
            context.echo(f"[micro] deploying {deployed}" + (" (export.variant = auto)" if config.export.variant == AUTO
                                                             else "") +
                         f": TFLM accuracy {parity.tflm_accuracy:.2%} on {parity.images:,} images (float "
                         f"{float_accuracy:.2%}); same class as LiteRT XNNPACK {parity.xnnpack.same_prediction:.2%}, "
                         f"reference kernels {parity.reference_text()}")
            write_files(export_files(context, deployed, facts), run.path("micro"))
        elif deployed:
            context.echo(f"[micro] export.variant {deployed} is not a full-integer variant TFLM runs: no header written")


def choose_deployed(facts: dict, models: dict, float_accuracy: float, tolerance_pp: float, budget: Budget) -> str | None:
    """The smallest measured full-integer variant within tolerance that fits the budget; failing that,
    the most accurate one that fits, then the most accurate one."""
    measured = {name: entry for name, entry in facts.items() if isinstance(entry, dict) and "tflm_accuracy" in entry}
    if not measured:
        return None
    frame = pd.DataFrame({name: {"size_bytes": len(models[name].data), "arena_bytes": entry["arena"]["arena_bytes"],
                                 "delta_pp": 100 * (entry["tflm_accuracy"] - float_accuracy)}
                          for name, entry in measured.items()}).T
    chosen = smallest(qualifying(frame, delta_column="delta_pp", tolerance_pp=tolerance_pp, budget=budget,
                                 ram_column="arena_bytes"))
    if chosen:
        return chosen
    fitting = qualifying(frame, delta_column="delta_pp", tolerance_pp=float("inf"), budget=budget,
                         ram_column="arena_bytes")
    return (fitting if not fitting.empty else frame)["delta_pp"].astype(float).idxmax()


def deployed_variant(run: RunDir) -> str | None:
    """The variant the run deploys: the micro stage's choice; before that stage ran, the config's
    export.variant unless it is auto (None then, and when nothing qualifies)."""
    from digitedge import config as config_module

    micro = run.read_manifest().get("stages", {}).get("micro")
    if micro is not None:
        return micro.get("deployed")
    configured = config_module.load(run.path("config.toml")).export.variant if run.path("config.toml").is_file() \
        else AUTO
    return None if configured == AUTO else configured


def export_files(context: Context, variant: str, micro_facts: dict | None = None) -> dict[str, bytes]:
    """The deployable .tflite and its TFLite Micro header files, with the arena and TFLM accuracy the
    micro stage measured; every file checked before the caller writes any."""
    from digitedge.data import normalize
    from digitedge.micro.header import header_files
    from digitedge.tflite_model import read_tflite

    variants = tflite_variants(context.run)
    if variant not in variants:
        raise DigitedgeError(f"--variant '{variant}' is not in {context.run.root}; choose one of {', '.join(variants)}")
    measured = (micro_facts if micro_facts is not None else context.stage_facts("micro")).get(variant, {})
    if "arena" not in measured:
        raise DigitedgeError(f"{context.run.root} has no TFLite Micro measurement of '{variant}'; "
                             f"run `digitedge micro --run {context.run.root}` first")
    model = read_tflite(variants[variant], f"{variant}.tflite")
    count = context.config.export.sample_digits
    accuracy = measured.get("tflm_accuracy")
    files = header_files(model.data, variant=variant, accuracy=accuracy, arena_bytes=measured["arena"]["arena_bytes"],
                         sample_images=normalize(context.data.x_test[:count]), sample_labels=context.data.y_test[:count],
                         source_name=f"{variant}.tflite", arena_minimum_bytes=measured["arena"]["minimum_bytes"],
                         accuracy_source=f"TFLite Micro, {measured.get('tflm_images', 0):,} MNIST test images")
    return {f"{variant}.tflite": model.data, **{name: text.encode() for name, text in files.items()}}


def write_export(context: Context, variant: str, out_dir: Path) -> dict[str, bytes]:
    """`digitedge export --int8`: the deployable model and its header files, all or none; returns what it wrote."""
    files = export_files(context, variant)
    for path in write_files(files, out_dir):
        context.echo(f"[export] {path} ({path.stat().st_size:,} bytes)")
    arena = context.stage_facts("micro")[variant]["arena"]
    context.echo(f"[export] kTensorArenaSize = {arena['arena_bytes']:,} bytes (measured minimum "
                 f"{arena['minimum_bytes']:,} + {context.config.export.arena_margin:.0%} margin)")
    return files


def _summary(run: RunDir) -> pd.DataFrame:
    recorded = run.read_manifest()["stages"]["micro"]
    rows = {name: {"macs": entry["macs"], "tflm_runs": entry["tflm"]["runs"],
                   "tflm_arena_bytes": entry.get("arena", {}).get("minimum_bytes"),
                   "tflm_header_arena_bytes": entry.get("arena", {}).get("arena_bytes"),
                   "tflm_accuracy": entry.get("tflm_accuracy")}
            for name, entry in recorded.items() if isinstance(entry, dict) and "tflm" in entry}
    return pd.DataFrame.from_dict(rows, orient="index")


def _facts(record: dict) -> dict[str, str]:
    parity = record.get("parity")
    if not parity:
        return {}
    reference, xnnpack = parity["reference"], parity["xnnpack"]
    shared = (f"{parity['variant']}: TFLM accuracy {parity['tflm_accuracy']:.2%}; same class as LiteRT XNNPACK on "
              f"{xnnpack['same_prediction']:.2%}")
    if reference is None:
        return {"TFLite Micro parity": (
            f"{shared} of {parity['images']:,} images, byte-identical outputs {xnnpack['identical_outputs']:.2%}; "
            f"LiteRT's reference kernels refuse it ({parity['reference_refusal']})")}
    return {"TFLite Micro parity": (
        f"{shared} and as LiteRT reference kernels on {reference['same_prediction']:.2%} of {parity['images']:,} "
        f"images; byte-identical outputs {xnnpack['identical_outputs']:.2%} / {reference['identical_outputs']:.2%}")}


STAGE = Stage("micro", ("export", "budget"), run_micro, summary=_summary, facts=_facts)
