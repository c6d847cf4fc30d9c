"""One recommendation per deployment target, each computed from the run's summary table.

- Microcontroller, TFLite Micro: the smallest full-integer variant within tolerance of float by its
  accuracy measured on TFLM itself, that fits the board budget (flash = .tflite, RAM = arena).
- Microcontroller, generated C: the smallest variant by its generated C's flash on the emulated board
  (bit-exact with TFLM, so TFLM's accuracy is its accuracy), within tolerance, that fits the budget.
- Mobile / desktop CPU (LiteRT): the fastest and the smallest variant within tolerance.
Baselines (the seed model) are shown in tables but never recommended.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from digitedge.report.tables import BASELINES, has_packed_weights, is_missing, kilobytes, microseconds, percent, points
from digitedge.targets import Budget, qualifying, smallest

TFLM_TARGET = "Microcontroller, TensorFlow Lite Micro"
C_TARGET = "Microcontroller, generated C (`--target c`)"
LITERT_TARGET = "Mobile / desktop CPU (LiteRT)"


@dataclass(frozen=True)
class TargetRecommendation:
    target: str
    variant: str | None  # None when nothing qualifies or nothing was measured (the reasons say which)
    reasons: list[str]
    verdict: str = "nothing qualifies"  # the headline when variant is None


def budget_misses(frame: pd.DataFrame, budget: Budget | None) -> pd.Series:
    """Per variant: why it does not fit the board ('' when it fits or has no TFLM figures)."""
    if budget is None or not (budget.flash_bytes or budget.ram_bytes):
        return pd.Series("", index=frame.index)
    return pd.Series({name: "; ".join(budget.misses(row["size_bytes"], _tflm_ram(row)))
                      if not is_missing(row.get("tflm_arena_bytes")) else "" for name, row in frame.iterrows()})


def _tflm_ram(row) -> float | None:
    """The RAM a firmware allocates for TFLM: kTensorArenaSize (measured minimum + margin) when known."""
    for key in ("tflm_header_arena_bytes", "tflm_arena_bytes"):
        if key in row and not is_missing(row[key]):
            return float(row[key])
    return None


def _tflm_candidates(frame: pd.DataFrame) -> pd.DataFrame:
    if "tflm_accuracy" not in frame.columns:
        return frame.iloc[0:0]
    rows = frame[frame["tflm_accuracy"].notna()].drop(index=list(BASELINES), errors="ignore").copy()
    float_accuracy = rows["accuracy"].astype(float) - rows["delta_pp"].astype(float) / 100
    rows["tflm_delta_pp"] = 100 * (rows["tflm_accuracy"].astype(float) - float_accuracy)
    rows["tflm_ram"] = [_tflm_ram(row) for _, row in rows.iterrows()]
    return rows


def microcontroller_tflm(frame: pd.DataFrame, tolerance_pp: float, budget: Budget | None,
                         deployed: str | None) -> TargetRecommendation:
    rows = _tflm_candidates(frame)
    if rows.empty:
        return TargetRecommendation(TFLM_TARGET, None, ["No full-integer variant of this run was measured on "
                                                        "TensorFlow Lite Micro."], verdict="not measured in this run")
    within = qualifying(rows, delta_column="tflm_delta_pp", tolerance_pp=tolerance_pp)
    fitting = qualifying(rows, delta_column="tflm_delta_pp", tolerance_pp=tolerance_pp, budget=budget,
                         ram_column="tflm_ram")
    chosen = smallest(fitting, accuracy_column="tflm_delta_pp")
    misses = budget_misses(rows, budget)
    over = [f"{name} ({misses[name]})" for name in within.index if misses[name]]
    if chosen is None:
        reasons = [f"No full-integer variant within {tolerance_pp:.2f} points of float on TFLite Micro"
                   + (" fits the board budget" if not within.empty else "") + "."]
        if over:
            reasons.append("Over the budget: " + ", ".join(over) + ".")
        if deployed:
            reasons.append(f"`digitedge export --int8` deploys `{deployed}`, the closest one measured.")
        return TargetRecommendation(TFLM_TARGET, None, reasons)
    row = rows.loc[chosen]
    float_accuracy = row["tflm_accuracy"] - row["tflm_delta_pp"] / 100
    arena = (f"tensor arena {kilobytes(row['tflm_arena_bytes'])} measured"
             + (f" (kTensorArenaSize {kilobytes(row['tflm_header_arena_bytes'])})"
                if not is_missing(row.get("tflm_header_arena_bytes")) else ""))
    reasons = [f"The smallest full-integer variant within {tolerance_pp:.2f} points of float that TFLite Micro runs"
               + (" and that fits the board budget" if budget and (budget.flash_bytes or budget.ram_bytes) else "")
               + f": flash {kilobytes(row['size_bytes'])} (.tflite), {arena}, accuracy on TFLite Micro "
               f"{percent(row['tflm_accuracy'])} against {percent(float_accuracy)} for float "
               f"({points(row['tflm_delta_pp'])} points)."]
    if has_packed_weights(row.get("weight_bits")):
        reasons.append("Its arena includes the int8 scratch buffer into which TFLite Micro's reference kernels unpack "
                       "each packed INT4 filter before use (flash shrinks, the arena grows by the largest filter).")
    if deployed == chosen:
        reasons.append("`digitedge export --int8` deploys it by default (export.variant = auto picks it by this rule).")
    elif deployed:
        reasons.append(f"`digitedge export --int8` deploys `{deployed}` (the config's export.variant); "
                       f"`--variant {chosen}` deploys this one.")
    if over:
        reasons.append("Within tolerance but over the board budget: " + ", ".join(over) + ".")
    excluded = rows[(rows["size_bytes"] <= row["size_bytes"]) & (rows["tflm_delta_pp"] < -tolerance_pp - 1e-9)]
    if not excluded.empty:
        reasons.append(f"Ruled out as no larger but more than {tolerance_pp:.2f} points below float on TFLM: " + ", ".join(
            f"{name} ({points(excluded.at[name, 'tflm_delta_pp'])} points)" for name in excluded.index) + ".")
    return TargetRecommendation(TFLM_TARGET, chosen, reasons)


def microcontroller_c(frame: pd.DataFrame, tolerance_pp: float, budget: Budget | None) -> TargetRecommendation:
    """The smallest variant as generated C (flash on the board) within tolerance of float on TFLite Micro,
    bit-exact with it on every image the board ran (so TFLM's accuracy is the C's), that fits the budget
    (flash = code + weights, RAM = buffers + stack)."""
    columns = ("c_flash_bytes", "c_ram_bytes", "c_instructions_per_inference", "c_bit_exact")
    rows = _tflm_candidates(frame)
    if set(columns) <= set(rows.columns):
        rows = rows[rows[list(columns)].notna().all(axis=1)]
    if not set(columns) <= set(rows.columns) or rows.empty:
        return TargetRecommendation(C_TARGET, None, [
            "`digitedge firmware run --qemu` builds the generated C with real test digits, runs it on an emulated "
            "Cortex-M and reports its flash, RAM and instructions per inference."], verdict="not measured in this run")
    exact = rows[rows["c_bit_exact"].astype(float) >= 1]
    chosen = smallest(qualifying(exact, delta_column="tflm_delta_pp", tolerance_pp=tolerance_pp, budget=budget,
                                 flash_column="c_flash_bytes", ram_column="c_ram_bytes"),
                      size_column="c_flash_bytes", accuracy_column="tflm_delta_pp")
    if chosen is None:
        inexact = [name for name in rows.index if name not in exact.index]
        return TargetRecommendation(C_TARGET, None, [
            f"No variant's generated C is within {tolerance_pp:.2f} points of float on TFLite Micro, bit-exact with it"
            + (" and inside the board budget" if budget and (budget.flash_bytes or budget.ram_bytes) else "") + "."
            + (f" Not bit-exact: {', '.join(inexact)}." if inexact else "")])
    row = rows.loc[chosen]
    board = row.get("c_board") if "c_board" in frame.columns and not is_missing(row.get("c_board")) else "the emulated board"
    reasons = [f"The smallest generated C within {tolerance_pp:.2f} points of float"
               + (" that fits the board budget" if budget and (budget.flash_bytes or budget.ram_bytes) else "")
               + f": `{chosen}` as dependency-free C on {board}, flash {kilobytes(row['c_flash_bytes'])} (code + "
               f"weights), RAM {kilobytes(row['c_ram_bytes'])} (buffers + measured stack), "
               f"{float(row['c_instructions_per_inference']):,.0f} instructions per inference (QEMU counts "
               f"instructions, not cycles); accuracy {percent(row['tflm_accuracy'])} on TFLite Micro "
               f"({points(row['tflm_delta_pp'])} points)."]
    reasons.append(f"Bit-exact with TensorFlow Lite Micro on {percent(row['c_bit_exact'])} of the images run.")
    if not is_missing(row.get("tflm_arena_bytes")) and float(row["c_ram_bytes"]) < float(row["tflm_arena_bytes"]):
        reasons.append(f"That is {float(row['tflm_arena_bytes']) / float(row['c_ram_bytes']):.1f}× less RAM than "
                       f"TFLite Micro's arena for the same file ({kilobytes(row['tflm_arena_bytes'])}).")
    return TargetRecommendation(C_TARGET, chosen, reasons)


def litert(frame: pd.DataFrame, tolerance_pp: float) -> list[TargetRecommendation]:
    """The fastest and the smallest variant within tolerance of float, by LiteRT accuracy on this host."""
    rows = frame.drop(index=list(BASELINES), errors="ignore")
    within = qualifying(rows, delta_column="delta_pp", tolerance_pp=tolerance_pp)
    if within.empty:
        return [TargetRecommendation(LITERT_TARGET, None,
                                     [f"No variant is within {tolerance_pp:.2f} points of float accuracy."])]
    timed = within[within["latency_median_us"].notna()]
    recommendations = []
    if not timed.empty:
        fastest = timed["latency_median_us"].astype(float).idxmin()
        recommendations.append(TargetRecommendation(f"{LITERT_TARGET}: fastest", fastest, [
            f"The fastest variant within {tolerance_pp:.2f} points of float: {microseconds(timed.at[fastest, 'latency_median_us'])} µs "
            f"median per image on this host, accuracy {percent(timed.at[fastest, 'accuracy'])} "
            f"({points(timed.at[fastest, 'delta_pp'])} points), {kilobytes(timed.at[fastest, 'size_bytes'])}."]))
    small = smallest(within)
    reasons = [f"The smallest variant within {tolerance_pp:.2f} points of float: {kilobytes(within.at[small, 'size_bytes'])}, "
               f"accuracy {percent(within.at[small, 'accuracy'])} ({points(within.at[small, 'delta_pp'])} points)."]
    gzipped = within[within["gzip_bytes"].notna()]
    if not gzipped.empty:
        smallest_gzip = smallest(gzipped, size_column="gzip_bytes")
        if smallest_gzip != small:
            reasons.append(f"Shipped compressed (an app download, an over-the-air update), {smallest_gzip} is smaller "
                           f"after gzip: {kilobytes(gzipped.at[smallest_gzip, 'gzip_bytes'])} against "
                           f"{kilobytes(within.at[small, 'gzip_bytes'])}.")
    recommendations.append(TargetRecommendation(f"{LITERT_TARGET}: smallest", small, reasons))
    return recommendations


def recommend_targets(frame: pd.DataFrame, tolerance_pp: float = 0.1, budget: Budget | None = None,
                      deployed: str | None = None) -> list[TargetRecommendation]:
    """Every target's recommendation, microcontroller first (the tool's first target)."""
    tflm = microcontroller_tflm(frame, tolerance_pp, budget, deployed)
    return [tflm, microcontroller_c(frame, tolerance_pp, budget), *litert(frame, tolerance_pp)]
