"""The `digitedge` command: parses options, calls the pipeline, prints. No logic lives only here.

A user's mistake (DigitedgeError, a bad option) ends in one line on stderr and exit code 1
(click's usage errors: 2); anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from digitedge.errors import DigitedgeError

DEFAULT_RUN = "runs/default"


def _quiet_tensorflow() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("ABSL_MIN_LOG_LEVEL", "2")


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
data_option = click.option("--data", type=click.Path(), default=None,
                           help="MNIST as a Keras mnist.npz or a folder of the four IDX files (else DIGITEDGE_DATA, the Keras cache, the Keras server, the PyPI mirror).")
config_option = click.option("--config", "config_file", type=click.Path(dir_okay=False), default=None,
                             help="TOML config file; CLI options override it.")
force_option = click.option("--force", is_flag=True, help="Redo stages already done for this config.")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="digitedge")
def cli() -> None:
    """Train a handwritten-digit CNN, compress it, and take it to a microcontroller."""
    _quiet_tensorflow()


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
    from digitedge.pipeline import stage_train

    overrides = {"train.epochs": epochs, "train.batch_size": batch_size, "seed": seed,
                 "model.arch": arch, "train.train_subset": train_subset}
    stage_train(_context(run_dir, config_file, overrides, data, force))


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


def main() -> None:
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except DigitedgeError as exc:
        click.echo(f"Error: {' '.join(str(exc).split())}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("Interrupted: finished stages and artifacts are kept; run the same command again to resume.", err=True)
        sys.exit(130)
