"""Search helpers shared by tests/test_search.py and its worker processes: tiny synthetic data, a
fake target and a fake objective whose scores are known in advance (seconds, not training).

As a script: python search_worker.py URL STUDY TRIALS RUN [fake SLEEP_S] — one worker on one study.
"""

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).parent))

import optuna  # noqa: E402

from conftest import synthetic_digits  # noqa: E402

from digitedge.config import Config, to_dict  # noqa: E402
from digitedge.search import space as search_space  # noqa: E402
from digitedge.search.budget import Budget, Limits  # noqa: E402
from digitedge.search.ladder import OUTCOME, Rung  # noqa: E402
from digitedge.search.objective import SearchData, set_constraints  # noqa: E402
from digitedge.search.space import TINY  # noqa: E402
from digitedge.search.study import Heartbeat, SearchPlan, run_search  # noqa: E402

FAKE_LADDER = (Rung("small", 64, 32, 1), Rung("medium", 128, 64, 2), Rung("full", 256, 64, 0))
FAST_HEARTBEAT = Heartbeat(interval_s=1, grace_s=4)


def tiny_data() -> SearchData:
    x, y = synthetic_digits(320, seed=0)
    return SearchData(x[:256], y[:256], x[256:], y[256:])


def tiny_base() -> Config:
    base = Config()
    base.export.representative_samples = 32
    return base


def fake_flash(params: dict) -> int:
    return 1000 * params["width1"] + 100 * params["width2"]


def fake_accuracy(params: dict, rung: int) -> float:
    """Rung 0 favours a high learning rate, the upper rungs a low one: a ladder that compared across
    rungs would promote the wrong trials."""
    low, high = TINY.learning_rate
    position = (params["learning_rate"] - low) / (high - low)
    return 0.5 + 0.4 * (position if rung == 0 else 1 - position)


class FakeTarget:
    """Flash from the widths alone, RAM constant: no conversion, no TFLite Micro."""

    name = "fake"
    flash_label = "fake flash"

    def measure(self, tflite_bytes: bytes, parameters: int) -> Budget:
        return Budget(1000, 100, 0, parameters)


def fake_objective_factory(sleep_s: float = 0.0):
    """make_objective's signature; the trial's figures follow fake_flash and fake_accuracy."""

    def factory(space, base, data, limits: Limits, target, rung: Rung):
        index = [r.name for r in FAKE_LADDER].index(rung.name)

        def objective(trial: optuna.Trial):
            params = search_space.suggest(trial, space)
            trial.set_user_attr("rung", rung.name)
            trial.set_user_attr("config", to_dict(search_space.to_config(params, base)))
            budget = Budget(fake_flash(params), 100, 0, 0)
            trial.set_user_attr("flash_bytes", budget.flash_bytes)
            trial.set_user_attr("ram_bytes", budget.ram_bytes)
            set_constraints(trial, limits, budget)
            if limits.describe_excess(budget):
                trial.set_user_attr(OUTCOME, "rejected")
                return 0.0, float(budget.flash_bytes), 100.0
            time.sleep(sleep_s)
            trial.set_user_attr(OUTCOME, "trained")
            return fake_accuracy(params, index), float(budget.flash_bytes), 100.0

        return objective

    return factory


def fake_search(run_dir, trials, limits=Limits(), **kwargs):
    plan = SearchPlan(limits, FakeTarget(), FAKE_LADDER, kwargs.pop("budgets", ()),
                      kwargs.pop("heartbeat", Heartbeat()),
                      kwargs.pop("database_patience_s", 120.0))
    return run_search(run_dir, tiny_base(), tiny_data(), plan, space=TINY, n_trials=trials,
                      echo=kwargs.pop("echo", lambda line: None),
                      objective_factory=fake_objective_factory(kwargs.pop("sleep_s", 0.0)), **kwargs)


def main() -> None:
    url, study, trials, run = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
    if len(sys.argv) > 5 and sys.argv[5] == "fake":
        fake_search(run, trials, storage_url=url, study_name=study, sleep_s=float(sys.argv[6]),
                    heartbeat=FAST_HEARTBEAT, database_patience_s=float(os.environ.get("SEARCH_PATIENCE_S", "120")),
                    echo=print)
    else:
        run_search(run, tiny_base(), tiny_data(), SearchPlan(Limits()), storage_url=url, study_name=study, space=TINY,
                   n_trials=trials)


if __name__ == "__main__":
    from digitedge.errors import DigitedgeError

    try:
        main()
    except DigitedgeError as error:  # as the CLI reports it
        print(f"Error: {error}", file=sys.stderr)
        sys.exit(1)
