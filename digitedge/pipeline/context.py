"""What every stage shares: the run, its config, the data, where to print, and the Stage record.

A stage module defines one `STAGE` and the readers of the files it writes; later stages read an
earlier stage's outputs only through those readers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd

from digitedge.config import Config, to_dict, to_toml
from digitedge.errors import DigitedgeError
from digitedge.pipeline import manifest
from digitedge.rundir import RunDir, git_commit, package_versions, sha256_file, write_text
from digitedge.seed_baseline import seed_model_path

Echo = Callable[[str], None]


@dataclass(frozen=True)
class Stage:
    """One step of the pipeline: what it reads of the config, how it runs, what the report takes from it."""

    name: str
    sections: tuple[str, ...]  # config sections it reads itself (upstream stages' are added)
    run: Callable[["Context"], None]
    # its columns of the summary table, one row per variant, from the files and facts it recorded
    summary: Callable[[RunDir], pd.DataFrame] | None = None
    # lines for the report's run facts, from its manifest record
    facts: Callable[[dict], dict[str, str]] | None = None
    # its own section of the report (digitedge.report.render blocks), from the files it wrote
    section: Callable[[RunDir], list] | None = None


@dataclass
class Context:
    """What every stage needs: the run, its config, the data, and where to print."""

    run: RunDir
    config: Config
    data_path: str | None = None
    force: bool = False
    echo: Echo = print
    command: str = "digitedge report"  # what regenerates this run's report, as the report states it
    _data: object = None

    @property
    def data(self):
        """MNIST, loaded once; the first load says which source it came from and its checksum."""
        if self._data is None:
            from digitedge.data import load_mnist, source_line

            self._data = load_mnist(self.data_path)
            self.echo(source_line(self._data))
        return self._data

    def fingerprint(self, stage: str) -> str:
        from digitedge.pipeline import upstream_sections

        seed_model = self.seed_model() if stage == "evaluate" else None
        outside = {"seed_run": self.config.evaluate.seed_run, "seed_model_sha256": sha256_file(seed_model)} \
            if seed_model else None
        return manifest.fingerprint(self.config, upstream_sections(stage), self.data.checksum, outside)

    def recording(self, stage: str):
        """manifest.recording for `stage`, dropping the records of the stages after it."""
        from digitedge.pipeline import later_stages

        return manifest.recording(self.run, stage, self.fingerprint(stage), later_stages(stage))

    def seed_model(self) -> Path | None:
        """The seed baseline's model file, checked; None when the run has no seed baseline."""
        return seed_model_path(self.config.evaluate.seed_run) if self.config.evaluate.seed_run else None

    def should_skip(self, stage: str) -> bool:
        if not self.force and manifest.is_done(self.run, stage, self.fingerprint(stage)):
            self.echo(f"[{stage}] already done for this config in {self.run.root} (use --force to redo)")
            return True
        return False

    def check_not_overwriting(self, stage: str) -> None:
        """A finished stage with another config is only replaced with --force."""
        recorded = manifest.recorded_fingerprint(self.run, stage)
        if recorded and recorded != self.fingerprint(stage) and not self.force:
            raise DigitedgeError(
                f"{self.run.root} already holds a '{stage}' stage made with another config; "
                "pass --force to replace it or choose another --out"
            )

    def stage_facts(self, stage: str) -> dict:
        """What `stage` recorded in the manifest ({} when it has not run)."""
        return self.run.read_manifest().get("stages", {}).get(stage, {})


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


def evaluation_set(context: Context):
    """The test images and labels the evaluating stages use (the first benchmark.eval_limit, or all)."""
    limit = context.config.benchmark.eval_limit or len(context.data.x_test)
    return context.data.x_test[:limit], context.data.y_test[:limit]
