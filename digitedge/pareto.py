"""The Pareto front of a table: the rows no other row beats on every objective at once.

The report's accuracy-against-size front uses it; the model search's front is Optuna's own
`best_trials` (digitedge.search), which applies the same rule to its trials.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def pareto_front(rows: pd.DataFrame, minimize: Sequence[str] = (), maximize: Sequence[str] = ()) -> list:
    """Index labels of the rows that no other row dominates (as good on every objective column, better on
    one), ordered by the objectives as listed (minimized ascending, maximized descending). Rows missing
    an objective are left out."""
    objectives = rows[[*minimize, *maximize]].dropna().astype(float)
    costs = np.column_stack([objectives[column].to_numpy() for column in minimize]
                            + [-objectives[column].to_numpy() for column in maximize])
    dominated = [bool(np.any(np.all(costs <= cost, axis=1) & np.any(costs < cost, axis=1))) for cost in costs]
    front = [position for position, beaten in enumerate(dominated) if not beaten]
    front.sort(key=lambda position: tuple(costs[position]))
    return [objectives.index[position] for position in front]
