"""One typed configuration for a whole run: defaults, a TOML file, then CLI overrides.

The exact config is saved beside every run (config.toml) so the run can be reproduced.
"""

from __future__ import annotations

import dataclasses
import difflib
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path

from digitedge.errors import DigitedgeError

ARCHS = ("compact", "seed")
HEADS = ("flatten", "gap")
TECHNIQUES = ("qat", "prune", "prune_qat", "int4_qat", "mixed_qat", "pruned_int4_qat")
WEIGHT_BITS = (8, 4, 2)  # what optimize.layer_bits may hold (2-bit weights are stored as INT4 in [-1, 1])
PRUNE_STRUCTURES = ("block", "2:4", "filters", "unstructured")  # of the pruned_int4_qat model
LR_SCHEDULES = ("constant", "cosine")  # of the low-bit QAT's learning rate


@dataclass
class DataConfig:
    validation_size: int = 5000  # carved from the 60k training images with `seed`


@dataclass
class ModelConfig:
    arch: str = "compact"  # "compact" (MCU-sized) or "seed" (the seed notebook's classic CNN)
    # one conv block per entry; [10, 28, 40] for 16 epochs is `digitedge search`'s pick (reports/search/):
    # int8 99.52% in 23,944 B and an 11,472 B arena, against [12, 32, 48]'s 30,312 B and 13,248 B
    filters: list[int] = field(default_factory=lambda: [10, 28, 40])
    kernel_sizes: list[int] = field(default_factory=lambda: [3, 3, 3])
    separable: list[bool] = field(default_factory=lambda: [False, False, False])  # depthwise + 1x1 (not the first)
    pool_after: list[int] = field(default_factory=lambda: [1, 3])  # 2x2 max pool after these blocks (1-based)
    head: str = "flatten"  # "flatten" (+ dense) or "gap" (global average pool + dense)
    dropout: float = 0.1

    def feature_map_sizes(self) -> list[int]:
        """Height (= width) after each block, pooling included; < 1 means the input is too small for it."""
        size, sizes = 28, []
        for index, kernel in enumerate(self.kernel_sizes, 1):
            size -= kernel - 1
            if index in self.pool_after:
                size //= 2
            sizes.append(size)
        return sizes


@dataclass
class TrainConfig:
    epochs: int = 16
    batch_size: int = 128
    learning_rate: float = 3e-3
    patience: int = 4  # early stopping on val_loss
    augment: bool = True
    max_shift_pixels: int = 1  # random translation of each training image (2 regularizes a 10-epoch run too much)
    train_subset: int = 0  # 0 = all training images; >0 for smoke tests


@dataclass
class OptimizeConfig:
    techniques: list[str] = field(default_factory=lambda: list(TECHNIQUES))
    qat_epochs: int = 2
    prune_epochs: int = 4
    prune_qat_epochs: int = 2
    target_sparsity: float = 0.75
    learning_rate: float = 1e-4
    prune_learning_rate: float = 5e-4
    # 4-bit and mixed-precision QAT (and the QAT of the structured-pruned model): chosen on validation
    # (scripts/tune_lowbit.py; README "Below 8 bits")
    low_bit_epochs: int = 4
    low_bit_learning_rate: float = 5e-4
    low_bit_shift_pixels: int = 1  # random shift of the low-bit QAT's (and filter removal's) training images
    low_bit_schedule: str = "cosine"  # decay from low_bit_learning_rate to 0 over the low-bit epochs, or "constant"
    # bits of each conv/dense layer's weights in the mixed_qat model, in model order (8, 4 or 2);
    # empty: the first layer 8-bit, the last 2-bit, the others 4-bit (BitNetMCU's finding)
    layer_bits: list[int] = field(default_factory=list)
    # pruned_int4_qat's pruning: whole filters removed (a narrower model), zeros in whole prune_block blocks
    # (the generated C skips them), 2 of every 4 input channels, or anywhere (from the unstructured pruned model)
    prune_structure: str = "filters"
    prune_block: list[int] = field(default_factory=lambda: [4, 2])  # "block": filter taps x output channels
    block_sparsity: float = 0.5  # "block": the share of zeros (2:4 fixes its own, 50 %)
    filter_sparsity: float = 0.35  # "filters": the share of filters removed from every convolution after the first
    first_filter_sparsity: float = 0.3  # "filters": the share removed from the first convolution (0: keep them all)


@dataclass
class ExportConfig:
    representative_samples: int = 500
    variant: str = "auto"  # the int8 model a user deploys; auto: the smallest TFLM runs within tolerance that fits
    accuracy_tolerance_pp: float = 0.1  # how far below float (points) a variant may be and still be recommended
    arena_margin: float = 0.10  # added to the measured TFLM arena, then rounded up to 16 bytes
    sample_digits: int = 10


@dataclass
class BudgetConfig:
    """The target board's memory, in bytes (0: no limit): a variant that does not fit is never recommended."""

    flash_bytes: int = 0
    ram_bytes: int = 0
    target: str = "tflm"  # what `digitedge search` measures them on: "tflm" or "c" (the generated C on board.boards)


@dataclass
class EvaluateConfig:
    seed_run: str = ""  # a run trained with --arch seed: its float model becomes the report's seed_float row


@dataclass
class BenchmarkConfig:
    runs: int = 300
    warmup: int = 30
    threads: int = 1
    eval_limit: int = 0  # 0 = full 10,000-image test set


@dataclass
class BoardConfig:
    boards: str = "m4"  # the board stage's cores (digitedge.cgen.boards): names, comma-separated, or "all"
    images: int = 1000  # real test digits streamed to each emulated board


@dataclass
class Config:
    seed: int = 42
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    optimize: OptimizeConfig = field(default_factory=OptimizeConfig)
    export: ExportConfig = field(default_factory=ExportConfig)
    budget: BudgetConfig = field(default_factory=BudgetConfig)
    evaluate: EvaluateConfig = field(default_factory=EvaluateConfig)
    benchmark: BenchmarkConfig = field(default_factory=BenchmarkConfig)
    board: BoardConfig = field(default_factory=BoardConfig)

    def validate(self) -> "Config":
        """Reject values no run could use; messages name the key."""
        checks = [
            (self.train.epochs >= 1, f"train.epochs must be at least 1, got {self.train.epochs}"),
            (self.train.batch_size >= 1, f"train.batch_size must be at least 1, got {self.train.batch_size}"),
            (self.train.learning_rate > 0, "train.learning_rate must be positive"),
            (self.train.train_subset >= 0, "train.train_subset must be 0 (all) or positive"),
            (self.model.arch in ARCHS, f"model.arch must be one of {', '.join(ARCHS)}"),
            (1 <= len(self.model.filters) <= 6 and all(f >= 1 for f in self.model.filters),
             "model.filters must be one to six positive integers"),
            (len(self.model.kernel_sizes) == len(self.model.filters) and all(k >= 1 for k in self.model.kernel_sizes),
             "model.kernel_sizes must hold one positive integer per entry of model.filters"),
            (len(self.model.separable) == len(self.model.filters) and not self.model.separable[:1] == [True],
             "model.separable must hold one boolean per entry of model.filters, the first false"),
            (len(set(self.model.pool_after)) == len(self.model.pool_after)
             and all(1 <= p <= len(self.model.filters) for p in self.model.pool_after),
             f"model.pool_after must list distinct block numbers in 1..{len(self.model.filters)}"),
            (self.model.head in HEADS, f"model.head must be one of {', '.join(HEADS)}"),
            (self.model.arch != "compact" or len(self.model.kernel_sizes) != len(self.model.filters)
             or min(self.model.feature_map_sizes()) >= 1,
             "model.kernel_sizes and model.pool_after shrink the 28x28 input below 1x1"),
            (0 <= self.model.dropout < 1, "model.dropout must be in [0, 1)"),
            (0 < self.optimize.target_sparsity < 1,
             f"optimize.target_sparsity must be in (0, 1), got {self.optimize.target_sparsity}"),
            (0 < self.optimize.block_sparsity < 1,
             f"optimize.block_sparsity must be in (0, 1), got {self.optimize.block_sparsity}"),
            (0 <= self.optimize.low_bit_shift_pixels <= 4,
             f"optimize.low_bit_shift_pixels must be in [0, 4], got {self.optimize.low_bit_shift_pixels}"),
            (0 < self.optimize.filter_sparsity < 1,
             f"optimize.filter_sparsity must be in (0, 1), got {self.optimize.filter_sparsity}"),
            (0 <= self.optimize.first_filter_sparsity < 1,
             f"optimize.first_filter_sparsity must be in [0, 1), got {self.optimize.first_filter_sparsity}"),
            (all(t in TECHNIQUES for t in self.optimize.techniques),
             f"optimize.techniques must be among {', '.join(TECHNIQUES)}"),
            (min(self.optimize.qat_epochs, self.optimize.prune_epochs, self.optimize.prune_qat_epochs,
                 self.optimize.low_bit_epochs) >= 1,
             "optimize.qat_epochs, prune_epochs, prune_qat_epochs and low_bit_epochs must be at least 1"),
            (self.optimize.low_bit_learning_rate > 0, "optimize.low_bit_learning_rate must be positive"),
            (all(bits in WEIGHT_BITS for bits in self.optimize.layer_bits),
             f"optimize.layer_bits {self.optimize.layer_bits}: each entry must be one of "
             f"{', '.join(map(str, WEIGHT_BITS))}"),
            (self.optimize.low_bit_schedule in LR_SCHEDULES,
             f"optimize.low_bit_schedule must be one of {', '.join(LR_SCHEDULES)}, "
             f"got {self.optimize.low_bit_schedule!r}"),
            (self.optimize.prune_structure in PRUNE_STRUCTURES,
             f"optimize.prune_structure must be one of {', '.join(PRUNE_STRUCTURES)}, "
             f"got {self.optimize.prune_structure!r}"),
            (len(self.optimize.prune_block) == 2 and min(self.optimize.prune_block) >= 1
             and self.optimize.prune_block != [1, 1],
             f"optimize.prune_block {self.optimize.prune_block} is not a block shape: two positive "
             "integers (filter taps, output channels), not [1, 1]"),
            (self.export.representative_samples >= 1,
             f"export.representative_samples must be at least 1, got {self.export.representative_samples}"),
            (0 <= self.export.arena_margin <= 1, "export.arena_margin must be in [0, 1]"),
            (self.export.accuracy_tolerance_pp >= 0, "export.accuracy_tolerance_pp must be 0 or positive"),
            (min(self.budget.flash_bytes, self.budget.ram_bytes) >= 0,
             "budget.flash_bytes and budget.ram_bytes must be 0 (no limit) or positive"),
            (self.budget.target in ("tflm", "c"), f"budget.target must be tflm or c, got {self.budget.target!r}"),
            (self.benchmark.runs >= 1 and self.benchmark.warmup >= 0, "benchmark.runs must be >= 1, warmup >= 0"),
            (self.benchmark.threads >= 1, "benchmark.threads must be at least 1"),
            (1 <= self.data.validation_size < 60000, "data.validation_size must be in [1, 60000)"),
            (1 <= self.board.images <= 10000, f"board.images must be in [1, 10000], got {self.board.images}"),
        ]
        for ok, message in checks:
            if not ok:
                raise DigitedgeError(message)
        from digitedge.cgen.boards import boards

        try:
            boards(self.board.boards)
        except DigitedgeError as exc:
            raise DigitedgeError(f"board.boards: {exc}") from None
        return self


def _coerce(value, hint, key: str):
    """Check a TOML value against a dataclass field's type; int is accepted where float is."""
    origin = typing.get_origin(hint)
    if origin is list:
        (item_hint,) = typing.get_args(hint)
        if not isinstance(value, list):
            raise DigitedgeError(f"config key '{key}' must be a list, got {type(value).__name__}")
        return [_coerce(v, item_hint, f"{key}[]") for v in value]
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint is int and isinstance(value, bool) or not isinstance(value, hint):
        raise DigitedgeError(
            f"config key '{key}' must be {hint.__name__}, got {type(value).__name__} ({value!r})"
        )
    return value


def _apply(obj, values: dict, prefix: str) -> None:
    hints = typing.get_type_hints(type(obj))
    names = [f.name for f in dataclasses.fields(obj)]
    for key, value in values.items():
        full = f"{prefix}{key}"
        if key not in names:
            near = difflib.get_close_matches(key, names, n=1)
            hint = f"; did you mean '{prefix}{near[0]}'?" if near else f"; valid keys: {', '.join(names)}"
            raise DigitedgeError(f"unknown config key '{full}'{hint}")
        current = getattr(obj, key)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, dict):
                raise DigitedgeError(f"config key '{full}' must be a table")
            _apply(current, value, f"{full}.")
        else:
            setattr(obj, key, _coerce(value, hints[key], full))


def from_dict(values: dict) -> Config:
    config = Config()
    _apply(config, values, "")
    return config


def load(path: str | Path | None = None, overrides: dict | None = None) -> Config:
    """Defaults, then the TOML file at `path`, then `overrides` ({"train.epochs": 3, ...})."""
    config = Config()
    if path is not None:
        path = Path(path)
        try:
            values = tomllib.loads(path.read_text())
        except FileNotFoundError:
            raise DigitedgeError(f"config file {path} does not exist") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise DigitedgeError(f"config file {path} cannot be read: {exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise DigitedgeError(f"config file {path} is not valid TOML: {exc}") from None
        try:
            _apply(config, values, "")
        except DigitedgeError as exc:
            raise DigitedgeError(f"{path}: {exc}") from None
    overridden = []
    for dotted, value in (overrides or {}).items():
        if value is None:
            continue
        overridden.append(dotted)
        *parents, leaf = dotted.split(".")
        nested: dict = {leaf: value}
        for parent in reversed(parents):
            nested = {parent: nested}
        _apply(config, nested, "")
    try:
        return config.validate()
    except DigitedgeError as exc:
        # a bad value from the file is reported with the file's name; one from an option names only the key
        key = str(exc).split()[0].rstrip(",")
        if path is not None and not any(key.startswith(dotted) or dotted.startswith(key) for dotted in overridden):
            raise DigitedgeError(f"{path}: {exc}") from None
        raise


def to_dict(config: Config) -> dict:
    return dataclasses.asdict(config)


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return repr(value)


def to_toml(config: Config) -> str:
    """The config as TOML that `load` reads back to an equal Config."""
    top, tables = [], []
    for key, value in to_dict(config).items():
        if isinstance(value, dict):
            tables.append(f"\n[{key}]")
            tables.extend(f"{k} = {_toml_value(v)}" for k, v in value.items())
        else:
            top.append(f"{key} = {_toml_value(value)}")
    return "\n".join(top + tables) + "\n"
