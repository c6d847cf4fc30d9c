"""The Optuna study behind `digitedge search`: where it lives, how it is sampled, resumed and shared.

Default storage is an SQLite file in the run (nothing to set up); any URL Optuna's RDB storage takes
works too, and several machines given one PostgreSQL URL and study name share the study (Optuna's
own distributed mode). Every finished trial is in the database the moment it ends, so Ctrl-C loses
only the running one, and the same command continues the study.
"""

from __future__ import annotations

import os
import socket
import threading
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
from digitedge.search.budget import Limits, untrained_tflite
from digitedge.search.ladder import OUTCOME, Rung, default_ladder, next_job, rung_study_name, run_job
from digitedge.search.objective import SearchData, make_objective
from digitedge.search.outputs import front_trials, trials_frame, write_outputs
from digitedge.search.targets import TflmTarget

DIRECTIONS = ["maximize", "minimize", "minimize"]  # int8 val accuracy, flash bytes, arena bytes
SPACE_ATTR = "digitedge_space"
DONE_STATES = (TrialState.COMPLETE, TrialState.PRUNED)


def default_storage(run_dir: Path) -> str:
    return f"sqlite:///{(Path(run_dir) / 'search' / 'study.db').resolve()}"


@dataclass(frozen=True)
class Heartbeat:
    """How often a running trial tells the storage it is alive, and how long silence may last."""

    interval_s: int = 30
    grace_s: int = 120


def open_storage(url: str, heartbeat: Heartbeat = Heartbeat()) -> optuna.storages.BaseStorage:
    """Optuna's RDB storage for `url`; a malformed or unreachable URL is one line naming it."""
    import sqlalchemy.exc

    shown = _without_password(url)
    if url.startswith("postgresql://"):  # SQLAlchemy's default driver is psycopg2; we ship psycopg 3
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    engine_kwargs = {"connect_args": {"connect_timeout": 10}} if url.startswith("postgresql") else {}  # fail fast
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    try:
        return _create_storage(url, engine_kwargs, heartbeat)
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


def _create_storage(url: str, engine_kwargs: dict, heartbeat: Heartbeat,
                    attempts: int = 5) -> optuna.storages.RDBStorage:
    """RDBStorage creates its tables on first use; workers starting together on an empty database race
    to create them and all but one hit a duplicate: those wait and connect to the tables the winner made."""
    import sqlalchemy.exc

    for attempt in range(1, attempts + 1):
        try:
            # a worker killed mid-trial stops beating: after `grace_s` any worker marks its trial failed and
            # Optuna's callback queues the same configuration again (retried at most twice)
            return optuna.storages.RDBStorage(
                url, engine_kwargs=engine_kwargs, heartbeat_interval=heartbeat.interval_s,
                grace_period=heartbeat.grace_s,
                heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=2))
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


def open_studies(storage: optuna.storages.BaseStorage, name: str, space: search_space.SearchSpace,
                 ladder: tuple[Rung, ...], target_name: str, seed: int) -> list[optuna.Study]:
    """Create or load one study per rung (`name`.rung0, ...); a search made with another space, ladder or
    target is refused, untouched. The informed starting points are queued once, at rung 0."""
    existing = _settled_summaries(storage, [rung_study_name(name, index) for index in range(len(ladder))])
    signature = search_signature(space, ladder, target_name)
    for index in range(len(ladder)):
        summary = existing.get(rung_study_name(name, index))
        if summary is None:
            continue
        theirs = summary.user_attrs.get(SPACE_ATTR)
        if theirs != signature or [d.name.lower() for d in summary.directions] != DIRECTIONS:
            raise DigitedgeError(f"--study {name}: this study was created with another search space, ladder or "
                                 f"target ({theirs or 'not a digitedge search'}, ours {signature}); "
                                 f"pick another --study name or --storage")
    studies = []
    for index in range(len(ladder)):
        study_name = rung_study_name(name, index)
        # multivariate + group: TPE models the conditional parameters (per-block widths) jointly; the
        # constraints each trial sets steer it away from over-limit regions. Upper rungs only run
        # promoted (enqueued) configurations and never sample.
        sampler = optuna.samplers.TPESampler(n_startup_trials=10, seed=seed + index, multivariate=True, group=True)
        study = optuna.create_study(storage=storage, study_name=study_name, directions=DIRECTIONS, sampler=sampler,
                                    load_if_exists=True)
        if study_name not in existing:
            study.set_user_attr(SPACE_ATTR, signature)
            if index == 0:
                for params in search_space.starting_points(space):
                    study.enqueue_trial(params, skip_if_exists=True)
        studies.append(study)
    return studies


def _settled_summaries(storage: optuna.storages.BaseStorage, names: list[str], wait_s: float = 20.0) -> dict:
    """The storage's study summaries by name, once none of `names` is half-made: a worker starting beside
    another may see a rung study the other has created but not yet signed."""
    deadline = time.monotonic() + wait_s
    while True:
        existing = {summary.study_name: summary for summary in optuna.study.get_all_study_summaries(storage)}
        unsigned = [n for n in names if n in existing and SPACE_ATTR not in existing[n].user_attrs]
        if not unsigned or time.monotonic() >= deadline:
            return existing
        time.sleep(0.5)


def search_signature(space: search_space.SearchSpace, ladder: tuple[Rung, ...], target_name: str) -> str:
    text = f"{space.signature()}|{ladder}|{target_name}"
    return f"{space.signature()}-{zlib.crc32(text.encode()):08x}"


def check_reachable(space: search_space.SearchSpace, base: Config, data: SearchData, limits: Limits, target) -> None:
    """Refuse limits that even the space's smallest proposal exceeds, before any trial is spent."""
    config = search_space.to_config(search_space.smallest(space), base)
    excess = limits.describe_excess(target.measure(*untrained_tflite(config, data.x_train)))
    if excess:
        raise DigitedgeError(f"no proposal can meet the limits: the smallest model in the search space already has "
                             f"{excess}")


@dataclass
class SearchResult:
    studies: list[optuna.Study]
    outputs: dict[str, Path]
    interrupted: bool

    @property
    def study(self) -> optuna.Study:
        """The top rung's study: the front."""
        return self.studies[-1]


def progress_line(rung: Rung, trial: optuna.trial.FrozenTrial) -> str:
    """One line per finished trial: rung, number, proposal, flash, RAM, and accuracy or why it stopped."""
    attrs = trial.user_attrs
    proposal = search_space.short(trial.params) if "variant" in trial.params else "?"
    figures = (f"flash {attrs['flash_bytes']:,} B, RAM {attrs['ram_bytes']:,} B"
               + (f", {attrs['instructions']:,} instr" if attrs.get("instructions") else "")
               if "flash_bytes" in attrs else "no model")
    outcome = attrs.get(OUTCOME)
    if outcome == "trained":
        verdict = f"int8 val {trial.values[0]:.2%}"
        if any(v > 0 for v in trial.constraints.values()):
            verdict += " (over a limit after training)"
    elif outcome == "rejected":
        verdict = f"rejected: {attrs.get('reason', '')}"
    else:
        verdict = f"stopped ({trial.state.name})"
    return (f"[search] {rung.name:6s} trial {trial.number:3d}  {proposal}  {figures}  {verdict}  "
            f"{attrs.get('seconds', 0):.0f} s")


def load_search_data(data_path: str | None, base: Config, train_images: int) -> SearchData:
    """MNIST's training images split as the full run splits them; a seeded subset of the training part.
    The test images are never handed to the search."""
    import numpy as np

    from digitedge.data import load_mnist, normalize, split_validation

    mnist = load_mnist(data_path)
    x_train, y_train, x_val, y_val = split_validation(mnist.x_train, mnist.y_train, base.data.validation_size, base.seed)
    picked = np.random.default_rng(base.seed).permutation(len(x_train))[:train_images]  # rungs take its first images
    return SearchData(normalize(x_train[picked]), y_train[picked], normalize(x_val), y_val)


@dataclass(frozen=True)
class SearchPlan:
    """Everything that shapes a search besides its data: limits, target, ladder, flash budgets."""

    limits: Limits
    target: object = TflmTarget()
    ladder: tuple[Rung, ...] | None = None  # None: default_ladder for the data
    budgets: tuple[int, ...] = ()
    heartbeat: Heartbeat = Heartbeat()
    database_patience_s: float = 120.0  # how long a worker retries a lost database before it stops


def run_search(run_dir: Path, base: Config, data: SearchData, plan: SearchPlan, *, storage_url: str | None = None,
               study_name: str = "digitedge", space: search_space.SearchSpace = search_space.SearchSpace(),
               n_trials: int = 0, timeout_s: float | None = None, echo: Callable[[str], None] = print,
               objective_factory=make_objective) -> SearchResult:
    """Run trials (a promotion at the highest rung that has one due, else a new proposal) until the
    rungs hold `n_trials` finished trials together (0: no count limit) or `timeout_s` passes."""
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # our own line per trial (and per lost database) instead
    ladder = plan.ladder or default_ladder(len(data.x_train), len(data.x_val))
    shown = _without_password(storage_url or default_storage(run_dir))
    storage = open_storage(storage_url or default_storage(run_dir), plan.heartbeat)
    # before the studies exist: a hopeless search creates nothing
    check_reachable(space, base, data, plan.limits, plan.target)
    worker = f"{socket.gethostname()}:{os.getpid()}"
    # one worker on the run's own SQLite file samples reproducibly from the config's seed; workers sharing
    # a server each draw their own proposals (with one seed they would all propose the same first ones)
    shared = storage_url is not None and storage_url != default_storage(run_dir)
    sampler_seed = zlib.crc32(f"{base.seed}:{worker}".encode()) if shared else base.seed
    studies = open_studies(storage, study_name, space, ladder, plan.target.name, sampler_seed)
    echo(f"[search] study '{study_name}' ({shown}): {_finished(studies)} finished trial(s) so far; target "
         f"{plan.target.name}; limits: {plan.limits.describe()}; rungs: "
         + ", ".join(f"{r.name} {len(data.for_rung(r).x_train):,} images x "
                     + (f"{r.epochs} epochs" if r.epochs else "its own recipe") for r in ladder))
    objectives = [objective_factory(space, base, data, plan.limits, plan.target, rung) for rung in ladder]

    def for_rung(index: int):
        def tagged(trial: optuna.Trial):
            trial.set_user_attr("worker", worker)
            return objectives[index](trial)
        return tagged

    callbacks = [lambda study, trial: echo(progress_line(ladder[_rung_of(studies, study)], trial))]
    budgets = list(plan.budgets) or ([plan.limits.max_flash] if plan.limits.max_flash else [])

    def step() -> None:
        for study in studies:
            optuna.storages.fail_stale_trials(study)  # a killed worker's trial, queued again by its callback
        job = next_job([study.get_trials(deepcopy=False) for study in studies], budgets)
        run_job(studies, job, for_rung, callbacks)

    interrupted = False
    started = time.perf_counter()
    threading.excepthook = _quiet_heartbeat_loss(threading.excepthook, echo)
    try:
        while (not n_trials or _finished(studies) < n_trials) and \
                (timeout_s is None or time.perf_counter() - started < timeout_s):
            _patiently(step, plan.database_patience_s, shown)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        threading.excepthook = threading.__excepthook__
    if interrupted:
        echo("[search] interrupted: every finished trial is kept in the study; run the same command to continue")
    outputs = _patiently(lambda: write_outputs(Path(run_dir) / "search", studies, list(plan.budgets),
                                               plan.target.flash_label), plan.database_patience_s, shown)
    echo(summary_text(studies, time.perf_counter() - started, outputs))
    return SearchResult(studies, outputs, interrupted)


def _quiet_heartbeat_loss(default, echo):
    """Optuna's heartbeat thread dies when the database goes away; say so in one line instead of a
    traceback (the trial's own thread retries, then stops with one line)."""
    def hook(args):
        lost = _lost_database(args.exc_value)
        if lost is None:
            return default(args)
        echo(f"[search] heartbeat stopped: {str(getattr(lost, 'orig', None) or lost).strip().splitlines()[0]}")
    return hook


def _rung_of(studies: list[optuna.Study], study: optuna.Study) -> int:
    return next(index for index, candidate in enumerate(studies) if candidate.study_name == study.study_name)


def _finished(studies: list[optuna.Study]) -> int:
    return sum(len(study.get_trials(deepcopy=False, states=DONE_STATES)) for study in studies)


def _patiently(action: Callable[[], object], patience_s: float, shown: str):
    """`action()`, tried again while the database is unreachable, for at most `patience_s`; then one line."""
    deadline = time.monotonic() + patience_s
    while True:
        try:
            return action()
        except Exception as exc:  # noqa: BLE001 - only a lost database is handled, the rest re-raised
            lost = _lost_database(exc)
            if lost is None:
                raise
            if time.monotonic() >= deadline:
                reason = str(getattr(lost, "orig", None) or type(lost).__name__).strip().splitlines()[0]
                raise DigitedgeError(f"--storage {shown}: lost the database for {patience_s:.0f} s ({reason}); "
                                     f"the study is intact: run the same command to continue") from None
            time.sleep(min(5.0, max(0.1, deadline - time.monotonic())))


def _lost_database(exc: BaseException | None) -> BaseException | None:
    """The connection error behind `exc` (Optuna wraps them, and its own clean-up may fail after), or None."""
    import sqlalchemy.exc

    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError)):
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


def summary_text(studies: list[optuna.Study], seconds: float, outputs: dict[str, Path]) -> str:
    frame = trials_frame([study.get_trials(deepcopy=False, states=DONE_STATES) for study in studies])
    proposals = frame[frame["rung"] == 0] if len(frame) else frame
    trained = [int(((frame["rung"] == rung) & (frame["outcome"] == "trained")).sum()) if len(frame) else 0
               for rung in range(len(studies))]
    rejected = int((proposals["outcome"] == "rejected").sum()) if len(frame) else 0
    lines = [f"[search] {len(proposals)} proposal(s): {rejected} rejected before training; trained per rung "
             f"{' / '.join(map(str, trained))} ({seconds:.0f} s in this session)"]
    front = front_trials(studies[-1])
    if front:
        best = front[0]
        lines.append(f"[search] best within limits: trial {best.number}  {search_space.short(best.params)}  "
                     f"int8 val {best.values[0]:.2%}, flash {int(best.values[1]):,} B, RAM {int(best.values[2]):,} B")
        lines.append(f"[search] train it in full: digitedge run --config {outputs['best.toml']}")
    else:
        lines.append("[search] no trial trained in full within the limits yet: no best.toml")
    lines.extend(f"[search] {name}: the most accurate within {int(name[5:-5]):,} B of flash" for name in outputs
                 if name.startswith("best-"))
    lines.append(f"[search] -> {outputs['trials.csv'].parent}")
    return "\n".join(lines)
