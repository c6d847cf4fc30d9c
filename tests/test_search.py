"""digitedge search: a tiny search on synthetic data, rejection before training, resume, the bad inputs,
and two workers sharing one PostgreSQL study."""

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest

from digitedge import config as config_module
from digitedge.errors import DigitedgeError
from digitedge.search import objective as search_objective
from digitedge.search.budget import Limits
from digitedge.search.outputs import pareto_mask, read_front
from digitedge.search.space import TINY, smallest
from digitedge.search.study import open_storage, run_search
from search_worker import tiny_base, tiny_data

HERE = Path(__file__).parent
POSTGRES_ENV = "DIGITEDGE_TEST_POSTGRES_URL"


def search(run_dir, limits=Limits(), trials=2, **kwargs):
    return run_search(run_dir, tiny_base(), tiny_data(), limits, space=TINY, n_trials=trials, echo=lambda line: None,
                      **kwargs)


def test_pareto_front_of_hand_made_points():
    # (accuracy, flash, arena): B dominates D; E ties C and loses on arena; A, B, C trade off
    points = {"A": (0.99, 30000, 13000), "B": (0.98, 20000, 11000), "C": (0.97, 10000, 9000),
              "D": (0.97, 21000, 11000), "E": (0.97, 10000, 9500)}
    accuracy, flash, arena = zip(*points.values())
    on_front = dict(zip(points, pareto_mask(accuracy, flash, arena)))
    assert on_front == {"A": True, "B": True, "C": True, "D": False, "E": False}


def test_pruner_stops_only_the_bottom_quarter_at_an_epoch():
    study = optuna.create_study(directions=["maximize", "minimize", "minimize"])
    for final, curve in [(0.99, [0.90, 0.95, 0.97, 0.98]), (0.98, [0.88, 0.94, 0.96, 0.97]),
                         (0.97, [0.86, 0.93, 0.95, 0.96]), (0.96, [0.84, 0.92, 0.94, 0.95])]:
        study.add_trial(optuna.trial.create_trial(values=[final, 1000, 1000], user_attrs={
            "outcome": "trained", "epoch_val_accuracy": curve}))
    study.add_trial(optuna.trial.create_trial(values=[0.0, 9e9, 9e9], user_attrs={"outcome": "rejected"}))
    pruner, view = search_objective.default_pruner(), search_objective._AccuracyView(study)

    def progress(*scores):
        return search_objective._Progress(dict(enumerate(scores)))

    assert not pruner.prune(view, progress(0.80, 0.90, 0.93))  # warm-up: never before the 4th epoch
    assert not pruner.prune(view, progress(0.85, 0.92, 0.95, 0.965))  # third of four: goes on
    assert pruner.prune(view, progress(0.85, 0.92, 0.94, 0.95))  # below the bottom quarter: stopped


def test_tiny_search_writes_outputs_within_limits_and_best_toml_trains(tmp_path):
    small_flash = 9000  # the tiny space's largest models are ~12 KB: some proposals must be refused
    result = search(tmp_path, Limits(max_flash=small_flash), trials=3)
    folder = tmp_path / "search"
    trials = pd.read_csv(folder / "trials.csv")
    assert len(trials) == 3 and set(trials["outcome"]) <= {"trained", "rejected", "pruned"}
    trained = trials[trials["outcome"] == "trained"]
    assert len(trained) >= 1 and trained["val_accuracy"].between(0, 1).all()
    assert (trials.loc[trials["feasible"], "flash_bytes"] <= small_flash).all()
    pareto = pd.read_csv(folder / "pareto.csv")
    assert set(pareto["number"]) <= set(trials.loc[trials["feasible"], "number"])
    assert (folder / "pareto.png").read_bytes().startswith(b"\x89PNG")
    assert list(read_front(tmp_path)["number"]) == list(pareto["number"])
    best = config_module.load(folder / "best.toml")
    best_row = trials.set_index("number").loc[pareto["number"].iloc[0]]
    assert best_row["val_accuracy"] == trials.loc[trials["feasible"], "val_accuracy"].max()
    assert best.model.filters == [best_row["params_width1"], best_row["params_width2"]]
    assert result.study.user_attrs["digitedge_space"] == TINY.signature()

    from digitedge.model import build_model
    from digitedge.train import train_float

    best.train.epochs = 1
    data = tiny_data()
    trained_best = train_float(build_model(best.model), data.x_train, data.y_train, data.x_val, data.y_val,
                               best.train, best.seed, progress=False)
    assert len(trained_best.metrics) == 1


def test_over_budget_proposal_is_rejected_before_training(tmp_path, monkeypatch):
    def no_training(*args, **kwargs):
        raise AssertionError("an over-budget proposal was trained")

    monkeypatch.setattr("digitedge.train.train_float", no_training)
    storage = open_storage(f"sqlite:///{tmp_path / 'search' / 'study.db'}")
    study = optuna.create_study(storage=storage, study_name="digitedge", directions=["maximize", "minimize", "minimize"])
    study.set_user_attr("digitedge_space", TINY.signature())
    largest = {**smallest(TINY), "width1": 4, "width2": 8, "pools_depth2": "1", "head": "flatten"}
    study.enqueue_trial(largest)
    result = search(tmp_path, Limits(max_flash=6000), trials=1)
    (trial,) = result.study.get_trials()
    assert trial.user_attrs["outcome"] == "rejected"
    assert trial.user_attrs["flash_bytes"] > 6000 and "flash" in trial.user_attrs["reason"]
    assert "epoch_val_accuracy" not in trial.user_attrs
    assert "best.toml" not in result.outputs


def test_interrupted_search_keeps_finished_trials_and_resumes(tmp_path, monkeypatch):
    real = search_objective.make_objective
    calls = []

    def interrupt_second(*args, **kwargs):
        objective = real(*args, **kwargs)

        def wrapped(trial):
            calls.append(trial.number)
            if len(calls) == 2:
                raise KeyboardInterrupt
            return objective(trial)
        return wrapped

    monkeypatch.setattr("digitedge.search.study.make_objective", interrupt_second)
    first = search(tmp_path, trials=3)
    assert first.interrupted
    kept = [t.number for t in first.study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))]
    assert kept == [0] and len(pd.read_csv(tmp_path / "search" / "trials.csv")) == 1
    monkeypatch.setattr("digitedge.search.study.make_objective", real)
    second = search(tmp_path, trials=3)
    done = second.study.get_trials(states=(optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED))
    assert not second.interrupted and len(done) == 3 and done[0].number == 0
    assert done[0].values == first.study.get_trials()[0].values


@pytest.mark.parametrize("url, message", [
    ("not a url", "not a database URL"),
    ("postgresql://digitedge:secret@127.0.0.1:1/none", "cannot reach the database"),
])
def test_bad_storage_url_is_one_line(tmp_path, url, message):
    with pytest.raises(DigitedgeError, match=message) as error:
        search(tmp_path, storage_url=url)
    assert "\n" not in str(error.value) and "secret" not in str(error.value)


def test_study_with_another_space_is_refused_and_kept(tmp_path):
    search(tmp_path, trials=1)
    other = dataclasses.replace(TINY, epochs=(1, 3))
    with pytest.raises(DigitedgeError, match="another search space"):
        run_search(tmp_path, tiny_base(), tiny_data(), Limits(), space=other, n_trials=2, echo=lambda line: None)
    storage = open_storage(f"sqlite:///{tmp_path / 'search' / 'study.db'}")
    assert len(optuna.load_study(study_name="digitedge", storage=storage).get_trials()) == 1


def test_limits_no_proposal_can_meet(tmp_path):
    with pytest.raises(DigitedgeError, match="no proposal can meet the limits.*flash"):
        search(tmp_path, Limits(max_flash=500))
    storage = open_storage(f"sqlite:///{tmp_path / 'search' / 'study.db'}")
    assert optuna.study.get_all_study_summaries(storage) == []  # nothing created for a hopeless search


def test_cli_search_errors_are_one_line(tmp_path):
    command = [sys.executable, "-m", "digitedge", "search", "--run", str(tmp_path), "--trials", "1",
               "--storage", "mysql+nodriver://x@y/z"]
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(HERE.parent)})
    last = done.stderr.strip().splitlines()[-1]  # TensorFlow's start-up notes may come first
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert last.startswith("Error: --storage mysql+nodriver://x@y/z") and "not a database URL" in last


def test_two_workers_share_one_postgres_study(tmp_path):
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{POSTGRES_ENV} is not set: .ci/run starts PostgreSQL and sets it")
        pytest.skip(f"{POSTGRES_ENV} not set (a PostgreSQL URL; .ci/run starts a server and sets it)")
    study = f"test_{os.getpid()}_{np.random.default_rng().integers(1 << 30)}"
    env = {**os.environ, "PYTHONPATH": str(HERE.parent)}

    def worker(trials, name):
        return subprocess.Popen([sys.executable, str(HERE / "search_worker.py"), url, study, str(trials),
                                 str(tmp_path / name)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True)

    workers = [worker(4, "a"), worker(4, "b")]
    logs = [w.communicate(timeout=600)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0], logs
    storage = open_storage(url)
    trials = optuna.load_study(study_name=study, storage=storage).get_trials()
    finished = [t for t in trials if t.state.is_finished()]
    assert len(finished) >= 4 and len({t.number for t in trials}) == len(trials)
    assert len({t.user_attrs["worker"] for t in finished}) == 2, logs
    third = worker(len(finished) + 1, "c")
    log = third.communicate(timeout=600)[0]
    assert third.returncode == 0, log
    resumed = optuna.load_study(study_name=study, storage=storage).get_trials()
    assert len([t for t in resumed if t.state.is_finished()]) == len(finished) + 1
    assert f"{len(finished)} finished trial(s) so far" in log
    optuna.delete_study(study_name=study, storage=storage)
