"""digitedge search: the fidelity ladder on a fake objective (who is promoted, equal-budget comparison,
resume mid-rung), flash budgets, the C target's figures against the compiler and QEMU, a tiny real
search, the bad inputs, and workers sharing one PostgreSQL study (a SIGKILLed worker's trial retried)."""

import dataclasses
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest
import sqlalchemy.exc

from arm_toolchain import needs_arm_toolchain
from digitedge import config as config_module
from digitedge.errors import DigitedgeError
from digitedge.search import ladder
from digitedge.search.budget import Limits
from digitedge.search.ladder import Job, next_job, params_key, promoted
from digitedge.search.outputs import read_front
from digitedge.search.space import TINY, smallest
from digitedge.search.study import SearchPlan, _patiently, open_storage, open_studies, run_search
from digitedge.search.targets import parse_budgets
from search_worker import (FAKE_LADDER, FakeTarget, fake_accuracy, fake_flash, fake_objective_factory, fake_search,
                           tiny_base, tiny_data)

HERE = Path(__file__).parent
POSTGRES_ENV = "DIGITEDGE_TEST_POSTGRES_URL"
DONE = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)


def trained(number, accuracy, flash, params=None, state=optuna.trial.TrialState.COMPLETE):
    """A finished trial as a rung holds it (`x` stands for a configuration)."""
    complete = state == optuna.trial.TrialState.COMPLETE
    trial = optuna.trial.create_trial(state=state, values=[accuracy, flash, 100] if complete else None,
                                      params=params or {"x": number},
                                      distributions={"x": optuna.distributions.IntDistribution(0, 100)},
                                      user_attrs={"outcome": "trained"}, system_attrs={"constraints": [0.0]})
    trial.number = number
    return trial


def test_promotion_is_the_top_fraction_per_flash_band():
    rung = [trained(n, acc, flash) for n, (acc, flash) in enumerate(
        [(0.90, 3000), (0.95, 9000), (0.80, 2000), (0.97, 9500), (0.85, 2500), (0.70, 1000), (0.75, 8000)])]
    over_limit = optuna.trial.create_trial(values=[0.99, 500, 100], params={"x": 50},
                                           distributions={"x": optuna.distributions.IntDistribution(0, 100)},
                                           user_attrs={"outcome": "trained"}, system_attrs={"constraints": [5.0]})
    third = 1 / 3
    assert [t.number for t in promoted(rung + [over_limit], [], third)] == [3, 1]  # 7 // 3 = 2, infeasible never
    assert [t.number for t in promoted(rung + [over_limit], [])] == [3]  # the default quarter: 7 // 4 = 1
    # up to 3,000 B: trials 0, 2, 4, 5 -> one promoted (0); 3,001 to 10,000 B: 1, 3, 6 -> one (3)
    assert [t.number for t in promoted(rung, [3000, 10000], third)] == [3, 0]
    assert [t.number for t in promoted(rung, [3000, 9000], third)] == [0]  # 9,001 B and up: two trials, none yet


def test_next_job_is_the_highest_rung_with_work():
    rung0 = [trained(n, 0.5 + n / 100, 1000, {"x": n}) for n in range(6)]
    third = 1 / 3
    assert next_job([rung0, [], []], [], third) == Job(1, {"x": 5})
    rung1 = [trained(0, 0.9, 1000, {"x": 5}), trained(1, 0.8, 1000, {"x": 4}), trained(2, 0.7, 1000, {"x": 3})]
    assert next_job([rung0, rung1, []], [], third) == Job(2, {"x": 5})
    failed = trained(0, 0, 0, {"x": 5}, state=optuna.trial.TrialState.FAIL)
    assert next_job([rung0, rung1, [failed]], [], third) == Job(2, {"x": 5})  # a failed attempt is due again
    assert next_job([rung0[:2], [], []], [], third) == Job(0, None)  # nothing due: a new proposal
    assert next_job([rung0, rung1, []], []) == Job(0, None)  # a quarter of three: none due at the top


def test_fake_ladder_promotes_by_equal_budget_only(tmp_path):
    fake_search(tmp_path, trials=40)
    storage = open_storage(f"sqlite:///{tmp_path / 'search' / 'study.db'}")
    studies = [optuna.load_study(study_name=f"digitedge.rung{i}", storage=storage) for i in range(3)]
    rungs = [study.get_trials(states=DONE) for study in studies]
    for lower, upper in zip(rungs, rungs[1:]):
        assert upper, "nothing was promoted"
        for trial in upper:  # promoted when it was in the top fraction of what the lower rung had finished then
            before = [t for t in lower if t.datetime_complete <= trial.datetime_start]
            assert params_key(trial.params) in {params_key(t.params) for t in promoted(before, [])}
    # the fake scores reverse between rung 0 and the upper rungs: the full rung must follow rung 1's ranking
    assert [t.values[0] for t in rungs[1]] == [fake_accuracy(t.params, 1) for t in rungs[1]]
    full = {params_key(t.params) for t in rungs[2]}
    best_medium = max(rungs[1][:3], key=lambda t: t.values[0])
    assert params_key(best_medium.params) in full
    frame = pd.read_csv(tmp_path / "search" / "trials.csv")
    assert list(frame["rung"].value_counts().sort_index()) == [len(r) for r in rungs]


def test_interrupted_search_resumes_at_the_rung_it_was_on(tmp_path, monkeypatch):
    real = fake_objective_factory()

    def interrupt_at_rung1(space, base, data, limits, target, rung):
        objective = real(space, base, data, limits, target, rung)

        def wrapped(trial):
            if rung.name == "medium":
                raise KeyboardInterrupt
            return objective(trial)
        return wrapped

    plan = SearchPlan(Limits(), ladder=FAKE_LADDER, target=FakeTarget())
    first = run_search(tmp_path, tiny_base(), tiny_data(), plan, space=TINY, n_trials=20, echo=lambda line: None,
                       objective_factory=interrupt_at_rung1)
    assert first.interrupted
    (lost,) = first.studies[1].get_trials()
    assert lost.state == optuna.trial.TrialState.FAIL
    kept = [(t.number, t.values) for t in first.studies[0].get_trials(states=DONE)]
    lines = []
    second = run_search(tmp_path, tiny_base(), tiny_data(), plan, space=TINY, n_trials=len(kept) + 1,
                        echo=lines.append, objective_factory=real)
    assert [(t.number, t.values) for t in second.studies[0].get_trials(states=DONE)] == kept
    (resumed,) = second.studies[1].get_trials(states=DONE)
    assert resumed.params == lost.system_attrs["fixed_params"]  # the promoted configuration, run again
    assert lines[1].startswith("[search] medium trial")  # the first trial after the restart


def test_budgets_write_the_most_accurate_within_each(tmp_path):
    result = fake_search(tmp_path, trials=45, budgets=(2500, 4500, 9000))
    full = result.studies[-1].get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    for budget in (2500, 4500, 9000):
        within = [t for t in full if t.values[1] <= budget]
        path = tmp_path / "search" / f"best-{budget}.toml"
        if not within:
            assert not path.exists()
            continue
        best = max(within, key=lambda t: (t.values[0], -t.values[1]))
        chosen = config_module.load(path)
        assert chosen.model.filters == [best.params["width1"], best.params["width2"]]
        assert chosen.budget.flash_bytes == budget and fake_flash(best.params) <= budget
    assert (tmp_path / "search" / "best-9000.toml").exists()
    front = read_front(tmp_path)
    assert set(front["number"]) == {t.number for t in result.studies[-1].best_trials}


@pytest.mark.parametrize("text", ["8192,4096", "8192,8192", "0,100", "8k,16k", "8192,", "-1"])
def test_budget_list_must_be_increasing_positive_integers(text):
    with pytest.raises(DigitedgeError, match=r"--budgets .*increasing positive integers") as error:
        parse_budgets(text)
    assert "\n" not in str(error.value)
    assert parse_budgets("8192,12288,16384,24576") == (8192, 12288, 16384, 24576)


def test_lost_database_is_retried_for_a_bounded_time_then_one_line():
    calls = []

    def unreachable():
        calls.append(time.monotonic())
        raise sqlalchemy.exc.OperationalError("SELECT 1", {}, Exception("connection refused\nmore"))

    with pytest.raises(DigitedgeError, match="lost the database for 1 s .*connection refused.*same command") as error:
        _patiently(unreachable, 1.0, "postgresql://u:***@h/db")
    assert len(calls) >= 2 and calls[-1] - calls[0] < 3 and "\n" not in str(error.value)
    recovering = iter([sqlalchemy.exc.OperationalError("x", {}, Exception("down")), None])

    def flaky():
        failure = next(recovering)
        if failure:
            raise failure
        return "done"

    assert _patiently(flaky, 5.0, "db") == "done"


def test_tiny_real_search_trains_the_ladder_and_writes_best_toml(tmp_path):
    tiny_ladder = (ladder.Rung("small", 128, 64, 1), ladder.Rung("full", 256, 64, 0))
    plan = SearchPlan(Limits(max_flash=9000), ladder=tiny_ladder)  # the tiny space's largest are ~12 KB
    run_search(tmp_path, tiny_base(), tiny_data(), plan, space=TINY, n_trials=6, echo=lambda line: None)
    trials = pd.read_csv(tmp_path / "search" / "trials.csv")
    assert set(trials["outcome"]) <= {"trained", "rejected"} and (trials["rung"] == 1).any()
    assert (trials.loc[trials["feasible"], "flash_bytes"] <= 9000).all()
    assert (trials.loc[trials["outcome"] == "rejected", "flash_bytes"] > 9000).all()
    full = trials[(trials["rung"] == 1) & trials["feasible"]]
    best = config_module.load(tmp_path / "search" / "best.toml")
    best_row = full.sort_values("val_accuracy", ascending=False).iloc[0]
    assert best.model.filters == [best_row["params_width1"], best_row["params_width2"]]
    assert best.train.epochs == best_row["params_epochs"]  # the top rung ran the proposal's own recipe
    assert (tmp_path / "search" / "pareto.png").read_bytes().startswith(b"\x89PNG")


def test_over_limit_proposal_is_rejected_before_training(tmp_path, monkeypatch):
    def no_training(*args, **kwargs):
        raise AssertionError("an over-limit proposal was trained")

    monkeypatch.setattr("digitedge.train.train_float", no_training)
    storage = open_storage(f"sqlite:///{tmp_path / 'search' / 'study.db'}")
    plan = SearchPlan(Limits(max_flash=6000), ladder=(ladder.Rung("small", 128, 64, 1),))
    largest = {**smallest(TINY), "width1": 4, "width2": 8, "pools_depth2": "1", "head": "flatten"}
    studies = open_studies(storage, "digitedge", TINY, plan.ladder, "tflm", 0)
    studies[0].enqueue_trial(largest)
    started = time.perf_counter()
    result = run_search(tmp_path, tiny_base(), tiny_data(), plan, space=TINY, n_trials=1, echo=lambda line: None)
    (trial,) = result.study.get_trials()
    assert trial.user_attrs["outcome"] == "rejected" and trial.user_attrs["measure_seconds"] <= 5
    assert trial.user_attrs["flash_bytes"] > 6000 and "flash" in trial.user_attrs["reason"]
    assert trial.constraints["flash"] > 0 and "best.toml" not in result.outputs
    assert time.perf_counter() - started < 120


@needs_arm_toolchain
@pytest.mark.parametrize("board, tolerance", [("m0", 0.25), ("m4", 0.25), ("m55", 0.5)])  # plain, DSP, MVE paths
def test_c_target_flash_matches_the_linked_image_and_cost_model_tracks_qemu(tmp_path, board, tolerance):
    """Stated tolerances: 25 % on the plain and DSP paths; 50 % on MVE, whose cost per MAC depends on how
    a filter row fills its 16-byte vectors, which a per-MAC model cannot see."""
    from digitedge.cgen.qemu import run_on_qemu
    from digitedge.search import cost_model
    from digitedge.search.space import SearchSpace, with_low_bit
    from digitedge.search.targets import CTarget

    data = tiny_data()
    images = np.round(data.x_val[:2] * 255).astype(np.uint8).reshape(-1, 28, 28)
    tflites = cost_model.calibration_tflites(with_low_bit(SearchSpace()), tiny_base(), data.x_train, 17, seed=1)
    calibration, held_out = tflites[:14], tflites[14:]
    model = cost_model.calibrate(board, calibration, images, data.y_val[:2])
    target = CTarget(board, model)
    for tflite in held_out:  # models the fit never saw
        estimate = target.measure(tflite, 0)
        measured = run_on_qemu(tflite, images, data.y_val[:2], board=board)
        assert estimate.flash_bytes == measured.model_flash_bytes  # the compiler's own figure, not a model
        assert abs(estimate.instructions - measured.instructions_per_inference) <= tolerance * \
            measured.instructions_per_inference
        assert estimate.ram_bytes >= measured.ram_bytes - 64
    assert model.worst_relative_error < tolerance


def test_a_cost_model_file_of_other_features_or_unreadable_is_fitted_again(tmp_path):
    import json

    from digitedge.search.cost_model import FEATURES, CostModel

    path = tmp_path / "cost-m4.json"
    CostModel("m4", tuple(1.0 for _ in FEATURES), 300, 24, 0.1).save(path)
    assert CostModel.load_current(path).features == FEATURES  # saved with the names of its features
    older = json.loads(path.read_text())
    del older["features"]
    older["coefficients"] = older["coefficients"][:-1]  # an earlier version's file: one feature fewer
    path.write_text(json.dumps(older))
    assert CostModel.load_current(path) is None
    path.write_text("{not json")
    assert CostModel.load_current(path) is None


@needs_arm_toolchain
def test_c_target_limits_reject_before_training(tmp_path, monkeypatch):
    from digitedge.search.cost_model import CostModel, FEATURES
    from digitedge.search.targets import CTarget

    monkeypatch.setattr("digitedge.train.train_float", lambda *a, **k: pytest.fail("trained an over-limit proposal"))
    cost = CostModel("m4", tuple(1.0 for _ in FEATURES), 300, 0, 0.0)  # 1 instruction per MAC: any model is > 1,000
    plan = SearchPlan(Limits(max_instructions=10**9), target=CTarget("m4", cost),
                      ladder=(ladder.Rung("small", 128, 64, 1),))
    storage = open_storage(f"sqlite:///{tmp_path / 'search' / 'study.db'}")
    studies = open_studies(storage, "digitedge", TINY, plan.ladder, plan.target.name, 0)
    studies[0].enqueue_trial({**smallest(TINY), "width1": 4, "width2": 8, "pools_depth2": "1", "head": "flatten"})
    plan = SearchPlan(Limits(max_flash=4000), target=plan.target, ladder=plan.ladder)
    result = run_search(tmp_path, tiny_base(), tiny_data(), plan, space=TINY, n_trials=1, echo=lambda line: None)
    (trial,) = result.study.get_trials()
    assert trial.user_attrs["outcome"] == "rejected" and "flash" in trial.user_attrs["reason"]
    assert trial.user_attrs["measured_on"] == "arm-none-eabi-gcc + cost model"
    assert trial.user_attrs["measure_seconds"] <= 5


def _cli(tmp_path, *args, env=None):
    command = [sys.executable, "-m", "digitedge", "search", "--run", str(tmp_path), "--trials", "1", *args]
    done = subprocess.run(command, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(HERE.parent), **(env or {})})
    return done, done.stderr.strip().splitlines()[-1]  # TensorFlow's start-up notes may come first


def test_cli_search_errors_are_one_line(tmp_path):
    done, last = _cli(tmp_path, "--storage", "mysql+nodriver://x@y/z")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert last.startswith("Error: --storage mysql+nodriver://x@y/z") and "not a database URL" in last
    done, last = _cli(tmp_path, "--budgets", "16384,8192")
    assert done.returncode == 1 and last == ("Error: --budgets 16384,8192: give increasing positive integers in "
                                             "bytes, e.g. 8192,12288,16384,24576")
    empty = tmp_path / "bin"
    empty.mkdir()
    done, last = _cli(tmp_path, "--target", "c", env={"PATH": str(empty)})
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert last.startswith("Error: --target c needs arm-none-eabi-gcc") and \
        "gcc-arm-none-eabi libnewlib-arm-none-eabi" in last
    assert not (tmp_path / "search").exists()


def test_study_with_another_space_is_refused_and_kept(tmp_path):
    fake_search(tmp_path, trials=1)
    other = dataclasses.replace(TINY, epochs=(1, 3))
    plan = SearchPlan(Limits(), target=FakeTarget(), ladder=FAKE_LADDER)
    with pytest.raises(DigitedgeError, match="another search space"):
        run_search(tmp_path, tiny_base(), tiny_data(), plan, space=other, n_trials=2, echo=lambda line: None)
    storage = open_storage(f"sqlite:///{tmp_path / 'search' / 'study.db'}")
    assert len(optuna.load_study(study_name="digitedge.rung0", storage=storage).get_trials()) == 1


def test_limits_no_proposal_can_meet(tmp_path):
    with pytest.raises(DigitedgeError, match="no proposal can meet the limits.*flash"):
        run_search(tmp_path, tiny_base(), tiny_data(), SearchPlan(Limits(max_flash=500)), space=TINY, n_trials=1,
                   echo=lambda line: None)
    storage = open_storage(f"sqlite:///{tmp_path / 'search' / 'study.db'}")
    assert optuna.study.get_all_study_summaries(storage) == []  # nothing created for a hopeless search


@pytest.mark.parametrize("url, message", [
    ("not a url", "not a database URL"),
    ("postgresql://digitedge:secret@127.0.0.1:1/none", "cannot reach the database"),
])
def test_bad_storage_url_is_one_line(tmp_path, url, message):
    with pytest.raises(DigitedgeError, match=message) as error:
        fake_search(tmp_path, trials=1, storage_url=url)
    assert "\n" not in str(error.value) and "secret" not in str(error.value)


def _postgres_url() -> str:
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{POSTGRES_ENV} is not set: .ci/run starts PostgreSQL and sets it")
        pytest.skip(f"{POSTGRES_ENV} not set (a PostgreSQL URL; .ci/run starts a server and sets it)")
    return url


def _worker(url, study, trials, run, *extra, env=None):
    env = {**os.environ, "PYTHONPATH": str(HERE.parent), **(env or {})}
    return subprocess.Popen([sys.executable, str(HERE / "search_worker.py"), url, study, str(trials), str(run),
                             *extra], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_two_workers_share_one_postgres_study(tmp_path):
    url = _postgres_url()
    study = f"test_{os.getpid()}_{np.random.default_rng().integers(1 << 30)}"
    workers = [_worker(url, study, 4, tmp_path / "a"), _worker(url, study, 4, tmp_path / "b")]
    logs = [w.communicate(timeout=600)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0], logs
    storage = open_storage(url)
    names = [s.study_name for s in optuna.study.get_all_study_summaries(storage) if s.study_name.startswith(study)]
    trials = [t for name in names for t in optuna.load_study(study_name=name, storage=storage).get_trials()]
    finished = [t for t in trials if t.state.is_finished()]
    assert len(finished) >= 4 and len({t.user_attrs["worker"] for t in finished}) == 2, logs
    third = _worker(url, study, len(finished) + 1, tmp_path / "c")
    log = third.communicate(timeout=600)[0]
    assert third.returncode == 0 and f"{len(finished)} finished trial(s) so far" in log, log
    for name in names:
        optuna.delete_study(study_name=name, storage=storage)


def test_sigkilled_worker_trial_is_failed_and_rerun_by_the_other(tmp_path):
    url = _postgres_url()
    study = f"kill_{os.getpid()}_{np.random.default_rng().integers(1 << 30)}"
    storage = open_storage(url)
    victim = _worker(url, study, 1000, tmp_path / "a", "fake", "30")  # every trial sleeps 30 s
    rung0 = f"{study}.rung0"
    deadline = time.monotonic() + 120
    running = []
    while not running and time.monotonic() < deadline:
        time.sleep(1)
        if rung0 in {s.study_name for s in optuna.study.get_all_study_summaries(storage)}:
            running = optuna.load_study(study_name=rung0, storage=storage).get_trials(
                states=(optuna.trial.TrialState.RUNNING,))
    assert running, "the first worker never started a trial"
    time.sleep(2)  # its parameters are drawn
    (killed,) = optuna.load_study(study_name=rung0, storage=storage).get_trials(
        states=(optuna.trial.TrialState.RUNNING,))
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    before = {t.number: (t.state, t.params) for t in optuna.load_study(study_name=rung0, storage=storage).get_trials()}
    rescuer = _worker(url, study, 1, tmp_path / "b", "fake", "0")
    log = rescuer.communicate(timeout=300)[0]
    assert rescuer.returncode == 0, log
    after = optuna.load_study(study_name=rung0, storage=storage).get_trials()
    by_number = {t.number: t for t in after}
    assert by_number[killed.number].state == optuna.trial.TrialState.FAIL  # the heartbeat's verdict
    retried = [t for t in after if t.system_attrs.get("failed_trial") == killed.number]
    assert len(retried) == 1 and retried[0].state == optuna.trial.TrialState.COMPLETE
    assert retried[0].params == killed.params and retried[0].user_attrs["worker"] != killed.user_attrs["worker"]
    for number, (state, params) in before.items():  # nothing else in the study changed
        if number != killed.number:
            assert (by_number[number].state, by_number[number].params) == (state, params)
    for index in range(3):
        optuna.delete_study(study_name=f"{study}.rung{index}", storage=storage)


@pytest.fixture
def own_postgres():
    """A throw-away PostgreSQL cluster on 127.0.0.1 this test may stop and start (as .ci/run makes its own)."""
    import glob
    import shutil
    import socket

    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        if os.environ.get("CI") == "true":
            pytest.fail("PostgreSQL's server binaries are missing: .ci/run installs postgresql")
        pytest.skip("PostgreSQL's server binaries are not installed (apt-get install -y postgresql)")
    bin_dir = Path(found[-1]).parent
    folder = Path(tempfile.mkdtemp(prefix="digitedge-pg-"))  # pytest's root-only folder is closed to postgres
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else []
    if as_postgres:
        shutil.chown(folder, "postgres")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    data = folder / "data"
    subprocess.run([*as_postgres, bin_dir / "initdb", "-D", data, "-U", "digitedge", "--auth=trust"], check=True,
                   capture_output=True)
    options = f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={folder}"

    def pg_ctl(*args):
        subprocess.run([*as_postgres, bin_dir / "pg_ctl", "-D", data, "-w", *args], check=True, capture_output=True)

    def start():
        pg_ctl("-l", folder / "server.log", "-o", options, "start")

    def stop():
        pg_ctl("-m", "fast", "stop")

    start()
    subprocess.run([*as_postgres, bin_dir / "createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "digitedge",
                    "search"], check=True, capture_output=True)
    try:
        yield f"postgresql://digitedge@127.0.0.1:{port}/search", start, stop
    finally:
        subprocess.run([*as_postgres, bin_dir / "pg_ctl", "-D", data, "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def test_postgres_restart_stops_workers_in_one_line_and_the_study_continues(tmp_path, own_postgres):
    url, start, stop = own_postgres
    env = {"SEARCH_PATIENCE_S": "10"}
    workers = [_worker(url, "restart", 1000, tmp_path / name, "fake", "1", env=env) for name in ("a", "b")]
    storage = open_storage(url)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and \
            len([t for t in _all_trials(storage, "restart") if t.state.is_finished()]) < 3:
        time.sleep(1)
    stop()
    logs = [w.communicate(timeout=120)[0] for w in workers]
    for worker, log in zip(workers, logs):
        assert worker.returncode == 1 and "Traceback" not in log, log
        assert log.strip().splitlines()[-1].startswith(f"Error: --storage {url}: lost the database for 10 s")
    start()
    storage = open_storage(url)
    finished = [t for t in _all_trials(storage, "restart") if t.state.is_finished()]
    assert len(finished) >= 3
    again = _worker(url, "restart", len(finished) + 2, tmp_path / "c", "fake", "0")
    log = again.communicate(timeout=300)[0]
    assert again.returncode == 0 and f"{len(finished)} finished trial(s) so far" in log, log
    later = {(t.number, t.state, tuple(t.values or ())) for t in _all_trials(storage, "restart")}
    assert {(t.number, t.state, tuple(t.values or ())) for t in finished} <= later  # kept as they were


def _all_trials(storage, study):
    names = [s.study_name for s in optuna.study.get_all_study_summaries(storage) if s.study_name.startswith(study)]
    return [t for name in sorted(names) for t in optuna.load_study(study_name=name, storage=storage).get_trials()]


def test_low_bit_knobs_reach_the_config_and_the_flash_before_training():
    from digitedge.search import space as search_space
    from digitedge.search.budget import untrained_tflite
    from digitedge.search.objective import RECIPES

    base = {**smallest(search_space.TINY_LOW_BIT), "width1": 4, "width2": 8, "pools_depth2": "1", "head": "flatten"}
    mixed = search_space.to_config({**base, "variant": "mixed_qat", "bits1": 8, "bits2": 2, "bits_head": 4},
                                   tiny_base())
    assert mixed.optimize.layer_bits == [8, 2, 4] and mixed.export.variant == "mixed_qat"
    separable = search_space.layer_bits({"depth": 2, "bits1": 8, "bits2": 4, "separable2": True, "bits_head": 2})
    assert separable == [8, 4, 4, 2]  # the depthwise and 1x1 layers of block 2 share its bits
    pruned = search_space.to_config({**base, "variant": "pruned_int4_qat", "sparsity": 0.5, "prune_structure": "2:4"},
                                    tiny_base())
    assert (pruned.optimize.prune_structure, pruned.optimize.target_sparsity) == ("2:4", 0.5)
    for structure, field in (("block", "block_sparsity"), ("filters", "filter_sparsity")):  # the knob reaches it
        pruned = search_space.to_config({**base, "variant": "pruned_int4_qat", "sparsity": 0.65,
                                         "prune_structure": structure}, tiny_base())
        assert getattr(pruned.optimize, field) == 0.65
    assert set(search_space.LOW_BIT_VARIANTS) <= set(RECIPES)
    data = tiny_data()
    int8_bytes, _ = untrained_tflite(search_space.to_config({**base, "variant": "int8_qat"}, tiny_base()), data.x_train)
    int4_bytes, _ = untrained_tflite(search_space.to_config({**base, "variant": "int4_qat"}, tiny_base()), data.x_train)
    assert len(int4_bytes) < len(int8_bytes) * 0.75  # packed INT4 filters counted before training
