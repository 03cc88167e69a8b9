"""Every job source is accepted by both ledgers, and a file written before ``tui`` existed
is rebuilt to take it, keeping its rows."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from core.jobs import JobSource
from core.ledger.redis import RedisLedger
from core.ledger.schema import SOURCE_CHECK
from core.ledger.sqlite import Ledger, NewJob
from core.ledger.store import LedgerStore

V3_JOBS_CHECK = "CHECK (source IN ('cli', 'watch', 'telegram', 'schedule', 'retry'))"


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_every_source_is_stored_and_listed(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    ledger: LedgerStore
    if backend == "sqlite":
        ledger = Ledger(tmp_path / "ledger.db")
    else:
        ledger = RedisLedger(
            request.getfixturevalue("redis_url"), prefix=request.getfixturevalue("redis_prefix")
        )
    try:
        for source in JobSource:
            ledger.create(
                NewJob(f"from {source}", "default", str(source), str(tmp_path), 1), f"added by {source}"
            )
        listed = {job.source: job for job in ledger.list_jobs()}
        assert set(listed) == {str(source) for source in JobSource}
        assert listed["tui"].to_dict()["source"] == "tui"
        assert json.loads(json.dumps(listed["tui"].to_dict()))["prompt"] == "from tui"
    finally:
        ledger.close()


def test_a_ledger_from_before_the_tui_source_is_rebuilt_keeping_its_rows(tmp_path: Path) -> None:
    db = tmp_path / "ledger.db"
    Ledger(db).close()
    conn = sqlite3.connect(db)
    (table_sql,) = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'jobs'").fetchone()
    old_sql = table_sql.replace(SOURCE_CHECK, V3_JOBS_CHECK)
    assert old_sql != table_sql
    conn.executescript(
        "DROP TABLE jobs;"
        + old_sql
        + ";INSERT INTO jobs (workflow, prompt, source, cwd, state, max_attempts, created_at)"
        " VALUES ('default', 'old job', 'cli', '/', 'succeeded', 3, '2026-01-01T00:00:00.000Z');"
        "PRAGMA user_version=3;"
    )
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute(
            "INSERT INTO jobs (workflow, prompt, source, cwd, state, max_attempts, created_at)"
            " VALUES ('default', 'x', 'tui', '/', 'queued', 3, '2026-01-01T00:00:00.000Z')"
        )
    conn.close()
    ledger = Ledger(db)
    try:
        assert ledger.require(1).prompt == "old job"
        new = ledger.create(NewJob("from the window", "default", "tui", "/", 3), "added by tui")
        assert (new.id, new.source) == (2, "tui")
    finally:
        ledger.close()
