"""One trial at one rung: propose, measure on the target before training, reject over the limits, else
train on the rung's budget (never the test set) and score the int8 model on the rung's validation images.

Objectives: (int8 validation accuracy, flash bytes, RAM bytes), as the target defines them. Below the
top rung a proposal trains its float model for the rung's epochs and is quantized after training; at
the top rung it runs its whole recipe (its epochs, then QAT or pruning + QAT) and, on the C target,
runs on QEMU so the measured figures replace the estimates.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np
import optuna

from digitedge.config import Config
from digitedge.convert import LOW_BIT, litert_outputs
from digitedge.errors import DigitedgeError
from digitedge.search import space as search_space
from digitedge.search.budget import Budget, Limits, converter_variant, int8_tflite, untrained_tflite, weight_bits
from digitedge.search.ladder import OUTCOME, Rung

FINAL_QEMU_IMAGES = 20  # validation digits streamed to a finalist's emulated board


@dataclass
class SearchData:
    """Normalized arrays the search may use: a training subset and the validation split. No test set."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray

    def for_rung(self, rung: Rung) -> "SearchData":
        """The first images of each split: every trial of a rung sees the same ones."""
        return SearchData(self.x_train[:rung.train_images], self.y_train[:rung.train_images],
                          self.x_val[:rung.val_images], self.y_val[:rung.val_images])


def record_budget(trial: optuna.Trial, budget: Budget) -> None:
    for key in ("flash_bytes", "ram_bytes", "macs", "parameters", "instructions", "measured_on"):
        trial.set_user_attr(key, getattr(budget, key))


def set_constraints(trial: optuna.Trial, limits: Limits, budget: Budget) -> None:
    """Optuna's constraints (> 0: over a limit): the sampler steers away, best_trials leaves them out."""
    for name, excess in limits.violations(budget).items():
        trial.set_constraint(name, excess)


def _qat(config: Config, float_model, data: SearchData):
    from digitedge.optimize import train_qat

    return train_qat(float_model, data.x_train, data.y_train, data.x_val, data.y_val, config.optimize, config.seed,
                     batch_size=config.train.batch_size)[0]


def _pruned_qat(config: Config, float_model, data: SearchData):
    from digitedge.optimize import train_pruned, train_pruned_qat

    args = (data.x_train, data.y_train, data.x_val, data.y_val, config.optimize, config.seed)
    pruned, _ = train_pruned(float_model, *args, batch_size=config.train.batch_size)
    return train_pruned_qat(pruned, *args, batch_size=config.train.batch_size)[0]


def _low_bit_qat(config: Config, float_model, data: SearchData):
    from digitedge.optimize.lowbit import low_bit_recipe, train_low_bit_qat

    return train_low_bit_qat(float_model, weight_bits(config, float_model), data.x_train, data.y_train, data.x_val,
                             data.y_val, seed=config.seed, batch_size=config.train.batch_size,
                             **low_bit_recipe(config.optimize))[0]


def _structured_int4_qat(config: Config, float_model, data: SearchData):
    from digitedge.optimize.structured import train_pruned_low_bit_qat, train_structured_for_low_bit

    images = (data.x_train, data.y_train, data.x_val, data.y_val)
    pruned, _ = train_structured_for_low_bit(float_model, *images, config.optimize, config.model, config.seed,
                                             batch_size=config.train.batch_size)
    return train_pruned_low_bit_qat(pruned, weight_bits(config, float_model), *images, config.optimize, config.seed,
                                    batch_size=config.train.batch_size)[0]


# export.variant -> its compression after float training
RECIPES = {"int8_qat": _qat, "pruned_qat_int8": _pruned_qat, "int4_qat": _low_bit_qat, "mixed_qat": _low_bit_qat,
           "pruned_int4_qat": _structured_int4_qat}


def deployed_model(config: Config, float_model, data: SearchData, rung: Rung):
    """The proposal's own compression recipe after float training. Below the top rung an int8 variant
    is quantized after training (QAT moves int8 accuracy little) and a low-bit one runs its recipe
    with every fine-tuning phase cut to one epoch, so its bits count in the rung's score."""
    if rung.full:
        return RECIPES[config.export.variant](config, float_model, data)
    if config.export.variant not in LOW_BIT:
        return float_model
    short = replace(config, optimize=replace(config.optimize, low_bit_epochs=1, prune_epochs=1))
    return RECIPES[config.export.variant](short, float_model, data)


def make_objective(space: search_space.SearchSpace, base: Config, data: SearchData, limits: Limits, target,
                   rung: Rung):
    """The objective Optuna calls for `rung`'s study: returns (int8 val accuracy, flash, RAM)."""
    rung_data = data.for_rung(rung)

    def objective(trial: optuna.Trial) -> tuple[float, float, float]:
        started = time.perf_counter()
        trial.set_user_attr("rung", rung.name)
        try:
            return run_trial(trial)
        finally:
            trial.set_user_attr("seconds", round(time.perf_counter() - started, 2))

    def run_trial(trial: optuna.Trial) -> tuple[float, float, float]:
        from digitedge.model import build_model
        from digitedge.train import make_deterministic, train_float

        params = search_space.suggest(trial, space)
        try:
            config = search_space.to_config(params, base)
        except DigitedgeError as exc:  # a geometry the input cannot hold: refused, not scored
            trial.set_user_attr(OUTCOME, "rejected")
            trial.set_user_attr("reason", str(exc))
            raise optuna.TrialPruned(str(exc)) from None
        config.budget.flash_bytes = limits.max_flash or config.budget.flash_bytes  # best.toml names its board
        config.budget.ram_bytes = limits.max_ram or config.budget.ram_bytes
        target.name_in(config)
        trial.set_user_attr("config", _plain(config))
        make_deterministic(config.seed)
        measuring = time.perf_counter()
        budget = target.measure(*untrained_tflite(config, data.x_train))
        trial.set_user_attr("measure_seconds", round(time.perf_counter() - measuring, 2))  # the verdict's cost
        record_budget(trial, budget)
        excess = limits.describe_excess(budget)
        if excess:
            set_constraints(trial, limits, budget)
            trial.set_user_attr(OUTCOME, "rejected")
            trial.set_user_attr("reason", excess)
            return 0.0, float(budget.flash_bytes), float(budget.ram_bytes)

        train_config = config.train if rung.full else replace(config.train, epochs=rung.epochs)
        model = build_model(config.model)
        result = train_float(model, rung_data.x_train, rung_data.y_train, rung_data.x_val, rung_data.y_val,
                             train_config, config.seed, progress=False)
        calibration = rung_data.x_train[: base.export.representative_samples]
        tflite_bytes = int8_tflite(deployed_model(config, result.model, rung_data, rung), calibration, "trial",
                                   converter_variant(config))
        if rung.full:
            val_uint8 = np.round(rung_data.x_val[:FINAL_QEMU_IMAGES] * 255).astype(np.uint8).reshape(-1, 28, 28)
            budget = target.measure_final(tflite_bytes, budget.parameters, val_uint8,
                                          rung_data.y_val[:FINAL_QEMU_IMAGES])
            record_budget(trial, budget)
        set_constraints(trial, limits, budget)
        accuracy = float((litert_outputs(tflite_bytes, rung_data.x_val).argmax(axis=1) == rung_data.y_val).mean())
        trial.set_user_attr("float_val_accuracy", float(result.metrics["val_accuracy"].max()))
        trial.set_user_attr(OUTCOME, "trained")
        return accuracy, float(budget.flash_bytes), float(budget.ram_bytes)

    return objective


def _plain(config: Config) -> dict:
    from digitedge.config import to_dict

    return to_dict(config)
