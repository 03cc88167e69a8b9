"""On a shared Redis queue the ``[[notify]]`` channels are told by the leader only: each job once,
whichever engine ran it (the leader reads the jobs through the Redis ledger)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from enginekit import home_paths, settings_from, wait_for
from fakeclaude import ok_script
from notifykit import Receiver

from core.engine.engine import Engine
from core.host.services import default_services


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver().start()
    yield server
    server.stop()


def test_two_engines_tell_a_webhook_once_per_job(tmp_path: Path, redis_url: str, receiver: Receiver) -> None:
    environ = {**os.environ, "FLOWTUI_QUEUE_URL": redis_url, "FLOWTUI_CLAUDE": str(ok_script(tmp_path / "c"))}
    config = f'[queue]\nleader_lease_seconds = 4\n[[notify]]\nkind = "webhook"\nurl = "{receiver.url()}"\n'
    settings = settings_from(config)
    engines = []
    for index in range(2):
        paths = home_paths(tmp_path / f"engine-{index}")
        engine = Engine(settings, paths, environ=environ, services=default_services(settings, paths, environ))
        engine.start()
        engines.append(engine)
    try:

        def notifiers() -> list[str]:
            return [s.name for e in engines for s in e._started_services if s.name == "notify"]

        wait_for(lambda: notifiers() == ["notify"], what="one engine (the leader) running the notify service")
        jobs = [engines[1].control.add(f"job {n}", cwd=tmp_path) for n in range(3)]
        wanted = sorted(job.id for job in jobs)
        wait_for(
            lambda: sorted(body["job_id"] for body in receiver.bodies()) == wanted,
            what=f"one POST for each of {wanted} (have {receiver.bodies()})",
        )
        later = engines[0].control.add("after the others", cwd=tmp_path)
        wait_for(
            lambda: later.id in [body["job_id"] for body in receiver.bodies()], what="the later job's POST"
        )
        ids = [body["job_id"] for body in receiver.bodies()]
        assert sorted(ids) == sorted([*wanted, later.id])  # nobody was told twice meanwhile
        assert notifiers() == ["notify"]
    finally:
        for engine in engines:
            engine.stop()
