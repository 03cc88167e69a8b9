"""``flowtui mcp`` driven by the MCP SDK's own client over a real stdio connection."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar, get_args

import anyio
import pytest
from clikit import Flowtui
from fakeclaude import RESULT_OK, ok_script, write_script
from mcp import ClientSession, MCPError, StdioServerParameters, stdio_client

from cli.mcp_server import JobStateName
from core.jobs import JobState, RunOutcome
from core.ledger.sqlite import Ledger, NewJob
from core.ops.control import PAUSED_FLAG

T = TypeVar("T")

USER_CONFIG = """\
# my flowtui config
[engine]
idle_sweep_seconds = 600  # only a poke wakes the engine within a test's time

[workflows.notes]
prompt = "Tidy: {prompt}"  # keep it short
"""

TOOLS = {
    "add_job",
    "list_jobs",
    "search_jobs",
    "show_job",
    "cancel_job",
    "retry_job",
    "list_questions",
    "answer_question",
    "tell_job",
    "pause_queue",
    "resume_queue",
    "add_watch",
    "remove_watch",
}


@pytest.fixture
def flowtui(tmp_path: Path) -> Flowtui:
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(USER_CONFIG)
    return Flowtui(home, ok_script(tmp_path / "claude"))


@pytest.fixture
def served(flowtui: Flowtui) -> Iterator[subprocess.Popen[str]]:
    process = flowtui.serve()
    yield process
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)


@asynccontextmanager
async def mcp_session(flowtui: Flowtui) -> AsyncIterator[ClientSession]:
    """``python -m cli mcp`` (what ``flowtui mcp`` runs) as a client spawns it; its stderr
    goes to a file beside the home, so stdout carries nothing but the protocol."""
    server = StdioServerParameters(
        command=sys.executable,
        args=["-m", "cli", "mcp"],
        env={key: flowtui.env[key] for key in ("FLOWTUI_HOME", "FLOWTUI_CLAUDE")},
        cwd=flowtui.home.parent,
    )
    with (
        anyio.fail_after(60),
        open(flowtui.home.parent / "mcp-stderr.log", "a", encoding="utf-8") as errlog,
    ):
        async with (
            stdio_client(server, errlog=errlog) as (read, write),
            ClientSession(read, write, read_timeout_seconds=30) as session,
        ):
            await session.initialize()
            yield session


async def call(session: ClientSession, tool: str, **arguments: Any) -> dict[str, Any]:
    result = await session.call_tool(tool, arguments)
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


async def call_error(session: ClientSession, tool: str, **arguments: Any) -> str:
    """The one-line message of a tool error (the SDK prefixes the tool's name)."""
    result = await session.call_tool(tool, arguments)
    assert result.is_error, result.structured_content
    (content,) = result.content
    assert content.type == "text"
    assert "\n" not in content.text, content.text
    return content.text


async def read_text(session: ClientSession, uri: str) -> str:
    result = await session.read_resource(uri)
    (content,) = result.contents
    assert hasattr(content, "text"), content
    return str(content.text)


async def wait_until(condition: Callable[[], Awaitable[T | None]], what: str, timeout: float = 20.0) -> T:
    """Poll until ``condition`` gives a value; a generous timeout, never a timing assertion."""
    deadline = time.monotonic() + timeout
    while True:
        value = await condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await anyio.sleep(0.05)


def pause_flag(flowtui: Flowtui) -> str | None:
    ledger = Ledger(flowtui.home / "ledger.db")
    try:
        return ledger.get_flag(PAUSED_FLAG)
    finally:
        ledger.close()


def test_the_state_filter_names_every_job_state() -> None:
    assert set(get_args(JobStateName)) == {str(state) for state in JobState}


async def test_jobs_queue_and_pause_without_an_engine(flowtui: Flowtui, tmp_path: Path) -> None:
    async with mcp_session(flowtui) as session:
        listed = await session.list_tools()
        assert {tool.name for tool in listed.tools} == TOOLS
        assert all(tool.description for tool in listed.tools)
        templates = await session.list_resource_templates()
        assert {template.uri_template for template in templates.resource_templates} == {
            "flowtui://jobs/{job_id}/transcript",
            "flowtui://jobs/{job_id}/transcript.jsonl",
        }

        first = await call(session, "add_job", prompt="find the needle", cwd=str(tmp_path))
        assert (first["id"], first["state"], first["source"]) == (1, "queued", "cli")
        assert first["trigger"] == "added over MCP" and first["cwd"] == str(tmp_path)
        second = await call(session, "add_job", prompt="a haystack", workflow="notes", priority=5)
        assert second["prompt"] == "Tidy: a haystack" and second["priority"] == 5
        assert second["cwd"] == str(tmp_path)  # the server's own directory (the client's choice)

        everything = await call(session, "list_jobs")
        assert [job["id"] for job in everything["jobs"]] == [2, 1]
        assert everything["queue"] == "running" and everything["paused"] is False
        assert everything["jobs"][0]["prompt_excerpt"] == "Tidy: a haystack"
        found = await call(session, "search_jobs", text="NEEDLE")
        assert [job["id"] for job in found["jobs"]] == [1]
        assert (await call(session, "search_jobs", text="%"))["jobs"] == []  # LIKE wildcards are text

        shown = await call(session, "show_job", id=1)
        assert shown["prompt"] == "find the needle" and shown["answer"] is None
        assert [event["state"] for event in shown["events"]] == ["queued"]
        assert "transcript_uris" not in shown
        assert shown["changes"] == []  # as `flowtui show --json` prints it: outside git, nothing changed
        assert await read_text(session, "flowtui://jobs/1/transcript") == (
            "job #1 has not started yet (queued): no transcript\n"
        )

        cancelled = await call(session, "cancel_job", id=1)
        assert cancelled == {"id": 1, "state": "cancelled", "message": "cancelled #1"}
        retried = await call(session, "retry_job", id=1)
        assert (retried["id"], retried["parent_id"], retried["state"]) == (3, 1, "queued")
        assert retried["prompt"] == "find the needle"
        queued = await call(session, "list_jobs", state="queued", limit=1)
        assert [job["id"] for job in queued["jobs"]] == [3]

        paused = await call(session, "pause_queue", reason="lunch")
        assert paused == {"paused": True, "queue": "paused: lunch"}
        assert pause_flag(flowtui) == "lunch"
        table = await anyio.to_thread.run_sync(flowtui.ok, "jobs")
        assert table.startswith("queue paused: lunch")
        assert (await call(session, "resume_queue")) == {"paused": False, "queue": "running"}
        assert pause_flag(flowtui) is None

    ledger_view = json.loads(await anyio.to_thread.run_sync(flowtui.ok, "jobs", "--json"))
    states = [(job["id"], job["state"]) for job in ledger_view]
    assert states == [(3, "queued"), (2, "queued"), (1, "cancelled")]


async def test_bad_input_comes_back_as_one_line_tool_errors(flowtui: Flowtui, tmp_path: Path) -> None:
    async with mcp_session(flowtui) as session:
        assert "no job #999" in await call_error(session, "show_job", id=999)
        assert "no job #42" in await call_error(session, "cancel_job", id=42)
        assert "unknown workflow 'nope'" in await call_error(session, "add_job", prompt="x", workflow="nope")
        assert "/no/such/dir does not exist" in await call_error(
            session, "add_job", prompt="x", cwd="/no/such/dir"
        )
        assert "the prompt is empty" in await call_error(session, "add_job", prompt="  ", cwd=str(tmp_path))
        assert "the search text is empty" in await call_error(session, "search_jobs", text=" ")
        await call(session, "add_job", prompt="waits", cwd=str(tmp_path))
        assert "only a finished job can be retried" in await call_error(session, "retry_job", id=1)
        await call(session, "cancel_job", id=1)
        assert "job #1 already cancelled" in await call_error(session, "cancel_job", id=1)
        assert "unknown workflow 'nope'" in await call_error(
            session, "add_watch", path=str(tmp_path), workflow="nope"
        )
        assert "bad glob '!'" in await call_error(session, "add_watch", path=str(tmp_path), include=["!"])
        assert "is not watched" in await call_error(session, "remove_watch", path="/nowhere/at/all")
        with pytest.raises(MCPError, match="no job #77"):
            await session.read_resource("flowtui://jobs/77/transcript")
        with pytest.raises(MCPError, match="bad job id 'x'"):
            await session.read_resource("flowtui://jobs/x/transcript.jsonl")

        # The config is read on every write: a broken edit is reported, and reads carry on.
        (flowtui.home / "config.toml").write_text("[engine]\nworkerz = 2\n")
        message = await call_error(session, "add_job", prompt="x", cwd=str(tmp_path))
        assert "[engine] workerz: unknown key" in message
        assert [job["id"] for job in (await call(session, "list_jobs"))["jobs"]] == [1]


async def test_watches_edit_the_config_and_keep_comments(flowtui: Flowtui, tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    config = flowtui.home / "config.toml"
    async with mcp_session(flowtui) as session:
        added = await call(
            session, "add_watch", path=str(notes), workflow="notes", include=["*.md"], exclude=["tmp/"]
        )
        assert added == {
            "path": str(notes),
            "workflow": "notes",
            "include": ["*.md"],
            "exclude": ["tmp/"],
            "poll": False,
            "poll_interval_ms": 1000,
            "events": ["added", "modified", "deleted"],
            "content_hash": False,
            "exists": True,
        }
        text = config.read_text()
        assert text.startswith(USER_CONFIG)  # the user's comments and layout survive
        table = f'[[watch]]\npath = "{notes}"\nworkflow = "notes"\ninclude = ["*.md"]\nexclude = ["tmp/"]'
        assert table in text
        assert "already watched" in await call_error(session, "add_watch", path=str(notes))
        later = tmp_path / "later"
        assert (await call(session, "add_watch", path=str(later)))["exists"] is False
        mounted = tmp_path / "mounted"
        polled = await call(
            session,
            "add_watch",
            path=str(mounted),
            poll=True,
            poll_interval_ms=250,
            events=["added"],
            content_hash=True,
        )
        assert (polled["poll"], polled["poll_interval_ms"], polled["events"], polled["content_hash"]) == (
            True,
            250,
            ["added"],
            True,
        )
        text = config.read_text()
        for line in ("poll = true", "poll_interval_ms = 250", 'events = ["added"]', "content_hash = true"):
            assert line in text
        assert "poll_interval_ms" in await call_error(
            session, "add_watch", path=str(tmp_path / "fast"), poll=True, poll_interval_ms=10
        )

        assert await call(session, "remove_watch", path=str(notes)) == {"removed": str(notes)}
        assert await call(session, "remove_watch", path=str(later)) == {"removed": str(later)}
        assert await call(session, "remove_watch", path=str(mounted)) == {"removed": str(mounted)}
    assert config.read_text() == USER_CONFIG


@pytest.mark.usefixtures("served")
async def test_a_running_engine_is_poked_and_the_transcript_is_readable(
    flowtui: Flowtui, tmp_path: Path
) -> None:
    async with mcp_session(flowtui) as session:

        async def finished(job_id: int) -> dict[str, Any] | None:
            shown = await call(session, "show_job", id=job_id)
            return shown if shown["state"] == "succeeded" else None

        added = await call(session, "add_job", prompt="hello", cwd=str(tmp_path))
        shown = await wait_until(lambda: finished(added["id"]), "the job to succeed")
        assert shown["answer"] == "fake answer" and shown["attempts"] == 1
        assert shown["transcript_uris"] == [
            "flowtui://jobs/1/transcript",
            "flowtui://jobs/1/transcript.jsonl",
        ]
        rendered = await read_text(session, "flowtui://jobs/1/transcript")
        assert "── session fake-session" in rendered and "✓ done" in rendered and "$0.0123" in rendered
        raw = await read_text(session, "flowtui://jobs/1/transcript.jsonl")
        lines = [json.loads(line) for line in raw.splitlines()]
        # the run's start marker, then Claude's lines
        assert [line["type"] for line in lines] == ["flowtui", "system", "result"]
        assert lines[-1]["result"] == "fake answer"

        # Resume pokes the engine too: the job waiting behind the pause starts at once.
        await call(session, "pause_queue")
        waiting = await call(session, "add_job", prompt="after the pause", cwd=str(tmp_path))
        assert (await call(session, "show_job", id=waiting["id"]))["state"] == "queued"
        await call(session, "resume_queue")
        await wait_until(lambda: finished(waiting["id"]), "the job to run after resume")

        # A watch added here is picked up by the running engine at once.
        notes = tmp_path / "notes"
        notes.mkdir()
        await call(session, "add_watch", path=str(notes))

        def watch_status() -> object:
            rows = json.loads(flowtui.ok("watch", "ls", "--json"))
            return {row["path"]: row["status"] for row in rows}.get(str(notes))

        async def active() -> bool:
            return await anyio.to_thread.run_sync(watch_status) == "active"

        await wait_until(active, "the engine to start watching")
        await call(session, "remove_watch", path=str(notes))


def asking_script(path: Path, answers: Path) -> Path:
    """Asks to run Bash (as the CLI does with --permission-prompt-tool stdio), keeps the answer
    it reads on stdin in ``answers``, then ends its turn."""
    ask = {
        "type": "control_request",
        "request_id": "ask-1",
        "request": {"subtype": "can_use_tool", "tool_name": "Bash", "input": {"command": "touch it"}},
    }
    return write_script(
        path,
        "read -r init; read -r prompt\n"
        f"echo '{json.dumps(ask)}'\n"
        f'read -r answer; printf "%s\\n" "$answer" > "{answers}"\n'
        f"echo '{json.dumps(RESULT_OK)}'\n",
    )


async def test_questions_are_listed_and_answered_over_mcp(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(USER_CONFIG)
    answers = tmp_path / "answers.jsonl"
    flowtui = Flowtui(home, asking_script(tmp_path / "claude", answers))
    engine = flowtui.serve()
    try:
        async with mcp_session(flowtui) as session:
            added = await call(session, "add_job", prompt="needs a tool", cwd=str(tmp_path))

            async def listed() -> list[dict[str, Any]] | None:
                return (await call(session, "list_questions"))["questions"] or None

            (question,) = await wait_until(listed, "the job to ask")
            assert question["id"] == added["id"] and question["state"] == "running"
            assert question["waiting_for"]["tool"] == "Bash"
            assert question["waiting_for"]["input"] == {"command": "touch it"}
            answered = await call(
                session, "answer_question", id=added["id"], decision="deny", reason="not now"
            )
            assert answered["decision"] == "deny"

            async def finished() -> dict[str, Any] | None:
                shown = await call(session, "show_job", id=added["id"])
                return shown if shown["state"] == "succeeded" else None

            shown = await wait_until(finished, "the job to finish")
            assert shown["waiting_for"] is None
            assert "denied Bash: not now (by an MCP client via mcp)" in [e["reason"] for e in shown["events"]]
            error = await call_error(session, "tell_job", id=added["id"], message="more")
            assert f"flowtui followup {added['id']}" in error
    finally:
        engine.send_signal(signal.SIGTERM)
        engine.wait(timeout=20)
    response = json.loads(answers.read_text())
    assert response["response"]["request_id"] == "ask-1"
    assert response["response"]["response"] == {"behavior": "deny", "message": "not now"}


async def test_retry_and_cancel_take_filters_instead_of_an_id(flowtui: Flowtui, tmp_path: Path) -> None:
    ledger = Ledger(flowtui.home / "ledger.db")
    try:
        for prompt in ("one", "two"):
            job = ledger.create(NewJob(prompt, "default", "cli", str(tmp_path), 1), "added by test")
            ledger.claim(job.id, owner_pid=1)
            ledger.finish(job.id, RunOutcome(JobState.FAILED, error="API Error: 529"))
    finally:
        ledger.close()
    async with mcp_session(flowtui) as session:
        retried = await call(session, "retry_job", state=["failed"], since="1h")
        assert retried["message"] == "retried 2 jobs" and retried["done"] == 2
        assert [(line["id"], line["new_id"], line["done"]) for line in retried["jobs"]] == [
            (1, 3, True),
            (2, 4, True),
        ]
        waiting = await call(session, "add_job", prompt="waits", cwd=str(tmp_path), workflow="notes")
        cancelled = await call(session, "cancel_job", workflow="notes")
        assert cancelled["message"] == "cancelled 1 job"
        assert cancelled["jobs"] == [
            {
                "id": waiting["id"],
                "done": True,
                "message": f"cancelled #{waiting['id']}",
                "state": "cancelled",
            }
        ]
        assert "not both" in await call_error(session, "retry_job", id=1, state=["failed"])
        assert "since: bad duration '5x'" in await call_error(session, "cancel_job", since="5x")
        assert "give a job id, or filters" in await call_error(session, "retry_job")
