"""What a search leaves in RUN/search/: trials.csv (every rung), pareto.csv, pareto.png, best.toml and
one best-<budget>.toml per flash budget.

The front is Optuna's own `best_trials` of the top rung's study: trained in full, within every limit
(Optuna leaves out trials whose constraints are > 0), maximizing int8 validation accuracy and
minimizing flash and RAM. Lower rungs are compared only among themselves (see ladder).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import optuna
import pandas as pd

from digitedge.config import from_dict, to_toml
from digitedge.search.space import short

TRIAL_COLUMNS = ["rung", "rung_name", "number", "state", "outcome", "val_accuracy", "flash_bytes", "ram_bytes",
                 "instructions", "macs", "parameters", "measured_on", "float_val_accuracy", "measure_seconds", "seconds", "proposal",
                 "reason", "worker", "started", "finished"]
FIGURES = ("flash_bytes", "ram_bytes", "instructions", "macs", "parameters", "measured_on", "float_val_accuracy",
           "measure_seconds", "seconds")


def trials_frame(rung_trials: list[list[optuna.trial.FrozenTrial]]) -> pd.DataFrame:
    """One row per finished trial of every rung: its figures, state, outcome and parameters (params_*)."""
    rows = []
    for rung, trials in enumerate(rung_trials):
        for trial in trials:
            attrs = trial.user_attrs
            trained = attrs.get("outcome") == "trained" and trial.values is not None
            row = {"rung": rung, "rung_name": attrs.get("rung", ""), "number": trial.number,
                   "state": trial.state.name, "outcome": attrs.get("outcome", ""),
                   "val_accuracy": trial.values[0] if trained else np.nan,
                   **{key: attrs.get(key, np.nan) for key in FIGURES},
                   "proposal": short(trial.params) if "variant" in trial.params else "",
                   "reason": attrs.get("reason", ""), "worker": attrs.get("worker", ""),
                   "started": trial.datetime_start, "finished": trial.datetime_complete,
                   "feasible": trained and all(v <= 0 for v in trial.constraints.values())}
            rows.append({**row, **{f"params_{key}": value for key, value in trial.params.items()}})
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=TRIAL_COLUMNS + ["feasible"])
    return frame[TRIAL_COLUMNS + ["feasible"] + sorted(c for c in frame.columns if c.startswith("params_"))]


def front_trials(top_rung: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """Optuna's Pareto front of the top rung (feasible trained trials), most accurate first."""
    front = [t for t in top_rung.best_trials if t.user_attrs.get("outcome") == "trained"]
    return sorted(front, key=lambda t: (-t.values[0], t.values[1], t.values[2], t.number))


def best_within(front: list[optuna.trial.FrozenTrial], max_flash: float) -> optuna.trial.FrozenTrial | None:
    """The most accurate front trial whose flash fits `max_flash` (the front holds the best of every budget)."""
    return next((t for t in front if t.values[1] <= max_flash), None)


def front_plot_png(trials: pd.DataFrame, top_rung: int, front_numbers: list[int], flash_lines: list[int],
                   target_label: str) -> bytes:
    """Validation accuracy against flash for the top rung's trained trials, RAM as colour, front marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    top = trials[trials["rung"] == top_rung]
    trained = top[top["outcome"] == "trained"]
    front = trained[trained["number"].isin(front_numbers)]
    figure, axes = plt.subplots(figsize=(7, 4.5))
    if len(trained):
        dots = axes.scatter(trained["flash_bytes"], 100 * trained["val_accuracy"].astype(float),
                            c=trained["ram_bytes"], cmap="viridis", s=28, edgecolors="none")
        figure.colorbar(dots, ax=axes, label="RAM (bytes)")
    if len(front):
        ordered = front.sort_values("flash_bytes")
        axes.step(ordered["flash_bytes"], 100 * ordered["val_accuracy"].astype(float), where="post",
                  color="crimson", linewidth=1)
        axes.scatter(ordered["flash_bytes"], 100 * ordered["val_accuracy"].astype(float), facecolors="none",
                     edgecolors="crimson", s=80, label="Pareto front (within limits)")
        axes.legend(loc="lower right")
    for flash in flash_lines:
        axes.axvline(flash, color="grey", linestyle="--", linewidth=1)
    axes.set_xlabel(f"flash: {target_label} (bytes)")
    axes.set_ylabel("int8 validation accuracy (%)")
    axes.set_title(f"digitedge search: {len(trained)} trained in full of {len(trials)} trials")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    plt.close(figure)
    return buffer.getvalue()


def best_toml(config_dict: dict) -> str:
    """The chosen trial's full-run config, as `digitedge run --config` reads it."""
    return to_toml(from_dict(config_dict).validate())


def write_outputs(folder: Path, studies: list[optuna.Study], budgets: list[int], target_label: str) -> dict[str, Path]:
    """Write every output at once (all or nothing); best.toml (and best-<budget>.toml) only where a
    trial qualifies. `budgets`: flash budgets in bytes, increasing ([]: the limits alone)."""
    from digitedge.rundir import write_files

    rung_trials = [study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,
                                                            optuna.trial.TrialState.PRUNED)) for study in studies]
    frame = trials_frame(rung_trials)
    front = front_trials(studies[-1])
    numbers = [t.number for t in front]
    top = frame[frame["rung"] == len(studies) - 1]
    pareto = top.set_index("number").loc[numbers].reset_index()[frame.columns]
    files = {"trials.csv": frame.to_csv(index=False).encode(), "pareto.csv": pareto.to_csv(index=False).encode(),
             "pareto.png": front_plot_png(frame, len(studies) - 1, numbers, budgets, target_label)}
    if front:
        files["best.toml"] = best_toml(front[0].user_attrs["config"]).encode()
    for budget in budgets:
        chosen = best_within(front, budget)
        if chosen is not None:
            config = dict(chosen.user_attrs["config"])
            config["budget"] = {**config["budget"], "flash_bytes": budget}
            files[f"best-{budget}.toml"] = best_toml(config).encode()
    write_files(files, folder)
    return {name: folder / name for name in files}


FRONT_COLUMNS = ["number", "val_accuracy", "flash_bytes", "ram_bytes", "instructions", "macs", "parameters",
                 "proposal"]


def read_front(run_dir: Path) -> pd.DataFrame | None:
    """The run's search front (RUN/search/pareto.csv, FRONT_COLUMNS that it has), or None when the run
    has no search: what the report shows."""
    path = Path(run_dir) / "search" / "pareto.csv"
    if not path.is_file():
        return None
    front = pd.read_csv(path)
    return front[[column for column in FRONT_COLUMNS if column in front.columns]]


def read_trials(run_dir: Path) -> pd.DataFrame:
    """The run's search trials (RUN/search/trials.csv), each with its outcome."""
    return pd.read_csv(Path(run_dir) / "search" / "trials.csv")


def read_front_plot(run_dir: Path) -> bytes | None:
    """The run's front plot (RUN/search/pareto.png), or None when the search drew none."""
    path = Path(run_dir) / "search" / "pareto.png"
    return path.read_bytes() if path.is_file() else None
