"""One config for everyone: the holder follows config.toml (changed, broken, fixed, removed), and
the engine, the door, the schedules and Telegram act on the edited file while they run."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from clikit import Flowtui
from enginekit import home_paths, settings_from, wait_for, wait_job
from fakeclaude import ok_script
from telegramkit import ALICE, STRANGER, engine_config, message, telegram_engine

from core.config.live import ConfigFollower, ConfigUpdate, LiveSettings
from core.config.settings import load_settings
from core.engine.engine import Engine
from core.errors import ConfigError
from core.events import Event, ServiceFailed, SharedStateChanged
from core.host.services import default_services
from core.jobs import JobSource, JobState
from core.ops.control import Control
from core.telegram.recording import RecordingGateway

REVIEW = '[workflows.review]\nprompt = "Review: {prompt}"\nretries = 0\n'


def holder(tmp_path: Path, text: str | None = "") -> tuple[LiveSettings, Path]:
    config = tmp_path / "config.toml"
    if text is not None:
        config.write_text(text)
    return LiveSettings(load_settings(config), config), config


def rewrite(config: Path, text: str) -> None:
    """A new version the stat signature tells apart even within one mtime tick (size or inode)."""
    replacement = config.with_suffix(".new")
    replacement.write_text(text)
    os.replace(replacement, config)


def test_a_changed_config_is_read_at_the_next_look_and_listeners_hear_it(tmp_path: Path) -> None:
    live, config = holder(tmp_path)
    heard: list[ConfigUpdate] = []
    live.subscribe(heard.append)
    assert live.current().workflow_names() == ["default"]
    assert live.current() is live.current()  # unchanged file: not read again
    assert heard == []

    rewrite(config, REVIEW)
    assert live.current().workflow_names() == ["default", "review"]
    assert live.problem is None and live.header_note() is None
    (update,) = heard
    assert update.changed and update.problem is None
    assert update.previous.workflow_names() == ["default"]
    assert update.current.workflow("review").prompt == "Review: {prompt}"


def test_a_broken_config_keeps_the_last_good_one_and_says_what_the_cli_says(tmp_path: Path) -> None:
    live, config = holder(tmp_path, REVIEW)
    heard: list[ConfigUpdate] = []
    live.subscribe(heard.append)
    rewrite(config, REVIEW + "[engine]\nworkerz = 2\n")

    assert live.current().workflow_names() == ["default", "review"]  # the last good config
    problem = live.problem
    assert problem is not None and "[engine] workerz" in problem and "\n" not in problem
    try:
        load_settings(config)
    except ConfigError as error:
        assert problem == str(error)  # the CLI's own load names the very same line
    assert live.header_note() == f"config error: {problem} · using the last good config"
    (update,) = heard
    assert update.problem == problem and not update.changed

    # The CLI, which loads the file itself, prints that line too.
    flowtui = Flowtui(tmp_path, "claude")
    done = flowtui.run("jobs")
    assert done.returncode != 0
    assert done.stderr.strip() == f"flowtui: {problem}"

    rewrite(config, REVIEW + '[workflows.docs]\nprompt = "{prompt}"\n')  # fixed, and one more
    assert live.current().workflow_names() == ["default", "docs", "review"]
    assert live.problem is None and live.header_note() is None
    assert heard[-1].problem is None and heard[-1].changed


def test_a_removed_config_keeps_the_last_good_one_until_it_is_back(tmp_path: Path) -> None:
    live, config = holder(tmp_path, REVIEW)
    config.unlink()
    assert live.current().workflow_names() == ["default", "review"]
    assert live.problem == f"{config} was removed"
    assert live.header_note() == f"config error: {config} was removed · using the last good config"
    config.write_text("")
    assert live.current().workflow_names() == ["default"]
    assert live.problem is None


def test_settings_that_need_a_restart_are_named(tmp_path: Path) -> None:
    live, config = holder(tmp_path, "[engine]\nworkers = 1\n")
    rewrite(config, "[engine]\nworkers = 3\n[queue]\nlease_seconds = 60\n" + REVIEW)
    assert live.current().workflow_names() == ["default", "review"]  # the rest applies
    assert live.restart_needed() == ["[engine] workers", "[queue] lease_seconds"]
    assert live.header_note() == "restart to apply: [engine] workers, [queue] lease_seconds"
    rewrite(config, "[engine]\nworkers = 1\n")
    assert live.header_note() is None


def test_a_holder_without_a_file_never_reads_one(tmp_path: Path) -> None:
    settings = settings_from(REVIEW)
    live = LiveSettings.fixed(settings)
    assert live.current() is settings and live.refresh() is None and live.header_note() is None


def test_the_follower_hears_a_hand_edit_nobody_asked_about(tmp_path: Path) -> None:
    live, config = holder(tmp_path)
    heard = threading.Event()
    live.subscribe(lambda update: heard.set() if "review" in update.current.workflows else None)
    follower = ConfigFollower(live, check_seconds=0.05)
    follower.start()
    try:
        rewrite(config, REVIEW)
        assert heard.wait(10)
    finally:
        follower.stop()


def test_the_door_takes_a_workflow_added_while_it_is_open(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    paths = home_paths(home)
    paths.config_file.write_text("")
    claude = ok_script(tmp_path / "claude", answer="reviewed")
    engine = Engine(
        load_settings(paths.config_file),
        paths,
        environ={**os.environ, "FLOWTUI_CLAUDE": str(claude)},
    )
    events: list[Event] = []
    engine.bus.subscribe(events.append)
    engine.start()
    try:
        control: Control = engine.control
        assert control.settings.workflow_names() == ["default"]
        rewrite(paths.config_file, REVIEW)
        job = control.add("the diff", workflow="review", cwd=tmp_path)
        assert job.prompt == "Review: the diff" and job.max_attempts == 1
        done = wait_job(engine, job.id, JobState.SUCCEEDED, JobState.FAILED)
        assert done.state is JobState.SUCCEEDED and done.answer == "reviewed"
        # The engine's follower told the window (the bus) without anybody reading.
        before = sum(isinstance(event, SharedStateChanged) for event in events)
        rewrite(paths.config_file, REVIEW + "[engine]\nworkerz = 2\n")
        wait_for(
            lambda: sum(isinstance(event, SharedStateChanged) for event in events) > before,
            what="the engine to announce the broken config",
        )
        assert engine.live.problem is not None and "workerz" in engine.live.problem
        assert engine.settings.workflow_names() == ["default", "review"]
    finally:
        engine.stop()


def test_a_schedule_added_while_the_engine_runs_queues_its_job(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    paths = home_paths(home)
    base = f'[workflows.default]\ncwd = "{tmp_path}"\n'
    paths.config_file.write_text(base)
    claude = ok_script(tmp_path / "claude")
    environ = {**os.environ, "FLOWTUI_CLAUDE": str(claude)}
    settings = load_settings(paths.config_file)
    engine = Engine(settings, paths, environ=environ, services=default_services(settings, paths, environ))
    engine.start()
    try:
        rewrite(paths.config_file, base + '[[schedule]]\ncron = "* * * * * *"\nprompt = "tick"\n')
        job = wait_for(
            lambda: next(
                (job for job in engine.ledger.list_jobs() if job.source == JobSource.SCHEDULE), None
            ),
            what="the new schedule's job",
        )
        assert job.prompt == "tick"
    finally:
        engine.stop()


def test_telegram_takes_a_new_allowlist_and_reconnects_for_a_new_token(tmp_path: Path) -> None:
    home = tmp_path / "home"
    gateway = RecordingGateway()
    claude = ok_script(tmp_path / "claude")
    environ = {**os.environ, "FLOWTUI_CLAUDE": str(claude)}
    config_text = engine_config(tmp_path)
    with telegram_engine(home, config_text, environ, gateway) as (engine, service, events):
        wait_for(lambda: gateway.started, what="the gateway to start")
        first_bot = service.bot
        gateway.deliver_threadsafe(message("/run from a stranger", from_id=STRANGER))
        assert engine.ledger.list_jobs() == []
        config = home / "config.toml"
        rewrite(
            config,
            config_text.replace(f"allowed_users = [{ALICE}, ", f"allowed_users = [{STRANGER}, {ALICE}, "),
        )
        wait_for(
            lambda: service.bot is not None and STRANGER in service.bot.config.allowed_users, what="the list"
        )
        assert service.bot is first_bot  # the same client: only the allowlist changed
        gateway.deliver_threadsafe(message("/run from a new friend", from_id=STRANGER))
        job = wait_for(lambda: engine.ledger.list_jobs(), what="the new friend's job")[0]
        assert "from a new friend" in job.prompt

        rewrite(config, config.read_text().replace("4242:", "4343:"))
        wait_for(lambda: service.bot is not first_bot and gateway.started, what="a new client")
        assert service.bot is not None and service.bot.config.bot_id == 4343

        rewrite(config, config.read_text().replace("api_id = 12345", "api_id = 0"))
        wait_for(
            lambda: any(
                isinstance(event, ServiceFailed) and "bad api_id" in event.reason for event in events
            ),
            what="the refused Telegram settings",
        )
        assert service.bot.config.bot_id == 4343  # kept
