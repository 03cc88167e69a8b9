"""The run's side of the control protocol, on a real pipe: what is written to Claude's stdin."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from typing import IO, Any

import pytest

from core.claude.conversation import (
    Answer,
    Conversation,
    ConversationHooks,
    Question,
    Told,
    input_from_json,
    input_to_json,
)


class Claude:
    """The CLI's end of the pipe: reads what flowtui writes, one JSON line at a time."""

    def __init__(self, reader: IO[bytes]) -> None:
        self._reader = reader

    def next(self) -> dict[str, Any]:
        line = self._reader.readline()
        assert line, "stdin was closed"
        value = json.loads(line)
        assert isinstance(value, dict)
        return value

    def at_eof(self) -> bool:
        return self._reader.readline() == b""


class Recorder:
    def __init__(self) -> None:
        self.waiting: list[Question | None] = []
        self.notes: list[str] = []
        self.always: list[str] = []

    def hooks(self) -> ConversationHooks:
        return ConversationHooks(
            on_waiting=self.waiting.append, on_note=self.notes.append, on_always=self.always.append
        )


@pytest.fixture
def pipe() -> Iterator[tuple[IO[bytes], Claude]]:
    read_fd, write_fd = os.pipe()
    reader = os.fdopen(read_fd, "rb")
    writer = os.fdopen(write_fd, "wb")
    yield writer, Claude(reader)
    reader.close()


def started(pipe: tuple[IO[bytes], Claude], recorder: Recorder, **options: Any) -> Conversation:
    writer, claude = pipe
    conversation = Conversation(writer, hooks=recorder.hooks(), **options)
    conversation.start("the prompt")
    initialize = claude.next()
    assert initialize["type"] == "control_request" and initialize["request"]["subtype"] == "initialize"
    assert claude.next() == {
        "type": "user",
        "message": {"role": "user", "content": "the prompt"},
        "parent_tool_use_id": None,
        "session_id": "default",
    }
    return conversation


def can_use(request_id: str, tool: str = "Bash", command: str = "touch x") -> dict[str, Any]:
    return {
        "type": "control_request",
        "request_id": request_id,
        "request": {"subtype": "can_use_tool", "tool_name": tool, "input": {"command": command}},
    }


def response_of(line: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    assert line["type"] == "control_response"
    return line["response"]["request_id"], line["response"]


def test_an_unknown_control_request_gets_an_error_never_a_hang(pipe: tuple[IO[bytes], Claude]) -> None:
    recorder = Recorder()
    conversation = started(pipe, recorder)
    conversation.on_line(
        {"type": "control_request", "request_id": "x1", "request": {"subtype": "hook_callback"}}
    )
    request_id, response = response_of(pipe[1].next())
    assert request_id == "x1" and response["subtype"] == "error" and "hook_callback" in response["error"]
    assert recorder.waiting == []


def test_questions_are_put_to_a_person_one_at_a_time_in_order(pipe: tuple[IO[bytes], Claude]) -> None:
    recorder = Recorder()
    conversation = started(pipe, recorder)
    conversation.on_line(can_use("r1", command="touch one"))
    conversation.on_line(can_use("r2", tool="Write", command="two"))
    assert [question.request_id if question else None for question in recorder.waiting] == ["r1"]
    assert conversation.waiting
    assert conversation.receive(Answer(request_id="r1", allow=True))
    request_id, response = response_of(pipe[1].next())
    assert request_id == "r1"
    assert response["response"] == {"behavior": "allow", "updatedInput": {"command": "touch one"}}
    assert [question.request_id if question else None for question in recorder.waiting] == ["r1", "r2"]
    assert not conversation.receive(Answer(request_id="r1", allow=True))  # asked no more: ignored
    assert conversation.receive(Answer(request_id="r2", allow=False, message="no writing"))
    request_id, response = response_of(pipe[1].next())
    assert request_id == "r2" and response["response"] == {"behavior": "deny", "message": "no writing"}
    assert recorder.waiting[-1] is None and not conversation.waiting


def test_always_answers_the_waiting_questions_of_that_tool_and_later_ones(
    pipe: tuple[IO[bytes], Claude],
) -> None:
    recorder = Recorder()
    conversation = started(pipe, recorder)
    conversation.on_line(can_use("r1"))
    conversation.on_line(can_use("r2"))
    conversation.receive(Answer(request_id="r1", allow=True, always=True))
    assert [response_of(pipe[1].next())[0] for _ in range(2)] == ["r1", "r2"]
    conversation.on_line(can_use("r3"))
    assert response_of(pipe[1].next())[0] == "r3"
    assert recorder.always == ["Bash"] and recorder.waiting == [recorder.waiting[0], None]


@pytest.mark.parametrize(("policy", "behavior"), [("allow", "allow"), ("deny", "deny")])
def test_the_workflow_policy_answers_without_asking(
    pipe: tuple[IO[bytes], Claude], policy: str, behavior: str
) -> None:
    recorder = Recorder()
    conversation = started(pipe, recorder, policy=policy)
    conversation.on_line(can_use("r1"))
    _, response = response_of(pipe[1].next())
    assert response["response"]["behavior"] == behavior
    assert recorder.waiting == []


def test_an_unanswered_question_is_denied_naming_the_time_out(pipe: tuple[IO[bytes], Claude]) -> None:
    recorder = Recorder()
    conversation = started(pipe, recorder, timeout_seconds=6.0)
    conversation.on_line(can_use("r1"))
    now = time.monotonic()
    conversation.check(now + 1)
    conversation.check(now + 7)
    _, response = response_of(pipe[1].next())
    assert response["response"]["behavior"] == "deny"
    assert "no answer within 6 s" in response["response"]["message"]
    assert conversation.waited_seconds(now + 100) >= 6.0


def test_a_told_message_waits_for_the_turn_to_end_and_the_last_turn_closes_stdin(
    pipe: tuple[IO[bytes], Claude],
) -> None:
    recorder = Recorder()
    conversation = started(pipe, recorder)
    assert conversation.receive(Told(text="and then this", by="me", via="cli"))
    told = conversation.on_line({"type": "result", "subtype": "success"})
    assert told == Told(text="and then this", by="me", via="cli")
    assert pipe[1].next()["message"]["content"] == "and then this"
    assert conversation.on_line({"type": "result", "subtype": "success"}) is None
    assert conversation.closed and pipe[1].at_eof()
    assert not conversation.receive(Told(text="too late"))


def test_inputs_survive_the_ledger_as_json() -> None:
    for entry in (
        Answer(request_id="r", allow=False, message="why", by="a", via="mcp"),
        Told("hi", "b", "cli"),
    ):
        assert input_from_json(input_to_json(entry)) == entry
    assert input_from_json("not json") is None and input_from_json('{"kind": "later"}') is None
