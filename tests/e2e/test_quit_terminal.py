"""End to end in a real terminal: ctrl+q with a job running, "keep it running in the
background", and the job finishes in the ``flowtui serve`` process the window started;
``flowtui`` opened again attaches to it (the real Claude CLI answers via the stand-in). And
a terminal closed under the window: nobody can be asked, so the job goes on in the background."""

from __future__ import annotations

import os
import re
import shlex
import signal
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from enginekit import is_gone, wait_for
from standin import MessagesStandIn
from tmuxkit import TmuxSession, flowtui_command

from core.jobs import Job, JobState
from core.ledger.sqlite import Ledger

EXITED = "flowtui-exited-"
PROMPT = "Take your time [[stall:120]][[once]] [[reply:finished in the background]]"


def ledger_job(home: Path, job_id: int) -> Job | None:
    ledger = Ledger(home / "ledger.db")
    try:
        return ledger.get(job_id)
    finally:
        ledger.close()


def end_process(pid: int) -> None:
    """The background engine must not outlive the test: SIGTERM (it stops cleanly), then KILL."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        wait_for(lambda: is_gone(pid), timeout=30, what=f"pid {pid} to stop")
    except AssertionError:
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: is_gone(pid), timeout=10, what=f"pid {pid} to be killed")


@pytest.fixture
def shell(tmp_path: Path, claude_bin: str, claude_env: dict[str, str]) -> Iterator[TmuxSession]:
    """A shell in tmux, so the test can see what the window leaves on the terminal and open it again."""
    env = {
        **claude_env,
        "FLOWTUI_HOME": str(tmp_path / "home"),
        "FLOWTUI_CLAUDE": claude_bin,
        "TERM": "xterm-256color",
        "PATH": os.environ.get("PATH", ""),
        "PS1": "$ ",
    }
    session = TmuxSession(["sh"], env, cwd=tmp_path)
    yield session
    session.close()


def open_flowtui(shell: TmuxSession) -> None:
    shell.type(f"{shlex.join(flowtui_command())}; echo {EXITED}$?")
    shell.keys("Enter")


@pytest.mark.claude
def test_ctrl_q_keeps_the_running_job_going_in_the_background(
    shell: TmuxSession, tmp_path: Path, standin: MessagesStandIn
) -> None:
    home = tmp_path / "home"
    background_pid: int | None = None
    try:
        open_flowtui(shell)
        shell.wait_for_text("▶ running")
        shell.keys("n")
        shell.wait_for_text("New job")
        shell.type(PROMPT)
        shell.wait_for_text("[[reply:finished in the")  # all of it typed before it is queued
        shell.keys("C-s")  # the prompt is a multi-line editor: ctrl+s queues it
        shell.wait_for_text("queued #1")
        # Claude asked the API (the answer stalls): the re-run in the background engine answers at once.
        wait_for(lambda: standin.main_requests(), timeout=60, what="the window's Claude run to ask the API")
        assert ledger_job(home, 1).state is JobState.RUNNING  # type: ignore[union-attr]
        shell.keys("C-q")
        shell.wait_for_text("1 job is running.")
        shell.keys("b")
        screen = shell.wait_for_text(f"{EXITED}0", timeout=60)
        found = re.search(r"flowtui: 1 job keeps running in the background \(pid (\d+)\)", screen)
        assert found, screen
        background_pid = int(found.group(1))
        assert psutil.pid_exists(background_pid)
        done = wait_for(
            lambda: (job := ledger_job(home, 1)) is not None and job.state.is_final and job,
            timeout=90,
            what="the job to finish in the background engine",
        )
        assert done.state is JobState.SUCCEEDED and done.answer == "finished in the background"
        assert done.attempts == 1  # the run the hand-off interrupted was not counted
        ledger = Ledger(home / "ledger.db")
        try:
            reasons = [event.reason for event in ledger.events(1)]
        finally:
            ledger.close()
        assert f"handed to the background engine (pid {background_pid})" in reasons
        # Opened again, the window attaches to the background engine and leaves it running.
        open_flowtui(shell)
        shell.wait_for_text(f"attached to engine (pid {background_pid}")
        shell.wait_for_text("finished in the background")
        shell.keys("q")
        shell.wait_for(
            lambda text: text.count(f"{EXITED}0") == 2, timeout=30, what="the second window to quit"
        )
        assert psutil.pid_exists(background_pid) and not is_gone(background_pid)
    finally:
        shell.close()
        if background_pid is not None:
            end_process(background_pid)
        else:  # the window may have started it before the test failed
            end_background_engine(home)


def end_background_engine(home: Path) -> None:
    """Whoever holds the engine lock now (not this process) is a background engine: end it."""
    from core.wake.lock import read_holder

    holder = read_holder(home / "engine.lock")
    if holder is not None and holder.pid not in (0, os.getpid()):
        end_process(holder.pid)


def test_a_closed_terminal_leaves_the_running_job_to_a_background_engine(tmp_path: Path) -> None:
    from clikit import Flowtui
    from fakeclaude import result_line, write_script

    home = tmp_path / "home"
    marker = tmp_path / "first-run-started"
    claude = write_script(  # the window's run waits; the background engine's run answers
        tmp_path / "claude",
        f"if [ -e \"{marker}\" ]; then echo '{result_line(result='answered after the hang-up')}'; "
        f'else touch "{marker}"; echo \'{{"type":"system"}}\'; exec sleep 300; fi\n',
    )
    flowtui = Flowtui(home, claude)
    terminal = TmuxSession(flowtui_command(), {**flowtui.env, "TERM": "xterm-256color"}, cwd=tmp_path)
    try:
        terminal.wait_for_text("▶ running")
        job_id = int(flowtui.ok("add", "long job", "--cwd", str(tmp_path)).strip())
        wait_for(lambda: marker.exists(), timeout=30, what="the window's engine to run the job")
        terminal.wait_for_text("engine (pid")  # the window knows the engine is its own
        terminal.close()  # the terminal goes away: SIGHUP
        done = wait_for(
            lambda: (job := ledger_job(home, job_id)) is not None and job.state.is_final and job,
            timeout=60,
            what="the job to finish in the background engine",
        )
        assert done.state is JobState.SUCCEEDED and done.answer == "answered after the hang-up"
        assert done.attempts == 1
        log_text = (home / "logs" / "flowtui.log").read_text()
        assert "the terminal closed (SIGHUP)" in log_text
        assert "1 job is running. Keeping them running in a background engine." in log_text
    finally:
        terminal.close()
        end_background_engine(home)
