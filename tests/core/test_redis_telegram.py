"""On a shared Redis queue, Telegram runs on the leader only: an update is handled exactly once."""

from __future__ import annotations

import os
from pathlib import Path

from enginekit import home_paths, settings_from, wait_for
from fakeclaude import ok_script
from telegramkit import TELEGRAM_CONFIG, bot_kit, message, started

from core.engine.engine import Engine
from core.ledger.redis import RedisLedger
from core.telegram.recording import RecordingGateway
from core.telegram.service import TelegramService

CONFIG = TELEGRAM_CONFIG + "\n[queue]\nleader_lease_seconds = 4\n"


def test_three_engines_one_bot_and_each_update_handled_once(tmp_path: Path, redis_url: str) -> None:
    environ = {**os.environ, "FLOWTUI_QUEUE_URL": redis_url, "FLOWTUI_CLAUDE": str(ok_script(tmp_path / "c"))}
    settings = settings_from(CONFIG)
    gateways = [RecordingGateway() for _ in range(3)]
    engines = []
    for index, gateway in enumerate(gateways):
        service = TelegramService(settings, environ, gateway_builder=lambda config, data, g=gateway: g)
        engine = Engine(
            settings, home_paths(tmp_path / f"engine-{index}"), environ=environ, services=[service]
        )
        engine.start()
        engines.append(engine)
    try:
        for round_number in range(2):
            live = wait_for(lambda: [g for g in gateways if g.started], timeout=20, what="a connected bot")
            assert len(live) == 1, [e.leader for e in engines]  # only the leader polls Telegram
            live[0].deliver_threadsafe(message(f"/run round {round_number}"))
            wait_for(
                lambda n=round_number: any(
                    f"round {n}" in job.prompt for job in engines[-1].ledger.list_jobs()
                ),
                timeout=20,
                what="the job",
            )
            leader = engines[gateways.index(live[0])]
            leader.stop()  # the leader goes away; another engine's bot takes over
            engines.remove(leader)
            gateways.remove(live[0])
        prompts = [job.prompt for job in engines[0].ledger.list_jobs()]
        assert sorted(prompts) == ["round 0", "round 1"]  # each update became exactly one job
    finally:
        for engine in engines:
            engine.stop()


async def test_reconcile_reads_the_jobs_from_the_redis_ledger(
    tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    """The notices live in the local SQLite file, the jobs in Redis: the catch-up pass reads
    the jobs through the ledger and announces each finished one once."""
    ledger = RedisLedger(redis_url, prefix=redis_prefix)
    try:
        config = TELEGRAM_CONFIG + "\n[workflows.careful]\napproval = true\n"
        with bot_kit(tmp_path / "home", config, ledger=ledger) as made:
            kit = await started(made)
            job = kit.finish(kit.control.add("finished while no event told").id)
            waiting = kit.control.add("needs a yes", workflow="careful")
            kit.announcer.reconcile()
            kit.announcer.reconcile()
            texts = await kit.drain()
            assert len(texts) == 2
            assert kit.store.notice(job.id, "finished") is not None
            assert kit.store.notice(waiting.id, "approval") is not None
    finally:
        ledger.close()
