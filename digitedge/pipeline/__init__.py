"""The pipeline: one list of stages over a run directory, each a module that owns its inputs,
outputs and manifest facts (digitedge/pipeline/<stage>.py, each defining `STAGE`).

`digitedge run` runs the list in order, the single-stage commands run one entry, and the report
reads every entry's summary columns and facts. A new stage is one module plus one line in STAGES.
A stage already done for the same config is skipped unless forced.
"""

from __future__ import annotations

import time
from pathlib import Path

from digitedge.errors import DigitedgeError
from digitedge.pipeline import benchmark, board, convert, evaluate, micro, mobile, optimize, report, train
from digitedge.pipeline.context import Context, Stage, save_config
from digitedge.rundir import RunDir

STAGES: tuple[Stage, ...] = (train.STAGE, optimize.STAGE, convert.STAGE, micro.STAGE, mobile.STAGE,
                             evaluate.STAGE, benchmark.STAGE, board.STAGE, report.STAGE)
STAGE_NAMES = tuple(stage.name for stage in STAGES)


def _index(name: str) -> int:
    if name not in STAGE_NAMES:
        raise ValueError(f"unknown stage {name!r}")
    return STAGE_NAMES.index(name)


def upstream_sections(name: str) -> tuple[str, ...]:
    """The config sections `name` and every stage before it read: what its fingerprint hashes."""
    return tuple(section for stage in STAGES[: _index(name) + 1] for section in stage.sections)


def later_stages(name: str) -> tuple[str, ...]:
    return STAGE_NAMES[_index(name) + 1:]


def run_stage(context: Context, name: str) -> None:
    """One stage: skipped when done for this config, refused over another config's without --force."""
    context.run.check_writable()
    if context.should_skip(name):
        return
    context.check_not_overwriting(name)
    STAGES[_index(name)].run(context)
    save_config(context)


def run_pipeline(context: Context) -> Path:
    """Every stage in order; finished stages with the same config are skipped (resume)."""
    from digitedge.pipeline.train import check_budgets
    from digitedge.report.tables import format_summary

    started = time.perf_counter()
    context.run.check_writable()
    context.seed_model()  # a bad seed run fails now, not after training
    check_budgets(context)
    optimize.check_plan(context.config)  # a bad layer_bits or block shape fails now, not after training
    for number, stage in enumerate(STAGES, start=1):
        context.echo(f"== stage {number}/{len(STAGES)}: {stage.name}")
        run_stage(context, stage.name)
    context.echo(format_summary(report.summary_table(context.run)))
    context.echo(f"Done in {time.perf_counter() - started:.0f} s. Report: {context.run.path('report', 'REPORT.md')}")
    return context.run.path("report", "REPORT.md")


def record_export(context: Context, out_dir: Path) -> None:
    """Files `digitedge export` wrote inside the run are listed in its manifest like every other artifact."""
    if Path(out_dir).resolve().is_relative_to(context.run.root.resolve()):
        context.run.update_manifest()


def verify_run(root: str | Path) -> list[str]:
    run = RunDir(root)
    if not run.root.is_dir():
        raise DigitedgeError(f"run directory {run.root} does not exist")
    return run.verify()


__all__ = ["Context", "STAGES", "STAGE_NAMES", "Stage", "record_export", "run_pipeline", "run_stage", "verify_run"]
