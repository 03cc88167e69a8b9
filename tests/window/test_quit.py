"""Every way to quit asks while this window's engine runs jobs: stop them, keep them running
in a background engine, or stay; without running jobs, or attached to another engine, the
window quits at once. The hand-off to ``flowtui serve --wait`` is tested for real below."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from enginekit import home_paths, settings_from, wait_for
from fakeclaude import result_line, write_script
from textual.widgets import Button

from core.config.settings import Settings
from core.host import serve
from core.host.serve import handoff_report, serve_log, start_background_engine
from core.host.session import Session
from core.jobs import JobState
from core.ledger.sqlite import Ledger
from core.paths import Paths
from core.wake.lock import read_holder
from tui.app import FlowtuiApp, build_app
from tui.demo import demo_app, engine_owning_demo_app
from tui.screens.quit import QuitScreen
from tui.screenshots import settle

QUIT_KEYS = ["q", "ctrl+q", "ctrl+c"]
SMALLEST = (80, 24)


@pytest.fixture
def stand_in_serves(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[subprocess.Popen[bytes]]]:
    """The background engine the window starts, as a process that only sleeps (the real
    hand-off is tested below): what the window did with it is what these tests check."""
    started: list[subprocess.Popen[bytes]] = []

    def start(paths: Paths, environ: object) -> subprocess.Popen[bytes]:
        process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        started.append(process)
        return process

    monkeypatch.setattr(serve, "start_background_engine", start)
    yield started
    for process in started:
        process.kill()
        process.wait(timeout=10)


def question_text(app: FlowtuiApp) -> str:
    return " ".join(str(label.render()) for label in app.screen.query("Label"))


@pytest.mark.parametrize("key", QUIT_KEYS)
async def test_each_way_to_quit_asks_while_a_job_runs_and_esc_stays(tmp_path: Path, key: str) -> None:
    app = engine_owning_demo_app(tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press(key)
        await settle(pilot)
        assert isinstance(app.screen, QuitScreen)
        assert "1 job is running." in question_text(app)
        buttons = [str(button.label) for button in app.screen.query(Button)]
        assert buttons == ["Keep it running in the background (b)", "Stop it and quit (s)", "Stay (esc)"]
        await pilot.press(key)  # asked already: a second press does not stack a second question
        await settle(pilot)
        assert sum(isinstance(screen, QuitScreen) for screen in app.screen_stack) == 1
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, QuitScreen)
        assert app.return_code is None  # still running
        await pilot.press(key)  # asked again after staying
        await settle(pilot)
        assert isinstance(app.screen, QuitScreen)


async def test_the_question_fits_the_smallest_terminal(tmp_path: Path) -> None:
    app = engine_owning_demo_app(tmp_path)
    async with app.run_test(size=SMALLEST) as pilot:
        await settle(pilot)
        await pilot.press("q")
        await settle(pilot)
        screen_region = app.screen.region
        for widget in [*app.screen.query(Button), *app.screen.query("Label")]:
            assert screen_region.contains_region(widget.region), widget
        hints = [label for label in app.screen.query(".hint")]
        assert hints[0].region.height >= 2  # the long sentence wraps instead of being cut
        assert "Run flowtui again to watch." in str(hints[0].render())


async def test_stop_them_quits_without_a_background_engine(
    tmp_path: Path, stand_in_serves: list[subprocess.Popen[bytes]]
) -> None:
    app = engine_owning_demo_app(tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+q")
        await settle(pilot)
        await pilot.press("s")
        await pilot.pause()
        assert app.return_code == 0
    assert app.handed_off is None and stand_in_serves == []


async def test_keep_running_starts_the_background_engine_and_quits(
    tmp_path: Path, stand_in_serves: list[subprocess.Popen[bytes]]
) -> None:
    app = engine_owning_demo_app(tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("q")
        await settle(pilot)
        assert app.screen.focused is not None and app.screen.focused.id == "background"  # enter keeps them
        await pilot.press("b")
        await pilot.pause()
        assert app.return_code == 0
    assert app.handed_off is not None
    assert [app.handed_off.process] == stand_in_serves and app.handed_off.running == 1


async def test_closing_the_terminal_keeps_running_jobs_in_the_background(
    tmp_path: Path, stand_in_serves: list[subprocess.Popen[bytes]], caplog: pytest.LogCaptureFixture
) -> None:
    """SIGHUP: nobody is left to answer a question, so the safe choice is taken."""
    app = engine_owning_demo_app(tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("q")  # a question on screen when the terminal goes
        await settle(pilot)
        os.kill(os.getpid(), signal.SIGHUP)
        await wait_until_exited(pilot, app)
    assert app.handed_off is not None and [app.handed_off.process] == stand_in_serves
    assert "the terminal closed (SIGHUP)" in caplog.text
    assert "1 job is running. Keeping them running in a background engine." in caplog.text


async def wait_until_exited(pilot: object, app: FlowtuiApp) -> None:
    from textual.pilot import Pilot

    assert isinstance(pilot, Pilot)
    for _ in range(500):
        if app.return_code is not None:
            return
        await pilot.pause(0.02)
    raise AssertionError("the window did not quit")


@pytest.mark.parametrize("key", QUIT_KEYS)
async def test_an_attached_window_quits_at_once(tmp_path: Path, key: str) -> None:
    app = demo_app(tmp_path, seed=True)  # a running job, but another process's engine
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press(key)
        await pilot.pause()
        assert app.return_code == 0 and not isinstance(app.screen, QuitScreen)


@pytest.mark.parametrize("key", QUIT_KEYS)
async def test_no_question_without_running_jobs(tmp_path: Path, key: str) -> None:
    paths = Paths(config_file=tmp_path / "config.toml", data_dir=tmp_path / "data")
    session = Session.start(Settings(), paths)  # a real engine, nothing running
    app = build_app(Settings(), paths, lambda: session)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        assert app.owns_engine
        await pilot.press(key)
        await wait_until_exited(pilot, app)
        assert not isinstance(app.screen, QuitScreen)
    assert read_holder(paths.engine_lock) is None  # the engine stopped with the window


def sleepy_then_answering(path: Path, marker: Path) -> Path:
    """Claude's stand-in: the first run starts and waits (the window's), every later run answers."""
    return write_script(
        path,
        f"if [ -e \"{marker}\" ]; then echo '{result_line(result='answered in the background')}'; "
        f'else touch "{marker}"; echo \'{{"type":"system"}}\'; exec sleep 300; fi\n',
    )


def test_hand_off_runs_the_interrupted_job_again_in_serve_without_counting_it(tmp_path: Path) -> None:
    home = tmp_path / "home"
    paths = home_paths(home)
    claude = sleepy_then_answering(tmp_path / "claude", tmp_path / "first-run-started")
    environ = {**os.environ, "FLOWTUI_CLAUDE": str(claude), "FLOWTUI_HOME": str(home)}
    config = "[claude]\nkill_grace_seconds = 0.5\n"
    (home).mkdir()
    paths.config_file.write_text(config)
    session = Session.start(settings_from(config), paths, environ=environ)
    background: subprocess.Popen[bytes] | None = None
    try:
        job = session.control.add("long job", cwd=str(tmp_path))
        wait_for(lambda: session.control.get(job.id).claude_pid, what="claude to start")  # type: ignore[union-attr]
        background = start_background_engine(paths, environ)
        wait_for(
            lambda: "waiting for the engine" in serve_log(paths).read_text(),
            timeout=60,
            what="serve --wait to wait for the window's engine",
        )
        assert background.poll() is None  # it waits instead of refusing
        session.close(handed_to=background.pid)
        # On a loaded machine the background engine can need longer than the window waits.
        wait_for(
            lambda: (holder := read_holder(paths.engine_lock)) is not None and holder.pid == background.pid,
            timeout=120,
            what="the background engine to take the lock",
        )
        assert handoff_report(paths, background, 1).startswith(
            f"1 job keeps running in the background (pid {background.pid}); run flowtui to watch them"
        )
        holder = read_holder(paths.engine_lock)
        assert holder is not None and holder.pid == background.pid

        def finished() -> object:
            ledger = Ledger(paths.ledger_db)
            try:
                found = ledger.require(job.id)
                return found if found.state in (JobState.SUCCEEDED, JobState.FAILED) else None
            finally:
                ledger.close()

        done = wait_for(finished, timeout=60, what="the job to finish in the background engine")
        ledger = Ledger(paths.ledger_db)
        try:
            reasons = [event.reason for event in ledger.events(job.id)]
        finally:
            ledger.close()
        assert done.state is JobState.SUCCEEDED, reasons  # type: ignore[attr-defined]
        assert done.answer == "answered in the background"  # type: ignore[attr-defined]
        assert done.attempts == 1  # type: ignore[attr-defined]  # the interrupted run was refunded
        assert f"handed to the background engine (pid {background.pid})" in reasons
        wait_for(lambda: "engine running" in serve_log(paths).read_text(), what="serve to say it runs")
        assert sum(reason.startswith("attempt 1 ") and reason.endswith(" started") for reason in reasons) == 2
    finally:
        try:
            session.close()
        finally:
            if background is not None:  # never left running, whatever failed
                background.terminate()
                assert background.wait(timeout=30) == 0


def test_serve_without_wait_still_refuses_beside_a_running_engine(tmp_path: Path) -> None:
    home = tmp_path / "home"
    paths = home_paths(home)
    session = Session.start(settings_from(), paths, environ={**os.environ, "FLOWTUI_HOME": str(home)})
    try:
        refused = subprocess.run(
            [sys.executable, "-m", "cli", "serve"],
            env={**os.environ, "FLOWTUI_HOME": str(home)},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert refused.returncode == 1
        assert f"an engine already runs for {home}" in refused.stderr
    finally:
        session.close()


def test_report_says_when_the_background_engine_did_not_take_over(tmp_path: Path) -> None:
    paths = home_paths(tmp_path / "home")
    paths.ensure_data_dir()
    ended = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    ended.wait(timeout=30)
    report = handoff_report(paths, ended, 2)
    assert report.startswith(
        f"the background engine (pid {ended.pid}) did not take over (see {serve_log(paths)})"
    )
    assert "run again when an engine starts" in report


def test_serve_waiting_for_the_lock_leaves_on_sigterm(tmp_path: Path) -> None:
    home = tmp_path / "home"
    paths = home_paths(home)
    environ = {**os.environ, "FLOWTUI_HOME": str(home)}
    session = Session.start(settings_from(), paths, environ=environ)
    waiting = start_background_engine(paths, environ)
    try:
        wait_for(
            lambda: "waiting for the engine" in serve_log(paths).read_text(), timeout=60, what="the wait"
        )
        waiting.terminate()
        assert waiting.wait(timeout=30) == 0
        holder = read_holder(paths.engine_lock)
        assert holder is not None and holder.pid == os.getpid()  # the window's engine was left alone
    finally:
        waiting.kill()  # a no-op once it ended
        waiting.wait(timeout=30)
        session.close()
