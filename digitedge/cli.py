"""The `digitedge` command: parses options, calls the pipeline, prints. No logic lives only here.

A user's mistake (DigitedgeError, a bad option) ends in one line on stderr and exit code 1
(click's usage errors: 2); anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from digitedge.config import TECHNIQUES
from digitedge.errors import DigitedgeError

DEFAULT_RUN = "runs/default"


def _context(run_dir: str, config_file: str | None, overrides: dict, data: str | None, force: bool = False):
    from digitedge import config as config_module
    from digitedge.pipeline import Context
    from digitedge.rundir import RunDir

    config = config_module.load(config_file, overrides)
    return Context(RunDir(run_dir), config, data_path=data, force=force, echo=click.echo)


def _context_from_run(run_dir: str, overrides: dict | None = None, force: bool = False):
    """A context for a stage after training: the run's saved config, plus `overrides`."""
    config_file = Path(run_dir) / "config.toml"
    if not config_file.is_file():
        raise DigitedgeError(f"{run_dir} is not a digitedge run (no config.toml); run `digitedge train --out {run_dir}` first")
    from digitedge.data import DATA_ENV

    return _context(run_dir, str(config_file), overrides or {}, os.environ.get(DATA_ENV), force)


run_option = click.option("--run", "run_dir", default=DEFAULT_RUN, show_default=True,
                          type=click.Path(file_okay=False), help="Run directory.")
# readable=False: an unreadable file is reported by the loader, in one line naming it
data_option = click.option("--data", type=click.Path(readable=False), default=None,
                           help="MNIST as a Keras mnist.npz or a folder of the four IDX files (else DIGITEDGE_DATA, the Keras cache, the Keras server, the PyPI mirror).")
config_option = click.option("--config", "config_file", type=click.Path(dir_okay=False), default=None,
                             help="TOML config file; CLI options override it.")
force_option = click.option("--force", is_flag=True, help="Redo stages already done for this config.")
# a plain string: the pipeline checks the folder and says in one line what is wrong with it
seed_run_option = click.option("--seed-run", metavar="DIR", default=None,
                               help="A run trained with --arch seed: its float model is evaluated and timed "
                                    "as the report's seed_float baseline row.")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="digitedge")
@click.option("--verbose", is_flag=True, help="Show TensorFlow's C++ log lines (also: DIGITEDGE_TF_LOGS=1).")
def cli(verbose: bool) -> None:
    """Train a handwritten-digit CNN, compress it, and take it to a microcontroller."""
    from digitedge.tflogs import quiet_tensorflow

    quiet_tensorflow(verbose)


@cli.command()
@data_option
def data(data: str | None) -> None:
    """Load MNIST and print its source, counts per split and class, and checksum."""
    from digitedge.data import describe, load_mnist

    click.echo(describe(load_mnist(data)))


@cli.command()
@click.option("--epochs", type=click.IntRange(min=1), default=None, help="Maximum epochs (early stopping may end sooner).")
@click.option("--batch-size", type=click.IntRange(min=1), default=None)
@click.option("--seed", type=int, default=None)
@click.option("--arch", type=click.Choice(["compact", "seed"]), default=None,
              help="compact (MCU-sized, default) or seed (the seed notebook's 1.2M-parameter CNN).")
@click.option("--train-subset", type=click.IntRange(min=0), default=None, help="Train on the first N training images (smoke tests).")
@config_option
@click.option("--out", "run_dir", default=DEFAULT_RUN, show_default=True, type=click.Path(file_okay=False),
              help="Run directory to write.")
@data_option
@force_option
def train(epochs, batch_size, seed, arch, train_subset, config_file, run_dir, data, force) -> None:
    """Train the float baseline and write its monitoring artifacts."""
    from digitedge.pipeline import run_stage

    overrides = {"train.epochs": epochs, "train.batch_size": batch_size, "seed": seed,
                 "model.arch": arch, "train.train_subset": train_subset}
    run_stage(_context(run_dir, config_file, overrides, data, force), "train")


@cli.command()
@run_option
@click.option("--technique", "techniques", multiple=True, type=click.Choice(list(TECHNIQUES)),
              help="Technique to run (repeatable); default: all of them.")
@click.option("--sparsity", type=float, default=None, help="Target sparsity for pruning, in (0, 1).")
@click.option("--epochs", type=click.IntRange(min=1), default=None, help="Fine-tuning epochs for every technique.")
@force_option
def optimize(run_dir, techniques, sparsity, epochs, force) -> None:
    """Quantization-aware training (8-bit, 4-bit, per-layer bits), pruning, sparsity-preserving QAT, and
    structured pruning with 4-bit QAT of the float model."""
    from digitedge.pipeline import run_stage

    overrides = {"optimize.techniques": list(techniques) or None, "optimize.target_sparsity": sparsity,
                 "optimize.qat_epochs": epochs, "optimize.prune_epochs": epochs, "optimize.prune_qat_epochs": epochs,
                 "optimize.low_bit_epochs": epochs}
    run_stage(_context_from_run(run_dir, overrides, force), "optimize")


@cli.command()
@run_option
@click.option("--int8", "int8", is_flag=True, help="Write the deployable int8 model and its TFLite Micro header.")
@click.option("--all", "all_variants", is_flag=True,
              help="Write every TFLite variant, each with the signature serving_default(image) -> probabilities.")
@click.option("--mobile", is_flag=True,
              help="Write mobile_uint8.tflite and mobile_float16.tflite (RGB input, TFLite metadata, labels), "
                   "labels.txt and MOBILE.md for MediaPipe Tasks, Android Studio or LiteRT.")
@click.option("--variant", default=None,
              help="Variant to deploy with --int8 (default: the one the micro stage chose, see export.variant).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Folder to write to (default: RUN/export).")
@click.option("--target", type=click.Choice(["tflm", "c"]), default="tflm", show_default=True,
              help="With --int8: a TFLite Micro header (tflm) or dependency-free C99 inference code (c).")
@click.option("--firmware", "firmware_dir", type=click.Path(file_okay=False), default=None,
              help="With --int8 (tflm): also write a ready-to-build Arduino/PlatformIO sketch folder here.")
@force_option
def export(run_dir, int8, all_variants, mobile, variant, out_dir, target, firmware_dir, force) -> None:
    """Convert to TFLite (every variant) and write the int8 model plus its C header for TFLite Micro."""
    from digitedge.rundir import check_writable_folder, write_files

    out = Path(out_dir) if out_dir else Path(run_dir) / "export"
    check_writable_folder(out, "export folder")  # before TensorFlow loads: an unwritable --out fails at once
    from digitedge.convert import FULL_INTEGER, VARIANTS
    from digitedge.mobile.signature import with_signature
    from digitedge.pipeline import record_export, run_stage
    from digitedge.pipeline.convert_stage import tflite_variants
    from digitedge.pipeline.micro_stage import deployed_variant, write_export
    from digitedge.pipeline.mobile_stage import mobile_files

    if variant is not None and variant not in VARIANTS:
        raise DigitedgeError(f"--variant '{variant}' is unknown; choose one of {', '.join(VARIANTS)}")
    if int8 and variant is not None and variant not in FULL_INTEGER:
        raise DigitedgeError(f"--variant '{variant}' is not a full-integer int8 variant; choose one of {', '.join(FULL_INTEGER)}")
    if not (int8 or all_variants or mobile):
        raise DigitedgeError("say what to export: --int8 (the deployable model and header), --all (every variant) "
                             "and/or --mobile (the files for an app)")
    if firmware_dir is not None:
        from digitedge.micro.sketch import check_firmware_folder

        if not (int8 and target == "tflm"):
            raise DigitedgeError("--firmware needs --int8 with --target tflm (the sketch runs TFLite Micro)")
        check_firmware_folder(firmware_dir)  # refuse before anything is written
        if Path(firmware_dir).resolve() == out.resolve():
            raise DigitedgeError(f"--firmware {firmware_dir} is the export folder itself; choose another folder")
    context = _context_from_run(run_dir, force=force)  # --variant picks a file; it does not change the conversion
    if mobile:
        run_stage(context, "mobile")
        for path in write_files(mobile_files(context.run), out):
            click.echo(f"[export] {path} ({path.stat().st_size:,} bytes)")
        if not (int8 or all_variants):
            record_export(context, out)
            return
    run_stage(context, "convert")
    if int8:
        run_stage(context, "micro")  # the arena and TFLM accuracy the header states
    deployed = variant or deployed_variant(context.run)
    if int8 and deployed is None:
        raise DigitedgeError(f"no int8 variant of {run_dir} runs on TFLite Micro; nothing to deploy")
    if all_variants:  # a file a user takes to an app gets its signature names back, proven to change no output
        named = {f"{name}.tflite": with_signature(data, context.data.x_test, name)
                 for name, data in tflite_variants(context.run).items()}
        for path in write_files(named, out):
            click.echo(f"[export] {path} ({path.stat().st_size:,} bytes)")
    if int8 and target == "c":
        from digitedge.cgen import export_c

        for path in export_c(tflite_variants(context.run)[deployed], out, label=f"{deployed}.tflite"):
            click.echo(f"[export] {path} ({path.stat().st_size:,} bytes)")
    elif int8:
        written = write_export(context, deployed, out)
        if firmware_dir is not None:
            from digitedge.micro.sketch import write_firmware_folder

            tflite_bytes = written[f"{deployed}.tflite"]
            sources = {name: data.decode() for name, data in written.items() if not name.endswith(".tflite")}
            for path in write_firmware_folder(sources, tflite_bytes, firmware_dir):
                click.echo(f"[export] {path} ({path.stat().st_size:,} bytes)")
    record_export(context, out)


@cli.group()
def firmware() -> None:
    """The bare-metal firmware (generated C inference) on emulated Cortex-M boards."""


@firmware.command("run")
@run_option
@click.option("--board", "board_names", default="m4", show_default=True,
              help="Board: m0 (microbit), m3 (mps2-an385), m4 (mps2-an386), m7 (mps2-an500), m33 (mps2-an505), "
                   "m55 (mps3-an547), a comma-separated list, or all.")
@click.option("--variant", default=None,
              help="int8 variant(s) to run, comma-separated (default: every int8 variant of the run).")
@click.option("--images", type=click.IntRange(min=1, max=10_000), default=1000, show_default=True,
              help="Real test digits streamed to each board.")
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Folder for the table (board.csv, board.json); printed only without it.")
def firmware_run(run_dir, board_names, variant, images, out) -> None:
    """Build the bare-metal image for each variant and board, run it on QEMU with real test digits, check every
    output bit for bit against TFLite Micro, and print flash, RAM and instructions per inference.

    The board stage's own measurement (`digitedge board`), with the variants and images chosen here and
    nothing recorded in the run; an output that differs from TFLite Micro fails the command."""
    from digitedge.cgen.board_table import format_board_table, write_board_table
    from digitedge.cgen.boards import boards
    from digitedge.cgen.qemu import require_tools
    from digitedge.convert import FULL_INTEGER
    from digitedge.pipeline.board_stage import board_variants, measure_boards

    targets = boards(board_names)
    context = _context_from_run(run_dir)
    variants = board_variants(context.run, [name.strip() for name in variant.split(",") if name.strip()]
                              if variant else None)
    if not variants:
        raise DigitedgeError(f"{run_dir} has none of the int8 variants {', '.join(FULL_INTEGER)}; "
                             f"run `digitedge export --all` first")
    require_tools()
    table = measure_boards(context, targets, variants, images)
    click.echo(format_board_table(table))
    if out is not None:
        for path in write_board_table(table, Path(out)):
            click.echo(f"[board] {path}")
    mismatched = table[table.bit_exact != table.images]
    if len(mismatched):
        raise DigitedgeError("outputs differ from TFLite Micro on " + ", ".join(
            f"{row.variant}/{row.board} ({row.images - row.bit_exact} of {row.images})" for row in mismatched.itertuples()))


@cli.command()
@click.argument("model", type=click.Path(readable=False))
@click.option("--margin", type=click.FloatRange(0, 1), default=0.10, show_default=True,
              help="Arena margin over the measured minimum.")
def profile(model, margin) -> None:
    """Per-layer ops, shapes, parameters, MACs, memory, and estimated MCU latency of a .tflite."""
    from digitedge.micro.profile import profile_model
    from digitedge.tflite_model import read_tflite_file

    tflite = read_tflite_file(model)
    click.echo(profile_model(tflite.data, Path(model).name, margin).text)


@cli.command()
@run_option
@force_option
def micro(run_dir, force) -> None:
    """Check every variant on TFLite Micro: runs or why not, measured arena, parity with LiteRT."""
    from digitedge.pipeline import run_stage

    run_stage(_context_from_run(run_dir, force=force), "micro")


@cli.command()
@run_option
@click.option("--limit", type=click.IntRange(min=0), default=None, help="Evaluate on the first N test images (0 = all).")
@seed_run_option
@force_option
def evaluate(run_dir, limit, seed_run, force) -> None:
    """Accuracy, change against float, and agreement of every variant on the test set."""
    from digitedge.pipeline import run_stage

    run_stage(_context_from_run(run_dir, {"benchmark.eval_limit": limit, "evaluate.seed_run": seed_run}, force),
              "evaluate")


@cli.command()
@run_option
@click.option("--model", "model_files", multiple=True, type=click.Path(readable=False),
              help="Benchmark these .tflite files instead of a run's variants (repeatable).")
@click.option("--threads", default=None, metavar="N[,N...]",
              help="Interpreter threads, or a list (1,2,4) measured one after another (default 1).")
@click.option("--no-xnnpack", "no_xnnpack", is_flag=True,
              help="Time LiteRT's builtin kernels without the XNNPACK delegate (BUILTIN_WITHOUT_DEFAULT_DELEGATES).")
@click.option("--runs", type=click.IntRange(min=1), default=None, help="Timed invokes per model.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (every thread count) instead of the table.")
@force_option
def benchmark(run_dir, model_files, threads, no_xnnpack, runs, as_json, force) -> None:
    """Batch-1 latency of every variant, interleaved in one process (LiteRT, and TFLM for int8).

    A run records one measurement (one thread count, XNNPACK); a thread list or --no-xnnpack is printed only.
    """
    import json

    from digitedge import benchmark as benchmarking
    from digitedge import config as config_module
    from digitedge.pipeline import run_stage
    from digitedge.pipeline.benchmark_stage import benchmark_options, read_benchmark_json, run_variants

    counts = benchmarking.parse_thread_counts(threads) if threads else None
    overrides = {"benchmark.threads": counts[0] if counts else None, "benchmark.runs": runs}
    if not model_files and not no_xnnpack and (counts is None or len(counts) == 1):
        context = _context_from_run(run_dir, overrides, force)
        if as_json:
            context.echo = lambda line: click.echo(line, err=True)  # stdout holds only the JSON
        run_stage(context, "benchmark")
        if as_json:
            click.echo(json.dumps({"benchmarks": [read_benchmark_json(context.run)]}, indent=2))
        return
    if model_files:
        from digitedge.pipeline import Context
        from digitedge.rundir import RunDir

        context = Context(RunDir(run_dir), config_module.load(None, overrides), echo=click.echo)
        variants = benchmarking.read_model_files(list(model_files))
    else:
        context = _context_from_run(run_dir, overrides)
        variants = run_variants(context.run)
    options = {**benchmark_options(context), "xnnpack": not no_xnnpack}
    options.pop("threads")
    results = benchmarking.benchmark_threads(variants, counts or [context.config.benchmark.threads], **options)
    click.echo(json.dumps(benchmarking.results_json(results), indent=2) if as_json
               else "\n\n".join(result.format() for result in results))


board_option = click.option("--board", "board_names", default=None,
                             help="Boards for the board stage: m0, m3, m4, m7, m33, m55, comma-separated, or all "
                                  "(default: the config's board.boards, m4).")


@cli.command()
@run_option
@board_option
@force_option
def board(run_dir, board_names, force) -> None:
    """Every int8 variant's generated C on emulated Cortex-M boards (QEMU): bit-exact count, flash, RAM, instructions."""
    from digitedge.cgen.qemu import require_tools
    from digitedge.pipeline import run_stage

    require_tools()
    run_stage(_context_from_run(run_dir, {"board.boards": board_names}, force), "board")


@cli.command()
@run_option
def report(run_dir) -> None:
    """Write REPORT.md, report.html and summary.csv comparing every variant with float (always rewritten:
    the report only reads the run's artifacts, so there is nothing to skip or force)."""
    from digitedge.pipeline import run_stage

    context = _context_from_run(run_dir, force=True)
    context.command = f"digitedge report --run {run_dir}"
    run_stage(context, "report")


@cli.command("run")
@click.option("--quick", is_flag=True, help="The same stages with small budgets (a smoke test).")
@click.option("--epochs", type=click.IntRange(min=1), default=None)
@click.option("--seed", type=int, default=None)
@click.option("--arch", type=click.Choice(["compact", "seed"]), default=None)
@seed_run_option
@board_option
@config_option
@click.option("--out", "run_dir", default=None, type=click.Path(file_okay=False),
              help="Run directory (default: runs/default, or runs/quick with --quick).")
@data_option
@force_option
def run_all(quick, epochs, seed, arch, seed_run, board_names, config_file, run_dir, data, force) -> None:
    """The whole pipeline: data, train, optimize, export, micro check, evaluate, benchmark, report."""
    from digitedge.pipeline import run_pipeline

    overrides = {"train.epochs": epochs, "seed": seed, "model.arch": arch, "evaluate.seed_run": seed_run,
                 "board.boards": board_names}
    run_dir = run_dir or ("runs/quick" if quick else DEFAULT_RUN)
    overrides = {key: value for key, value in overrides.items() if value is not None}
    context = _context(run_dir, config_file, {**(QUICK if quick else {}), **overrides}, data, force)
    context.command = "digitedge run" + (" --quick" if quick else "") + f" --out {run_dir}" \
        + (f" --seed-run {seed_run}" if seed_run else "") + (f" --board {board_names}" if board_names else "")
    run_pipeline(context)


QUICK = {"train.epochs": 1, "train.train_subset": 5000, "optimize.qat_epochs": 1, "optimize.prune_epochs": 1,
         "optimize.prune_qat_epochs": 1, "optimize.low_bit_epochs": 1, "export.representative_samples": 100,
         "benchmark.runs": 50, "benchmark.warmup": 5, "benchmark.eval_limit": 1000, "board.images": 100}


@cli.command()
@run_option
@config_option
@data_option
@click.option("--target", type=click.Choice(["tflm", "c"]), default=None,
              help="What flash/RAM mean: TFLite Micro (.tflite, arena) or the generated C on --board "
                   "(code + weights, arena + stack, instructions). Default: the config's budget.target.")
@click.option("--board", "board_name", type=click.Choice(["m0", "m3", "m4", "m7", "m33", "m55"]), default=None,
              help="The core of --target c (default: the config's board.boards when it names one).")
@click.option("--max-flash", type=click.IntRange(min=0), default=0, help="Most flash in bytes (default: the config's budget.flash_bytes; 0 there: no limit).")
@click.option("--max-ram", type=click.IntRange(min=0), default=0, help="Most RAM in bytes (default: the config's budget.ram_bytes; 0 there: no limit).")
@click.option("--max-macs", type=click.IntRange(min=0), default=0, help="Most multiply-accumulates per inference (0: no limit).")
@click.option("--max-instructions", type=click.IntRange(min=0), default=0,
              help="--target c: most instructions per inference (0: no limit).")
@click.option("--max-ms", type=click.FloatRange(min=0, min_open=True), default=None,
              help="--target c: most milliseconds per inference at --clock-mhz (one instruction per cycle).")
@click.option("--clock-mhz", type=click.FloatRange(min=0, min_open=True), default=None, help="The core's clock, for --max-ms.")
@click.option("--budgets", default=None, metavar="BYTES,...",
              help="Flash budgets, increasing (e.g. 8192,12288,16384,24576): one best-<budget>.toml each.")
@click.option("--storage", default=None, help="Optuna storage URL (default: sqlite:///RUN/search/study.db); "
                                              "one PostgreSQL URL on several machines shares the study.")
@click.option("--study", "study_name", default="digitedge", show_default=True, help="Study name in the storage.")
@click.option("--trials", type=click.IntRange(min=0), default=0,
              help="Stop when the rungs hold this many finished trials together (0: only --timeout stops it).")
@click.option("--timeout", "timeout_min", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Stop starting trials after this many minutes.")
@click.option("--train-images", type=click.IntRange(min=100), default=10000, show_default=True,
              help="Training images of the top rung (a seeded subset; lower rungs take its first ones; the final run uses all).")
@click.option("--low-bit", is_flag=True,
              help="Also propose weights below 8 bits (4-bit, 8/4/2 bits per block, structured pruning + 4-bit).")
@click.option("--seed", type=int, default=None)
def search(run_dir, config_file, data, target, board_name, max_flash, max_ram, max_macs, max_instructions, max_ms,
           clock_mhz, budgets, storage, study_name, trials, timeout_min, train_images, low_bit, seed) -> None:
    """Optuna search (a fidelity ladder of cheap trials promoted to full training) for the most accurate
    int8 model within flash/RAM limits; writes RUN/search/, best.toml and best-<budget>.toml."""
    from digitedge import config as config_module
    from digitedge.search.budget import Limits
    from digitedge.search.space import SearchSpace, with_low_bit
    from digitedge.search.study import SearchPlan, load_search_data, run_search
    from digitedge.search.targets import instruction_limit, make_target, parse_budgets, require_c_tools

    if not trials and timeout_min is None:
        raise DigitedgeError("give --trials N or --timeout MINUTES (or both): the search needs a stopping point")
    flash_budgets = parse_budgets(budgets) if budgets is not None else ()
    base = config_module.load(config_file, {"seed": seed})
    target_name = target or base.budget.target
    instructions = instruction_limit(target_name, max_instructions, max_ms, clock_mhz)
    if target_name == "c":
        require_c_tools()  # before minutes of data loading and calibration
    search_data = load_search_data(data, base, train_images)
    limits = Limits(max_flash or max(flash_budgets, default=0) or base.budget.flash_bytes,  # [budget]: the board
                    max_ram or base.budget.ram_bytes, max_macs, instructions)
    space = with_low_bit(SearchSpace()) if low_bit else SearchSpace()
    plan = SearchPlan(limits, make_target(target_name, board_name or base.board.boards, Path(run_dir) / "search",
                                          search_data, base, space, click.echo), budgets=flash_budgets)
    result = run_search(Path(run_dir), base, search_data, plan, space=space, storage_url=storage, study_name=study_name,
                        n_trials=trials, timeout_s=timeout_min * 60 if timeout_min else None, echo=click.echo)
    if result.interrupted:
        sys.exit(130)


@cli.command()
@click.argument("run_dir", type=click.Path())
def verify(run_dir: str) -> None:
    """Check a run's files against its manifest (sizes and sha256)."""
    from digitedge.pipeline import verify_run

    problems = verify_run(run_dir)
    for problem in problems:
        click.echo(problem)
    if problems:
        raise DigitedgeError(f"{run_dir}: {len(problems)} file(s) differ from the manifest")
    click.echo(f"{run_dir}: every file matches the manifest")


@cli.command()
@click.argument("images", nargs=-1, required=True, type=click.Path())
@run_option
@click.option("--variant", default=None, help="Variant to use (default: the run's deployed int8 model, on TFLite Micro).")
@click.option("--model", "model_file", type=click.Path(dir_okay=False), default=None,
              help="Any .tflite or .keras model instead of a run's variant.")
@click.option("--all-variants", is_flag=True, help="One column per variant (LiteRT), plus the deployed one on TFLite Micro.")
@click.option("--save-prepared", type=click.Path(file_okay=False), default=None,
              help="Write the 28x28 images the model saw to this folder.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def predict(images, run_dir, variant, model_file, all_variants, save_prepared, as_json) -> None:
    """Classify your own digit images (PNG, JPEG, BMP, .npy; any size, either polarity), prepared the MNIST way."""
    from digitedge import predict as predicting

    prepared = predicting.prepare_images(list(images))
    results = predicting.predict_images(prepared, predicting.load_classifiers(run_dir, variant, model_file, all_variants))
    if save_prepared:
        predicting.save_prepared(results, save_prepared)
    click.echo(predicting.results_json(results) if as_json else predicting.format_results(results))


@cli.command()
@run_option
@click.option("--model", "model_file", type=click.Path(dir_okay=False), default=None,
              help="Serve one .tflite or .keras model instead of a run's variants.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (0.0.0.0 exposes it to the network).")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="Port (0: any free port).")
@click.option("--verbose", is_flag=True, help="Log every request.")
def serve(run_dir, model_file, host, port, verbose) -> None:
    """A local page to draw (or upload) a digit and see every variant's prediction, scores and latency."""
    from digitedge.predict import load_classifiers
    from digitedge.serve import make_server, serve as serve_forever

    classifiers = load_classifiers(run_dir, model=model_file, all_variants=model_file is None)
    serve_forever(make_server(classifiers, host, port, title=model_file or run_dir, verbose=verbose), click.echo)


def main() -> None:
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort as exc:
        if isinstance(exc.__cause__, KeyboardInterrupt):  # click turns Ctrl-C into Abort
            click.echo("Interrupted: finished stages and artifacts are kept; run the same command again to resume.",
                       err=True)
        else:
            click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.UsageError as exc:  # one line like every other error, with where to find help
        command = exc.ctx.command_path if exc.ctx else "digitedge"
        click.echo(f"Error: {' '.join(exc.format_message().split())} (see '{command} --help')", err=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except DigitedgeError as exc:
        click.echo(f"Error: {' '.join(str(exc).split())}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("Interrupted: finished stages and artifacts are kept; run the same command again to resume.", err=True)
        sys.exit(130)
