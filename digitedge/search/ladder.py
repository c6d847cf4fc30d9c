"""The fidelity ladder: successive halving as a thin layer over Optuna studies, one study per rung.

Every proposal within the limits is trained on the first rung's small budget; the best fraction of a
rung's finished trials (per band of flash between budgets, so each keeps its own contenders) is promoted by
`enqueue_trial` into the next rung's study, up to the full recipe. Trials are compared only inside
one rung's study, so only at equal budgets. All rungs live in the storage: workers sharing it share
every rung, and a restarted search picks up the promotions and queued trials where they were.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import optuna
from optuna.trial import FrozenTrial, TrialState

# successive halving's 1/eta with eta = 4. Promotions are asynchronous (ASHA): a trial in the top fraction
# of what its rung has finished so far goes up at once, so a rung promotes more than the fraction in the
# end. With eta = 3 a 27-minute search promoted 124 -> 59 -> 31 trials (about half at each step), and its
# full rung took 977 worker-seconds against rung 0's 1,107; with eta = 4, 184 -> 53 -> 17 (508 against 1,567).
PROMOTE_FRACTION = 1 / 4
OUTCOME = "outcome"  # user attribute: "trained", "rejected", "pruned"


@dataclass(frozen=True)
class Rung:
    """One training budget: images seen, images scored, float epochs (0: the proposal's full recipe)."""

    name: str
    train_images: int
    val_images: int
    epochs: int

    @property
    def full(self) -> bool:
        return self.epochs == 0


def default_ladder(train_images: int, val_images: int) -> tuple[Rung, ...]:
    """Seconds, then tens of seconds, then the proposal's own recipe on the search's whole subset.
    The first rung's ~100 steps are the fewest that still rank slow starters (separable blocks)
    sensibly: at ~30 steps they scored near chance."""
    return (Rung("small", min(4000, train_images), min(2000, val_images), 3),
            Rung("medium", min(6000, train_images), val_images, 5),
            Rung("full", train_images, val_images, 0))


def rung_study_name(name: str, index: int) -> str:
    return f"{name}.rung{index}"


def params_key(params: dict) -> str:
    return json.dumps(params, sort_keys=True, default=str)


def scored(trials: list[FrozenTrial]) -> list[FrozenTrial]:
    """Trials that trained to the end of their rung and fit every limit: the ones a rung ranks."""
    return [t for t in trials if t.state == TrialState.COMPLETE and t.user_attrs.get(OUTCOME) == "trained"
            and all(value <= 0 for value in t.constraints.values())]


def promoted(lower: list[FrozenTrial], budgets: list[int], fraction: float = PROMOTE_FRACTION) -> list[FrozenTrial]:
    """The top `fraction` (rounded down) by accuracy of the rung's scored trials within each band of flash
    between consecutive budgets (ties: smaller flash, then the earlier trial); most accurate first.

    Bands, not nested budgets: a small model competes with its own size class, and the bands share out
    the fraction, so each rung above costs no more than successive halving's 1/eta of the one below."""
    ranked = sorted(scored(lower), key=lambda t: (-t.values[0], t.values[1], t.number))
    chosen: list[FrozenTrial] = []
    floor = -math.inf
    for budget in [*budgets, math.inf]:
        band = [t for t in ranked if floor < t.values[1] <= budget]
        chosen += band[:math.floor(len(band) * fraction)]
        floor = budget
    return sorted(chosen, key=lambda t: (-t.values[0], t.values[1], t.number))


def pending_promotions(lower: list[FrozenTrial], upper: list[FrozenTrial], budgets: list[int],
                       fraction: float = PROMOTE_FRACTION) -> list[dict]:
    """Parameters of promoted lower-rung trials the upper rung does not hold yet (a failed attempt
    does not count: its configuration is due again)."""
    present = {params_key(t.system_attrs.get("fixed_params", t.params)) for t in upper if t.state != TrialState.FAIL}
    return [t.params for t in promoted(lower, budgets, fraction) if params_key(t.params) not in present]


@dataclass(frozen=True)
class Job:
    """What a worker runs next: a trial of rung `rung`, with `params` enqueued first (None: the
    study's next trial: a queued one if any, else the sampler's new proposal)."""

    rung: int
    params: dict | None


def next_job(rung_trials: list[list[FrozenTrial]], budgets: list[int], fraction: float = PROMOTE_FRACTION) -> Job:
    """The highest rung with work: a queued trial, else a due promotion; else a new proposal at rung 0."""
    for index in range(len(rung_trials) - 1, 0, -1):
        if any(t.state == TrialState.WAITING for t in rung_trials[index]):
            return Job(index, None)
        due = pending_promotions(rung_trials[index - 1], rung_trials[index], budgets, fraction)
        if due:
            return Job(index, due[0])
    return Job(0, None)


def run_job(studies: list[optuna.Study], job: Job, objective_for_rung, callbacks) -> None:
    """Run one trial of `job` in its rung's study (Optuna pops queued trials before sampling)."""
    study = studies[job.rung]
    if job.params is not None:  # not skip_if_exists: that would also skip a failed attempt's configuration
        study.enqueue_trial(job.params)
    try:
        study.optimize(objective_for_rung(job.rung), n_trials=1, callbacks=callbacks, catch=(), gc_after_trial=True)
    except ValueError as exc:  # SQLite has no row locks: two workers on one file can pop the same queued
        if not str(exc).startswith("Cannot tell a COMPLETE trial"):  # trial; the other one's result stands
            raise
