"""Which variant to use on which target, from a run's measurements: the rule shared by the micro
stage (which variant `export --int8` deploys) and the report (one recommendation per target).

A variant qualifies when its accuracy is within `tolerance_pp` points of the float model's on the
same images and it fits the board budget; among those the smallest wins, ties to the more accurate.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class Budget:
    """A board's flash and RAM in bytes; 0 means no limit."""

    flash_bytes: int = 0
    ram_bytes: int = 0

    def misses(self, flash_bytes: float | None, ram_bytes: float | None) -> list[str]:
        """Why a variant needing `flash_bytes` and `ram_bytes` does not fit ([] when it fits)."""
        reasons = []
        if self.flash_bytes and flash_bytes is not None and flash_bytes > self.flash_bytes:
            reasons.append(f"flash {int(flash_bytes):,} B > budget {self.flash_bytes:,} B")
        if self.ram_bytes and ram_bytes is not None and ram_bytes > self.ram_bytes:
            reasons.append(f"RAM {int(ram_bytes):,} B > budget {self.ram_bytes:,} B")
        return reasons


def qualifying(frame: pd.DataFrame, *, delta_column: str, tolerance_pp: float, budget: Budget | None = None,
               flash_column: str = "size_bytes", ram_column: str | None = None) -> pd.DataFrame:
    """Rows within `tolerance_pp` points (by `delta_column`, in points) that fit `budget`."""
    measured = frame[frame[delta_column].notna() & frame[flash_column].notna()]
    within = measured[measured[delta_column] >= -tolerance_pp - 1e-9]
    if budget is None:
        return within
    fits = [not budget.misses(row[flash_column], row[ram_column] if ram_column else None)
            for _, row in within.iterrows()]
    return within[fits]


def smallest(frame: pd.DataFrame, size_column: str = "size_bytes", accuracy_column: str = "delta_pp") -> str | None:
    """The row with the smallest `size_column`; ties go to the higher `accuracy_column`."""
    if frame.empty:
        return None
    return frame.sort_values([size_column, accuracy_column], ascending=[True, False]).index[0]
