"""A watch's workflow with ``steps``: each step is a follow-up in the same Claude session,
with ``{previous}`` the answer before it; the steps' own changes do not trigger the watch."""

from __future__ import annotations

import json
import os
from pathlib import Path

from enginekit import home_paths, wait_for
from fakeclaude import RESULT_OK, write_script
from watchkit import FAST_SETTLE, changed_paths

from core.config.settings import load_settings
from core.engine.engine import Engine
from core.jobs import JobSource, JobState
from core.schedule.steps import StepsService
from core.watch.service import WatchService


def numbered_answers(path: Path, counter: Path) -> Path:
    """Answers ``answer-N`` (N counts the runs) and logs each run's argv."""
    answer = {**RESULT_OK, "result": "answer-__N__", "session_id": "chain-session"}
    return write_script(
        path,
        f'n=$(( $(cat "{counter}" 2>/dev/null || echo 0) + 1 )); echo $n > "{counter}"\n'
        f'printf "%s\\n" "$*" >> "{counter}.argv"\n'
        f"echo '{json.dumps(answer)}' | sed \"s/__N__/$n/\"\n",
    )


def test_steps_chain_as_follow_ups_with_the_previous_answer(tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    home = tmp_path / "home"
    home.mkdir()
    config = home / "config.toml"
    config.write_text(
        '[workflows.chain]\nprompt = "Read {path}"\nsteps = ["Check: {previous}", "Sum up: {previous}"]\n'
        f'[[watch]]\npath = "{notes}"\nworkflow = "chain"\n{FAST_SETTLE}'
    )
    claude = numbered_answers(tmp_path / "claude", tmp_path / "runs")
    engine = Engine(
        load_settings(config),
        home_paths(home),
        environ={**os.environ, "FLOWTUI_CLAUDE": str(claude)},
        services=[WatchService(), StepsService()],
    )
    engine.start()
    try:
        assert engine.ledger is not None
        ledger = engine.ledger
        watch = engine.services[0]
        assert isinstance(watch, WatchService)
        wait_for(lambda: (status := watch.statuses().get(str(notes))) and status.state == "active")
        (notes / "a.md").write_text("a")

        def chain() -> list[int]:
            jobs = sorted(ledger.list_jobs(), key=lambda job: job.id)
            done = [job for job in jobs if job.state is JobState.SUCCEEDED]
            return [job.id for job in done] if len(done) == 3 else []

        first, second, third = (ledger.require(job_id) for job_id in wait_for(chain, what="three steps"))
        assert first.prompt == f"Read {notes}/a.md" and first.answer == "answer-1"
        assert (second.prompt, second.parent_id, second.resume_session_id) == (
            "Check: answer-1",
            first.id,
            "chain-session",
        )
        assert (third.prompt, third.parent_id) == ("Sum up: answer-2", second.id)
        assert {second.source, third.source} == {JobSource.WATCH}
        assert changed_paths(first, notes) == []  # a custom template: no default path list
        argv = (tmp_path / "runs.argv").read_text().splitlines()
        assert "--resume chain-session" in argv[1] and "--resume chain-session" in argv[2]
        # The chain is over: a later change starts a new one at the first prompt.
        (notes / "b.md").write_text("b")
        wait_for(lambda: len(ledger.list_jobs()) >= 4, what="a fourth job")
        assert ledger.require(third.id + 1).prompt == f"Read {notes}/b.md"
    finally:
        engine.stop()
