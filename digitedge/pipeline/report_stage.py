"""The report stage: REPORT.md, report.html and summary.csv from this run's artifacts.

The summary table and the run facts are assembled from every stage's own `summary` and `facts`
(digitedge.pipeline.STAGES): a new stage adds its columns and facts by declaring them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from digitedge.pipeline import manifest
from digitedge.pipeline.context import Context, Stage
from digitedge.pipeline.convert_stage import tflite_variants
from digitedge.pipeline.evaluate_stage import read_evaluation, read_predictions
from digitedge.pipeline.micro_stage import deployed_variant
from digitedge.pipeline.train_stage import training_metrics_file
from digitedge.rundir import RunDir
from digitedge.targets import Budget


def summary_table(run: RunDir) -> pd.DataFrame:
    """One row per evaluated variant, every column read from the stage that measured it in this run."""
    from digitedge.pipeline import STAGES

    recorded = run.read_manifest().get("stages", {})
    frame = None
    for stage in STAGES:
        if stage.summary is None or stage.name not in recorded:
            continue
        columns = stage.summary(run)
        frame = columns if frame is None else frame.combine_first(columns)
    evaluated = read_evaluation(run).index
    table = frame.loc[list(evaluated)].rename_axis("variant")
    if "float32" in table.index:
        table["size_ratio"] = table["size_bytes"] / table.loc["float32", "size_bytes"]
        table["gzip_ratio"] = table["gzip_bytes"] / table.loc["float32", "gzip_bytes"]
    return table


def run_facts(run: RunDir) -> dict[str, str]:
    """Every stage's lines for the report's run facts, in stage order."""
    from digitedge.pipeline import STAGES

    recorded = run.read_manifest().get("stages", {})
    facts: dict[str, str] = {}
    for stage in STAGES:
        if stage.facts is not None and stage.name in recorded:
            facts.update(stage.facts(recorded[stage.name]))
    return facts


def stage_sections(run: RunDir) -> list:
    """Every stage's own report section, in stage order, then the model search's front when the run has one."""
    from digitedge.pipeline import STAGES

    recorded = run.read_manifest().get("stages", {})
    blocks = [block for stage in STAGES if stage.section is not None and stage.name in recorded
              for block in stage.section(run)]
    return blocks + search_section(run)


def search_section(run: RunDir) -> list:
    """The search's Pareto front (RUN/search/), as `digitedge search` wrote it."""
    from digitedge.report.render import FigureBlock, Heading, Paragraph, Table
    from digitedge.report.tables import frame_cells
    from digitedge.search.outputs import read_front, read_front_plot, read_trials

    front = read_front(run.root)
    if front is None:
        return []
    trials = read_trials(run.root)
    counts = ", ".join(f"{count} {outcome}" for outcome, count in trials["outcome"].value_counts().items())
    blocks = [Heading("Model search"),
              Paragraph(f"`digitedge search` ran {len(trials)} trials ({counts}), scored on the validation split. "
                        "The front: no other trial within the limits is more accurate with less flash and RAM.")]
    plot = read_front_plot(run.root)
    if plot is not None:
        blocks.append(FigureBlock("search_pareto.png", plot,
                                  "int8 validation accuracy against flash; colour: RAM; front marked."))
    header, rows, right = frame_cells(front)
    return blocks + [Table(header, rows, right)]


def run_report(context: Context) -> Path:
    from sklearn.metrics import confusion_matrix

    from digitedge.evaluate import Misclassified
    from digitedge.micro.profile import layer_table
    from digitedge.report import RunFacts, write_report
    from digitedge.tflite_model import read_tflite

    run, config = context.run, context.config
    for stage in ("evaluate", "benchmark"):
        manifest.require_done(run, stage, f"run `digitedge {stage} --run {run.root}` first")
    run_manifest = run.read_manifest()
    summary = summary_table(run)
    predictions = read_predictions(run)
    deployed = deployed_variant(run)
    deployed = deployed if deployed in predictions.columns else None
    labels = predictions["label"].to_numpy()
    confusion = {name: confusion_matrix(labels, predictions[name], labels=range(10))
                 for name in ("keras_float", deployed) if name}
    misclassified = None
    if deployed:
        wrong = np.flatnonzero((predictions[deployed].to_numpy() != labels)
                               & (predictions["keras_float"].to_numpy() == labels))
        misclassified = Misclassified(wrong, context.data.x_test[wrong], labels[wrong],
                                      predictions["keras_float"].to_numpy()[wrong],
                                      predictions[deployed].to_numpy()[wrong])
    extra = {"seed": str(config.seed), "test images": f"{len(labels):,}", **run_facts(run)}
    profile = None
    deployed_tflite = tflite_variants(run).get(deployed) if deployed else None
    if deployed_tflite is not None:
        profile = layer_table(read_tflite(deployed_tflite, deployed))
    benchmark = run_manifest["stages"]["benchmark"]
    facts = RunFacts(run_name=str(run.root), data_checksum=run_manifest["data"]["checksum"],
                     versions=run_manifest.get("versions", {}), command=context.command,
                     git_commit=run_manifest.get("git_commit"), extra=extra)
    with context.recording("report"):
        files = write_report(
            summary, run.path("report"), facts=facts, training_metrics=training_metrics_file(run),
            confusion_float=confusion.get("keras_float"), confusion_int8=confusion.get(deployed),
            misclassified=misclassified, layer_profile=profile, int8_variant=deployed or "int8_qat",
            tolerance_pp=config.export.accuracy_tolerance_pp, budget=Budget(config.budget.flash_bytes, config.budget.ram_bytes),
            sections=stage_sections(run),
            latency_note=f"Per-invoke overhead of a one-op model in the same run: "
                         f"{benchmark['overhead_median_us']:.1f} µs." + int8_speed_note(summary, deployed, benchmark))
    context.echo(f"[report] {files.markdown}\n[report] {files.html}")
    return files.markdown


def int8_speed_note(summary: pd.DataFrame, deployed: str | None, benchmark: dict) -> str:
    """Why int8 is not faster than float32 on this host, from the CPU features the benchmark recorded."""
    features = benchmark.get("machine", {}).get("cpu_features")
    rows = summary.set_index("variant") if "variant" in summary.columns else summary
    speed = rows["speedup_vs_float32"].get(deployed) if deployed and "speedup_vs_float32" in rows else None
    if not features or speed is None or not speed < 1 or features["int8_dot_product"]:
        return ""
    simd = ", ".join(features["simd"]) or "no AVX2/NEON"
    return (f" `{deployed}` runs at ×{speed:.2f} the speed of float32 here: this CPU has {simd} but no int8 "
            "dot-product instruction (AVX-VNNI, AVX-512 VNNI, Arm dotprod), so XNNPACK widens every int8 "
            "product to 16 bits and gains nothing over float's FMA units.")


STAGE = Stage("report", (), run_report)
