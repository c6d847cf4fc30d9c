"""The evaluate stage: every variant on the test set through LiteRT (and the Keras float model),
against float; with a seed run, its float model too, converted into this run as the seed_float baseline."""

from __future__ import annotations

import pandas as pd

from digitedge.pipeline.context import Context, Stage, evaluation_set
from digitedge.pipeline.convert_stage import file_columns, tflite_variants
from digitedge.pipeline.mobile_stage import mobile_variants
from digitedge.pipeline.train_stage import load_float_model
from digitedge.rundir import RunDir, sha256_file, write_bytes, write_text
from digitedge.seed_baseline import SEED_FLOAT, seed_float_facts, seed_float_tflite


def run_evaluate(context: Context) -> None:
    from digitedge.data import normalize
    from digitedge.evaluate import evaluate_variants

    run, seed_model = context.run, context.seed_model()
    images, labels = evaluation_set(context)
    variants = {**tflite_variants(run), **mobile_variants(run)}
    with context.recording("evaluate") as facts:
        seed_file = run.path("evaluate", f"{SEED_FLOAT}.tflite")
        seed_file.unlink(missing_ok=True)  # a baseline from an earlier config must not outlive it
        if seed_model:
            context.echo(f"[evaluate] {SEED_FLOAT}: converting {seed_model}")
            variants[SEED_FLOAT] = seed_float_tflite(seed_model, normalize(context.data.x_test[:100]))
            write_bytes(seed_file, variants[SEED_FLOAT])
        evaluation = evaluate_variants(images, labels, keras_model=load_float_model(run), tflite_variants=variants)
        table = evaluation.table()
        write_text(run.path("evaluate", "evaluation.csv"), table.to_csv())
        write_text(run.path("evaluate", "per_class_recall.csv"), evaluation.recall_table().to_csv())
        predictions = pd.DataFrame({name: v.predictions for name, v in evaluation.variants.items()})
        predictions.insert(0, "label", labels)
        write_text(run.path("evaluate", "predictions.csv"), predictions.to_csv(index_label="test_index"))
        for name, row in table.iterrows():
            facts[name] = {key: float(row[key]) for key in ("accuracy", "delta_pp", "agreement")}
        if seed_model:
            facts[SEED_FLOAT].update(seed_float_facts(variants[SEED_FLOAT]),
                                     seed_run=context.config.evaluate.seed_run,
                                     seed_model_sha256=sha256_file(seed_model))
    context.echo(table[["accuracy", "delta_pp", "agreement", "errors"]].to_string(
        formatters={"accuracy": "{:.2%}".format, "delta_pp": "{:+.2f}".format, "agreement": "{:.2%}".format}))


def baseline_variants(run: RunDir) -> dict[str, bytes]:
    """The seed baseline's .tflite when the evaluate stage made one: timed and tabled, never exported."""
    if SEED_FLOAT not in run.read_manifest().get("stages", {}).get("evaluate", {}):
        return {}
    return {SEED_FLOAT: run.path("evaluate", f"{SEED_FLOAT}.tflite").read_bytes()}


def read_evaluation(run: RunDir) -> pd.DataFrame:
    """evaluation.csv: one row per evaluated variant (index `variant`), in the order evaluated."""
    return pd.read_csv(run.path("evaluate", "evaluation.csv"), index_col="variant")


def read_predictions(run: RunDir) -> pd.DataFrame:
    """predictions.csv: per test image (index `test_index`), its label and every variant's predicted class."""
    return pd.read_csv(run.path("evaluate", "predictions.csv"), index_col="test_index")


def _summary(run: RunDir) -> pd.DataFrame:
    """Accuracy columns of every evaluated row; the seed baseline's file columns too (no other stage sees it)."""
    evaluation = read_evaluation(run)
    frame = evaluation[["accuracy", "delta_pp", "agreement"]].copy()
    seed = run.read_manifest()["stages"]["evaluate"].get(SEED_FLOAT)
    for name, data in baseline_variants(run).items():
        for key, value in {**file_columns(data), "sparsity": seed["weight_sparsity"], "macs": seed["macs"]}.items():
            frame.loc[name, key] = value
    return frame


def _facts(record: dict) -> dict[str, str]:
    seed = record.get(SEED_FLOAT)
    if not seed:
        return {}
    return {"seed baseline": f"{SEED_FLOAT}: the float model of {seed['seed_run']} (sha256 {seed['seed_model_sha256']})"}


STAGE = Stage("evaluate", ("benchmark",), run_evaluate, summary=_summary, facts=_facts)
