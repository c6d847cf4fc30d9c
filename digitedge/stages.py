"""Which stages a run has, what config each depends on, and whether one is already done.

A stage is done when the manifest records it with the same fingerprint (a hash of the
config sections it and its upstream stages read, plus the data checksum) and every file it
produced is still present with its recorded sha256. A done stage is skipped unless forced.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from contextlib import contextmanager

from digitedge.config import Config, to_dict
from digitedge.errors import DigitedgeError
from digitedge.rundir import RunDir, sha256_file

ORDER = ("train", "optimize", "convert", "micro", "evaluate", "benchmark", "report")
SECTIONS = {
    "train": ("seed", "data", "model", "train"),
    "optimize": ("optimize",),
    "convert": ("export",),
    "micro": ("export",),
    "evaluate": ("benchmark",),
    "benchmark": ("benchmark",),
    "report": (),
}


def fingerprint(config: Config, stage: str, data_checksum: str, outside: dict | None = None) -> str:
    """Hash of everything `stage` and its upstream stages read.

    `outside` identifies files from outside the run that `stage` itself reads (the seed baseline's
    model, for evaluate); later stages read what it wrote and are redone when it is. Without it the
    hash is the one runs made before it existed.
    """
    values = to_dict(config)
    upstream = ORDER[: ORDER.index(stage) + 1]
    relevant = {section: values[section] for name in upstream for section in SECTIONS[name]}
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
def recording(run: RunDir, stage: str, stage_fingerprint: str):
    """Time a stage; on success record its fingerprint and the files it wrote in the manifest."""
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
            for name in ORDER[ORDER.index(stage):]:
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
    for later in ORDER[ORDER.index(stage) + 1:]:  # computed from the old outputs: redo them
        stages.pop(later, None)
    run.update_manifest(stages=stages)
