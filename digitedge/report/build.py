"""Assemble the report from plain inputs and write REPORT.md, report.html, summary.csv and the PNGs.

Every sentence with a number is computed here from the inputs; nothing is hard-coded, so the
report regenerates identically from the same run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from digitedge.errors import DigitedgeError
from digitedge.evaluate import Misclassified
from digitedge.report import plots
from digitedge.report.render import Block, Bullets, FigureBlock, Heading, Paragraph, Table, html_page, markdown
from digitedge.report.tables import (BASELINES, MISSING, frame_cells, has_packed_weights, kilobytes, ordered_summary,
                                     pareto_front, percent, points, summary_cells)
from digitedge.report.targets import TargetRecommendation, budget_misses, recommend_targets
from digitedge.rundir import write_bytes, write_text
from digitedge.seed_baseline import SEED_FLOAT
from digitedge.targets import Budget

GRID_LIMIT = 40  # misclassified digits shown; the rest are counted


@dataclass
class RunFacts:
    run_name: str
    data_checksum: str  # sha256 of the data the run used
    versions: dict[str, str]  # package -> version
    command: str  # the command that regenerates this report
    git_commit: str | None = None
    extra: dict[str, str] = field(default_factory=dict)  # any further facts, shown as given


@dataclass
class ReportFiles:
    markdown: Path
    html: Path
    summary_csv: Path
    plots: dict[str, Path]
    recommendations: list[TargetRecommendation]  # one per target, microcontroller (TFLite Micro) first


def _training_metrics(metrics: pd.DataFrame | str | Path | None) -> pd.DataFrame | None:
    if metrics is None or isinstance(metrics, pd.DataFrame):
        return metrics
    path = Path(metrics)
    try:
        frame = pd.read_csv(path)
    except FileNotFoundError:
        raise DigitedgeError(f"training metrics file {path} does not exist") from None
    except (OSError, ValueError) as exc:
        raise DigitedgeError(f"training metrics file {path} is not a readable CSV: {exc}") from None
    if not {"accuracy", "loss"} & set(frame.columns):
        raise DigitedgeError(f"training metrics file {path} has no 'accuracy' or 'loss' column")
    return frame


def _deploy_section(recommendations: list[TargetRecommendation]) -> list[Block]:
    blocks: list[Block] = [Heading("What to deploy, per target")]
    for recommendation in recommendations:
        chosen = f"`{recommendation.variant}`" if recommendation.variant else recommendation.verdict
        blocks += [Paragraph(f"**{recommendation.target}: {chosen}.**"), Bullets(recommendation.reasons)]
    return blocks


def _seed_comparison(frame: pd.DataFrame, int8_variant: str) -> list[Block]:
    """One sentence on what the compact int8 model costs against the seed preset's float model."""
    if SEED_FLOAT not in frame.index or int8_variant not in frame.index \
            or frame.loc[[SEED_FLOAT, int8_variant], ["size_bytes", "accuracy"]].isna().any(axis=None):
        return []
    seed, compact = frame.loc[SEED_FLOAT], frame.loc[int8_variant]
    factor = float(seed["size_bytes"]) / float(compact["size_bytes"])
    return [Paragraph(
        f"Against the seed baseline (`{SEED_FLOAT}`: the seed preset's float model, trained in its own run), "
        f"`{int8_variant}` is " + (f"{factor:,.1f}× smaller" if factor >= 1 else f"{1 / factor:,.1f}× larger")
        + f" ({kilobytes(compact['size_bytes'])} against {kilobytes(seed['size_bytes'])}) with accuracy "
        f"{percent(compact['accuracy'])} against {percent(seed['accuracy'])} "
        f"({points(100 * (compact['accuracy'] - seed['accuracy']))} points).")]


def _variants_section(frame: pd.DataFrame, test_images: int | None, int8_variant: str) -> list[Block]:
    header, rows, right = summary_cells(frame)
    on = f"the {test_images:,} test images" if test_images else "the test set"
    return [
        Heading("All variants"),
        Paragraph(f"Every variant was run on {on}. Accuracy and Δ are measured against the Keras float model; "
                  "'agrees with float' is the share of images where a variant gives the float model's answer."),
        Table(header, rows, right),
        Paragraph("Sizes in KB (1 KB = 1024 bytes); '×' ratios are against float32 (size: smaller is better; "
                  "speed: above ×1.00 is faster). Latency is batch 1 on the host CPU with LiteRT"
                  + ("; 'TFLM host µs' is TensorFlow Lite Micro's reference kernels on the same host"
                     if "tflm_latency_median_us" in frame.columns else "") + ". "
                  f"'{MISSING}' means not applicable or not measured."
                  + (" Weights of 4 and 2 bits are stored as packed INT4; their 'TFLM arena' includes the int8 "
                     "scratch buffer TFLite Micro's reference kernels unpack each INT4 filter into."
                     if "weight_bits" in frame.columns and frame["weight_bits"].map(has_packed_weights).any()
                     else "")),
        *_seed_comparison(frame, int8_variant),
    ]


def _size_section(frame: pd.DataFrame, microcontroller: str | None, tolerance_pp: float) -> list[Block]:
    front = pareto_front(frame["size_bytes"].astype(float), frame["accuracy"].astype(float))
    return [
        Heading("Accuracy against size"),
        FigureBlock("accuracy_vs_size.png",
                    plots.accuracy_vs_size(frame, microcontroller, tolerance_pp),
                    "Test accuracy against model size (log scale); dashed: Pareto front; grey band: within "
                    f"{tolerance_pp:.2f} points of float; red ring: the microcontroller recommendation."),
        Paragraph("On the Pareto front (no other variant is both smaller and more accurate), smallest first: "
                  + (", ".join(f"`{name}`" for name in front) if front else MISSING) + "."),
    ]


def _flash_section(frame: pd.DataFrame) -> list[Block]:
    png = plots.accuracy_vs_flash(frame)
    if png is None:
        return []
    return [Heading("Accuracy against flash, per microcontroller target"),
            FigureBlock("accuracy_vs_flash.png", png,
                        "Test accuracy on TensorFlow Lite Micro against flash: the .tflite file for TFLite Micro, "
                        "the generated C's code + weights (linker map) on the emulated board (bit-exact with TFLite "
                        "Micro, so the accuracy is the C's). Crosses: BitNetMCU's published MNIST results "
                        "(cpldcpu/BitNetMCU, mcu/readme.md and docs/documentation_cnn.md), drawn at their "
                        "published kB: their "
                        "bytes are raw weight bits only, on 16x16 inputs, with no code or file format, so they "
                        "are references, not like-for-like points.")]


def _latency_section(frame: pd.DataFrame, highlighted: str | None, note: str | None) -> list[Block]:
    png = plots.latency(frame, highlighted)
    if png is None:
        return []
    timed = frame["latency_median_us"].dropna()
    blocks = [Heading("Latency"),
              FigureBlock("latency.png", png, "Batch-1 latency per variant on the host CPU: bar = median, "
                                              "whisker = 90th percentile.")]
    sentence = f"Fastest: `{timed.idxmin()}` at {timed.min():,.1f} µs median; slowest: `{timed.idxmax()}` at {timed.max():,.1f} µs."
    blocks.append(Paragraph(sentence + (f" {note}" if note else "")))
    return blocks


def _training_section(metrics: pd.DataFrame | None) -> list[Block]:
    if metrics is None or metrics.empty:
        return []
    blocks = [Heading("Training"), FigureBlock("training_curves.png", plots.training_curves(metrics),
                                               "Float model training: accuracy and loss per epoch.")]
    if {"val_loss", "val_accuracy"} <= set(metrics.columns) and metrics["val_loss"].notna().any():
        best = int(metrics["val_loss"].to_numpy().argmin())  # early stopping keeps the lowest val_loss
        epoch = metrics["epoch"].iloc[best] if "epoch" in metrics.columns else best + 1
        blocks.append(Paragraph(f"{len(metrics)} epochs; the weights kept are epoch {epoch}'s, with the lowest "
                                f"validation loss ({metrics['val_loss'].iloc[best]:.4f}; validation accuracy "
                                f"{percent(metrics['val_accuracy'].iloc[best])})."))
    return blocks


def _errors_section(confusions: dict[str, np.ndarray], misclassified: Misclassified | None,
                    float_variant: str, int8_variant: str) -> list[Block]:
    blocks: list[Block] = []
    if confusions:
        blocks += [Heading(f"Where {float_variant} and {int8_variant} go wrong"),
                   FigureBlock("confusion_matrices.png", plots.confusion_pair(confusions),
                               "Confusion matrices (rows: true digit, columns: predicted); errors in red.")]
    if misclassified is not None:
        if not confusions:
            blocks.append(Heading(f"Where {float_variant} and {int8_variant} go wrong"))
        count = len(misclassified.indices)
        if count == 0:
            blocks.append(Paragraph(f"`{int8_variant}` gets no test image wrong that `{float_variant}` gets right."))
        else:
            shown = min(count, GRID_LIMIT)
            blocks.append(Paragraph(f"`{int8_variant}` gets **{count}** test images wrong that `{float_variant}` "
                                    f"gets right (what quantization cost). "
                                    f"Test-set indices{' (first ' + str(shown) + ')' if shown < count else ''}: "
                                    + ", ".join(str(int(i)) for i in misclassified.indices[:shown]) + "."))
            blocks.append(FigureBlock(
                "misclassified.png",
                plots.misclassified_grid(misclassified.images, misclassified.labels, misclassified.int8_predictions,
                                         limit=GRID_LIMIT),
                f"Images {int8_variant} gets wrong and {float_variant} gets right, titled true digit → "
                f"{int8_variant}'s answer" + (f" (first {shown} of {count})." if shown < count else ".")))
    return blocks


def _facts_section(facts: RunFacts) -> list[Block]:
    rows = [["Run", facts.run_name], ["Git commit", facts.git_commit or "not in a git checkout"],
            ["Data sha256", facts.data_checksum], ["Regenerate this report", facts.command]]
    rows += [[str(key), str(value)] for key, value in facts.extra.items()]
    rows += [[f"{package} version", version] for package, version in facts.versions.items()]
    return [Heading("Run facts"), Table(["Fact", "Value"], rows, [False, False])]


def write_report(summary: pd.DataFrame, out_dir: str | Path, *, facts: RunFacts,
                 training_metrics: pd.DataFrame | str | Path | None = None,
                 confusion_float: np.ndarray | None = None, confusion_int8: np.ndarray | None = None,
                 misclassified: Misclassified | None = None, layer_profile: pd.DataFrame | None = None,
                 float_variant: str = "keras_float", int8_variant: str = "int8_qat",
                 tolerance_pp: float = 0.1, budget: Budget | None = None, latency_note: str | None = None,
                 sections: list[Block] | None = None) -> ReportFiles:
    """Write REPORT.md, report.html (self-contained), summary.csv and the PNGs into `out_dir`.

    `summary`: one row per variant (index or column `variant`) with the columns in
    tables.SUMMARY_KEYS; accuracy, agreement and sparsity are fractions, delta_pp is in points,
    sizes in bytes, latencies in µs; missing columns or values are shown as "—". `int8_variant` is
    the one `export --int8` deploys; `budget`, the board's flash and RAM (variants over it are marked
    and never recommended); `sections`, further blocks (the stages' own sections), shown after latency.
    """
    out_dir = Path(out_dir)
    frame = ordered_summary(summary)
    metrics = _training_metrics(training_metrics)
    if budget is not None and (budget.flash_bytes or budget.ram_bytes):
        frame["budget_misses"] = budget_misses(frame, budget).where(frame["tflm_arena_bytes"].notna())
    recommendations = recommend_targets(frame, tolerance_pp, budget, int8_variant)
    microcontroller = recommendations[0].variant
    confusions = {name: np.asarray(matrix) for name, matrix in
                  [(float_variant, confusion_float), (int8_variant, confusion_int8)] if matrix is not None}
    test_images = int(next(iter(confusions.values())).sum()) if confusions else None

    blocks: list[Block] = [
        Heading(f"digitedge report: {facts.run_name}", level=1),
        Paragraph(f"{len(frame.index.difference(BASELINES))} variants of the handwritten-digit classifier, from "
                  "the Keras float model to int8 TensorFlow Lite for a microcontroller, compared on accuracy, size and "
                  "speed" + (", with the seed preset's float model as a baseline"
                             if frame.index.isin(BASELINES).any() else "") + "."),
        *_deploy_section(recommendations),
        *_variants_section(frame, test_images, int8_variant),
        *_size_section(frame, microcontroller, tolerance_pp),
        *_flash_section(frame),
        *_latency_section(frame, microcontroller, latency_note),
        *(sections or []),
        *_training_section(metrics),
        *_errors_section(confusions, misclassified, float_variant, int8_variant),
    ]
    if layer_profile is not None and not layer_profile.empty:
        header, rows, right = frame_cells(layer_profile)
        blocks += [Heading("Per-layer profile"), Table(header, rows, right)]
    blocks += _facts_section(facts)

    plot_paths = {block.filename: write_bytes(out_dir / block.filename, block.png)
                  for block in blocks if isinstance(block, FigureBlock)}
    return ReportFiles(
        markdown=write_text(out_dir / "REPORT.md", markdown(blocks)),
        html=write_text(out_dir / "report.html", html_page(blocks, f"digitedge report: {facts.run_name}")),
        summary_csv=write_text(out_dir / "summary.csv", frame.to_csv()),
        plots=plot_paths,
        recommendations=recommendations,
    )
