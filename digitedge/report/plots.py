"""The report's figures, each returned as PNG bytes (written to disk and embedded in the HTML alike).

Figures are drawn on matplotlib's Agg canvas directly (no pyplot state), at dpi 100 so a
committed report stays small.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter
from PIL import Image

from digitedge.report.tables import pareto_front

DPI = 100
HIGHLIGHT = "#d62728"
BASE = "#1f77b4"


def _png(figure: Figure) -> bytes:
    """PNG with a 256-colour palette: a third of the size of full colour, no visible loss on plots."""
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    buffer.seek(0)
    palette = io.BytesIO()
    Image.open(buffer).convert("RGB").quantize(256).save(palette, format="png", optimize=True)
    return palette.getvalue()


# BitNetMCU's published MNIST points (cpldcpu/BitNetMCU: mcu/readme.md, docs/documentation_cnn.md): accuracy (%)
# at kilobytes of raw weight bits, on 16x16 inputs, with no code or file format counted
BITNETMCU_POINTS = ((11.0, 99.55), (9.3, 99.44), (7.3, 99.28))


def accuracy_vs_flash(summary: pd.DataFrame) -> bytes | None:
    """TFLite Micro accuracy against flash per target: the .tflite for TFLite Micro, code + weights for the
    generated C on the board; BitNetMCU's published points drawn as labelled references. None without TFLM figures."""
    if "tflm_accuracy" not in summary.columns or summary["tflm_accuracy"].notna().sum() == 0:
        return None
    panels = [("size_bytes", "TensorFlow Lite Micro: .tflite bytes")]
    if "c_flash_bytes" in summary.columns and summary["c_flash_bytes"].notna().any():
        board = summary["c_board"].dropna().iloc[0] if "c_board" in summary.columns else "the board"
        panels.append(("c_flash_bytes", f"generated C on {board}: flash (code + weights)"))
    figure = Figure(figsize=(5.2 * len(panels) + 1.8, 4.2))
    axes = figure.subplots(1, len(panels), sharey=True, squeeze=False)[0]
    measured = summary[summary["tflm_accuracy"].notna()]
    for ax, (column, title) in zip(axes, panels):
        rows = measured[measured[column].notna()]
        for position, name in enumerate(rows.index):
            ax.scatter(float(rows.at[name, column]) / 1024, 100 * float(rows.at[name, "tflm_accuracy"]), s=50,
                       marker="osD^vP*Xhp<>"[position % 12], color=f"C{position % 10}", label=name, zorder=3)
        for index, (kilobytes, accuracy) in enumerate(BITNETMCU_POINTS):
            ax.scatter(kilobytes, accuracy, s=60, marker="x", color="k", zorder=3,
                       label="BitNetMCU (published, raw weights, 16x16 inputs)")
            ax.annotate(f"{accuracy:.2f}% @ {kilobytes:g} kB", (kilobytes, accuracy), textcoords="offset points",
                        xytext=(4, 5 if index % 2 else -11), fontsize=7)  # alternate sides: neighbours don't overlap
        ax.set_xlabel("KB")
        ax.set_title(title, fontsize=10)
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel("test accuracy on TensorFlow Lite Micro, %")
    handles, labels = axes[-1].get_legend_handles_labels()
    unique = dict(zip(labels, handles))
    figure.legend(unique.values(), unique.keys(), loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8,
                  frameon=False)
    figure.tight_layout()
    return _png(figure)


def accuracy_vs_size(summary: pd.DataFrame, recommended: str | None, tolerance_pp: float) -> bytes:
    """Accuracy against .tflite size and gzip size (log x), Pareto front joined, float band shaded."""
    has_gzip = summary["gzip_bytes"].notna().any()
    figure = Figure(figsize=(10, 4.2) if has_gzip else (6.2, 4.2))
    axes = figure.subplots(1, 2 if has_gzip else 1, sharey=True, squeeze=False)[0]
    accuracy = 100 * summary["accuracy"].astype(float)
    float_accuracy = (accuracy - summary["delta_pp"].astype(float)).dropna()
    markers = "osD^vP*Xhp<>"
    colors = [f"C{i}" for i in range(10) if i != 3]  # C3 is red, kept for the recommended variant
    for ax, size_key, title in zip(axes, ["size_bytes", "gzip_bytes"], [".tflite size", "gzip size (pruning pays here)"]):
        size_kb = summary[size_key].astype(float) / 1024
        for position, name in enumerate(summary.index):
            if np.isnan(size_kb[name]) or np.isnan(accuracy[name]):
                continue
            ax.scatter(size_kb[name], accuracy[name], s=60, marker=markers[position % len(markers)],
                       color=colors[position % len(colors)], label=name, zorder=3)
            if name == recommended:
                ax.scatter(size_kb[name], accuracy[name], s=220, facecolors="none", edgecolors=HIGHLIGHT,
                           linewidths=1.5, zorder=4, label="recommended")
        front = pareto_front(size_kb, accuracy)
        if front:
            ax.step(size_kb[front], accuracy[front], where="post", color="0.3", lw=1, ls="--", zorder=2,
                    label="Pareto front")
        if len(float_accuracy):
            reference = float(float_accuracy.iloc[0])
            ax.axhline(reference, color="0.5", lw=0.8)
            ax.axhspan(reference - tolerance_pp, reference, color="0.85", zorder=1,
                       label=f"within {tolerance_pp:.2f} pts of float")
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.yaxis.set_major_locator(MaxNLocator(steps=[1, 2, 5, 10]))  # no 0.025 steps that print rounded
        ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        ax.set_xlabel("KB (log scale)")
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("test accuracy, %")
    handles, labels = axes[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, frameon=False)
    figure.tight_layout()
    return _png(figure)


def latency(summary: pd.DataFrame, recommended: str | None) -> bytes | None:
    """Median batch-1 latency per variant with a whisker up to p90; None when nothing was timed."""
    timed = summary[summary["latency_median_us"].notna()]
    if timed.empty:
        return None
    median = timed["latency_median_us"].astype(float)
    p90 = timed["latency_p90_us"].astype(float).fillna(median)
    figure = Figure(figsize=(7, 0.45 * len(timed) + 1.2))
    ax = figure.subplots()
    rows = np.arange(len(timed))[::-1]
    colors = [HIGHLIGHT if name == recommended else BASE for name in timed.index]
    ax.barh(rows, median, color=colors, alpha=0.85,
            xerr=np.vstack([np.zeros(len(timed)), (p90 - median).clip(lower=0)]), capsize=3, ecolor="0.3")
    for row, name in zip(rows, timed.index):
        speedup = timed.at[name, "speedup_vs_float32"]
        text = f"{median[name]:,.1f} µs" + (f"  ×{speedup:.2f}" if pd.notna(speedup) else "")
        ax.text(p90[name] * 1.02, row, text, va="center", fontsize=8)
    ax.set_yticks(rows, timed.index)
    ax.set_xlim(0, float(p90.max()) * 1.35)
    ax.set_xlabel("µs per image, batch 1 (bar: median, whisker: p90; ×: speed vs float32)")
    ax.grid(True, axis="x", alpha=0.3)
    figure.tight_layout()
    return _png(figure)


def training_curves(metrics: pd.DataFrame) -> bytes:
    """Accuracy and loss per epoch for training and validation; the epoch whose weights were kept marked."""
    epochs = metrics["epoch"] if "epoch" in metrics.columns else pd.Series(range(1, len(metrics) + 1))
    figure = Figure(figsize=(10, 3.6))
    axes = figure.subplots(1, 2)
    for ax, key, label in zip(axes, ["accuracy", "loss"], ["accuracy", "loss"]):
        for column, style in [(key, "-"), (f"val_{key}", "--")]:
            if column in metrics.columns:
                scale = 100 if key == "accuracy" else 1
                ax.plot(epochs, metrics[column] * scale, style, marker="o", ms=3,
                        label="validation" if column.startswith("val_") else "training")
        if "val_loss" in metrics.columns and metrics["val_loss"].notna().any():  # early stopping keeps this epoch
            best = epochs.iloc[int(metrics["val_loss"].to_numpy().argmin())]
            ax.axvline(best, color="0.5", lw=0.8, ls=":", label=f"weights kept (epoch {best})")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(f"{label}{', %' if key == 'accuracy' else ''}")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    axes[0].set_title("accuracy")
    axes[1].set_title("loss")
    figure.tight_layout()
    return _png(figure)


def confusion_pair(matrices: dict[str, np.ndarray]) -> bytes:
    """Confusion matrices side by side on one log colour scale; every non-zero count written in its cell."""
    figure = Figure(figsize=(5 * len(matrices), 4.6))
    axes = figure.subplots(1, len(matrices), squeeze=False)[0]
    vmax = max(int(np.max(matrix)) for matrix in matrices.values())
    for ax, (title, matrix) in zip(axes, matrices.items()):
        matrix = np.asarray(matrix)
        image = ax.imshow(np.where(matrix > 0, matrix, np.nan), cmap="Blues", norm=LogNorm(1, max(vmax, 2)))
        for (true, predicted), count in np.ndenumerate(matrix):
            if count:
                dark = count > np.sqrt(max(vmax, 2))
                ax.text(predicted, true, str(count), ha="center", va="center", fontsize=6.5,
                        color="white" if dark else ("black" if true == predicted else HIGHLIGHT))
        classes = range(matrix.shape[0])
        ax.set_xticks(classes)
        ax.set_yticks(classes)
        ax.set_xlabel("predicted digit")
        ax.set_ylabel("true digit")
        errors = int(matrix.sum() - np.trace(matrix))
        ax.set_title(f"{title}: {errors} errors in {int(matrix.sum()):,}")
    figure.colorbar(image, ax=list(axes), shrink=0.8, label="images (log scale)")
    return _png(figure)


def misclassified_grid(images: np.ndarray, labels: np.ndarray, predictions: np.ndarray,
                       columns: int = 10, limit: int = 40) -> bytes:
    """Up to `limit` digits, each titled 'true → predicted'."""
    count = min(len(images), limit)
    rows = max(1, -(-count // columns))
    figure = Figure(figsize=(columns * 0.85, rows * 1.0))
    axes = figure.subplots(rows, columns, squeeze=False)
    for position, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if position < count:
            ax.imshow(images[position], cmap="gray_r", vmin=0, vmax=255)
            ax.set_title(f"{labels[position]} → {predictions[position]}", fontsize=8, color=HIGHLIGHT, pad=2)
    figure.subplots_adjust(wspace=0.1, hspace=0.35)
    return _png(figure)
