"""The summary table's columns and how each is shown, and the computed deployment recommendation.

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
                 "pruned_float32", "pruned_int8", "pruned_qat_int8", SEED_FLOAT]
BASELINES = (SEED_FLOAT,)  # other models shown for comparison: never recommended
FRACTION_COLUMNS = ("accuracy", "agreement", "sparsity")  # stored in [0, 1], shown as percentages


def _missing(value) -> bool:
    if value is None or value is pd.NA:
        return True
    return isinstance(value, (float, np.floating)) and math.isnan(value)


def percent(value) -> str:
    return MISSING if _missing(value) else f"{100 * float(value):.2f}%"


def points(value) -> str:
    """A signed difference in percentage points, with a real minus sign."""
    if _missing(value):
        return MISSING
    value = round(float(value), 2) + 0.0  # + 0.0 turns -0.0 into 0.0
    return f"+{value:.2f}" if value > 0 else f"{value:.2f}".replace("-", "−")


def kilobytes(value) -> str:
    return MISSING if _missing(value) else f"{float(value) / 1024:,.1f} KB"


def ratio(value) -> str:
    return MISSING if _missing(value) else f"×{float(value):.2f}"


def microseconds(value) -> str:
    return MISSING if _missing(value) else f"{float(value):,.1f}"


def macs(value) -> str:
    if _missing(value):
        return MISSING
    value = float(value)
    return f"{value / 1e6:.2f} M" if value >= 1e5 else f"{value / 1e3:.1f} k"


def runs_on_tflm(value) -> str:
    """True/False, or a string giving the reason it does not run."""
    if _missing(value):
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
    Column("tflm_latency_median_us", "TFLM host µs", microseconds),
]


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


def frame_cells(frame: pd.DataFrame) -> tuple[list[str], list[list[str]], list[bool]]:
    """Any DataFrame (e.g. a per-layer profile) as table cells: integers with separators, floats to 2 decimals."""
    def show(value) -> str:
        if _missing(value):
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


@dataclass(frozen=True)
class Recommendation:
    variant: str | None  # None when no variant is within tolerance
    reasons: list[str]  # computed sentences, most important first
    tolerance_pp: float


def pareto_front(sizes: pd.Series, accuracies: pd.Series) -> list[str]:
    """Variants no other variant beats on both size (smaller) and accuracy (higher), smallest first."""
    points_ = pd.DataFrame({"size": sizes, "accuracy": accuracies}).dropna()
    front = [name for name, row in points_.iterrows()
             if not ((points_["size"] <= row["size"]) & (points_["accuracy"] >= row["accuracy"])
                     & ((points_["size"] < row["size"]) | (points_["accuracy"] > row["accuracy"]))).any()]
    return sorted(front, key=lambda name: (points_.at[name, "size"], -points_.at[name, "accuracy"]))


def recommend(summary: pd.DataFrame, tolerance_pp: float = 0.1) -> Recommendation:
    """The smallest variant (size_bytes) whose accuracy is within `tolerance_pp` points of float.

    Ties in size go to the more accurate variant; BASELINES are not variants and never chosen. The
    reasons say what was chosen, what it costs, and which smaller variants were ruled out and why.
    """
    frame = ordered_summary(summary).drop(index=list(BASELINES), errors="ignore")
    sized = frame[frame["size_bytes"].notna() & frame["delta_pp"].notna()]
    within = sized[sized["delta_pp"] >= -tolerance_pp - 1e-9]
    if within.empty:
        if sized.empty:
            return Recommendation(None, ["No variant has both a size and an accuracy to compare."], tolerance_pp)
        closest = sized["delta_pp"].idxmax()
        return Recommendation(None, [
            f"No variant is within {tolerance_pp:.2f} points of float accuracy; the closest is {closest} "
            f"({points(sized.at[closest, 'delta_pp'])} points, {kilobytes(sized.at[closest, 'size_bytes'])}).",
        ], tolerance_pp)
    chosen = within.sort_values(["size_bytes", "accuracy"], ascending=[True, False]).index[0]
    row = frame.loc[chosen]
    float_accuracy = row["accuracy"] - row["delta_pp"] / 100
    reasons = [
        f"{chosen} is the smallest variant within {tolerance_pp:.2f} points of float accuracy: "
        f"{kilobytes(row['size_bytes'])}"
        + (f" ({ratio(row['size_ratio'])} of float32)" if not _missing(row["size_ratio"]) else "")
        + f", accuracy {percent(row['accuracy'])} against {percent(float_accuracy)} for float "
        f"({points(row['delta_pp'])} points).",
    ]
    if not _missing(row["agreement"]):
        reasons.append(f"It gives the same answer as the float model on {percent(row['agreement'])} of test images.")
    speedup = row["speedup_vs_float32"]
    if not _missing(speedup) and float(speedup) > 0:
        relative = (f"{float(speedup):.2f}× as fast as float32" if speedup >= 1
                    else f"{1 / float(speedup):.2f}× slower than float32")
        reasons.append(f"Median latency {microseconds(row['latency_median_us'])} µs on this host ({relative}).")
    tflm = runs_on_tflm(row["tflm_runs"])
    if tflm == "yes":
        arena = row["tflm_arena_bytes"]
        reasons.append("It runs on TensorFlow Lite Micro" + ("" if _missing(arena) else f" with a {kilobytes(arena)} tensor arena") + ".")
    elif tflm != MISSING:
        on_tflm = within[[runs_on_tflm(value) == "yes" for value in within["tflm_runs"]]]
        pick = on_tflm.sort_values(["size_bytes", "accuracy"], ascending=[True, False]).index[0] if len(on_tflm) else None
        reasons.append("Note: it does not run on TensorFlow Lite Micro; "
                       + (f"for a microcontroller, the smallest variant within {tolerance_pp:.2f} points that TFLM runs "
                          f"is {pick} ({kilobytes(on_tflm.at[pick, 'size_bytes'])}, {points(on_tflm.at[pick, 'delta_pp'])} "
                          "points)." if pick else "no variant within tolerance runs on TFLM."))
    smaller_excluded = sized[(sized["size_bytes"] <= row["size_bytes"]) & (sized["delta_pp"] < -tolerance_pp - 1e-9)]
    if not smaller_excluded.empty:
        reasons.append(f"Ruled out as no larger but more than {tolerance_pp:.2f} points below float: " + ", ".join(
            f"{name} ({kilobytes(smaller_excluded.at[name, 'size_bytes'])}, "
            f"{points(smaller_excluded.at[name, 'delta_pp'])} points)" for name in smaller_excluded.index) + ".")
    gzipped = within[within["gzip_bytes"].notna()]
    if not gzipped.empty:
        smallest_gzip = gzipped.sort_values(["gzip_bytes", "accuracy"], ascending=[True, False]).index[0]
        if smallest_gzip != chosen:
            reasons.append(f"If the model is shipped compressed (e.g. an over-the-air update), {smallest_gzip} is "
                           f"smaller after gzip: {kilobytes(gzipped.at[smallest_gzip, 'gzip_bytes'])} against "
                           f"{kilobytes(row['gzip_bytes'])}.")
    return Recommendation(chosen, reasons, tolerance_pp)
