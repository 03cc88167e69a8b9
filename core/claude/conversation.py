"""Claude's stdin during a run: the prompt, answers to its tool questions, messages told to it.

The CLI runs with ``--input-format stream-json --permission-prompt-tool stdio``: it reads JSON
lines on stdin and asks on stdout (``control_request`` / ``can_use_tool``) before a tool that
``allowed_tools`` and ``permission_mode`` do not allow. Questions are put to a person one at a
time, oldest first; a message told to the run waits for the current turn's ``result`` and is
then the next turn (the CLI would otherwise fold it into the turn under way, which then ends
with one ``result`` for two messages). Stdin closes once a turn ends with nothing pending, which
ends the run.
"""

from __future__ import annotations

import contextlib
import json
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

from core.clock import SYSTEM_CLOCK, Clock

INITIALIZE_REQUEST_ID = "flowtui_init"


@dataclass(frozen=True)
class Question:
    """A tool Claude wants to use, waiting for a person's answer."""

    request_id: str
    tool: str
    input: dict[str, Any]
    asked_at: str
    kind: str = "tool"

    def to_json(self) -> str:
        return json.dumps(
            {
                "kind": self.kind,
                "tool": self.tool,
                "input": self.input,
                "asked_at": self.asked_at,
                "request_id": self.request_id,
            }
        )


@dataclass(frozen=True)
class Answer:
    """A person's answer to the question ``request_id``: who gave it, from where, and what."""

    request_id: str
    allow: bool
    always: bool = False
    message: str | None = None
    by: str = "the user"
    via: str = "cli"


@dataclass(frozen=True)
class Told:
    """A message a person sends into the running Claude process (its next turn)."""

    text: str
    by: str = "the user"
    via: str = "cli"


RunInput = Answer | Told


def input_to_json(entry: RunInput) -> str:
    if isinstance(entry, Answer):
        return json.dumps(
            {
                "kind": "answer",
                "request_id": entry.request_id,
                "allow": entry.allow,
                "always": entry.always,
                "message": entry.message,
                "by": entry.by,
                "via": entry.via,
            }
        )
    return json.dumps({"kind": "message", "text": entry.text, "by": entry.by, "via": entry.via})


def input_from_json(text: str) -> RunInput | None:
    """The entry kept in the ledger, or None when it is not one this version knows."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return None
    if not isinstance(data, dict):
        return None
    by, via = str(data.get("by") or "the user"), str(data.get("via") or "cli")
    if data.get("kind") == "answer" and isinstance(data.get("request_id"), str):
        message = data.get("message")
        return Answer(
            request_id=data["request_id"],
            allow=bool(data.get("allow")),
            always=bool(data.get("always")),
            message=message if isinstance(message, str) else None,
            by=by,
            via=via,
        )
    if data.get("kind") == "message" and isinstance(data.get("text"), str):
        return Told(text=data["text"], by=by, via=via)
    return None


def describe_input(tool_input: dict[str, Any], limit: int = 200) -> str:
    """The tool input a person judges by, on one line (a Bash command, a file path...)."""
    for key in ("command", "file_path", "path", "url", "pattern"):
        value = tool_input.get(key)
        if isinstance(value, str) and value:
            text = value
            break
    else:
        text = json.dumps(tool_input, ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class ConversationHooks:
    """What the run tells the engine: the question now waiting (None: none), notes, an "always"."""

    on_waiting: Callable[[Question | None], None] = lambda question: None
    on_note: Callable[[str], None] = lambda text: None
    on_always: Callable[[str], None] = lambda tool: None


@dataclass
class _Pending:
    question: Question
    head_since: float | None = None
    """When it became the question put to a person (monotonic), None while others wait before it."""


@dataclass
class Conversation:
    """The run's side of the control protocol; every method is safe from any thread."""

    stdin: IO[bytes]
    policy: str = "ask"
    """The workflow's ``permissions``: ask, deny or allow."""
    timeout_seconds: float = 1800.0
    always: set[str] = field(default_factory=set)
    hooks: ConversationHooks = field(default_factory=ConversationHooks)
    clock: Clock = SYSTEM_CLOCK
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    _pending: deque[_Pending] = field(default_factory=deque, repr=False)
    _held: deque[Told] = field(default_factory=deque, repr=False)
    _writes: queue.Queue[bytes | None] = field(default_factory=queue.Queue, repr=False)
    _writer: threading.Thread | None = field(default=None, repr=False)
    _closed: bool = False
    _waited: float = 0.0
    _waiting_since: float | None = None
    sent_messages: int = 0
    """User messages written to Claude (the prompt included): one turn each."""

    # -- the run's start and end -------------------------------------------------------

    def start(self, prompt: str) -> None:
        """The initialize request, then the prompt as the first user message.

        Written from a thread of its own, so a long prompt or a CLI that reads slowly never
        blocks the reader of Claude's output (or a person answering)."""
        self._writer = threading.Thread(target=self._write_loop, name="flowtui-claude-stdin", daemon=True)
        self._writer.start()
        self._send(
            {
                "type": "control_request",
                "request_id": INITIALIZE_REQUEST_ID,
                "request": {"subtype": "initialize"},
            }
        )
        with self._lock:
            self._send_user(prompt)

    def close(self) -> None:
        """Close stdin (the CLI then ends); questions still open are dropped with the run."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._stop_waiting(time.monotonic())
            had_question = bool(self._pending)
            self._pending.clear()
        self._writes.put(None)
        if had_question:
            self.hooks.on_waiting(None)

    def join(self, timeout: float = 5.0) -> None:
        if self._writer is not None:
            self._writer.join(timeout)

    @property
    def closed(self) -> bool:
        return self._closed

    # -- what Claude says -----------------------------------------------------------------

    def on_line(self, line: dict[str, Any]) -> Told | None:
        """React to one line of Claude's output that concerns stdin (others are ignored);
        returns the told message that became Claude's next turn, for the transcript."""
        kind = line.get("type")
        if kind == "control_request":
            self._on_request(line)
        elif kind == "control_cancel_request":
            self._on_cancel(str(line.get("request_id")))
        elif kind == "result":
            return self._on_result()
        return None

    def _on_request(self, line: dict[str, Any]) -> None:
        request_id = line.get("request_id")
        request = line.get("request")
        if not isinstance(request_id, str) or not isinstance(request, dict):
            self.hooks.on_note("a control request without an id or a body was ignored")
            return
        subtype = request.get("subtype")
        if subtype != "can_use_tool":
            self._send(
                {
                    "type": "control_response",
                    "response": {
                        "subtype": "error",
                        "request_id": request_id,
                        "error": f"flowtui does not support the control request {subtype!r}",
                    },
                }
            )
            self.hooks.on_note(f"answered an unsupported control request {subtype!r} with an error")
            return
        tool = str(request.get("tool_name") or "?")
        raw_input = request.get("input")
        tool_input: dict[str, Any] = raw_input if isinstance(raw_input, dict) else {}
        question = Question(request_id=request_id, tool=tool, input=tool_input, asked_at=self.clock.iso())
        if self.policy == "allow":
            self._allow(question)
            return
        if self.policy == "deny":
            self._deny(question, f'{tool} is not allowed: the workflow\'s permissions are "deny"')
            self.hooks.on_note(f"denied {tool}: {describe_input(tool_input)} (permissions = deny)")
            return
        with self._lock:
            if tool in self.always:
                self._allow(question)
                auto = True
            else:
                auto = False
                self._pending.append(_Pending(question))
                became_head = len(self._pending) == 1
                if became_head:
                    self._make_head(time.monotonic())
        if auto:
            self.hooks.on_note(f"allowed {tool}: {describe_input(tool_input)} (allowed always for this job)")
        elif became_head:
            self.hooks.on_waiting(question)

    def _on_cancel(self, request_id: str) -> None:
        with self._lock:
            found = [item for item in self._pending if item.question.request_id == request_id]
            if not found:
                return
            was_head = self._pending[0] is found[0]
            self._pending.remove(found[0])
            head = self._next_head() if was_head else None
        self.hooks.on_note(f"Claude withdrew its question about {found[0].question.tool}")
        if was_head:
            self.hooks.on_waiting(head)

    def _on_result(self) -> Told | None:
        """A turn ended: the next told message is the next turn; with nothing left, end."""
        with self._lock:
            if self._closed:
                return None
            if self._held:
                told = self._held.popleft()
                self._send_user(told.text)
                return told
            if self._pending:
                return None
        self.close()
        return None

    # -- what a person says ----------------------------------------------------------------

    def receive(self, entry: RunInput) -> bool:
        """Apply an answer or a told message; False when it no longer applies to this run."""
        if isinstance(entry, Told):
            return self._tell(entry)
        return self._answer(entry)

    def _tell(self, told: Told) -> bool:
        with self._lock:
            if self._closed:
                self.hooks.on_note(f"message from {told.by} not delivered: Claude had finished")
                return False
            self._held.append(told)
        self.hooks.on_note(f"message from {told.by} via {told.via} waits for Claude's next turn")
        return True

    def _answer(self, answer: Answer, now: float | None = None) -> bool:
        auto_allowed: list[Question] = []
        with self._lock:
            found = [item for item in self._pending if item.question.request_id == answer.request_id]
            if self._closed or not found:
                stale = True
            else:
                stale = False
                item = found[0]
                was_head = self._pending[0] is item
                self._pending.remove(item)
                question = item.question
                if answer.allow:
                    self._allow(question)
                else:
                    self._deny(question, answer.message or f"denied by {answer.by}")
                if answer.allow and answer.always:
                    self.always.add(question.tool)
                    auto_allowed = [p.question for p in self._pending if p.question.tool == question.tool]
                    for other in auto_allowed:
                        self._allow(other)
                    self._pending = deque(p for p in self._pending if p.question.tool != question.tool)
                    was_head = True
                head = self._next_head(now) if was_head else None
        if stale:
            self.hooks.on_note(f"an answer from {answer.by} came for a question no longer asked: ignored")
            return False
        if answer.allow and answer.always:
            self.hooks.on_always(question.tool)
        for other in auto_allowed:
            self.hooks.on_note(
                f"allowed {other.tool}: {describe_input(other.input)} (allowed always for this job)"
            )
        self.hooks.on_waiting(head)
        return True

    # -- time ------------------------------------------------------------------------------

    def check(self, now: float) -> None:
        """Deny the question put to a person once the workflow's time for an answer is up."""
        with self._lock:
            if not self._pending or self._closed:
                return
            head = self._pending[0]
            if head.head_since is None or now - head.head_since < self.timeout_seconds:
                return
            question = head.question
        limit = format_minutes(self.timeout_seconds)
        message = (
            f"no answer within {limit} (the workflow's permission_timeout_minutes): {question.tool} denied"
        )
        self.hooks.on_note(f"{question.tool} denied: {message}")
        self._answer(
            Answer(request_id=question.request_id, allow=False, message=message, by="the time-out"), now
        )

    def waited_seconds(self, now: float) -> float:
        """Time spent waiting for a person so far; it counts toward no run time limit."""
        with self._lock:
            current = now - self._waiting_since if self._waiting_since is not None else 0.0
            return self._waited + current

    @property
    def waiting(self) -> bool:
        return self._waiting_since is not None

    # -- inside (called with the lock held) --------------------------------------------------

    def _make_head(self, now: float) -> None:
        self._pending[0].head_since = now
        if self._waiting_since is None:
            self._waiting_since = now

    def _next_head(self, now: float | None = None) -> Question | None:
        now = time.monotonic() if now is None else now
        if self._pending:
            self._make_head(now)
            return self._pending[0].question
        self._stop_waiting(now)
        return None

    def _stop_waiting(self, now: float) -> None:
        if self._waiting_since is not None:
            self._waited += now - self._waiting_since
            self._waiting_since = None

    def _allow(self, question: Question) -> None:
        self._respond(question.request_id, {"behavior": "allow", "updatedInput": question.input})

    def _deny(self, question: Question, message: str) -> None:
        self._respond(question.request_id, {"behavior": "deny", "message": message})

    def _respond(self, request_id: str, response: dict[str, Any]) -> None:
        self._send(
            {
                "type": "control_response",
                "response": {"subtype": "success", "request_id": request_id, "response": response},
            }
        )

    def _send_user(self, text: str) -> None:
        self.sent_messages += 1
        self._send(
            {
                "type": "user",
                "message": {"role": "user", "content": text},
                "parent_tool_use_id": None,
                "session_id": "default",
            }
        )

    def _send(self, message: dict[str, Any]) -> None:
        if not self._closed:
            self._writes.put(json.dumps(message, ensure_ascii=False).encode("utf-8") + b"\n")

    def _write_loop(self) -> None:
        try:
            while (data := self._writes.get()) is not None:
                self.stdin.write(data)
                self.stdin.flush()
        except (BrokenPipeError, ValueError, OSError):
            pass  # the CLI exited early; its exit code and output say why
        finally:
            with contextlib.suppress(BrokenPipeError, OSError):
                self.stdin.close()


def _short(text: str, limit: int = 80) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def format_minutes(seconds: float) -> str:
    minutes = seconds / 60
    if minutes >= 1 and minutes == int(minutes):
        return f"{int(minutes)} min"
    return f"{seconds:g} s"
