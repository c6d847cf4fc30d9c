"""The search space: the compact CNN family, its compression and its training, as Optuna parameters.

Every proposal uses only the ops TFLite Micro and our generated C run (CONV_2D, DEPTHWISE_CONV_2D,
MAX_POOL_2D, AVERAGE_POOL_2D, FULLY_CONNECTED, RESHAPE, SOFTMAX). A study remembers the space's
signature, so a study created with another space is refused instead of mixed.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
from dataclasses import dataclass

import optuna

from digitedge.config import Config


@dataclass(frozen=True)
class SearchSpace:
    depths: tuple[int, ...] = (2, 3, 4)
    first_widths: tuple[int, int, int] = (6, 16, 2)  # low, high, step of the first conv's filters
    widths: tuple[int, int, int] = (12, 64, 4)  # of every later block
    kernel_sizes: tuple[int, ...] = (3, 5)
    separable: tuple[bool, ...] = (False, True)
    heads: tuple[str, ...] = ("flatten", "gap")
    dropout: tuple[float, float] = (0.0, 0.3)
    learning_rate: tuple[float, float] = (1.5e-3, 6e-3)
    epochs: tuple[int, int] = (10, 20)  # of the full run; a trial runs them on its subset
    max_shift_pixels: tuple[int, ...] = (0, 1, 2)
    qat_epochs: tuple[int, int] = (1, 3)
    # QAT alone, or pruning + QAT; LOW_BIT_VARIANTS add weights below 8 bits (`search --low-bit`)
    variants: tuple[str, ...] = ("int8_qat", "pruned_qat_int8")
    sparsity: tuple[float, float] = (0.3, 0.8)
    weight_bits: tuple[int, ...] = (8, 4, 2)  # of each block's and the head's weights in mixed_qat
    prune_structures: tuple[str, ...] = ("filters", "block", "2:4")

    def signature(self) -> str:
        """A short hash of the space: equal spaces give equal signatures, on any machine."""
        text = json.dumps(dataclasses.asdict(self), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


# digitedge.optimize.lowbit's: every layer 4-bit, bits per block (weight_bits), or structured pruning
# (prune_structures) + 4-bit. Off by default: their QAT makes a first-rung trial several times slower.
LOW_BIT_VARIANTS = ("int4_qat", "mixed_qat", "pruned_int4_qat")


def with_low_bit(space: SearchSpace) -> SearchSpace:
    return dataclasses.replace(space, variants=space.variants + LOW_BIT_VARIANTS)


TINY = SearchSpace(depths=(2,), first_widths=(2, 4, 2), widths=(4, 8, 4), kernel_sizes=(3,), separable=(False,),
                   heads=("flatten", "gap"), epochs=(1, 2), max_shift_pixels=(0,), qat_epochs=(1, 1),
                   variants=("int8_qat",))  # for tests: seconds per trial
TINY_LOW_BIT = dataclasses.replace(with_low_bit(TINY), prune_structures=("2:4",))  # the tiny model's layers are too small for blocks


def pool_patterns(depth: int) -> list[str]:
    """Where the two 2x2 pools may go ("1,3" = after blocks 1 and 3): the first always pools early,
    which keeps the widest activation, and with it the arena, small."""
    later = [str(block) for block in range(2, depth + 1)]
    return ["1"] + [f"1,{block}" for block in later]


def suggest(trial: optuna.Trial, space: SearchSpace) -> dict:
    """Draw one proposal's parameters (conditional ones only where they apply)."""
    depth = trial.suggest_categorical("depth", list(space.depths))
    trial.suggest_int("width1", *space.first_widths[:2], step=space.first_widths[2])
    trial.suggest_categorical("kernel1", list(space.kernel_sizes))
    for block in range(2, depth + 1):
        trial.suggest_int(f"width{block}", *space.widths[:2], step=space.widths[2])
        trial.suggest_categorical(f"kernel{block}", list(space.kernel_sizes))
        trial.suggest_categorical(f"separable{block}", list(space.separable))
    trial.suggest_categorical(f"pools_depth{depth}", pool_patterns(depth))
    trial.suggest_categorical("head", list(space.heads))
    trial.suggest_float("dropout", *space.dropout, step=0.05)
    trial.suggest_float("learning_rate", *space.learning_rate, log=True)
    trial.suggest_int("epochs", *space.epochs)
    trial.suggest_categorical("max_shift_pixels", list(space.max_shift_pixels))
    suggest_compression(trial, space)
    return dict(trial.params)


PRUNED_VARIANTS = ("pruned_qat_int8", "pruned_int4_qat")


def suggest_compression(trial: optuna.Trial, space: SearchSpace) -> None:
    """The compression knobs (the hook where new ones go: each a parameter here, a line in
    compression_to_config, a recipe in digitedge.search.objective.RECIPES)."""
    trial.suggest_int("qat_epochs", *space.qat_epochs)  # the low-bit variants' QAT epochs too
    variant = trial.suggest_categorical("variant", list(space.variants))
    if variant in PRUNED_VARIANTS:
        trial.suggest_float("sparsity", *space.sparsity, step=0.05)
    if variant == "pruned_int4_qat":
        trial.suggest_categorical("prune_structure", list(space.prune_structures))
    if variant == "mixed_qat":
        for block in range(1, trial.params["depth"] + 1):
            trial.suggest_categorical(f"bits{block}", list(space.weight_bits))
        trial.suggest_categorical("bits_head", list(space.weight_bits))


def layer_bits(params: dict) -> list[int]:
    """mixed_qat's bits per conv/dense layer in model order: a separable block's depthwise and 1x1
    layers share the block's bits, the dense head has its own."""
    bits = []
    for block in range(1, params["depth"] + 1):
        bits += [params[f"bits{block}"]] * (2 if params.get(f"separable{block}") else 1)
    return bits + [params["bits_head"]]


def compression_to_config(params: dict, config: Config) -> None:
    """Write the compression knobs of `params` into `config` (in place)."""
    config.optimize.qat_epochs = config.optimize.prune_qat_epochs = params["qat_epochs"]
    config.optimize.low_bit_epochs = params["qat_epochs"]
    config.export.variant = params["variant"]
    if params["variant"] in PRUNED_VARIANTS:
        config.optimize.target_sparsity = round(params["sparsity"], 4)
    if params["variant"] == "pruned_int4_qat":  # 2:4 fixes its own share of zeros
        config.optimize.prune_structure = params["prune_structure"]
        if params["prune_structure"] == "block":
            config.optimize.block_sparsity = round(params["sparsity"], 4)
        elif params["prune_structure"] == "filters":
            config.optimize.filter_sparsity = round(params["sparsity"], 4)
    if params["variant"] == "mixed_qat":
        config.optimize.layer_bits = layer_bits(params)


def to_config(params: dict, base: Config) -> Config:
    """The full-run Config of a proposal: `base` with the proposal's model, compression and training."""
    config = copy.deepcopy(base)
    depth = params["depth"]
    model = config.model
    model.arch = "compact"
    model.filters = [params[f"width{block}"] for block in range(1, depth + 1)]
    model.kernel_sizes = [params[f"kernel{block}"] for block in range(1, depth + 1)]
    model.separable = [False] + [params[f"separable{block}"] for block in range(2, depth + 1)]
    model.pool_after = [int(block) for block in params[f"pools_depth{depth}"].split(",")]
    model.head = params["head"]
    model.dropout = round(params["dropout"], 4)
    config.train.learning_rate = float(f"{params['learning_rate']:.3g}")
    config.train.epochs = params["epochs"]
    config.train.max_shift_pixels = params["max_shift_pixels"]
    config.train.augment = params["max_shift_pixels"] > 0
    compression_to_config(params, config)
    return config.validate()


def short(params: dict) -> str:
    """A proposal in one short token string: widths/kernels (s = separable), pools, head, training."""
    depth = params["depth"]
    blocks = "-".join(f"{params[f'width{b}']}{'s' if params.get(f'separable{b}') else ''}k{params[f'kernel{b}']}"
                      for b in range(1, depth + 1))
    variant = {"int8_qat": "qat", "pruned_qat_int8": "prune{sparsity:.2f}+qat", "int4_qat": "int4",
               "mixed_qat": "bits{bits}", "pruned_int4_qat": "{prune_structure}{sparsity:.2f}+int4"}[params["variant"]]
    variant = variant.format(bits="/".join(map(str, layer_bits(params))) if params["variant"] == "mixed_qat" else "",
                             sparsity=params.get("sparsity", 0), prune_structure=params.get("prune_structure", ""))
    return (f"{blocks} pool@{params[f'pools_depth{depth}']} {params['head']} lr={params['learning_rate']:.2g} "
            f"ep={params['epochs']} shift={params['max_shift_pixels']} {variant}x{params['qat_epochs']}")


def smallest(space: SearchSpace) -> dict:
    """The proposal with the fewest weights and the smallest activations the space allows."""
    depth = min(space.depths)
    params = {"depth": depth, "width1": space.first_widths[0], "kernel1": max(space.kernel_sizes),
              f"pools_depth{depth}": pool_patterns(depth)[-1], "head": "gap" if "gap" in space.heads else space.heads[0],
              "dropout": space.dropout[0], "learning_rate": space.learning_rate[0], "epochs": space.epochs[0],
              "max_shift_pixels": space.max_shift_pixels[0], "qat_epochs": space.qat_epochs[0],
              "variant": space.variants[0]}
    for block in range(2, depth + 1):
        params.update({f"width{block}": space.widths[0], f"kernel{block}": min(space.kernel_sizes),
                       f"separable{block}": max(space.separable)})
    if params["variant"] in PRUNED_VARIANTS:
        params["sparsity"] = space.sparsity[0]
    return params


def starting_points(space: SearchSpace) -> list[dict]:
    """Informed first proposals (enqueued once per study): today's default narrowed, and depthwise-
    separable variants of it; each is kept only if the space holds it."""
    common = {"dropout": 0.1, "learning_rate": 3e-3, "max_shift_pixels": 1, "qat_epochs": 2, "variant": "int8_qat"}
    points = [
        {"depth": 3, "width1": 10, "kernel1": 3, "width2": 28, "kernel2": 3, "separable2": False,
         "width3": 40, "kernel3": 3, "separable3": False, "pools_depth3": "1,3", "head": "flatten", "epochs": 16},
        {"depth": 3, "width1": 10, "kernel1": 3, "width2": 32, "kernel2": 3, "separable2": False,
         "width3": 64, "kernel3": 3, "separable3": True, "pools_depth3": "1,3", "head": "flatten", "epochs": 16},
        {"depth": 4, "width1": 8, "kernel1": 3, "width2": 32, "kernel2": 3, "separable2": False,
         "width3": 48, "kernel3": 3, "separable3": True, "width4": 64, "kernel4": 3, "separable4": True,
         "pools_depth4": "1,3", "head": "gap", "epochs": 16},
    ]
    return [{**common, **point} for point in points if _contains(space, {**common, **point})]


def _contains(space: SearchSpace, params: dict) -> bool:
    depth = params["depth"]
    widths_ok = all(space.widths[0] <= params[f"width{b}"] <= space.widths[1] for b in range(2, depth + 1))
    return (depth in space.depths and space.first_widths[0] <= params["width1"] <= space.first_widths[1]
            and widths_ok and params["head"] in space.heads and params["variant"] in space.variants
            and all(params[f"kernel{b}"] in space.kernel_sizes for b in range(1, depth + 1))
            and space.epochs[0] <= params["epochs"] <= space.epochs[1]
            and params["max_shift_pixels"] in space.max_shift_pixels
            and space.qat_epochs[0] <= params["qat_epochs"] <= space.qat_epochs[1])
