"""Stage bookkeeping in a run's manifest: fingerprints, whether a stage is done, and recording one.

A stage is done when the manifest records it with the same fingerprint (a hash of the
config sections it and its upstream stages read, plus the data checksum) and every file it
produced is still present with its recorded sha256. A done stage is skipped unless forced.
Which stages exist, in which order, is the pipeline's list (digitedge.pipeline.STAGES).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from contextlib import contextmanager
from typing import Sequence

from digitedge.config import Config, to_dict
from digitedge.errors import DigitedgeError
from digitedge.rundir import RunDir, sha256_file


def fingerprint(config: Config, sections: Sequence[str], data_checksum: str, outside: dict | None = None) -> str:
    """Hash of the config `sections` a stage and its upstream stages read, and of the data.

    `outside` identifies files from outside the run that the stage itself reads (the seed baseline's
    model, for evaluate); later stages read what it wrote and are redone when it is. Without it the
    hash is the one runs made before it existed.
    """
    values = to_dict(config)
    relevant = {section: values[section] for section in sections}
    content = {"data": data_checksum, "config": relevant, **({"outside": outside} if outside else {})}
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:16]


def is_done(run: RunDir, stage: str, stage_fingerprint: str) -> bool:
    manifest = run.read_manifest()
    record = manifest.get("stages", {}).get(stage)
    if not record or record.get("fingerprint") != stage_fingerprint:
        return False
    files = manifest.get("files", {})
    for name in record.get("outputs", []):
        path = run.path(name)
        if not path.is_file() or name not in files or path.stat().st_size != files[name]["size"] \
                or sha256_file(path) != files[name]["sha256"]:
            return False
    return True


def recorded_fingerprint(run: RunDir, stage: str) -> str | None:
    return run.read_manifest().get("stages", {}).get(stage, {}).get("fingerprint")


def require_done(run: RunDir, stage: str, hint: str) -> None:
    if stage not in run.read_manifest().get("stages", {}):
        raise DigitedgeError(f"run {run.root} has no finished '{stage}' stage; {hint}")


@contextmanager
def recording(run: RunDir, stage: str, stage_fingerprint: str, later: Sequence[str] = ()):
    """Time a stage; on success record its fingerprint and the files it wrote in the manifest.

    The `later` stages read what this one writes: their records are dropped either way."""
    before = {name: entry["sha256"] for name, entry in run.file_entries().items()}
    started = time.perf_counter()
    facts: dict = {}
    try:
        yield facts
    except BaseException:
        # an interrupted or failed stage is not done (its old record may describe replaced files),
        # but the files it finished are listed, so the manifest still matches the disk
        with contextlib.suppress(Exception):
            stages = run.read_manifest().get("stages", {})
            for name in (stage, *later):
                stages.pop(name, None)
            run.update_manifest(stages=stages)
        raise
    seconds = round(time.perf_counter() - started, 2)
    after = run.file_entries()
    outputs = sorted(name for name, entry in after.items()
                     if name.startswith(f"{stage}/") or before.get(name) != entry["sha256"])
    manifest = run.read_manifest()
    stages = manifest.get("stages", {})
    stages[stage] = {"fingerprint": stage_fingerprint, "seconds": seconds, "outputs": outputs, **facts}
    for name in later:  # computed from the old outputs: redo them
        stages.pop(name, None)
    run.update_manifest(stages=stages)
