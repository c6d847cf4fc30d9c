"""The mobile stage over a run directory: reads the run's QAT and float models, builds the files.

Until the pipeline's stage list takes it, `digitedge export --mobile` calls `build_from_run` and
writes the files where it is told (default RUN/export), all or none.
"""

from __future__ import annotations

import os
from pathlib import Path

from digitedge.errors import DigitedgeError
from digitedge.mobile.build import MobileBuild, build_mobile
from digitedge.rundir import write_files

QAT_FILE = ("optimize", "qat.h5")


def build_from_run(context) -> MobileBuild:
    """mobile_uint8 and mobile_float16 from `context.run` (a pipeline Context), checked on the 10,000 test images."""
    from importlib.metadata import version

    from digitedge.convert import representative_images
    from digitedge.data import normalize, split_validation
    from digitedge.modelio import load_keras_model
    from digitedge.pipeline import load_float_model

    run, config, data = context.run, context.config, context.data
    qat_path = run.path(*QAT_FILE)
    if not qat_path.is_file():
        raise DigitedgeError(f"--mobile needs the run's QAT model and {run.root} has none ({qat_path} is missing); "
                             f"run `digitedge optimize --technique qat --run {run.root}` first")
    models = {"float": load_float_model(run), "qat": load_keras_model(qat_path)}
    x_train, _, _, _ = split_validation(data.x_train, data.y_train, config.data.validation_size, config.seed)
    if config.train.train_subset:
        x_train = x_train[: config.train.train_subset]
    representative = representative_images(normalize(x_train), config.export.representative_samples, config.seed)
    return build_mobile(models, representative, data.x_test, data.y_test, version("digitedge"), run.root.name)


def check_folder_writable(folder: str | Path) -> None:
    """Fail before the work if `folder` could not be created or written (creates nothing)."""
    folder = existing = Path(folder)
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise DigitedgeError(f"cannot write to {folder}: {existing} is not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise DigitedgeError(f"cannot write to {folder}: {existing} is not writable")


def write_mobile(build: MobileBuild, out_dir: str | Path) -> list[Path]:
    """Every file of `build` into `out_dir`, or none of them."""
    return write_files(build.files, Path(out_dir))
