"""Issue 12: any text is shown as text. Hostile strings (tests/fixtures/hostile.py) in every place
outside text goes, through every screen and every CLI command: nothing crashes, nothing is
interpreted (markup, escapes, controls, bidi overrides); and a screen that fails anyway
leaves the engine and its jobs running, and the process exits non-zero."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from clikit import Flowtui
from enginekit import settings_from, wait_for
from hostile import HOSTILE, MARKUP_NAMES, UNSAFE, shown
from rich.console import Console
from textual.widgets import Input, Static, TextArea

from cli.render import format_job_detail, format_job_table
from core.display import clip, one_line, printable
from core.errors import ConfigError
from core.events import ServiceFailed, SharedStateChanged
from core.host.session import Session
from core.jobs import JobState
from core.paths import Paths
from core.telegram.notify import MESSAGE_LIMIT, finished_messages, jobs_list, status_text, utf16_len
from tui.app import FlowtuiApp, build_app, exit_status
from tui.bridge import CoreEvent
from tui.demo import DEMO_CLOCK, hostile_app, seed_hostile
from tui.screens.confirm import ConfirmScreen
from tui.screens.dashboard import DashboardScreen
from tui.screens.error import ErrorScreen, FailureScreen
from tui.screens.help import HelpScreen
from tui.screens.job_detail import JobDetailScreen
from tui.screens.new_job import FollowUpScreen, NewJobScreen
from tui.screens.watch_dialogs import AddWatchScreen
from tui.screens.watch_dialogs import TestPathScreen as PathTestScreen  # not a test class
from tui.screenshots import settle
from tui.sources import Sources
from tui.widgets.job_table import JobTable

SIZE = (120, 36)
NAMES = list(HOSTILE)


def screen_text(app: FlowtuiApp) -> str:
    """What the terminal would show, as text: the compositor's full frame (the same frame
    ``export_screenshot`` draws), control characters kept if any reached it."""
    width, height = app.size
    console = Console(
        width=width, height=height, file=io.StringIO(), force_terminal=True, record=True, safe_box=False
    )
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text(styles=False)


def assert_safe(text: str, where: str) -> None:
    raw = sorted({char for char in UNSAFE if char in text})
    assert not raw, f"{where}: raw control or bidi characters reached the terminal: {raw!r}"


def visible_start(text: str, length: int = 12) -> str:
    """The start of ``text`` as a one-line cell shows it (enough to be found on screen)."""
    return one_line(text)[:length]


async def wait_until(condition: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


class HostileSources(Sources):
    """Telegram's bot name and the leader are network text too."""

    def __init__(self, session: Session, text: str) -> None:
        super().__init__(session.settings, session.paths, session, session.environ)
        self.text = text

    def telegram_state(self) -> str:
        return f"Telegram error: {self.text} @{self.text}"

    def leader(self) -> str | None:
        return self.text


def app_for(root: Path, text: str) -> FlowtuiApp:
    return hostile_app(root, [text], sources=lambda session: HostileSources(session, text))


# -- the helper every screen and command uses ---------------------------------------------


def test_printable_shows_controls_and_keeps_text() -> None:
    assert printable("a\x1b[31mb") == "a\\x1b[31mb"
    assert printable("x\u202ey\u2066z\u2069") == "x\\u202ey\\u2066z\\u2069"
    assert printable("line\r\nnext\ttab\rcr\x00\x7f\x9b") == "line\nnext\ttab\\x0dcr\\x00\\x7f\\x9b"
    assert printable("漢字 e\u0301 🎉 \u200d") == "漢字 e\u0301 🎉 \u200d"
    assert printable("\udcff") == "\\udcff"  # a surrogate-escaped byte no terminal can encode
    assert printable("[/bold] [red]x[/red]") == "[/bold] [red]x[/red]"  # markup is not this module's job
    assert printable("") == ""


def test_a_nul_in_the_config_is_one_line_not_a_crash_later() -> None:
    """No path, argument or prompt can hold a NUL: the config says so instead of every
    path function raising ValueError in the engine, the CLI and the window."""
    with pytest.raises(ConfigError, match="NUL"):
        settings_from('[[watch]]\npath = "/tmp/a\\u0000b"')


def test_one_line_and_clip_bound_the_text() -> None:
    assert one_line("a\n\n b\x1b[2J\u202e", 40) == "a b\\x1b[2J\\u202e"
    assert one_line("x" * 100_000, 10) == "x" * 9 + "…"
    assert one_line("", 5) == ""
    assert clip("y" * 50, 10) == "y" * 10 + "… (40 more characters)"


# -- every screen ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
async def test_every_screen_draws_hostile_text_literally(tmp_path: Path, name: str) -> None:
    text = HOSTILE[name]
    app = app_for(tmp_path, text)
    frames: dict[str, str] = {}

    async with app.run_test(size=SIZE) as pilot:

        async def look(where: str) -> str:
            await settle(pilot)  # reads and operations answer from threads
            assert not app.failures, f"{where}: {app.failures.lines}"
            frame = screen_text(app)
            assert_safe(frame, where)
            frames[where] = frame
            return frame

        async def fill(where: str, values: dict[str, str], submit: str | None = None) -> str:
            """Raw text in the dialog's inputs: every label about it is safe. (An Input shows
            what was typed or pasted into it as it is; Esc cannot be typed as text.) Then the
            same as typeable text, and the whole frame is safe."""
            for raw in (True, False):
                for input_id, value in values.items():
                    app.screen.query_one(input_id, Input).value = value if raw else printable(value)
                if submit:
                    app.screen.query_one(submit, Input).focus()
                    await pilot.press("enter")
                await settle(pilot)  # the path tester answers from a thread
                assert not app.failures, f"{where}: {app.failures.lines}"
                for widget in app.screen.query(Static):
                    if not isinstance(widget, Input):
                        assert_safe(str(widget.render()), f"{where}: {widget!r}")
            return await look(where)

        assert isinstance(app.screen, DashboardScreen)
        dashboard = await look("dashboard")  # jobs, output, watches, notifications, status line
        await pilot.press("enter")
        assert isinstance(app.screen, JobDetailScreen)
        detail = await look("job detail")  # facts, prompt, error, answer
        await pilot.press("2")
        detail += await look("job detail, transcript")
        await pilot.press("3")
        detail += await look("job detail, events")
        await pilot.press("y")  # the toast quotes the resume command
        await look("copied toast")
        await pilot.press("escape", "u")
        assert isinstance(app.screen, FollowUpScreen)
        await look("follow up")
        await pilot.press("escape", "question_mark")
        assert isinstance(app.screen, HelpScreen)
        await look("help")
        await pilot.press("escape", "n")
        assert isinstance(app.screen, NewJobScreen)  # workflows named after the text
        await look("new job")
        app.screen.query_one("#prompt", TextArea).text = "go"
        await fill("new job, bad cwd", {"#cwd": text}, submit="#cwd")
        await pilot.press("escape", "a")
        assert isinstance(app.screen, AddWatchScreen)
        await fill("add watch, note", {"#path": text or " ", "#include": text})
        app.screen.query_one("#path", Input).value = text or " "
        app.screen.query_one("#path", Input).focus()
        await pilot.press("enter")  # a bad glob or path says so in the dialog; else the watch is added
        await settle(pilot)
        if isinstance(app.screen, AddWatchScreen):  # the refusal is shown in place, the input kept
            assert not app.failures, f"add watch, refused: {app.failures.lines}"
            for widget in app.screen.query(Static):
                if not isinstance(widget, Input):
                    assert_safe(str(widget.render()), f"add watch, refused: {widget!r}")
            for input_id in ("#path", "#include"):  # as typeable text, the whole frame is safe
                box = app.screen.query_one(input_id, Input)
                box.value = printable(box.value)
        await look("add watch, submitted")
        if isinstance(app.screen, AddWatchScreen):
            await pilot.press("escape")
        await pilot.press("t")
        assert isinstance(app.screen, PathTestScreen)
        verdict = await fill("test path", {"#path": f"/nonexistent/0{text[:80]}/file"}, submit="#path")
        await pilot.press("escape", "tab", "tab", "d")
        assert isinstance(app.screen, ConfirmScreen)  # "Stop watching PATH?"
        confirm = await look("confirm remove watch")
        await pilot.press("n")
        app.post_message(CoreEvent(ServiceFailed(text, text)))  # a service's error toast
        app.notify(text)
        await look("toasts")
        await pilot.press("slash")
        app.screen.query_one("#filter", Input).value = printable(text)  # the border title quotes it
        await look("filter")

    if name in MARKUP_NAMES:
        start = visible_start(text)
        for where, frame in (("dashboard", dashboard), ("job detail", detail), ("confirm", confirm)):
            assert start in frame, f"{where} does not show {start!r} literally"
        assert start in verdict or "outside every watched path" in verdict
    elif name in ("ansi", "bidi"):
        escape = "\\x1b" if name == "ansi" else "\\u202e"
        assert escape in dashboard and escape in detail
    elif name == "wide-combining":
        assert "漢字かな" in dashboard and "漢字かな" in detail


async def test_the_reported_line_opens_in_the_job_detail(tmp_path: Path) -> None:
    """The reported bug: `[/bold] stray [claude] line` in Claude's output crashed the
    window as soon as the job's detail screen opened."""
    app = hostile_app(tmp_path, ["[/bold] stray [claude] line"])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, JobDetailScreen)
        answer = screen_text(app)
        await pilot.press("2")  # the transcript
        await settle(pilot)
        frame = screen_text(app)
    assert not app.failures
    assert "│ [/bold] stray [claude] line" in answer  # the answer, as Markdown, markup unread
    assert "error: [/bold] stray [claude] line" in frame
    assert "│[/bold] stray [claude] line" in frame  # Claude's text in the transcript
    assert exit_status(app, 0) == 0


async def test_error_screen_quotes_the_reason_literally(tmp_path: Path) -> None:
    paths = Paths(config_file=tmp_path / "config.toml", data_dir=tmp_path)
    text = HOSTILE["closing-tag"] + HOSTILE["ansi"]

    def refuse() -> Session:
        raise ConnectionError(text)

    app = build_app(settings_from(), paths, refuse, clock=DEMO_CLOCK)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, ErrorScreen)
        frame = screen_text(app)
    assert_safe(frame, "error screen")
    assert "[/bold] stray [claude] line\\x1b[31mred" in frame


# -- a screen that fails anyway -----------------------------------------------------------------


async def test_a_failing_screen_shows_what_failed_and_the_window_lives_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: JobDetailScreen) -> None:
        raise ValueError(HOSTILE["closing-tag"] + " \x1b[2J")

    monkeypatch.setattr(JobDetailScreen, "on_mount", broken)
    app = hostile_app(tmp_path, ["a job"])
    with pytest.raises(ValueError):  # run_test re-raises it at the end, as for any pilot test
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("enter")
            await pilot.pause()
            assert isinstance(app.screen, FailureScreen)
            frame = screen_text(app)
            assert_safe(frame, "failure screen")
            assert "ValueError: [/bold] stray [claude] line \\x1b[2J" in frame
            assert "The engine keeps running its jobs" in frame
            await pilot.press("escape")
            await pilot.pause()
            assert [type(screen) for screen in app.screen_stack][1:] == [DashboardScreen]
            await pilot.press("p")  # the dashboard still acts on the shared state
            await settle(pilot)
            assert app.control.pause_state().paused is False  # seeded paused: resumed now
            await pilot.press("q")
    assert app.failures.lines == ["ValueError: [/bold] stray [claude] line \\x1b[2J"]
    assert exit_status(app, 0) == 1


async def test_a_failing_key_action_does_not_stop_the_window(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Actions run in the app's own message loop, which Textual ends after an error."""

    def broken(self: DashboardScreen) -> None:
        raise RuntimeError("[red]help is broken")

    monkeypatch.setattr(DashboardScreen, "action_help", broken)
    app = hostile_app(tmp_path, ["one", "two"])
    with pytest.raises(RuntimeError):
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("question_mark")
            await pilot.pause()
            assert isinstance(app.screen, FailureScreen)
            await pilot.press("escape", "j")  # keys still reach the dashboard
            await pilot.pause()
            assert app.screen.query_one(JobTable).selected_job_id == 1
    assert exit_status(app, 0) == 1


async def test_a_storm_of_errors_ends_the_window_non_zero(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure on every refresh cannot be shown away: the app ends as Textual would."""

    def broken(self: FlowtuiApp) -> None:
        raise OSError("the refresh fails every time")  # apply_pending runs every 50 ms once woken

    app = hostile_app(tmp_path, ["a job"])
    with pytest.raises(OSError):
        async with app.run_test(size=SIZE) as pilot:
            monkeypatch.setattr(FlowtuiApp, "_dashboard", broken)
            assert app.session is not None
            app.session.bus.publish(SharedStateChanged())  # a change: an idle window refreshes on it
            for _ in range(100):
                await pilot.pause(0.05)
                if app.return_code is not None:
                    break
    assert app.return_code == 1
    assert exit_status(app, None) == 1
    assert app.session is not None and app.session._closed  # unmount closed it: an engine would stop


def test_the_command_exits_1_after_an_error_the_window_survived(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import core.host.logs
    import tui.app

    app = hostile_app(tmp_path, ["x"])

    def run() -> int:  # the user quit cleanly after the failure screen
        app.failures.record(ValueError("[/bold] in a screen"))
        return 0

    monkeypatch.setattr(app, "run", run)
    monkeypatch.setattr(tui.app, "build_app", lambda settings, paths: app)
    monkeypatch.setattr(core.host.logs, "configure_logging", lambda paths, to_stderr: None)
    assert tui.app.run_app(app.settings, app.paths) == 1
    assert "unhandled error (ValueError: [/bold] in a screen)" in capsys.readouterr().err


# -- the real CLI and engine ------------------------------------------------------------------


@pytest.mark.claude
async def test_engine_keeps_running_jobs_while_a_screen_fails(
    tmp_path: Path, claude_bin: str, claude_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Claude answers with the reported line; the job detail fails (injected), the engine
    inside the window finishes the job anyway, and the process would exit 1."""
    line = "[/bold] stray [claude] line"
    paths = Paths(config_file=tmp_path / "config.toml", data_dir=tmp_path / "data")
    env = {**claude_env, "FLOWTUI_CLAUDE": claude_bin}
    settings = settings_from()
    app = build_app(settings, paths, lambda: Session.open(settings, paths, environ=env), default_cwd=tmp_path)

    def broken(self: JobDetailScreen) -> None:
        raise ValueError(f"the detail failed on {self.job.prompt}")

    monkeypatch.setattr(JobDetailScreen, "on_mount", broken)
    with pytest.raises(ValueError):
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(lambda: app.owns_engine)
            job = app.control.add(f"answer [[slow:2]] [[reply:{line}]]", cwd=str(tmp_path))
            await wait_until(lambda: app.control.get(job.id).state is JobState.RUNNING)
            await wait_until(lambda: app.screen.query_one(JobTable).selected_job_id == job.id)
            await pilot.press("enter")
            await pilot.pause()
            assert isinstance(app.screen, FailureScreen)
            await wait_until(lambda: app.control.get(job.id).state.is_final, timeout=60)
            assert app.control.get(job.id).state is JobState.SUCCEEDED
            assert app.control.get(job.id).answer == line
            assert app.owns_engine
            monkeypatch.undo()  # the detail works again: the answer shows literally
            await pilot.press("escape", "enter")
            await pilot.pause(0.3)
            assert isinstance(app.screen, JobDetailScreen)
            assert line in screen_text(app)
    assert exit_status(app, 0) == 1


@pytest.mark.claude
def test_reported_bug_in_a_real_terminal(tmp_path: Path, claude_bin: str, claude_env: dict[str, str]) -> None:
    """`flowtui` in tmux: Claude answers `[/bold] stray [claude] line`, the job's detail
    screen opens and shows it, and the window quits with status 0 (no error happened). (The
    CLI's own model name, `claude-opus-4-8[1m]`, looks like markup too.)"""
    import os
    import shlex
    import sys

    from tmuxkit import TmuxSession

    line = "[/bold] stray [claude] line"
    status_file = tmp_path / "status"
    env = {
        **claude_env,
        "FLOWTUI_HOME": str(tmp_path / "home"),
        "FLOWTUI_CLAUDE": claude_bin,
        "TERM": "xterm-256color",
        "PATH": os.environ.get("PATH", ""),
    }
    shell = f"{shlex.quote(sys.executable)} -m cli; echo $? > {shlex.quote(str(status_file))}"
    terminal = TmuxSession(["sh", "-c", shell], env, cwd=tmp_path)
    try:
        terminal.wait_for_text("▶ running")
        terminal.keys("n")
        terminal.wait_for_text("New job")
        terminal.type(f"Answer [[reply:{line}]]")
        terminal.wait_for_text("Answer [[reply:")  # typed into the prompt box, not lost before it had focus
        terminal.keys("C-s")  # enter adds a line to the prompt
        terminal.wait_for_text("✓ succeeded", timeout=60)
        terminal.keys("Enter")
        terminal.wait_for_text("Transcript")
        terminal.keys("2")
        terminal.wait_for_text(f"│{line}")  # Claude's answer in the transcript, as written
        terminal.keys("Escape")
        terminal.wait_for_text("Watched paths")
        terminal.keys("q")
        wait_for(lambda: status_file.exists() and status_file.read_text().strip(), timeout=20, what="exit")
    finally:
        terminal.close()
    assert status_file.read_text().strip() == "0"


@pytest.fixture
def hostile_home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    seed_hostile(Paths(config_file=home / "config.toml", data_dir=home), list(HOSTILE.values()))
    return home


def test_every_cli_command_prints_hostile_text_literally(
    hostile_home: Path, claude_bin: str, tmp_path: Path
) -> None:
    flowtui = Flowtui(hostile_home, claude_bin)
    count = len(HOSTILE)
    outputs: dict[str, str] = {}
    tested_path = f"/nonexistent/0{HOSTILE['closing-tag']}/x"
    commands = [
        ("jobs",),
        ("show", "1"),
        *[("show", str(job_id)) for job_id in range(2, count + 1)],
        *[("logs", str(job_id)) for job_id in range(1, count + 1)],
        ("logs", "6", "--raw"),
        ("stats",),
        ("notifications",),
        ("watch", "ls"),
        ("watch", "test", tested_path),
        ("schedules",),
        ("doctor",),
        ("telegram", "status"),
        ("retry", "1"),
        ("followup", "1", HOSTILE["ansi"]),
        ("cancel", "1"),
        ("add", HOSTILE["bidi"], "--cwd", str(tmp_path)),
        ("add", HOSTILE["ansi"], "--workflow", HOSTILE["closing-tag"]),
        ("watch", "add", str(tmp_path), "--include", HOSTILE["ansi"]),
    ]
    for command in commands:
        done = flowtui.run(*command)
        where = " ".join(command)
        assert "Traceback" not in done.stderr, f"{where}: {done.stderr}"
        assert_safe(done.stdout, f"{where} (stdout)")
        assert_safe(done.stderr, f"{where} (stderr)")
        outputs[where] = done.stdout + done.stderr
    table = outputs["jobs"]
    for name in MARKUP_NAMES:
        assert visible_start(HOSTILE[name], 10) in table, name
    assert "[/bold] stray [claude] line" in outputs["show 1"]
    assert "\\x1b[31mred" in outputs["show 6"]
    assert "abc \\u202eevil" in outputs["show 8"]
    assert "[red]x[/red]" in outputs["logs 2"]
    assert "\\x1b[31mred" in outputs["logs 6"]
    assert "/nonexistent/0[/bold] st" in outputs["watch ls"]  # the path column is 40 wide
    assert "watch /nonexistent/0[/bold] stray [claude] line" in outputs[f"watch test {tested_path}"]
    # --json is data for scripts: the exact text, JSON-escaped
    data = json.loads(flowtui.ok("show", "6", "--json"))
    assert data["answer"] == HOSTILE["ansi"]


def test_plain_views_show_control_characters(tmp_path: Path) -> None:
    paths = Paths(config_file=tmp_path / "config.toml", data_dir=tmp_path)
    seed_hostile(paths, list(HOSTILE.values()))
    session = Session.detached(settings_from(), paths, clock=DEMO_CLOCK)
    try:
        ledger = session.control.ledger
        jobs = ledger.list_jobs()
        assert_safe(format_job_table(jobs, DEMO_CLOCK.now()), "jobs table")
        for job in jobs:
            detail = format_job_detail(job, ledger.events(job.id))
            assert_safe(detail, f"job #{job.id}")
            assert shown(job.answer or "") in detail
    finally:
        session.close()


# -- Telegram ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_telegram_texts_carry_hostile_text_verbatim(tmp_path: Path, name: str) -> None:
    """Messages go out with pyrogram's parse mode DISABLED (test_telegram_gateway checks the
    client): nothing to escape, so answers and errors arrive exactly, split within the limit."""
    text = HOSTILE[name]
    paths = Paths(config_file=tmp_path / "config.toml", data_dir=tmp_path)
    seed_hostile(paths, [text])
    session = Session.detached(settings_from(), paths, clock=DEMO_CLOCK)
    try:
        job = session.control.get(1)
        job = dataclasses.replace(job, state=JobState.SUCCEEDED)
        messages = [message for message, _ in finished_messages(job)]
        assert all(utf16_len(message) <= MESSAGE_LIMIT for message in messages)
        if name == "long-line":  # cut into parts, none of it lost
            assert "".join(messages).count("x") >= 100_000
        else:
            assert text in messages[0]
        now = DEMO_CLOCK.now()
        assert status_text(job, now) and jobs_list([job], text, now)
    finally:
        session.close()
