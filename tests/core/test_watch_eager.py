"""Eager watches: a burst's first change starts Claude at once; the rest of the burst, if it
comes before Claude answers, restarts that run (no attempt spent) so the burst stays one job."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from enginekit import home_paths, wait_for
from fakeclaude import READ_PROMPT, RESULT_OK, write_script
from standin import MessagesStandIn
from watchkit import Watching, changed_paths, watch_block, watching

from core.claude.events import ANSWER_EVENTS
from core.events import JobOutput
from core.jobs import Job, JobState
from core.wake.doorbell import poke
from core.watch.batching import SUPERSEDED_REASON

LONG_SETTLE = "settle_ms = 3000\n"
"""Long enough that a change made once the first run has started is surely the same burst."""


def logging_script(path: Path, starts: Path, release: Path, answer_first: bool = False) -> Path:
    """Logs each start's prompt to ``starts`` (one line per start), optionally answers at
    once, then runs until ``release`` exists."""
    answer = {"type": "assistant", "message": {"content": [{"type": "text", "text": "on it"}]}}
    first = f"echo '{json.dumps(answer)}'\n" if answer_first else ""
    return write_script(
        path,
        READ_PROMPT + f'printf "%s\\n" "$prompt" | tr "\\n" " " >> "{starts}"; echo >> "{starts}"\n'
        f"{first}"
        f'while [ ! -e "{release}" ]; do sleep 0.02; done\n'
        f"echo '{json.dumps(RESULT_OK)}'\n",
    )


@dataclass(frozen=True)
class Setup:
    notes: Path
    starts: Path
    release: Path
    claude: Path


def setup(tmp_path: Path, answer_first: bool = False) -> Setup:
    """A watched ``notes`` directory and a logging stand-in that runs until released."""
    notes = tmp_path / "notes"
    notes.mkdir()
    starts, release = tmp_path / "starts.log", tmp_path / "release"
    claude = logging_script(tmp_path / "claude", starts, release, answer_first)
    return Setup(notes, starts, release, claude)


@contextmanager
def first_run(tmp_path: Path, s: Setup) -> Iterator[tuple[Watching, Job]]:
    """An eager watch whose first file's job runs (unanswered), its burst still open."""
    with watching(tmp_path / "home", watch_block(s.notes, LONG_SETTLE), s.claude) as w:
        w.wait_state(s.notes, "active")
        (s.notes / "a.md").write_text("a")
        # Claude starts long before the 3 s settle time is over.
        yield w, w.wait_state_of(w.wait_jobs(1)[0], JobState.RUNNING)


def test_the_rest_of_a_burst_restarts_the_unanswered_run_as_one_job(tmp_path: Path) -> None:
    s = setup(tmp_path)
    notes, starts, release = s.notes, s.starts, s.release
    with first_run(tmp_path, s) as (w, first):
        assert changed_paths(first, notes) == ["a.md"]
        assert not w.target(notes).quiet
        (notes / "b.md").write_text("b")
        w.wait_quiet(notes)
        job = w.wait_state_of(first, JobState.RUNNING)
        assert changed_paths(job, notes) == ["a.md", "b.md"]
        release.write_text("go")
        done = w.wait_done(job)
        assert done.state is JobState.SUCCEEDED
        assert done.attempts == 1, "the superseded run must not spend an attempt"
        assert len(w.jobs()) == 1
        assert w.engine.ledger is not None
        reasons = [event.reason for event in w.engine.ledger.events(job.id)]
        assert SUPERSEDED_REASON in reasons
        lines = starts.read_text().splitlines()
        assert len(lines) == 2
        assert "a.md" in lines[0] and "b.md" not in lines[0]
        assert "a.md" in lines[1] and "b.md" in lines[1]


def test_a_run_claude_already_answers_is_not_restarted(tmp_path: Path) -> None:
    s = setup(tmp_path, answer_first=True)
    notes, starts, release, claude = s.notes, s.starts, s.release, s.claude
    with watching(tmp_path / "home", watch_block(notes, LONG_SETTLE), claude) as w:
        w.wait_state(notes, "active")
        (notes / "a.md").write_text("a")
        first = w.wait_jobs(1)[0]
        wait_for(
            lambda: any(
                isinstance(event, JobOutput)
                and event.job_id == first.id
                and any(isinstance(claude_event, ANSWER_EVENTS) for claude_event in event.events)
                for event in w.events
            ),
            what="Claude's first answer",  # not just its session line: only an answer ends superseding
        )
        target = w.target(notes)
        assert not target.quiet
        (notes / "b.md").write_text("b")
        # b.md's event can reach the watcher after a.md's burst settled (a loaded machine):
        # quiet alone may be seen before it arrives, so wait for the busy policy to hold it.
        wait_for(lambda: target.held_paths == {"b.md"}, what="the busy policy (queue) to hold b.md")
        w.wait_quiet(notes)
        assert target.held_paths == {"b.md"}, "the busy policy (queue) holds it for one more run"
        release.write_text("go")
        assert w.wait_done(first).state is JobState.SUCCEEDED
        second = w.wait_jobs(2)[-1]
        assert changed_paths(w.wait_done(first), notes) == ["a.md"]
        assert changed_paths(second, notes) == ["b.md"]
        assert w.wait_done(second).state is JobState.SUCCEEDED
        assert len(starts.read_text().splitlines()) == 2


def test_a_lazy_watch_waits_for_the_burst_to_settle(tmp_path: Path) -> None:
    s = setup(tmp_path)
    notes, starts, release, claude = s.notes, s.starts, s.release, s.claude
    release.write_text("go")
    config = watch_block(notes, "settle_ms = 1500\neager = false\n")
    with watching(tmp_path / "home", config, claude) as w:
        w.wait_state(notes, "active")
        (notes / "a.md").write_text("a")
        (notes / "b.md").write_text("b")
        w.wait_quiet(notes)
        (job,) = w.wait_jobs(1)
        assert changed_paths(job, notes) == ["a.md", "b.md"]
        assert w.wait_done(job).state is JobState.SUCCEEDED
        assert len(starts.read_text().splitlines()) == 1
        assert w.engine.ledger is not None
        assert SUPERSEDED_REASON not in [event.reason for event in w.engine.ledger.events(job.id)]


def test_a_held_back_job_is_queued_when_its_watch_is_removed(tmp_path: Path) -> None:
    """A watch that stops mid-burst must not leave its superseded job out of the queue."""
    s = setup(tmp_path)
    notes, release = s.notes, s.release
    with first_run(tmp_path, s) as (w, first):
        (notes / "b.md").write_text("b")
        wait_for(lambda: _superseded(w, first.id), what="the first run to be superseded")
        config_file = tmp_path / "home" / "config.toml"
        config_file.write_text("")  # the watch is removed before its burst settles
        poke(home_paths(tmp_path / "home").wake_fifo)  # what `flowtui watch rm` does after editing
        release.write_text("go")
        done = w.wait_done(first)
        assert done.state is JobState.SUCCEEDED and done.attempts == 1
        assert len(w.jobs()) == 1


def _superseded(w: Watching, job_id: int) -> bool:
    ledger = w.engine.ledger
    assert ledger is not None
    return SUPERSEDED_REASON in [event.reason for event in ledger.events(job_id)]


@pytest.mark.claude
def test_the_real_cli_is_superseded_while_it_waits_for_the_api(
    tmp_path: Path, claude_bin: str, claude_env: dict[str, str], standin: MessagesStandIn
) -> None:
    """The real CLI, started by a burst's first file, waits on a slow API; the burst's second
    file kills it and the job answers once, with both paths, on its first attempt."""
    notes = tmp_path / "notes"
    notes.mkdir()
    config = (
        '[workflows.default]\nprompt = "Look at these [[slow:2]]\\n{paths}"\n'
        + watch_block(notes, "settle_ms = 6000\n")  # the CLI's boot must fit in the burst
    )
    home = tmp_path / "home"
    with watching(home, config, Path(claude_bin), environ=claude_env) as w:
        w.wait_state(notes, "active")
        (notes / "a.md").write_text("a")
        first = w.wait_jobs(1)[0]
        wait_for(
            lambda: any("a.md" in request["prompt"] for request in standin.main_requests()),
            timeout=60,
            what="the first run to ask the API",
        )
        (notes / "b.md").write_text("b")
        done = w.wait_done(first)
        assert done.state is JobState.SUCCEEDED, done.error
        assert done.attempts == 1 and len(w.jobs()) == 1
        assert changed_paths(done, notes) == ["a.md", "b.md"]
        asked = [request["prompt"] for request in standin.main_requests()]
        assert "b.md" not in asked[0] and "b.md" in asked[-1]
        assert _superseded(w, done.id)
