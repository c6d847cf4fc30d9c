"""The seed notebook's monitoring of a trained model: curves, confusion matrix, per-class report.

The plots are the report's own (digitedge.report.plots), so the run folder and the report show
the same figures.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import classification_report, confusion_matrix

from digitedge.report import plots
from digitedge.rundir import write_bytes, write_text

CLASSES = [str(digit) for digit in range(10)]


def write_training_report(folder: Path, metrics: pd.DataFrame, y_true: np.ndarray,
                          y_pred: np.ndarray, title: str) -> dict[str, Path]:
    """Write metrics CSV, curves, confusion matrix (PNG+CSV) and classification report (CSV+text)."""
    matrix = confusion_matrix(y_true, y_pred, labels=range(10))
    report_text = classification_report(y_true, y_pred, labels=range(10), target_names=CLASSES, digits=4)
    report_table = pd.DataFrame(classification_report(
        y_true, y_pred, labels=range(10), target_names=CLASSES, digits=4, output_dict=True)).transpose()
    return {
        "metrics": write_text(folder / "training_metrics.csv", metrics.to_csv(index=False)),
        "confusion_csv": write_text(folder / "confusion_matrix.csv",
                                    pd.DataFrame(matrix, index=CLASSES, columns=CLASSES).to_csv()),
        "report_csv": write_text(folder / "classification_report.csv", report_table.to_csv()),
        "report_txt": write_text(folder / "classification_report.txt", report_text),
        "curves": write_bytes(folder / "curves.png", plots.training_curves(metrics)),
        "confusion_png": write_bytes(folder / "confusion_matrix.png", plots.confusion_pair({title: matrix})),
    }
