"""Interrupting `digitedge run` or `digitedge train` keeps what finished, the manifest still matches
the disk, and the same command resumes: from the next stage, and inside training from the next epoch."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_cli_errors import copy_run, run_cli, small_config, snapshot  # noqa: E402

from digitedge.cgen.qemu import missing_tools  # noqa: E402

pytestmark = pytest.mark.mnist


def _interrupt_on_call(monkeypatch, module, name: str, call: int):
    """Make module.name raise KeyboardInterrupt (what Ctrl-C raises) on its `call`-th call."""
    real, calls = getattr(module, name), []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) >= call:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, interrupted)


def interrupt_at_second_epoch(monkeypatch) -> None:
    """Training raises KeyboardInterrupt (Ctrl-C) as epoch 2 begins, until monkeypatch.undo()."""
    from digitedge import train

    real_begin = train.EpochLog.on_epoch_begin

    def stop_at_second_epoch(self, epoch, logs=None):
        if epoch == 1:
            raise KeyboardInterrupt
        real_begin(self, epoch, logs)

    monkeypatch.setattr(train.EpochLog, "on_epoch_begin", stop_at_second_epoch)

def test_interrupted_run_resumes_from_the_next_stage(tmp_path, monkeypatch):
    from digitedge.runtime import tflm
    from digitedge.rundir import RunDir

    run = copy_run(tmp_path / "run")  # train, optimize and convert are done
    done_before = {name: data for name, data in snapshot(run).items() if name.split("/")[0] in ("train", "optimize",
                                                                                                  "tflite")}
    command = ["run", "--config", small_config(), "--out", run]
    _interrupt_on_call(monkeypatch, tflm, "tflm_support", 2)  # Ctrl-C in the middle of the micro stage
    code, out, err = run_cli(*command)
    monkeypatch.undo()
    assert code == 130 and err.strip().startswith("Interrupted: finished stages and artifacts are kept"), err
    assert all(f"[{stage}] already done" in out for stage in ("train", "optimize", "convert"))
    manifest = RunDir(run).read_manifest()
    assert sorted(manifest["stages"]) == ["convert", "optimize", "train"]
    assert RunDir(run).verify() == []  # the manifest describes exactly the files present
    assert {name: data for name, data in snapshot(run).items() if name in done_before} == done_before

    code, out, err = run_cli(*command)
    assert code == 0, err
    assert all(f"[{stage}] already done" in out for stage in ("train", "optimize", "convert"))
    assert "[micro] int8_qat" in out and "Report:" in out
    board = [] if missing_tools() else ["board"]  # the board stage skips itself without the ARM toolchain
    assert sorted(RunDir(run).read_manifest()["stages"]) == sorted(
        ["train", "optimize", "convert", "micro", "mobile", "evaluate", "benchmark", "report", *board])
    assert run_cli("verify", run)[0] == 0
    code, out, _ = run_cli(*command)  # a third time: nothing left to do
    assert code == 0 and "[report] already done" in out


def test_interrupted_training_resumes_from_the_last_epoch(tmp_path, monkeypatch):
    from digitedge.rundir import RunDir

    config = tmp_path / "two_epochs.toml"
    config.write_text("seed = 3\n[train]\nepochs = 2\ntrain_subset = 600\nbatch_size = 100\n")
    run = tmp_path / "run"
    command = ["train", "--config", config, "--out", run]

    interrupt_at_second_epoch(monkeypatch)
    code, _, err = run_cli(*command)
    monkeypatch.undo()
    assert code == 130, err
    first_epoch = pd.read_csv(run / "train" / "checkpoint" / "epochs.csv")
    assert first_epoch["epoch"].tolist() == [1]
    assert (run / "train" / "checkpoint" / "best_weights.npz").is_file()  # early stopping's state, for the resume
    assert "train" not in RunDir(run).read_manifest().get("stages", {})
    assert not (run / "train" / "model.keras").exists()

    code, out, err = run_cli(*command)
    assert code == 0, err
    assert "Epoch 2/2" in out and "Epoch 1/2" not in out  # Keras restarted at the second epoch
    metrics = pd.read_csv(run / "train" / "training_metrics.csv")
    assert metrics["epoch"].tolist() == [1, 2]
    columns = ["loss", "accuracy", "val_loss", "val_accuracy"]
    pd.testing.assert_frame_equal(metrics.loc[:0, columns], first_epoch[columns])  # epoch 1 was not redone
    record = RunDir(run).read_manifest()["stages"]["train"]
    assert record["epochs_run"] == 2
    assert not (run / "train" / "checkpoint").exists()  # resume state goes once training is done

    # the saved model is the best epoch's (restored across the interruption), judged on the validation split
    import tf_keras as keras

    from digitedge.data import load_mnist, normalize, split_validation
    from digitedge.modelio import load_keras_model

    data = load_mnist()
    _, _, x_val, y_val = split_validation(data.x_train, data.y_train, 5000, 3)
    model = load_keras_model(run / "train" / "model.keras")
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy())
    val_loss = model.evaluate(normalize(x_val), y_val, batch_size=100, verbose=0)
    best = metrics.loc[metrics["epoch"] == record["best_epoch"], "val_loss"].item()
    assert val_loss == pytest.approx(best, rel=1e-4)


def test_checkpoint_of_another_config_is_not_resumed(tmp_path, monkeypatch):
    """A checkpoint left by an interrupted run with other settings would load the wrong weights: it is dropped."""
    run = tmp_path / "run"
    (tmp_path / "a.toml").write_text("seed = 3\n[train]\nepochs = 2\ntrain_subset = 300\nbatch_size = 100\n")
    (tmp_path / "b.toml").write_text("seed = 3\n[train]\nepochs = 2\ntrain_subset = 300\nbatch_size = 100\n"
                                     "[model]\nfilters = [8, 8, 8]\n")
    interrupt_at_second_epoch(monkeypatch)
    assert run_cli("train", "--config", tmp_path / "a.toml", "--out", run)[0] == 130
    monkeypatch.undo()
    code, out, err = run_cli("train", "--config", tmp_path / "b.toml", "--out", run)
    assert code == 0, err
    assert "Epoch 1/2" in out
    assert pd.read_csv(run / "train" / "training_metrics.csv")["epoch"].tolist() == [1, 2]
