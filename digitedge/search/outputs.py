"""What a search leaves in RUN/search/: trials.csv, pareto.csv, pareto.png and best.toml.

Only trained trials within every limit are candidates; the Pareto front maximizes int8 validation
accuracy and minimizes flash and arena.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd

from digitedge.config import from_dict, to_toml
from digitedge.search.space import short

TRIAL_COLUMNS = ["number", "state", "outcome", "val_accuracy", "flash_bytes", "arena_bytes", "macs", "parameters",
                 "float_val_accuracy", "seconds", "proposal", "reason", "worker", "started", "finished"]


def trials_frame(trials) -> pd.DataFrame:
    """One row per trial: its figures, state, outcome and parameters (params_* columns)."""
    rows = []
    for trial in trials:
        attrs = trial.user_attrs
        trained = attrs.get("outcome") == "trained" and trial.values is not None
        row = {"number": trial.number, "state": trial.state.name, "outcome": attrs.get("outcome", ""),
               "val_accuracy": trial.values[0] if trained else np.nan,
               **{key: attrs.get(key, np.nan) for key in ("flash_bytes", "arena_bytes", "macs", "parameters",
                                                           "float_val_accuracy", "seconds")},
               "proposal": short(trial.params) if "variant" in trial.params else "",
               "reason": attrs.get("reason", ""), "worker": attrs.get("worker", ""),
               "started": trial.datetime_start, "finished": trial.datetime_complete,
               "feasible": trained and all(v <= 0 for v in attrs.get("constraints", []))}
        rows.append({**row, **{f"params_{key}": value for key, value in trial.params.items()}})
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=TRIAL_COLUMNS + ["feasible"])
    return frame[TRIAL_COLUMNS + ["feasible"] + sorted(c for c in frame.columns if c.startswith("params_"))]


def pareto_mask(accuracy, flash, arena) -> np.ndarray:
    """True where no other point is at least as good on all three objectives and better on one."""
    points = np.column_stack([-np.asarray(accuracy, float), np.asarray(flash, float), np.asarray(arena, float)])
    mask = np.ones(len(points), bool)
    for index, point in enumerate(points):
        dominated = np.all(points <= point, axis=1) & np.any(points < point, axis=1)
        mask[index] = not dominated.any()
    return mask


def pareto_frame(trials: pd.DataFrame) -> pd.DataFrame:
    """The feasible trained trials on the Pareto front, most accurate first."""
    candidates = trials[trials["feasible"].astype(bool)] if len(trials) else trials
    if candidates.empty:
        return candidates
    front = candidates[pareto_mask(candidates["val_accuracy"], candidates["flash_bytes"], candidates["arena_bytes"])]
    return front.sort_values(["val_accuracy", "flash_bytes"], ascending=[False, True])


def best_trial_number(trials: pd.DataFrame) -> int | None:
    """The most accurate feasible trained trial (ties: smaller flash, then arena)."""
    front = pareto_frame(trials)
    if front.empty:
        return None
    return int(front.sort_values(["val_accuracy", "flash_bytes", "arena_bytes"],
                                 ascending=[False, True, True]).iloc[0]["number"])


def front_plot_png(trials: pd.DataFrame, limits_flash: int = 0) -> bytes:
    """Validation accuracy against flash for every trained trial, RAM (arena) as colour, front marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    trained = trials[trials["outcome"] == "trained"]
    front = pareto_frame(trials)
    figure, axes = plt.subplots(figsize=(7, 4.5))
    if len(trained):
        dots = axes.scatter(trained["flash_bytes"], 100 * trained["val_accuracy"].astype(float),
                            c=trained["arena_bytes"], cmap="viridis", s=28, edgecolors="none")
        figure.colorbar(dots, ax=axes, label="TFLM arena (bytes)")
    if len(front):
        ordered = front.sort_values("flash_bytes")
        axes.step(ordered["flash_bytes"], 100 * ordered["val_accuracy"].astype(float), where="post",
                  color="crimson", linewidth=1)
        axes.scatter(ordered["flash_bytes"], 100 * ordered["val_accuracy"].astype(float), facecolors="none",
                     edgecolors="crimson", s=80, label="Pareto front (within limits)")
        axes.legend(loc="lower right")
    if limits_flash:
        axes.axvline(limits_flash, color="grey", linestyle="--", linewidth=1)
    axes.set_xlabel("int8 .tflite (bytes)")
    axes.set_ylabel("int8 validation accuracy (%)")
    axes.set_title(f"digitedge search: {len(trained)} trained of {len(trials)} trials")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    plt.close(figure)
    return buffer.getvalue()


def best_toml(config_dict: dict) -> str:
    """The chosen trial's full-run config, as `digitedge run --config` reads it."""
    return to_toml(from_dict(config_dict).validate())


def write_outputs(folder: Path, trials, max_flash: int = 0) -> dict[str, Path]:
    """Write every output at once (all or nothing); best.toml only when a trial qualifies."""
    from digitedge.rundir import write_files

    frame = trials_frame(trials)
    files = {"trials.csv": frame.to_csv(index=False).encode(),
             "pareto.csv": pareto_frame(frame).to_csv(index=False).encode(),
             "pareto.png": front_plot_png(frame, max_flash)}
    best = best_trial_number(frame)
    if best is not None:
        chosen = next(t for t in trials if t.number == best)
        files["best.toml"] = best_toml(chosen.user_attrs["config"]).encode()
    write_files(files, folder)
    return {name: folder / name for name in files}


FRONT_COLUMNS = ["number", "val_accuracy", "flash_bytes", "arena_bytes", "macs", "parameters", "proposal"]


def read_front(run_dir: Path) -> pd.DataFrame | None:
    """The run's search front (RUN/search/pareto.csv, FRONT_COLUMNS), or None when the run has no search:
    what the report shows."""
    path = Path(run_dir) / "search" / "pareto.csv"
    if not path.is_file():
        return None
    front = pd.read_csv(path)
    return front[FRONT_COLUMNS] if len(front) else pd.DataFrame(columns=FRONT_COLUMNS)


def read_trials(run_dir: Path) -> pd.DataFrame:
    """The run's search trials (RUN/search/trials.csv), each with its outcome."""
    return pd.read_csv(Path(run_dir) / "search" / "trials.csv")


def read_front_plot(run_dir: Path) -> bytes | None:
    """The run's front plot (RUN/search/pareto.png), or None when the search drew none."""
    path = Path(run_dir) / "search" / "pareto.png"
    return path.read_bytes() if path.is_file() else None
