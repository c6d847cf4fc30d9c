"""The pipeline's stages over a run directory: each reads its inputs from the run, calls the
stage module that does the work, writes artifacts atomically and records itself in the manifest.

The CLI calls these one at a time (`digitedge train`, `optimize`, ...) or all in order
(`digitedge run`); a stage already done for the same config is skipped unless forced.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from digitedge import stages
from digitedge.config import Config, to_dict, to_toml
from digitedge.errors import DigitedgeError
from digitedge.rundir import RunDir, git_commit, package_versions, sha256_file, write_bytes, write_files, write_text
from digitedge.seed_baseline import SEED_FLOAT, seed_float_facts, seed_float_tflite, seed_model_path

Echo = Callable[[str], None]


@dataclass
class Context:
    """What every stage needs: the run, its config, the data, and where to print."""

    run: RunDir
    config: Config
    data_path: str | None = None
    force: bool = False
    echo: Echo = print
    _data: object = None

    @property
    def data(self):
        if self._data is None:
            from digitedge.data import load_mnist

            self._data = load_mnist(self.data_path)
        return self._data

    def fingerprint(self, stage: str) -> str:
        seed_model = self.seed_model() if stage == "evaluate" else None
        outside = {"seed_run": self.config.evaluate.seed_run, "seed_model_sha256": sha256_file(seed_model)} \
            if seed_model else None
        return stages.fingerprint(self.config, stage, self.data.checksum, outside)

    def seed_model(self) -> Path | None:
        """The seed baseline's model file, checked; None when the run has no seed baseline."""
        return seed_model_path(self.config.evaluate.seed_run) if self.config.evaluate.seed_run else None

    def should_skip(self, stage: str) -> bool:
        if not self.force and stages.is_done(self.run, stage, self.fingerprint(stage)):
            self.echo(f"[{stage}] already done for this config in {self.run.root} (use --force to redo)")
            return True
        return False

    def check_not_overwriting(self, stage: str) -> None:
        """A finished stage with another config is only replaced with --force."""
        recorded = stages.recorded_fingerprint(self.run, stage)
        if recorded and recorded != self.fingerprint(stage) and not self.force:
            raise DigitedgeError(
                f"{self.run.root} already holds a '{stage}' stage made with another config; "
                "pass --force to replace it or choose another --out"
            )


def start_run(context: Context) -> None:
    """Create the run directory and record what reproduces it (config, seed, data, versions)."""
    context.run.ensure()
    data = context.data
    from digitedge.data import summary

    write_text(context.run.path("config.toml"), to_toml(context.config))
    context.run.update_manifest(
        run=str(context.run.root),
        seed=context.config.seed,
        config=to_dict(context.config),
        data=summary(data),
        versions=package_versions(),
        git_commit=git_commit(),
    )


def save_config(context: Context) -> None:
    """After a stage ran with CLI overrides, config.toml and the manifest hold the config it used."""
    text = to_toml(context.config)
    path = context.run.path("config.toml")
    if not path.is_file() or path.read_text() != text:
        write_text(path, text)
    if context.run.read_manifest().get("config") != to_dict(context.config):
        context.run.update_manifest(config=to_dict(context.config))


def training_pool_size(context: Context) -> int:
    """How many images the training split holds after the validation split and train_subset."""
    available = len(context.data.x_train) - context.config.data.validation_size
    subset = context.config.train.train_subset
    return min(subset, available) if subset else available


def check_budgets(context: Context) -> None:
    """Config values that only the data can rule out, checked before any stage writes."""
    pool, samples = training_pool_size(context), context.config.export.representative_samples
    if samples > pool:
        raise DigitedgeError(f"export.representative_samples ({samples}) is larger than the training set "
                             f"({pool} images after the validation split and train.train_subset)")


def _fresh_checkpoint(folder: Path, stage_fingerprint: str) -> Path:
    """The epoch checkpoint folder, emptied if an interrupted run with another config left it."""
    stamp = folder / "FINGERPRINT"
    if folder.exists() and (not stamp.is_file() or stamp.read_text().strip() != stage_fingerprint):
        shutil.rmtree(folder)
    if not folder.exists():
        write_text(stamp, stage_fingerprint + "\n")
    return folder


def stage_train(context: Context) -> None:
    context.run.check_writable()
    if context.should_skip("train"):
        return
    context.check_not_overwriting("train")
    start_run(context)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from digitedge.data import normalize, split_validation
    from digitedge.model import build_model
    from digitedge.modelio import save_keras_model
    from digitedge.train import make_deterministic, train_float
    from digitedge.training_report import write_training_report

    config, run, data = context.config, context.run, context.data
    x_train, y_train, x_val, y_val = split_validation(
        data.x_train, data.y_train, config.data.validation_size, config.seed)
    if config.train.train_subset:
        x_train, y_train = x_train[: config.train.train_subset], y_train[: config.train.train_subset]
    make_deterministic(config.seed)
    model = build_model(config.model)
    context.echo(f"[train] {model.name}: {model.count_params():,} parameters, "
                 f"{len(x_train):,} training / {len(x_val):,} validation images, up to {config.train.epochs} epochs")
    with stages.recording(run, "train", context.fingerprint("train")) as facts:
        result = train_float(model, normalize(x_train), y_train, normalize(x_val), y_val, config.train,
                             config.seed,
                             checkpoint_dir=_fresh_checkpoint(run.path("train", "checkpoint"), context.fingerprint("train")),
                             tensorboard_dir=run.path("train", "tensorboard"))
        save_keras_model(result.model, run.path("train", "model.keras"))
        started = time.perf_counter()
        probabilities = result.model.predict(normalize(data.x_test), batch_size=1000, verbose=0)
        predictions = probabilities.argmax(axis=1)
        test_accuracy = float((predictions == data.y_test).mean())
        write_training_report(run.path("train"), result.metrics, data.y_test, predictions,
                              f"{model.name} (float)")
        facts.update(
            parameters=int(model.count_params()),
            epochs_run=int(len(result.metrics)),
            best_epoch=result.best_epoch,
            best_val_accuracy=float(result.metrics["val_accuracy"].max()),
            test_accuracy=test_accuracy,
            train_seconds=round(result.seconds, 2),
            test_seconds=round(time.perf_counter() - started, 2),
        )
    shutil.rmtree(run.path("train", "checkpoint"), ignore_errors=True)  # resume state of a finished training
    context.echo(f"[train] test accuracy {test_accuracy:.2%} (best epoch {result.best_epoch} of "
                 f"{len(result.metrics)}, {result.seconds:.0f} s) -> {run.path('train')}")


def load_float_model(run: RunDir):
    stages.require_done(run, "train", "run `digitedge train` first")
    from digitedge.modelio import load_keras_model

    return load_keras_model(run.path("train", "model.keras"))


def _train_val(context: Context):
    from digitedge.data import normalize, split_validation

    x_train, y_train, x_val, y_val = split_validation(
        context.data.x_train, context.data.y_train, context.config.data.validation_size, context.config.seed)
    if context.config.train.train_subset:
        x_train, y_train = x_train[: context.config.train.train_subset], y_train[: context.config.train.train_subset]
    return normalize(x_train), y_train, normalize(x_val), y_val


OPTIMIZED_FILES = {"qat": "qat.h5", "pruned": "pruned.keras", "pruned_qat": "pruned_qat.h5"}


def stage_optimize(context: Context) -> None:
    """QAT, pruning and prune-preserving QAT of the float baseline, each saved with its metrics."""
    if context.should_skip("optimize"):
        return
    context.check_not_overwriting("optimize")
    from digitedge.modelio import save_keras_model
    from digitedge.optimize import kernel_sparsity, train_pruned, train_pruned_qat, train_qat
    from digitedge.train import make_deterministic

    config, run = context.config, context.run
    float_model = load_float_model(run)
    x_train, y_train, x_val, y_val = _train_val(context)
    techniques = config.optimize.techniques
    if "prune_qat" in techniques and "prune" not in techniques:
        raise DigitedgeError("optimize technique 'prune_qat' needs 'prune' too (it starts from the pruned model)")
    args = (x_train, y_train, x_val, y_val, config.optimize, config.seed)
    batch = config.train.batch_size
    make_deterministic(config.seed)  # op determinism too, when train was done by an earlier process
    with stages.recording(run, "optimize", context.fingerprint("optimize")) as facts:
        pruned = None
        jobs = [("qat", lambda: train_qat(float_model, *args, batch_size=batch)),
                ("pruned", lambda: train_pruned(float_model, *args, batch_size=batch)),
                ("pruned_qat", lambda: train_pruned_qat(pruned, *args, batch_size=batch))]
        wanted = {"qat": "qat", "pruned": "prune", "pruned_qat": "prune_qat"}
        for name, job in jobs:
            if wanted[name] not in techniques:
                continue
            context.echo(f"[optimize] {name} ...")
            started = time.perf_counter()
            model, metrics = job()
            if name == "pruned":
                pruned = model
            save_keras_model(model, run.path("optimize", OPTIMIZED_FILES[name]))
            write_text(run.path("optimize", f"{name}_metrics.csv"), metrics.to_csv(index=False))
            facts[name] = {"seconds": round(time.perf_counter() - started, 2),
                           "val_accuracy": float(metrics["val_accuracy"].iloc[-1]),
                           "kernel_sparsity": round(float(kernel_sparsity(model)), 6)}
            context.echo(f"[optimize] {name}: validation accuracy {facts[name]['val_accuracy']:.2%}, "
                         f"kernel sparsity {facts[name]['kernel_sparsity']:.1%}, {facts[name]['seconds']:.0f} s")
    save_config(context)


def load_optimized(run: RunDir) -> dict:
    """The float model and every optimized model the run has, keyed as convert.SOURCES expects."""
    from digitedge.modelio import load_keras_model

    models = {"float": load_float_model(run)}
    for name, file_name in OPTIMIZED_FILES.items():
        if run.path("optimize", file_name).is_file():
            models[name] = load_keras_model(run.path("optimize", file_name))
    return models


def stage_convert(context: Context) -> None:
    """Every TFLite variant, stripped of what it does not need, checked from its own bytes."""
    if context.should_skip("convert"):
        return
    context.check_not_overwriting("convert")
    check_budgets(context)
    from digitedge.checks import check_variant
    from digitedge.convert import convert_all, representative_images
    from digitedge.data import normalize

    config, run = context.config, context.run
    x_train, _, _, _ = _train_val(context)
    models = load_optimized(run)
    representative = representative_images(x_train, config.export.representative_samples, config.seed)
    check_images = normalize(context.data.x_test[:100])
    with stages.recording(run, "convert", context.fingerprint("convert")) as facts:
        converted = convert_all(models, representative, check_images)
        checks = {name: check_variant(name, variant.tflite_bytes,
                                      config.optimize.target_sparsity if variant.source.startswith("pruned") else None)
                  for name, variant in converted.items()}
        for name, variant in converted.items():
            write_bytes(run.path("tflite", f"{name}.tflite"), variant.tflite_bytes)
            facts[name] = {**checks[name].to_dict(), "source": variant.source,
                           "unstripped_bytes": variant.unstripped_size,
                           "strings_bytes_saved": variant.strings_bytes_saved}
            facts[name].pop("weights")
            context.echo(f"[convert] {name:16s} {len(variant.tflite_bytes):>9,} bytes "
                         f"(-{variant.strings_bytes_saved:,} stripped), sparsity {checks[name].weight_sparsity:.1%}")
    save_config(context)


def tflite_variants(run: RunDir) -> dict[str, bytes]:
    stages.require_done(run, "convert", "run `digitedge optimize` and the conversion (`digitedge export --all`) first")
    names = run.read_manifest()["stages"]["convert"]
    return {name: run.path("tflite", f"{name}.tflite").read_bytes()
            for name in names if run.path("tflite", f"{name}.tflite").is_file()}


def stage_micro(context: Context) -> None:
    """Which variants TFLite Micro runs (and why not), their measured arenas, TFLM-vs-LiteRT parity
    of the deployed variant, and its C header files."""
    if context.should_skip("micro"):
        return
    context.check_not_overwriting("micro")
    from digitedge.data import normalize
    from digitedge.micro.arena import find_arena_size
    from digitedge.micro.parity import compare_tflm_litert
    from digitedge.micro.profile import layer_table
    from digitedge.micro.tflm import tflm_support
    from digitedge.tflite_model import read_tflite

    config, run, data = context.config, context.run, context.data
    variants = tflite_variants(run)
    with stages.recording(run, "micro", context.fingerprint("micro")) as facts:
        for name, tflite_bytes in variants.items():
            support = tflm_support(tflite_bytes, name)
            entry = {"tflm": support.to_dict(), "macs": int(layer_table(read_tflite(tflite_bytes, name))["macs"].sum())}
            if support.runs:
                entry["arena"] = find_arena_size(tflite_bytes, config.export.arena_margin, name).to_dict()
            facts[name] = entry
            context.echo(f"[micro] {name:16s} " + (f"TFLM runs it, arena {entry['arena']['minimum_bytes']:,} bytes"
                                                    if support.runs else f"TFLM refuses it: {support.failure.describe()}"))
        deployed = config.export.variant
        if deployed in variants and facts[deployed]["tflm"]["runs"]:
            limit = config.benchmark.eval_limit or len(data.x_test)
            images = normalize(data.x_test[:limit])
            parity = compare_tflm_litert(variants[deployed], images, data.y_test[:limit],
                                         facts[deployed]["arena"]["arena_bytes"], deployed)
            facts["parity"] = {"variant": deployed, **parity.to_dict()}
            context.echo(f"[micro] {deployed}: TFLM accuracy {parity.tflm_accuracy:.2%} on {parity.images:,} images; "
                         f"same class as LiteRT XNNPACK {parity.xnnpack.same_prediction:.2%}, "
                         f"reference kernels {parity.reference.same_prediction:.2%}")
            write_export(context, deployed, run.path("micro"), quiet=True)
    save_config(context)


def write_export(context: Context, variant: str, out_dir: Path, quiet: bool = False) -> list[Path]:
    """The deployable model and its TFLite Micro header files, all checked before any is written."""
    from digitedge.data import normalize
    from digitedge.micro.arena import find_arena_size
    from digitedge.micro.header import header_files

    variants = tflite_variants(context.run)
    if variant not in variants:
        raise DigitedgeError(f"--variant '{variant}' is not in {context.run.root}; choose one of {', '.join(variants)}")
    tflite_bytes = variants[variant]
    arena = find_arena_size(tflite_bytes, context.config.export.arena_margin, f"{variant}.tflite")
    count = context.config.export.sample_digits
    accuracy = context.run.read_manifest().get("stages", {}).get("evaluate", {}).get(variant, {}).get("accuracy")
    files = header_files(tflite_bytes, variant=variant, accuracy=accuracy, arena_bytes=arena.arena_bytes,
                         sample_images=normalize(context.data.x_test[:count]), sample_labels=context.data.y_test[:count],
                         source_name=f"{variant}.tflite", arena_minimum_bytes=arena.minimum_bytes)
    paths = write_files({f"{variant}.tflite": tflite_bytes, **{name: text.encode() for name, text in files.items()}},
                        out_dir)
    if not quiet:
        for path in paths:
            context.echo(f"[export] {path} ({path.stat().st_size:,} bytes)")
        context.echo(f"[export] kTensorArenaSize = {arena.arena_bytes:,} bytes (measured minimum "
                     f"{arena.minimum_bytes:,} + {context.config.export.arena_margin:.0%} margin)")
    return paths


def _test_set(context: Context):
    limit = context.config.benchmark.eval_limit or len(context.data.x_test)
    return context.data.x_test[:limit], context.data.y_test[:limit]


def stage_evaluate(context: Context) -> None:
    """Every variant on the test set through LiteRT (and the Keras float model), against float;
    with a seed run, its float model too, converted into this run as the seed_float baseline."""
    if context.should_skip("evaluate"):
        return
    context.check_not_overwriting("evaluate")
    from digitedge.data import normalize
    from digitedge.evaluate import evaluate_variants

    run, seed_model = context.run, context.seed_model()
    images, labels = _test_set(context)
    variants = tflite_variants(run)
    with stages.recording(run, "evaluate", context.fingerprint("evaluate")) as facts:
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
    save_config(context)
    context.echo(table[["accuracy", "delta_pp", "agreement", "errors"]].to_string(
        formatters={"accuracy": "{:.2%}".format, "delta_pp": "{:+.2f}".format, "agreement": "{:.2%}".format}))


def baseline_variants(run: RunDir) -> dict[str, bytes]:
    """The seed baseline's .tflite when the evaluate stage made one: timed and tabled, never exported."""
    if SEED_FLOAT not in run.read_manifest().get("stages", {}).get("evaluate", {}):
        return {}
    return {SEED_FLOAT: run.path("evaluate", f"{SEED_FLOAT}.tflite").read_bytes()}


def stage_benchmark(context: Context, model_files: list[str] | None = None) -> None:
    """Interleaved batch-1 latency of every variant (LiteRT, and TFLM for int8) and the seed
    baseline, one process."""
    from digitedge.benchmark import benchmark_files, benchmark_variants, save_benchmark

    options = dict(runs=context.config.benchmark.runs, warmup=context.config.benchmark.warmup,
                   threads=context.config.benchmark.threads, seed=context.config.seed)
    if model_files:  # any .tflite files: printed only, no run directory involved
        context.echo(benchmark_files(model_files, **options).format())
        return
    if context.should_skip("benchmark"):
        return
    context.check_not_overwriting("benchmark")
    run = context.run
    variants = {**tflite_variants(run), **baseline_variants(run)}
    with stages.recording(run, "benchmark", context.fingerprint("benchmark")) as facts:
        result = benchmark_variants(variants, **options)
        save_benchmark(result, run.path("benchmark"))
        facts.update(overhead_median_us=result.overhead_median_us, machine=result.machine)
    save_config(context)
    context.echo(result.format())


def summary_table(run: RunDir) -> pd.DataFrame:
    """One row per variant, every figure read from this run's own stage outputs."""
    import gzip

    manifest = run.read_manifest()
    recorded = manifest.get("stages", {})
    evaluation = pd.read_csv(run.path("evaluate", "evaluation.csv"), index_col="variant")
    benchmark = pd.read_csv(run.path("benchmark", "benchmark.csv"), index_col="variant")
    variants = {**tflite_variants(run), **baseline_variants(run)}
    rows = []
    for name in evaluation.index:
        row = {"variant": name, **evaluation.loc[name, ["accuracy", "delta_pp", "agreement"]].to_dict()}
        if name in variants:
            data = variants[name]
            # what each stage measured of it; the seed baseline's sparsity and MACs come from evaluate
            measured = {**recorded["convert"].get(name, {}), **recorded.get("micro", {}).get(name, {}),
                        **recorded["evaluate"].get(name, {})}
            row.update(size_bytes=len(data), gzip_bytes=len(gzip.compress(data, 9, mtime=0)),
                       sparsity=measured["weight_sparsity"], macs=measured.get("macs"),
                       tflm_runs=measured.get("tflm", {}).get("runs"),
                       tflm_arena_bytes=measured.get("arena", {}).get("minimum_bytes"))
            if name in benchmark.index:
                row.update(benchmark.loc[name, ["latency_median_us", "latency_p90_us", "speedup_vs_float32",
                                                "tflm_latency_median_us"]].to_dict())
        rows.append(row)
    table = pd.DataFrame(rows).set_index("variant")
    if "float32" in table.index:
        table["size_ratio"] = table["size_bytes"] / table.loc["float32", "size_bytes"]
        table["gzip_ratio"] = table["gzip_bytes"] / table.loc["float32", "gzip_bytes"]
    return table


def stage_report(context: Context, command: str) -> Path:
    """REPORT.md, report.html and summary.csv from this run's artifacts."""
    from digitedge.evaluate import Misclassified
    from digitedge.micro.profile import layer_table
    from digitedge.report import RunFacts, write_report
    from digitedge.tflite_model import read_tflite

    run, config = context.run, context.config
    for stage in ("evaluate", "benchmark"):
        stages.require_done(run, stage, f"run `digitedge {stage} --run {run.root}` first")
    if context.should_skip("report"):
        return run.path("report", "REPORT.md")
    manifest = run.read_manifest()
    summary = summary_table(run)
    predictions = pd.read_csv(run.path("evaluate", "predictions.csv"), index_col="test_index")
    deployed = config.export.variant if config.export.variant in predictions.columns else None
    labels = predictions["label"].to_numpy()
    from sklearn.metrics import confusion_matrix

    confusion = {name: confusion_matrix(labels, predictions[name], labels=range(10))
                 for name in ("keras_float", deployed) if name}
    misclassified = None
    if deployed:
        wrong = np.flatnonzero((predictions[deployed].to_numpy() != labels)
                               & (predictions["keras_float"].to_numpy() == labels))
        misclassified = Misclassified(wrong, context.data.x_test[wrong], labels[wrong],
                                      predictions["keras_float"].to_numpy()[wrong],
                                      predictions[deployed].to_numpy()[wrong])
    parity = manifest.get("stages", {}).get("micro", {}).get("parity")
    extra = {"seed": str(config.seed), "test images": f"{len(labels):,}",
             "float training": f"{manifest['stages']['train']['epochs_run']} epochs, "
                               f"{manifest['stages']['train']['train_seconds']:.0f} s"}
    seed = manifest["stages"]["evaluate"].get(SEED_FLOAT)
    if seed:
        extra["seed baseline"] = (f"{SEED_FLOAT}: the float model of {seed['seed_run']} "
                                  f"(sha256 {seed['seed_model_sha256']})")
    if parity:
        extra["TFLite Micro parity"] = (
            f"{parity['variant']}: TFLM accuracy {parity['tflm_accuracy']:.2%}; same class as LiteRT XNNPACK on "
            f"{parity['xnnpack']['same_prediction']:.2%} and as LiteRT reference kernels on "
            f"{parity['reference']['same_prediction']:.2%} of {parity['images']:,} images; byte-identical outputs "
            f"{parity['xnnpack']['identical_outputs']:.2%} / {parity['reference']['identical_outputs']:.2%}")
    profile = None
    if deployed and run.path("tflite", f"{deployed}.tflite").is_file():
        profile = layer_table(read_tflite(run.path("tflite", f"{deployed}.tflite").read_bytes(), deployed))
    benchmark = manifest["stages"]["benchmark"]
    facts = RunFacts(run_name=str(run.root), data_checksum=manifest["data"]["checksum"],
                     versions=manifest.get("versions", {}), command=command,
                     git_commit=manifest.get("git_commit"), extra=extra)
    with stages.recording(run, "report", context.fingerprint("report")):
        files = write_report(
            summary, run.path("report"), facts=facts, training_metrics=run.path("train", "training_metrics.csv"),
            confusion_float=confusion.get("keras_float"), confusion_int8=confusion.get(deployed),
            misclassified=misclassified, layer_profile=profile, int8_variant=deployed or "int8_qat",
            latency_note=f"Per-invoke overhead of a one-op model in the same run: "
                         f"{benchmark['overhead_median_us']:.1f} µs." + _int8_speed_note(summary, deployed, benchmark))
    context.echo(f"[report] {files.markdown}\n[report] {files.html}")
    return files.markdown


def _int8_speed_note(summary: pd.DataFrame, deployed: str | None, benchmark: dict) -> str:
    """Why int8 is not faster than float32 on this host, from the CPU features the benchmark recorded."""
    features = benchmark.get("machine", {}).get("cpu_features")
    rows = summary.set_index("variant") if "variant" in summary.columns else summary
    speed = rows["speedup_vs_float32"].get(deployed) if deployed and "speedup_vs_float32" in rows else None
    if not features or speed is None or not speed < 1 or features["int8_dot_product"]:
        return ""
    simd = ", ".join(features["simd"]) or "no AVX2/NEON"
    return (f" `{deployed}` runs at ×{speed:.2f} the speed of float32 here: this CPU has {simd} but no int8 "
            "dot-product instruction (AVX-VNNI, AVX-512 VNNI, Arm dotprod), so XNNPACK widens every int8 "
            "product to 16 bits and gains nothing over float's FMA units.")


def run_pipeline(context: Context, command: str) -> Path:
    """Every stage in order; finished stages with the same config are skipped (resume)."""
    steps = [("train", stage_train), ("optimize", stage_optimize), ("convert", stage_convert),
             ("micro", stage_micro), ("evaluate", stage_evaluate), ("benchmark", stage_benchmark)]
    started = time.perf_counter()
    context.run.check_writable()
    context.seed_model()  # a bad seed run fails now, not after training
    check_budgets(context)
    for number, (name, stage) in enumerate(steps, start=1):
        context.echo(f"== stage {number}/{len(steps) + 1}: {name}")
        stage(context)
    context.echo(f"== stage {len(steps) + 1}/{len(steps) + 1}: report")
    report = stage_report(context, command)
    summary = summary_table(context.run)
    context.echo(summary[["accuracy", "delta_pp", "size_bytes", "gzip_bytes", "sparsity",
                          "latency_median_us", "tflm_arena_bytes"]].to_string(
        formatters={"accuracy": "{:.2%}".format, "delta_pp": "{:+.2f}".format, "sparsity": "{:.1%}".format}))
    context.echo(f"Done in {time.perf_counter() - started:.0f} s. Report: {report}")
    return report


def record_export(context: Context, out_dir: Path) -> None:
    """Files `digitedge export` wrote inside the run are listed in its manifest like every other artifact."""
    if Path(out_dir).resolve().is_relative_to(context.run.root.resolve()):
        context.run.update_manifest()


def verify_run(root: str | Path) -> list[str]:
    run = RunDir(root)
    if not run.root.is_dir():
        raise DigitedgeError(f"run directory {run.root} does not exist")
    return run.verify()
