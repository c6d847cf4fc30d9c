"""The Optuna study behind `digitedge search`: where it lives, how it is sampled, resumed and shared.

Default storage is an SQLite file in the run (nothing to set up); any URL Optuna's RDB storage takes
works too, and several machines given one PostgreSQL URL and study name share the study (Optuna's
own distributed mode). Every finished trial is in the database the moment it ends, so Ctrl-C loses
only the running one, and the same command continues the study.
"""

from __future__ import annotations

import os
import socket
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import warnings

import optuna
from optuna.trial import TrialState

warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)  # multivariate TPE, heartbeat

from digitedge.config import Config
from digitedge.errors import DigitedgeError
from digitedge.search import space as search_space
from digitedge.search.budget import Limits, measure_untrained
from digitedge.search.objective import OUTCOME, SearchData, default_pruner, make_objective
from digitedge.search.outputs import best_trial_number, trials_frame, write_outputs

DIRECTIONS = ["maximize", "minimize", "minimize"]  # int8 val accuracy, flash bytes, arena bytes
SPACE_ATTR = "digitedge_space"
DONE_STATES = (TrialState.COMPLETE, TrialState.PRUNED)


def default_storage(run_dir: Path) -> str:
    return f"sqlite:///{(Path(run_dir) / 'search' / 'study.db').resolve()}"


def open_storage(url: str) -> optuna.storages.BaseStorage:
    """Optuna's RDB storage for `url`; a malformed or unreachable URL is one line naming it."""
    import sqlalchemy.exc

    shown = _without_password(url)
    if url.startswith("postgresql://"):  # SQLAlchemy's default driver is psycopg2; we ship psycopg 3
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    engine_kwargs = {"connect_args": {"connect_timeout": 10}} if url.startswith("postgresql") else {}  # fail fast
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    try:
        return _create_storage(url, engine_kwargs)
    except sqlalchemy.exc.ArgumentError:
        raise DigitedgeError(f"--storage {shown}: not a database URL (e.g. sqlite:///study.db, "
                             f"postgresql://user:password@host/db)") from None
    except (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError) as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        raise DigitedgeError(f"--storage {shown}: cannot reach the database: {reason}") from None
    except ModuleNotFoundError as exc:
        raise DigitedgeError(f"--storage {shown}: no driver for it ({exc.name} is not installed)") from None
    except ValueError as exc:  # e.g. an unknown dialect's options
        raise DigitedgeError(f"--storage {shown}: {str(exc).splitlines()[0]}") from None


def _create_storage(url: str, engine_kwargs: dict, attempts: int = 5) -> optuna.storages.RDBStorage:
    """RDBStorage creates its tables on first use; workers starting together on an empty database race
    to create them and all but one hit a duplicate: those wait and connect to the tables the winner made."""
    import sqlalchemy.exc

    for attempt in range(1, attempts + 1):
        try:
            return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs, heartbeat_interval=60,
                                              grace_period=180)
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError):
            if attempt == attempts:
                raise
            time.sleep(attempt)


def _without_password(url: str) -> str:
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    credentials, host = rest.rsplit("@", 1)
    return f"{scheme}://{credentials.split(':', 1)[0]}:***@{host}" if ":" in credentials else url


def open_study(storage: optuna.storages.BaseStorage, name: str, space: search_space.SearchSpace,
               limits: Limits, seed: int) -> optuna.Study:
    """Create or load study `name`; one created with another search space is refused, untouched."""
    existing = {summary.study_name: summary for summary in optuna.study.get_all_study_summaries(storage)}
    signature = space.signature()
    if name in existing:
        theirs = existing[name].user_attrs.get(SPACE_ATTR)
        directions = [d.name.lower() for d in existing[name].directions]
        if theirs != signature or directions != DIRECTIONS:
            raise DigitedgeError(f"--study {name}: this study was created with another search space "
                                 f"({theirs or 'not a digitedge search'}, ours {signature}); "
                                 f"pick another --study name or --storage")
    # multivariate + group: TPE models the conditional parameters (per-block widths) jointly; the
    # constraints each trial sets steer it away from over-budget regions
    sampler = optuna.samplers.TPESampler(n_startup_trials=6, seed=seed, multivariate=True, group=True)
    study = optuna.create_study(storage=storage, study_name=name, directions=DIRECTIONS, sampler=sampler,
                                load_if_exists=True)
    if name not in existing:
        study.set_user_attr(SPACE_ATTR, signature)
        for params in search_space.starting_points(space):
            study.enqueue_trial(params, skip_if_exists=True)
    return study


def check_reachable(space: search_space.SearchSpace, base: Config, data: SearchData, limits: Limits) -> None:
    """Refuse limits that even the space's smallest proposal exceeds, before any trial is spent."""
    smallest = measure_untrained(search_space.to_config(search_space.smallest(space), base).model, data.x_train)
    excess = limits.describe_excess(smallest)
    if excess:
        raise DigitedgeError(f"no proposal can meet the limits: the smallest model in the search space already has "
                             f"{excess}")


@dataclass
class SearchResult:
    study: optuna.Study
    outputs: dict[str, Path]
    interrupted: bool


def progress_line(trial: optuna.trial.FrozenTrial) -> str:
    """One line per finished trial: number, proposal, flash, arena, and accuracy or why it stopped."""
    attrs = trial.user_attrs
    proposal = search_space.short(trial.params) if "variant" in trial.params else "?"
    figures = (f"flash {attrs['flash_bytes']:,} B, arena {attrs['arena_bytes']:,} B"
               if "flash_bytes" in attrs else "no model")
    outcome = attrs.get(OUTCOME)
    if outcome == "trained":
        verdict = f"int8 val {trial.values[0]:.2%}"
        if any(v > 0 for v in attrs.get("constraints", [])):
            verdict += " (over a limit after training)"
    elif outcome == "rejected":
        verdict = f"rejected: {attrs.get('reason', '')}"
    else:
        epochs = attrs.get("epoch_val_accuracy", [])
        verdict = f"pruned after epoch {len(epochs)} ({epochs[-1]:.2%})" if epochs else f"stopped ({trial.state.name})"
    return f"[search] trial {trial.number:3d}  {proposal}  {figures}  {verdict}  {attrs.get('seconds', 0):.0f} s"


def load_search_data(data_path: str | None, base: Config, train_images: int) -> SearchData:
    """MNIST's training images split as the full run splits them; a seeded subset of the training part.
    The test images are never handed to the search."""
    import numpy as np

    from digitedge.data import load_mnist, normalize, split_validation

    mnist = load_mnist(data_path)
    x_train, y_train, x_val, y_val = split_validation(mnist.x_train, mnist.y_train, base.data.validation_size, base.seed)
    picked = np.sort(np.random.default_rng(base.seed).permutation(len(x_train))[:train_images])
    return SearchData(normalize(x_train[picked]), y_train[picked], normalize(x_val), y_val)


def run_search(run_dir: Path, base: Config, data: SearchData, limits: Limits, *, storage_url: str | None = None,
               study_name: str = "digitedge", space: search_space.SearchSpace = search_space.SearchSpace(),
               n_trials: int = 0, timeout_s: float | None = None, echo: Callable[[str], None] = print) -> SearchResult:
    """Run trials until the study holds `n_trials` finished ones (0: no count limit) or `timeout_s` passes."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # our own line per trial instead
    storage = open_storage(storage_url or default_storage(run_dir))
    check_reachable(space, base, data, limits)  # before the study exists: a hopeless search creates nothing
    worker = f"{socket.gethostname()}:{os.getpid()}"
    # one worker on the run's own SQLite file samples reproducibly from the config's seed; workers sharing
    # a server each draw their own proposals (with one seed they would all propose the same first ones)
    shared = storage_url is not None and storage_url != default_storage(run_dir)
    sampler_seed = zlib.crc32(f"{base.seed}:{worker}".encode()) if shared else base.seed
    study = open_study(storage, study_name, space, limits, sampler_seed)
    done = len(study.get_trials(deepcopy=False, states=DONE_STATES))
    echo(f"[search] study '{study_name}' ({_without_password(storage_url or default_storage(run_dir))}): "
         f"{done} finished trial(s) so far; limits: {_limits_text(limits)}; "
         f"{len(data.x_train):,} training / {len(data.x_val):,} validation images per trial")
    objective = make_objective(space, base, data, limits, default_pruner())

    def tagged(trial: optuna.Trial):
        trial.set_user_attr("worker", worker)
        return objective(trial)

    callbacks = [lambda _study, trial: echo(progress_line(trial))]
    if n_trials:
        callbacks.insert(0, optuna.study.MaxTrialsCallback(n_trials, states=DONE_STATES))
    interrupted = False
    started = time.perf_counter()
    if not n_trials or done < n_trials:
        try:
            study.optimize(tagged, timeout=timeout_s, callbacks=callbacks, catch=(), gc_after_trial=True)
        except KeyboardInterrupt:
            interrupted = True
            echo("[search] interrupted: every finished trial is kept in the study; run the same command to continue")
    trials = study.get_trials(deepcopy=False, states=DONE_STATES)
    outputs = write_outputs(Path(run_dir) / "search", trials, limits.max_flash)
    echo(summary_text(trials, time.perf_counter() - started, outputs))
    return SearchResult(study, outputs, interrupted)


def _limits_text(limits: Limits) -> str:
    parts = [f"{name} <= {value:,}" for name, value in
             (("flash", limits.max_flash), ("arena", limits.max_ram), ("MACs", limits.max_macs)) if value]
    return ", ".join(parts) or "none"


def summary_text(trials, seconds: float, outputs: dict[str, Path]) -> str:
    frame = trials_frame(trials)
    counts = frame["outcome"].value_counts().to_dict() if len(frame) else {}
    lines = [f"[search] {len(frame)} finished trial(s): {counts.get('trained', 0)} trained, "
             f"{counts.get('rejected', 0)} rejected before training, {counts.get('pruned', 0)} pruned "
             f"({seconds:.0f} s in this session)"]
    number = best_trial_number(frame) if len(frame) else None
    if number is not None:
        best = frame.set_index("number").loc[number]
        lines.append(f"[search] best within limits: trial {number}  {best['proposal']}  "
                     f"int8 val {best['val_accuracy']:.2%}, flash {int(best['flash_bytes']):,} B, "
                     f"arena {int(best['arena_bytes']):,} B")
        lines.append(f"[search] train it in full: digitedge run --config {outputs['best.toml']}")
    else:
        lines.append("[search] no trained trial within the limits yet: no best.toml")
    lines.append(f"[search] -> {outputs['trials.csv'].parent}")
    return "\n".join(lines)
