"""Jobs added while the shared queue (Redis) is unreachable wait in a local spool.

`flowtui add` writes the request to a file in the data dir instead of failing; the engine
on this machine queues spooled jobs as soon as Redis answers again, so nothing added from
this machine meanwhile is lost.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

from core.errors import InputError
from core.jobs import JobSource
from core.ops.control import Control
from core.paths import Paths

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SpooledJob:
    """A job kept on this machine while the shared queue is unreachable, queued once it answers."""

    prompt: str
    workflow: str
    cwd: str
    priority: int | None
    source: str = str(JobSource.CLI)


def spool_job(paths: Paths, job: SpooledJob) -> Path:
    directory = paths.spool_dir
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"{time.time_ns()}-{uuid.uuid4().hex[:8]}.json"
    handle, temp = tempfile.mkstemp(dir=directory, prefix=".spool-")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        json.dump(asdict(job), out)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temp, target)  # a reader never sees half a file
    return target


def drain_spool(control: Control, paths: Paths) -> int:
    """Queue every spooled job, oldest first; a file is removed only once its job is queued."""
    directory = paths.spool_dir
    if not directory.is_dir():
        return 0
    queued = 0
    for path in sorted(directory.glob("*.json")):
        try:
            spooled = SpooledJob(**json.loads(path.read_text(encoding="utf-8")))
            job = control.add(
                spooled.prompt,
                workflow=spooled.workflow,
                cwd=spooled.cwd,
                priority=spooled.priority,
                source=JobSource(spooled.source),
                trigger="spooled while the queue was unreachable",
            )
        except (InputError, ValueError, TypeError) as error:
            log.error("spooled job %s cannot be queued (%s): moved aside", path.name, error)
            path.rename(path.with_suffix(".rejected"))
            continue
        path.unlink()
        queued += 1
        log.info("queued spooled job as #%s", job.id)
    return queued
