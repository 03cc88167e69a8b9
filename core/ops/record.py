"""One job as every machine-readable surface gives it (``flowtui show --json``, ``GET /jobs/ID``):
the ledger's fields, its history and what it changed, in one place so the two never differ."""

from __future__ import annotations

from typing import Any

from core.ops.control import Control


def job_record(control: Control, job_id: int) -> dict[str, Any]:
    """The job's ledger fields plus ``events`` and ``changes``; an unknown id is an InputError."""
    job = control.get(job_id)
    data = job.to_dict()
    data["events"] = [event.to_dict() for event in control.ledger.events(job_id)]
    data["changes"] = control.changes(job_id).to_list()
    return data
