"""Save and load the tf_keras models of every stage (float, QAT, pruned, pruned+QAT).

Float and pruned models are saved as .keras. Quantization-aware models are saved as
legacy HDF5 (.h5): tfmot 0.8.1 writes .keras files it cannot read back (its QuantizeLayer
is built twice on load and QuantizeWrapperV2 saves its kernel twice; tfmot PR #1123).
Loading is where a user's file enters the pipeline, so every way a file can be wrong
(missing, not a model, wrong format, wrong input shape) becomes one DigitedgeError line.
"""

from __future__ import annotations

import warnings
import zipfile
from pathlib import Path

import h5py
import tensorflow_model_optimization as tfmot
import tf_keras as keras

from digitedge.errors import DigitedgeError
from digitedge.model import INPUT_SHAPE
from digitedge.optimize.lowbit import n_bit_objects
from digitedge.rundir import atomic_path

SUFFIXES = (".keras", ".h5")


def is_quantization_aware(model: keras.Model) -> bool:
    return any(type(layer).__name__ in ("QuantizeLayer", "QuantizeWrapper", "QuantizeWrapperV2")
               for layer in model.layers)


def model_suffix(model: keras.Model) -> str:
    """The file suffix `model` must be saved with to load back: ".h5" for QAT models, else ".keras"."""
    return ".h5" if is_quantization_aware(model) else ".keras"


def save_keras_model(model: keras.Model, path: str | Path) -> Path:
    """Write `model` to `path` atomically (a crash leaves the previous file intact)."""
    path = Path(path)
    if path.suffix != model_suffix(model):
        raise ValueError(f"{path}: a {'QAT' if is_quantization_aware(model) else 'float'} model must be saved "
                         f"as {model_suffix(model)} (see digitedge.modelio.model_suffix)")
    with atomic_path(path) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Keras calls HDF5 "legacy"; it is the format QAT models load from
        model.save(tmp, overwrite=True, **({"include_optimizer": False} if path.suffix == ".h5" else {}))
    return path


def load_keras_model(path: str | Path) -> keras.Model:
    """Load a model saved by any stage; the result is uncompiled (stages compile their own)."""
    path = Path(path)
    if not path.is_file():
        raise DigitedgeError(f"model file {path} does not exist")
    if path.suffix not in SUFFIXES:
        raise DigitedgeError(f"model file {path} has extension '{path.suffix}', expected a tf_keras "
                             f"{' or '.join(SUFFIXES)} file")
    _check_container(path)
    try:
        with tfmot.quantization.keras.quantize_scope({**_prune_preserve_objects(), **n_bit_objects()}):
            model = keras.models.load_model(path, compile=False)
    except Exception as exc:  # Keras raises anything from ValueError to OSError on a bad file
        lines = str(exc).strip().splitlines()
        reason = lines[0][:200] if lines else type(exc).__name__
        raise DigitedgeError(f"model file {path} cannot be loaded as a Keras model: {reason}") from None
    if not isinstance(model, keras.Model) or isinstance(model.input_shape, list) \
            or tuple(model.input_shape[1:]) != INPUT_SHAPE:
        shape = getattr(model, "input_shape", None)
        raise DigitedgeError(f"model file {path} takes input {shape}, expected (None, 28, 28, 1)")
    return model


def _check_container(path: Path) -> None:
    """Say what is wrong with the container before Keras fails less clearly."""
    if path.suffix == ".h5":
        if not h5py.is_hdf5(path):
            raise DigitedgeError(f"model file {path} is not an HDF5 file")
        return
    if not zipfile.is_zipfile(path):
        raise DigitedgeError(f"model file {path} is not a .keras archive (not a zip file)")
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError) as exc:
        raise DigitedgeError(f"model file {path} is a corrupt .keras archive: {exc}") from None
    if "config.json" not in names:
        raise DigitedgeError(f"model file {path} is a zip without a Keras model (no config.json)")


def _prune_preserve_objects() -> dict:
    """The quantizers of tfmot's prune-preserve scheme, which quantize_scope does not register."""
    from tensorflow_model_optimization.python.core.quantization.keras.collab_opts.prune_preserve import (
        prune_preserve_quantize_registry as registry)

    return {cls.__name__: cls for cls in (registry.PrunePreserveDefaultWeightsQuantizer,
                                          registry.PrunePreserveDefault8BitWeightsQuantizer,
                                          registry.PrunePreserveDefault8BitConvWeightsQuantizer)}
