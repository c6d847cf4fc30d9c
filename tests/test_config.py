"""Config loading: defaults, then a TOML file, then options; every mistake is one line naming the key
(and the file when the value came from it)."""

from __future__ import annotations

import pytest

from digitedge import config as config_module
from digitedge.errors import DigitedgeError


def _load(tmp_path, text: str, overrides: dict | None = None):
    path = tmp_path / "run.toml"
    path.write_text(text)
    return config_module.load(path, overrides)


def test_file_then_overrides_then_round_trip(tmp_path):
    loaded = _load(tmp_path, "seed = 5\n[train]\nepochs = 4\nlearning_rate = 1\n", {"train.epochs": 2, "seed": None})
    assert (loaded.seed, loaded.train.epochs, loaded.train.learning_rate) == (5, 2, 1.0)
    assert loaded.train.batch_size == config_module.TrainConfig().batch_size  # untouched keys keep defaults
    again = tmp_path / "again.toml"
    again.write_text(config_module.to_toml(loaded))
    assert config_module.load(again) == loaded


@pytest.mark.parametrize("text, overrides, message", [
    ("[train]\nepoch = 3\n", None, "run.toml: unknown config key 'train.epoch'; did you mean 'train.epochs'?"),
    ("[optimise]\nqat_epochs = 3\n", None, "run.toml: unknown config key 'optimise'; did you mean 'optimize'?"),
    ("sed = 3\n", None, "run.toml: unknown config key 'sed'; did you mean 'seed'?"),
    ('[train]\nepochs = "5"\n', None, "run.toml: config key 'train.epochs' must be int, got str ('5')"),
    ("[train]\nepochs = 2.5\n", None, "run.toml: config key 'train.epochs' must be int, got float (2.5)"),
    ("[train]\naugment = 1\n", None, "run.toml: config key 'train.augment' must be bool, got int (1)"),
    ("[train]\nepochs = true\n", None, "run.toml: config key 'train.epochs' must be int, got bool (True)"),
    ("train = 3\n", None, "run.toml: config key 'train' must be a table"),
    ("[optimize]\ntechniques = \"qat\"\n", None, "run.toml: config key 'optimize.techniques' must be a list, got str"),
    ("[train]\nepochs = 0\n", None, "run.toml: train.epochs must be at least 1, got 0"),
    ("[train]\nepochs = -3\n", None, "run.toml: train.epochs must be at least 1, got -3"),
    ("[optimize]\ntarget_sparsity = 1.0\n", None, "run.toml: optimize.target_sparsity must be in (0, 1), got 1.0"),
    ("[optimize]\ntarget_sparsity = 0\n", None, "run.toml: optimize.target_sparsity must be in (0, 1), got 0.0"),
    ("[optimize]\nfirst_filter_sparsity = 1\n", None,
     "run.toml: optimize.first_filter_sparsity must be in [0, 1), got 1.0"),
    ("[optimize]\ntechniques = [\"quant\"]\n", None, "run.toml: optimize.techniques must be among qat, prune, prune_qat, int4_qat, "
                                              "mixed_qat, pruned_int4_qat"),
    ("[export]\nrepresentative_samples = 0\n", None, "run.toml: export.representative_samples must be at least 1, got 0"),
    ("", {"train.epochs": 0}, "train.epochs must be at least 1, got 0"),  # from an option: no file to blame
    ("[train]\nepochs = 0\n", {"optimize.target_sparsity": 2.0},
     "run.toml: train.epochs must be at least 1, got 0"),
    ("[train\n", None, "is not valid TOML"),
])
def test_bad_config_is_one_line(tmp_path, text, overrides, message):
    with pytest.raises(DigitedgeError) as caught:
        _load(tmp_path, text, overrides)
    text_of_error = str(caught.value)
    assert "\n" not in text_of_error
    assert message in text_of_error
    if "run.toml" not in message:  # a value from an option is reported without blaming the file
        assert not text_of_error.startswith(str(tmp_path))


def test_missing_config_file(tmp_path):
    with pytest.raises(DigitedgeError, match=r"config file .*nope.toml does not exist"):
        config_module.load(tmp_path / "nope.toml")


def test_unknown_override_key_is_an_error():
    with pytest.raises(DigitedgeError, match="unknown config key 'train.epoch'; did you mean 'train.epochs'"):
        config_module.load(None, {"train.epoch": 3})
