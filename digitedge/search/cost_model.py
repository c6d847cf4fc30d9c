"""Instructions per inference of the generated C on one core, estimated from a model's layers.

QEMU counts instructions but takes seconds per model; the search needs an answer in well under a
second for every proposal. So each core gets a linear cost model: instructions per MAC for each
layer kind (convolution, depthwise, fully connected), per output element (requantization, fused
pools), and a fixed part, fitted by non-negative least squares on relative error to QEMU's counts for
a few untrained models drawn from the search space. The finalists still run on QEMU and their
measured figure replaces the estimate.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

FEATURES = ("conv_macs", "shallow_conv_macs", "patch_conv_macs", "conv_s4_macs", "conv_s2_macs", "depthwise_macs",
            "fully_connected_macs", "output_elements", "fixed")
SHALLOW_DEPTH = 4  # a convolution reading fewer channels has no whole SIMD group of them per tap


def layer_features(tflite_bytes: bytes) -> np.ndarray:
    """The model's FEATURES, from the layers the C generator sees (its own decision of each filter's
    stored bits, its fused pools): MACs per kind of kernel loop (8-bit convolutions over >= 4 input
    channels or fewer, those whose fused pool reads one 16-byte patch (MVE's conv_s8_mve_patch),
    packed 4- and 2-bit convolutions, depthwise, fully connected), output elements of every layer, and 1."""
    from digitedge.cgen.layers import Conv, ConvPool, FullyConnected, fuse_pools, parse_model
    from digitedge.cgen.layouts import patch_fits

    values = dict.fromkeys(FEATURES, 0.0)
    for layer in fuse_pools(parse_model(tflite_bytes, "proposal")).layers:
        conv, pool = (layer.conv, layer.pool) if isinstance(layer, ConvPool) else (layer, None)
        outputs = float(np.prod(conv.out_shape)) if hasattr(conv, "out_shape") else 0.0  # each conv pixel requantized
        if isinstance(conv, Conv):
            macs = float(np.prod(conv.out_shape)) * float(np.prod(conv.filter.shape[1:3]))
            if conv.op == "DEPTHWISE_CONV_2D":
                values["depthwise_macs"] += macs
            elif conv.weight_bits in (4, 2):
                values[f"conv_s{conv.weight_bits}_macs"] += macs * conv.filter.shape[3]
            elif patch_fits(conv, pool):
                values["patch_conv_macs"] += macs * conv.filter.shape[3]
            else:
                kind = "shallow_conv_macs" if conv.filter.shape[3] < SHALLOW_DEPTH else "conv_macs"
                values[kind] += macs * conv.filter.shape[3]
        elif isinstance(layer, FullyConnected):
            outputs = float(layer.units)
            values["fully_connected_macs"] += outputs * layer.depth
        values["output_elements"] += outputs
    values["fixed"] = 1.0
    return np.array([values[name] for name in FEATURES])


@dataclass(frozen=True)
class CostModel:
    """One core's fitted costs, and what the calibration measured alongside them."""

    board: str
    coefficients: tuple[float, ...]  # instructions per unit of each of FEATURES
    stack_bytes: int  # the largest stack high-water mark QEMU saw while calibrating
    calibration_models: int
    worst_relative_error: float  # of the fit on its own calibration models
    features: tuple[str, ...] = FEATURES  # what each coefficient multiplies

    def estimate(self, tflite_bytes: bytes) -> int:
        return int(round(float(layer_features(tflite_bytes) @ np.array(self.coefficients))))

    def save(self, path: Path) -> None:
        from digitedge.rundir import write_files

        write_files({path.name: json.dumps(asdict(self), indent=2).encode()}, path.parent)

    @classmethod
    def load_current(cls, path: Path) -> "CostModel | None":
        """The saved model, or None when it is unreadable or was fitted on other FEATURES (an earlier
        version's file): the caller fits it again."""
        try:
            values = json.loads(Path(path).read_text())
            model = cls(**{**values, "coefficients": tuple(values["coefficients"]),
                           "features": tuple(values.get("features", ()))})
        except (ValueError, TypeError, KeyError):
            return None
        return model if model.features == FEATURES and len(model.coefficients) == len(FEATURES) else None


def fit(board: str, features: np.ndarray, instructions: np.ndarray, stack_bytes: int) -> CostModel:
    """Non-negative costs minimizing relative error (a small model's count matters as much as a big one's)."""
    from scipy.optimize import nnls

    weights = 1.0 / np.asarray(instructions, float)
    coefficients, _ = nnls(features * weights[:, None], np.ones(len(instructions)))
    predicted = features @ coefficients
    worst = float(np.max(np.abs(predicted - instructions) / instructions))
    return CostModel(board, tuple(float(c) for c in coefficients), int(stack_bytes), len(instructions), worst)


def calibration_tflites(space, base, calibration_images: np.ndarray, count: int, seed: int = 0) -> list[bytes]:
    """`count` untrained proposals of `space` drawn by Optuna's random sampler, as int8 .tflite."""
    import optuna

    from digitedge.errors import DigitedgeError
    from digitedge.search import space as search_space
    from digitedge.search.budget import untrained_tflite

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    models: list[bytes] = []
    for _ in range(count * 5):
        if len(models) == count:
            break
        trial = study.ask()
        try:
            config = search_space.to_config(search_space.suggest(trial, space), base)
        except DigitedgeError:
            continue
        models.append(untrained_tflite(config, calibration_images)[0])
    return models


def calibrate(board: str, tflites: list[bytes], images_uint8: np.ndarray, labels: np.ndarray) -> CostModel:
    """Run each model on `board`'s QEMU machine (instructions counted) and fit its cost model."""
    from digitedge.cgen.qemu import run_on_qemu

    results = [run_on_qemu(tflite, images_uint8, labels, board=board) for tflite in tflites]
    features = np.array([layer_features(tflite) for tflite in tflites])
    counted = np.array([result.instructions_per_inference for result in results])
    return fit(board, features, counted, max(result.stack_used_bytes for result in results))
