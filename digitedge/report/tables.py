"""The summary table's columns and how each is shown, and the Pareto front of size against accuracy.

Numbers stay raw in `summary` (fractions, bytes, microseconds); formatting happens only here, so
summary.csv keeps full precision and the report reads well (99.12%, 23.4 KB, x0.27).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from digitedge.seed_baseline import SEED_FLOAT

MISSING = "—"
VARIANT_ORDER = ["keras_float", "float32", "float16", "dynamic_range", "int8_ptq", "int8_qat",
                 "pruned_float32", "pruned_int8", "pruned_qat_int8", "int4_qat", "mixed_qat", "pruned_int4_qat",
                 SEED_FLOAT]
BASELINES = (SEED_FLOAT,)  # other models shown for comparison: never recommended
FRACTION_COLUMNS = ("accuracy", "agreement", "sparsity")  # stored in [0, 1], shown as percentages


def is_missing(value) -> bool:
    if value is None or value is pd.NA:
        return True
    return isinstance(value, (float, np.floating)) and math.isnan(value)


def percent(value) -> str:
    return MISSING if is_missing(value) else f"{100 * float(value):.2f}%"


def points(value) -> str:
    """A signed difference in percentage points, with a real minus sign."""
    if is_missing(value):
        return MISSING
    value = round(float(value), 2) + 0.0  # + 0.0 turns -0.0 into 0.0
    return f"+{value:.2f}" if value > 0 else f"{value:.2f}".replace("-", "−")


def kilobytes(value) -> str:
    return MISSING if is_missing(value) else f"{float(value) / 1024:,.1f} KB"


def ratio(value) -> str:
    return MISSING if is_missing(value) else f"×{float(value):.2f}"


def microseconds(value) -> str:
    return MISSING if is_missing(value) else f"{float(value):,.1f}"


def macs(value) -> str:
    if is_missing(value):
        return MISSING
    value = float(value)
    return f"{value / 1e6:.2f} M" if value >= 1e5 else f"{value / 1e3:.1f} k"


def runs_on_tflm(value) -> str:
    """True/False, or a string giving the reason it does not run."""
    if is_missing(value):
        return MISSING
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    text = str(value).strip()
    return {"true": "yes", "false": "no"}.get(text.lower(), text)


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    show: Callable[[object], str]
    numeric: bool = True  # right-aligned


def has_packed_weights(weight_bits) -> bool:
    """Whether a summary's weight_bits ("8/4/4/2") has a layer stored as packed INT4 (4- or 2-bit)."""
    return not is_missing(weight_bits) and any(bits in ("4", "2") for bits in str(weight_bits).split("/"))


SUMMARY_COLUMNS = [
    Column("accuracy", "Accuracy", percent),
    Column("delta_pp", "Δ vs float (points)", points),
    Column("agreement", "Agrees with float", percent),
    Column("size_bytes", "Size", kilobytes),
    Column("size_ratio", "Size vs float32", ratio),
    Column("gzip_bytes", "gzip size", kilobytes),
    Column("gzip_ratio", "gzip vs float32", ratio),
    Column("sparsity", "Zero weights", percent),
    Column("latency_median_us", "Median µs", microseconds),
    Column("latency_p90_us", "p90 µs", microseconds),
    Column("speedup_vs_float32", "Speed vs float32", ratio),
    Column("tflm_arena_bytes", "TFLM arena", kilobytes),
    Column("tflm_runs", "Runs on TFLM", runs_on_tflm, numeric=False),
    Column("macs", "MACs", macs),
]
SUMMARY_KEYS = [column.key for column in SUMMARY_COLUMNS]
# Shown after the summary columns only when the summary has them.
OPTIONAL_COLUMNS = [
    Column("weight_bits", "Weight bits per layer", lambda value: MISSING if is_missing(value) or value == ""
           else str(value), numeric=False),
    Column("tflm_accuracy", "TFLM accuracy", percent),
    Column("tflm_latency_median_us", "TFLM host µs", microseconds),
    Column("budget_misses", "Fits the board", lambda value: "yes" if value == "" else MISSING if is_missing(value)
           else f"no: {value}", numeric=False),
]
# What `digitedge run` prints when it ends: the report's figures, formatted the same way.
CONSOLE_COLUMNS = ["accuracy", "delta_pp", "size_bytes", "gzip_bytes", "sparsity", "latency_median_us",
                   "tflm_arena_bytes", "tflm_accuracy"]


def ordered_summary(summary: pd.DataFrame) -> pd.DataFrame:
    """Index `variant` in display order (known variants first), every summary column present (NaN if absent)."""
    frame = summary.copy()
    if "variant" in frame.columns:
        frame = frame.set_index("variant")
    frame.index = frame.index.astype(str).rename("variant")
    if frame.index.has_duplicates:
        raise ValueError(f"summary has duplicate variants: {sorted(set(frame.index[frame.index.duplicated()]))}")
    for key in SUMMARY_KEYS:
        if key not in frame.columns:
            frame[key] = np.nan
    for key in FRACTION_COLUMNS:
        values = pd.to_numeric(frame[key], errors="coerce")
        if ((values < 0) | (values > 1)).any():
            raise ValueError(f"summary column {key!r} must hold fractions in [0, 1], got {values.max()}")
    rank = {name: position for position, name in enumerate(VARIANT_ORDER)}
    order = sorted(frame.index, key=lambda name: (rank.get(name, len(rank)), list(frame.index).index(name)))
    return frame.loc[order]


def summary_cells(summary: pd.DataFrame) -> tuple[list[str], list[list[str]], list[bool]]:
    """Header, formatted rows and right-alignment flags of the variants table (first column = variant)."""
    frame = ordered_summary(summary)
    columns = SUMMARY_COLUMNS + [column for column in OPTIONAL_COLUMNS if column.key in frame.columns]
    header = ["Variant"] + [column.header for column in columns]
    rows = [[name] + [column.show(frame.at[name, column.key]) for column in columns] for name in frame.index]
    return header, rows, [False] + [column.numeric for column in columns]


def format_summary(summary: pd.DataFrame) -> str:
    """The summary as an aligned plain-text table (KB, %, —), for the terminal."""
    frame = ordered_summary(summary)
    columns = [column for column in SUMMARY_COLUMNS + OPTIONAL_COLUMNS
               if column.key in CONSOLE_COLUMNS and column.key in frame.columns]
    rows = [["Variant"] + [column.header for column in columns]]
    rows += [[name] + [column.show(frame.at[name, column.key]) for column in columns] for name in frame.index]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(width) if i == 0 else cell.rjust(width)
                               for i, (cell, width) in enumerate(zip(row, widths))) for row in rows)


def frame_cells(frame: pd.DataFrame) -> tuple[list[str], list[list[str]], list[bool]]:
    """Any DataFrame (e.g. a per-layer profile) as table cells: integers with separators, floats to 2 decimals."""
    def show(value) -> str:
        if is_missing(value):
            return MISSING
        if isinstance(value, (bool, np.bool_)):
            return "yes" if value else "no"
        if isinstance(value, (int, np.integer)):
            return f"{int(value):,}"
        if isinstance(value, (float, np.floating)):
            return f"{int(value):,}" if float(value).is_integer() and abs(value) >= 1000 else f"{float(value):,.2f}"
        return str(value)

    frame = frame.reset_index() if frame.index.name is not None else frame
    numeric = [pd.api.types.is_numeric_dtype(frame[column]) for column in frame.columns]
    rows = [[show(value) for value in row] for row in frame.itertuples(index=False)]
    return [str(column) for column in frame.columns], rows, numeric


def pareto_front(sizes: pd.Series, accuracies: pd.Series) -> list[str]:
    """Variants no other variant beats on both size (smaller) and accuracy (higher), smallest first."""
    points_ = pd.DataFrame({"size": sizes, "accuracy": accuracies}).dropna()
    front = [name for name, row in points_.iterrows()
             if not ((points_["size"] <= row["size"]) & (points_["accuracy"] >= row["accuracy"])
                     & ((points_["size"] < row["size"]) | (points_["accuracy"] > row["accuracy"]))).any()]
    return sorted(front, key=lambda name: (points_.at[name, "size"], -points_.at[name, "accuracy"]))
