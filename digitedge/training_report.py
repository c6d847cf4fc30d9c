"""The seed notebook's monitoring of a trained model: curves, confusion matrix, per-class report."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.metrics import classification_report, confusion_matrix  # noqa: E402

from digitedge.rundir import atomic_path, write_text  # noqa: E402

CLASSES = [str(digit) for digit in range(10)]


def save_figure(figure, path: Path) -> Path:
    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=100, bbox_inches="tight", format="png")
    plt.close(figure)
    return path


def plot_training_curves(metrics: pd.DataFrame, title: str = "Training"):
    figure, (acc_axis, loss_axis) = plt.subplots(1, 2, figsize=(10, 3.6))
    for axis, key, label in ((acc_axis, "accuracy", "accuracy"), (loss_axis, "loss", "loss")):
        axis.plot(metrics["epoch"], metrics[key], marker="o", ms=3, label=f"train {label}")
        axis.plot(metrics["epoch"], metrics[f"val_{key}"], marker="o", ms=3, label=f"validation {label}")
        axis.set_xlabel("epoch")
        axis.set_ylabel(label)
        axis.grid(alpha=0.3)
        axis.legend()
    acc_axis.set_title(f"{title}: accuracy")
    loss_axis.set_title(f"{title}: loss")
    figure.tight_layout()
    return figure


def plot_confusion_matrix(matrix: np.ndarray, axis, title: str) -> None:
    axis.imshow(np.log1p(matrix), cmap="Blues")
    for (row, col), count in np.ndenumerate(matrix):
        axis.text(col, row, str(count), ha="center", va="center", fontsize=7,
                  color="white" if row == col else "black")
    axis.set_xticks(range(10), CLASSES)
    axis.set_yticks(range(10), CLASSES)
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    axis.set_title(title)


def write_training_report(folder: Path, metrics: pd.DataFrame, y_true: np.ndarray,
                          y_pred: np.ndarray, title: str) -> dict[str, Path]:
    """Write metrics CSV, curves, confusion matrix (PNG+CSV) and classification report (CSV+text)."""
    matrix = confusion_matrix(y_true, y_pred, labels=range(10))
    report_text = classification_report(y_true, y_pred, labels=range(10), target_names=CLASSES, digits=4)
    report_table = pd.DataFrame(classification_report(
        y_true, y_pred, labels=range(10), target_names=CLASSES, digits=4, output_dict=True)).transpose()
    paths = {
        "metrics": write_text(folder / "training_metrics.csv", metrics.to_csv(index=False)),
        "confusion_csv": write_text(folder / "confusion_matrix.csv",
                                    pd.DataFrame(matrix, index=CLASSES, columns=CLASSES).to_csv()),
        "report_csv": write_text(folder / "classification_report.csv", report_table.to_csv()),
        "report_txt": write_text(folder / "classification_report.txt", report_text),
        "curves": save_figure(plot_training_curves(metrics, title), folder / "curves.png"),
    }
    figure, axis = plt.subplots(figsize=(5.2, 4.6))
    plot_confusion_matrix(matrix, axis, f"{title}: test confusion matrix")
    paths["confusion_png"] = save_figure(figure, folder / "confusion_matrix.png")
    return paths
