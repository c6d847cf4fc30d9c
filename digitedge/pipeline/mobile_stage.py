"""The mobile stage: mobile_uint8 (from the QAT model) and mobile_float16 (from the float model), the
files an app takes, with their labels and MOBILE.md, in RUN/mobile/.

They are full variants of the run: evaluate tests them and benchmark times them beside the others.
A run without a QAT model has no mobile files: the stage records why, and `export --mobile` says it.
"""

from __future__ import annotations

import pandas as pd

from digitedge.errors import DigitedgeError
from digitedge.pipeline.context import Context, Stage, evaluation_set
from digitedge.pipeline.optimize_stage import has_optimized, load_optimized
from digitedge.pipeline.train_stage import train_val
from digitedge.rundir import RunDir, write_files

FOLDER = "mobile"


def _no_qat_reason(run: RunDir) -> str | None:
    return None if has_optimized(run, "qat") else (f"{run.root} has no QAT model (the optimize stage made none); "
                                                   f"run `digitedge optimize --technique qat --run {run.root}` first")


def run_mobile(context: Context) -> None:
    from importlib.metadata import version

    from digitedge.convert import representative_images
    from digitedge.mobile.build import build_mobile

    run, config = context.run, context.config
    reason = _no_qat_reason(run)
    with context.recording("mobile") as facts:
        if reason:
            facts["skipped"] = reason
            context.echo(f"[mobile] no mobile files: {reason}")
            return
        models = load_optimized(run, ("qat",))
        representative = representative_images(train_val(context)[0], config.export.representative_samples, config.seed)
        built = build_mobile(models, representative, *evaluation_set(context), version("digitedge"), run.root.name)
        write_files(built.files, run.path(FOLDER))
        facts.update(built.facts)
        for name, entry in built.facts.items():
            context.echo(f"[mobile] {name:16s} {entry['size_bytes']:>9,} bytes, accuracy {entry['test_accuracy']:.2%} "
                         f"on {entry['test_images']:,}, CompiledModel = Interpreter on "
                         f"{entry['compiled_model']['same_prediction']:.2%}")


def mobile_variants(run: RunDir) -> dict[str, bytes]:
    """{variant: .tflite bytes} of the mobile files the stage wrote ({} before it ran or when it had no QAT model)."""
    from digitedge.mobile.rgb import MOBILE_VARIANTS

    recorded = run.read_manifest().get("stages", {}).get("mobile", {})
    return {name: run.path(FOLDER, f"{name}.tflite").read_bytes() for name in MOBILE_VARIANTS if name in recorded}


def mobile_files(run: RunDir) -> dict[str, bytes]:
    """Every file `export --mobile` copies: the .tflite files, labels.txt and MOBILE.md."""
    record = run.read_manifest().get("stages", {}).get("mobile")
    if record is None:
        raise DigitedgeError(f"run {run.root} has no finished 'mobile' stage")
    if "skipped" in record:
        raise DigitedgeError(f"--mobile: {record['skipped']}")
    return {path.name: path.read_bytes() for path in sorted(run.path(FOLDER).iterdir()) if path.is_file()}


def _summary(run: RunDir) -> pd.DataFrame:
    from digitedge.pipeline.convert_stage import file_columns

    return pd.DataFrame.from_dict({name: file_columns(data) for name, data in mobile_variants(run).items()},
                                  orient="index", columns=["size_bytes", "gzip_bytes"])


def _facts(record: dict) -> dict[str, str]:
    if "skipped" in record or "mobile_uint8" not in record:
        return {}
    lines = [f"{name}: {entry['size_bytes']:,} bytes, from the {entry['source']} model; LiteRT's CompiledModel (CPU) "
             f"gives identical outputs to the Interpreter on {entry['compiled_model']['identical_outputs']:.2%} of "
             f"{entry['compiled_model']['images']:,} images" for name, entry in record.items() if isinstance(entry, dict)
             and "compiled_model" in entry]
    return {"mobile files": "; ".join(lines)}


STAGE = Stage("mobile", ("export",), run_mobile, summary=_summary, facts=_facts)
