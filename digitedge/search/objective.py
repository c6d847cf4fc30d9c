"""One trial: propose, measure before training, reject over budget, else train on the validation
split's terms (never the test set), stop early when losing, and score the int8 model.

Objectives: (int8 validation accuracy, flash bytes, arena bytes). Optuna's Trial.report does not
take multi-objective studies, so each epoch's validation accuracy is kept as a user attribute and
Optuna's own PercentilePruner reads it through a single-objective view of the study.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass

import numpy as np
import optuna
import tf_keras as keras
from optuna.study import StudyDirection

from digitedge.config import Config
from digitedge.convert import litert_outputs
from digitedge.errors import DigitedgeError
from digitedge.search import space as search_space
from digitedge.search.budget import Budget, Limits, int8_tflite, measure_tflite, measure_untrained

EPOCH_ACCURACY = "epoch_val_accuracy"  # user attribute: [val accuracy after epoch 1, 2, ...]
OUTCOME = "outcome"  # user attribute: "trained", "rejected", "pruned"


@dataclass
class SearchData:
    """Normalized arrays the search may use: a training subset and the validation split. No test set."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray


class _AccuracyView:
    """The study as a single-objective one maximizing per-epoch validation accuracy, for a pruner."""

    direction = StudyDirection.MAXIMIZE

    def __init__(self, study: optuna.Study):
        self._study = study

    def get_trials(self, deepcopy: bool = False, states=None):
        return [with_epoch_values(trial) for trial in self._study.get_trials(deepcopy=False, states=states)
                if trial.user_attrs.get(OUTCOME, "trained") == "trained"]


def with_epoch_values(trial: optuna.trial.FrozenTrial) -> optuna.trial.FrozenTrial:
    """A copy of `trial` whose intermediate values are its per-epoch validation accuracies."""
    view = copy.copy(trial)
    view.intermediate_values = dict(enumerate(trial.user_attrs.get(EPOCH_ACCURACY, [])))
    return view


@dataclass
class _Progress:
    """What a pruner reads of the running trial: its per-epoch values so far."""

    intermediate_values: dict[int, float]

    @property
    def last_step(self) -> int | None:
        return max(self.intermediate_values) if self.intermediate_values else None


class _PruneLosers(keras.callbacks.Callback):
    def __init__(self, trial: optuna.Trial, pruner: optuna.pruners.BasePruner):
        super().__init__()
        self.trial, self.pruner, self.scores = trial, pruner, []

    def on_epoch_end(self, epoch, logs=None):
        self.scores.append(float(logs["val_accuracy"]))
        self.trial.set_user_attr(EPOCH_ACCURACY, self.scores)
        if self.pruner.prune(_AccuracyView(self.trial.study), _Progress(dict(enumerate(self.scores)))):
            raise optuna.TrialPruned(f"validation accuracy {self.scores[-1]:.2%} after epoch {epoch + 1}")


def default_pruner() -> optuna.pruners.BasePruner:
    """Stop a trial whose best epoch so far is in the bottom quarter of finished trials at that epoch
    (from the 4th epoch: a longer schedule warms up more slowly)."""
    return optuna.pruners.PercentilePruner(75.0, n_startup_trials=3, n_warmup_steps=3)  # 75: the top 75% go on


def record_budget(trial: optuna.Trial, budget: Budget, limits: Limits, final: bool) -> None:
    """Keep the figures on the trial; the `final` ones also become Optuna's constraints (> 0: infeasible)."""
    for key in ("flash_bytes", "arena_bytes", "macs", "parameters"):
        trial.set_user_attr(key, getattr(budget, key))
    trial.set_user_attr("constraints", limits.violations(budget))
    if final:
        for name, excess in zip(limits.names(), limits.violations(budget)):
            trial.set_constraint(name, excess)


def make_objective(space: search_space.SearchSpace, base: Config, data: SearchData, limits: Limits,
                   pruner: optuna.pruners.BasePruner):
    """The objective Optuna calls: returns (int8 val accuracy, flash, arena)."""

    def objective(trial: optuna.Trial) -> tuple[float, float, float]:
        started = time.perf_counter()
        try:
            return run_trial(trial)
        finally:
            trial.set_user_attr("seconds", round(time.perf_counter() - started, 2))

    def run_trial(trial: optuna.Trial) -> tuple[float, float, float]:
        from digitedge.model import build_model
        from digitedge.optimize import train_pruned, train_pruned_qat, train_qat
        from digitedge.train import make_deterministic, train_float

        params = search_space.suggest(trial, space)
        try:
            config = search_space.to_config(params, base)
        except DigitedgeError as exc:  # a geometry the input cannot hold: refused like an over-budget one
            trial.set_user_attr(OUTCOME, "rejected")
            trial.set_user_attr("reason", str(exc))
            raise optuna.TrialPruned(str(exc)) from None
        config.budget.flash_bytes = limits.max_flash or config.budget.flash_bytes  # best.toml names its board
        config.budget.ram_bytes = limits.max_ram or config.budget.ram_bytes
        trial.set_user_attr("config", _plain(config))
        make_deterministic(config.seed)
        budget = measure_untrained(config.model, data.x_train)
        excess = limits.describe_excess(budget)
        record_budget(trial, budget, limits, final=bool(excess))
        if excess:
            trial.set_user_attr(OUTCOME, "rejected")
            trial.set_user_attr("reason", excess)
            return 0.0, float(budget.flash_bytes), float(budget.arena_bytes)

        trial.set_user_attr(OUTCOME, "pruned")  # until it finishes
        model = build_model(config.model)
        result = train_float(model, data.x_train, data.y_train, data.x_val, data.y_val, config.train, config.seed,
                             progress=False, extra_callbacks=(_PruneLosers(trial, pruner),))
        args = (data.x_train, data.y_train, data.x_val, data.y_val, config.optimize, config.seed)
        if config.export.variant == "pruned_qat_int8":
            pruned, _ = train_pruned(result.model, *args, batch_size=config.train.batch_size)
            deployed, _ = train_pruned_qat(pruned, *args, batch_size=config.train.batch_size)
        else:
            deployed, _ = train_qat(result.model, *args, batch_size=config.train.batch_size)
        calibration = data.x_train[: base.export.representative_samples]
        tflite_bytes = int8_tflite(deployed, calibration, "trial")
        trained = measure_tflite(tflite_bytes, budget.parameters, "trial")  # the trained model's own figures
        record_budget(trial, trained, limits, final=True)
        accuracy = float((litert_outputs(tflite_bytes, data.x_val).argmax(axis=1) == data.y_val).mean())
        trial.set_user_attr("float_val_accuracy", float(result.metrics["val_accuracy"].max()))
        trial.set_user_attr(OUTCOME, "trained")
        return accuracy, float(trained.flash_bytes), float(trained.arena_bytes)

    return objective




def _plain(config: Config) -> dict:
    from digitedge.config import to_dict

    return to_dict(config)
