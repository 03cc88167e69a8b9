"""A tiny stand-in for the Anthropic Messages API, so the real Claude Code CLI runs offline in tests.

Point the CLI at it with ``ANTHROPIC_BASE_URL=<standin.url>`` (plus ``ANTHROPIC_API_KEY=test-key``,
``CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1``, ``DISABLE_AUTOUPDATER=1`` and temp ``HOME`` /
``CLAUDE_CONFIG_DIR``). Plain stdlib on purpose: it must also run as a script in its own process::

    python tests/standin.py --port 0 --port-file FILE [--log-file FILE.jsonl]

which writes the bound port to FILE and serves until SIGTERM/SIGINT.

Behaviour is chosen by markers in the job's prompt, so a test can steer a CLI started by another
process. The prompt is the text of the first user message of the conversation, with the CLI's
``<system-reminder>`` blocks removed; after ``--resume`` it is the newest user text message instead
(the new prompt), so a resumed run obeys its own markers rather than replaying the first prompt's.

- no marker: answer ``done`` (streamed over two text deltas);
- ``[[reply:TEXT]]``: answer TEXT (TEXT runs up to the first ``]]``);
- ``[[lines:N]]``: answer N text deltas ``line 1\\n`` ... ``line N\\n``;
- ``[[bash:COMMAND]]``: first answer is a ``Bash`` tool_use ``{"command": COMMAND, "description": "run"}``;
  once the last user message holds a tool_result, answer ``tool said: <first line of the result>``;
- ``[[http:CODE]]``: answer HTTP CODE with an Anthropic-style JSON error (429 gets ``retry-after: 1``);
- ``[[usage-limit]]``: a 429 ``rate_limit_error`` shaped like a subscription usage limit
  (``anthropic-ratelimit-unified-*`` headers and ``retry-after`` of an hour, which the CLI refuses to
  wait for, so it fails at once);
- ``[[slow:SECONDS]]``: wait before sending the response headers;
- ``[[stall:SECONDS]]``: send message_start and a text delta ``partial ``, wait, then finish normally;
- ``[[once]]``: slow/stall/http/usage-limit apply only to the first main request for this prompt text.

Side requests (title generation with a JSON-schema ``output_config.format``, ``max_tokens: 1`` probes,
non-streamed calls, token counting, ``HEAD /`` connectivity checks, anything else) always get a quick,
well-formed success and never consume ``[[once]]``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

SCRIPT = Path(__file__).resolve()

ERROR_TYPES: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    502: "api_error",
    503: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}

_MARKER = re.compile(r"\[\[(reply|bash|http|slow|stall|lines):(.*?)\]\]", re.DOTALL)
_FLAG = re.compile(r"\[\[(once|usage-limit)\]\]")
_REMINDER = re.compile(r"<system-reminder>.*?</system-reminder>", re.DOTALL)


class _Stopped(Exception):
    """Raised inside a handler when the server stops during a sleep, to drop the connection."""


def _text_of(content: Any) -> str:
    """Join the text of a message ``content`` (a string or a list of blocks)."""
    if isinstance(content, str):
        return content
    parts: list[str] = []
    if isinstance(content, list):
        for block in content:
            if isinstance(block, dict) and block.get("type") == "text":
                parts.append(str(block.get("text", "")))
    return "\n".join(parts)


def _is_tool_result(message: dict[str, Any]) -> bool:
    content = message.get("content")
    return isinstance(content, list) and any(
        isinstance(block, dict) and block.get("type") == "tool_result" for block in content
    )


def prompt_of(body: dict[str, Any]) -> str:
    """The job's prompt, without the CLI's ``<system-reminder>`` parts.

    That is the newest user message carrying text and no tool_result: in a fresh run (tool round
    trips included) the first user message, after ``--resume`` the prompt given to the resumed run.
    """
    users = [m for m in body.get("messages") or [] if isinstance(m, dict) and m.get("role") == "user"]
    for message in reversed(users):
        if not _is_tool_result(message):
            text = _REMINDER.sub("", _text_of(message.get("content"))).strip()
            if text:
                return text
    return _REMINDER.sub("", _text_of(users[0].get("content"))).strip() if users else ""


def last_tool_result(body: dict[str, Any]) -> str | None:
    """The text of a tool_result in the last user message, or None when there is none."""
    users = [m for m in body.get("messages") or [] if isinstance(m, dict) and m.get("role") == "user"]
    if not users or not isinstance(users[-1].get("content"), list):
        return None
    for block in users[-1]["content"]:
        if isinstance(block, dict) and block.get("type") == "tool_result":
            content = block.get("content")
            return content if isinstance(content, str) else _text_of(content)
    return None


def parse_markers(prompt: str) -> dict[str, str]:
    """Markers found in ``prompt`` as ``{name: value}``; flags map to ``""``. First occurrence wins."""
    found: dict[str, str] = {}
    for match in _MARKER.finditer(prompt):
        found.setdefault(match.group(1), match.group(2))
    for match in _FLAG.finditer(prompt):
        found.setdefault(match.group(1), "")
    return found


def _example_for(schema: Any) -> Any:
    """A small value that satisfies a JSON schema (enough for the CLI's title/structured side calls)."""
    if not isinstance(schema, dict):
        return "stand-in"
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if schema.get(key):
            return _example_for(schema[key][0])
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or "properties" in schema:
        props = schema.get("properties") or {}
        return {name: _example_for(sub) for name, sub in props.items()}
    if kind == "array":
        return []
    if kind in ("integer", "number"):
        return 0
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    return "Stand-in title"


def _tokens(text: str) -> int:
    """A plausible token count for ``text`` (about four characters a token)."""
    return max(1, len(text) // 4)


class _Handler(BaseHTTPRequestHandler):
    """One HTTP exchange; all state lives on the server's ``standin``."""

    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output clean."""

    # -- plumbing ---------------------------------------------------------------------------

    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.send_header("request-id", f"req_{uuid.uuid4().hex[:24]}")
        self.send_header("connection", "close")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        self.close_connection = True

    def _event(self, name: str, data: dict[str, Any]) -> None:
        self.wfile.write(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())
        self.wfile.flush()

    def _sleep(self, seconds: float) -> None:
        if self.server.standin._stopping.wait(max(0.0, seconds)):
            raise _Stopped

    # -- verbs ------------------------------------------------------------------------------

    def do_HEAD(self) -> None:
        self.server.standin._record(self.command, self.path, None, "probe", "", 200)
        self._send_json(200, {})

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path.rstrip("/") == "/v1/models":
            models = [
                {"type": "model", "id": m, "display_name": m, "created_at": "2025-01-01T00:00:00Z"}
                for m in ("claude-opus-4-8", "claude-sonnet-4-6", "claude-haiku-4-5")
            ]
            self.server.standin._record(self.command, self.path, None, "models", "", 200)
            self._send_json(
                200,
                {"data": models, "has_more": False, "first_id": models[0]["id"], "last_id": models[-1]["id"]},
            )
            return
        self.server.standin._record(self.command, self.path, None, "other", "", 200)
        self._send_json(200, {})

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = None
        path = self.path.split("?", 1)[0].rstrip("/")
        try:
            if path == "/v1/messages/count_tokens" and isinstance(body, dict):
                self.server.standin._record(
                    self.command, self.path, body, "count_tokens", prompt_of(body), 200
                )
                self._send_json(200, {"input_tokens": _tokens(json.dumps(body.get("messages", [])))})
            elif path == "/v1/messages" and isinstance(body, dict):
                self._messages(body)
            else:
                self.server.standin._record(self.command, self.path, body, "other", "", 200)
                self._send_json(200, {})
        except (_Stopped, BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    # -- /v1/messages -----------------------------------------------------------------------

    def _messages(self, body: dict[str, Any]) -> None:
        standin = self.server.standin
        prompt = prompt_of(body)
        output_format: Any = (body.get("output_config") or {}).get("format")
        if isinstance(output_format, dict):
            kind = "structured"
        elif (body.get("max_tokens") or 0) <= 1:
            kind = "quota_probe"
        elif not body.get("stream"):
            kind = "side"
        else:
            kind = "main"

        if kind != "main":
            if kind == "structured":
                text = json.dumps(_example_for(output_format.get("schema")))
            elif kind == "quota_probe":
                text = "o"
            else:
                text = "done"
            standin._record(self.command, self.path, body, kind, prompt, 200)
            self._answer(body, [text], None)
            return

        markers = parse_markers(prompt)
        seen = standin._count(prompt)
        faults = "once" not in markers or seen == 1

        status = 200
        if faults and "usage-limit" in markers:
            status = 429
        elif faults and "http" in markers:
            try:
                status = int(markers["http"].strip())
            except ValueError:
                status = 500
        standin._record(self.command, self.path, body, kind, prompt, status)

        if faults and "slow" in markers:
            self._sleep(float(markers["slow"]))
        if status != 200:
            self._error(status, usage_limit="usage-limit" in markers)
            return

        stall = float(markers["stall"]) if faults and "stall" in markers else None
        tool_output = last_tool_result(body)
        if tool_output is not None:
            first = tool_output.splitlines()[0] if tool_output.splitlines() else ""
            self._answer(body, [f"tool said: {first}"], stall)
        elif "bash" in markers:
            self._answer(body, [], stall, tool_command=markers["bash"])
        elif "reply" in markers:
            text = markers["reply"]
            cut = max(1, len(text) // 2)
            self._answer(body, [text[:cut], text[cut:]] if len(text) > 1 else [text], stall)
        elif "lines" in markers:
            count = int(markers["lines"].strip() or 0)
            self._answer(body, [f"line {i}\n" for i in range(1, count + 1)], stall)
        else:
            self._answer(body, ["do", "ne"], stall)

    def _error(self, status: int, usage_limit: bool = False) -> None:
        error_type = ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
        headers: dict[str, str] = {}
        message = f"stand-in {status} error"
        if status == 429:
            headers["retry-after"] = "1"
            message = (
                "This request would exceed the rate limit for your organization. Please try again later."
            )
        if status >= 500 or status == 429:
            headers["x-should-retry"] = "true"
        if usage_limit:
            reset = int(time.time()) + 3600
            message = "Claude AI usage limit reached"
            headers.update(
                {
                    "retry-after": "3600",
                    "anthropic-ratelimit-unified-status": "rejected",
                    "anthropic-ratelimit-unified-reset": str(reset),
                    "anthropic-ratelimit-unified-representative-claim": "five_hour",
                    "anthropic-ratelimit-unified-5h-status": "rejected",
                    "anthropic-ratelimit-unified-5h-reset": str(reset),
                }
            )
        self._send_json(
            status,
            {
                "type": "error",
                "error": {"type": error_type, "message": message},
                "request_id": f"req_{uuid.uuid4().hex[:24]}",
            },
            headers,
        )

    def _answer(
        self, body: dict[str, Any], deltas: list[str], stall: float | None, tool_command: str | None = None
    ) -> None:
        """Send one assistant message: streamed as SSE when asked, else as one JSON message."""
        model = str(body.get("model") or "claude-stand-in")
        message_id = f"msg_{uuid.uuid4().hex[:24]}"
        input_tokens = _tokens(json.dumps(body.get("messages", [])))
        if tool_command is not None:
            tool_input = {"command": tool_command, "description": "run"}
            encoded = json.dumps(tool_input)
            output_tokens = _tokens(encoded) + 10
            block: dict[str, Any] = {
                "type": "tool_use",
                "id": f"toolu_{uuid.uuid4().hex[:24]}",
                "name": "Bash",
                "input": {},
            }
            cut = len(encoded) // 2
            chunks = [encoded[:cut], encoded[cut:]]
            stop_reason = "tool_use"
        else:
            output_tokens = _tokens("".join(deltas)) + 1
            block = {"type": "text", "text": ""}
            chunks = list(deltas)
            stop_reason = "end_turn"

        if not body.get("stream"):
            final = (
                dict(block, input=tool_input)
                if tool_command is not None
                else dict(block, text="".join(deltas))
            )
            self._send_json(
                200,
                {
                    "id": message_id,
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [final],
                    "stop_reason": stop_reason,
                    "stop_sequence": None,
                    "usage": {
                        "input_tokens": input_tokens,
                        "output_tokens": output_tokens,
                        "cache_creation_input_tokens": 0,
                        "cache_read_input_tokens": 0,
                    },
                },
            )
            return

        self.send_response(200)
        self.send_header("content-type", "text/event-stream; charset=utf-8")
        self.send_header("cache-control", "no-cache")
        self.send_header("request-id", f"req_{uuid.uuid4().hex[:24]}")
        self.send_header("connection", "close")
        self.end_headers()
        self.close_connection = True
        self._event(
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": message_id,
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {
                        "input_tokens": input_tokens,
                        "cache_creation_input_tokens": 0,
                        "cache_read_input_tokens": 0,
                        "output_tokens": 1,
                        "service_tier": "standard",
                    },
                },
            },
        )
        self._event("ping", {"type": "ping"})
        index = 0
        if stall is not None:
            self._event(
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": index,
                    "content_block": {"type": "text", "text": ""},
                },
            )
            self._event(
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": index,
                    "delta": {"type": "text_delta", "text": "partial "},
                },
            )
            self._sleep(stall)
            if tool_command is not None:
                self._event("content_block_stop", {"type": "content_block_stop", "index": index})
                index += 1
        if stall is None or tool_command is not None:
            self._event(
                "content_block_start", {"type": "content_block_start", "index": index, "content_block": block}
            )
        for chunk in chunks:
            delta = (
                {"type": "input_json_delta", "partial_json": chunk}
                if tool_command is not None
                else {"type": "text_delta", "text": chunk}
            )
            self._event(
                "content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}
            )
        self._event("content_block_stop", {"type": "content_block_stop", "index": index})
        self._event(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                "usage": {"output_tokens": output_tokens},
            },
        )
        self._event("message_stop", {"type": "message_stop"})


class _Server(ThreadingHTTPServer):
    """ThreadingHTTPServer with a back-reference to its stand-in and quiet disconnects."""

    daemon_threads = True
    standin: MessagesStandIn

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A CLI killed mid-stream is normal in tests; only report unexpected errors."""
        exc = sys.exc_info()[1]
        if isinstance(exc, (BrokenPipeError, ConnectionResetError, _Stopped)):
            return
        super().handle_error(request, client_address)


class MessagesStandIn:
    """A Messages API stand-in on 127.0.0.1 in a daemon thread; see the module docstring for markers."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, log_file: str | os.PathLike[str] | None = None
    ):
        self._host = host
        self._port = port
        self._log_file = Path(log_file) if log_file else None
        self._lock = threading.Lock()
        self._requests: list[dict[str, Any]] = []
        self._counts: dict[str, int] = {}
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> MessagesStandIn:
        """Bind (port 0 picks a free port) and serve in a daemon thread."""
        if self._server is not None:
            return self
        self._stopping.clear()
        server = _Server((self._host, self._port), _Handler)
        server.standin = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="messages-standin", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; pending slow/stall sleeps end at once and their connections are dropped."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> MessagesStandIn:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- inspection -------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The bound port (only while started)."""
        if self._server is None:
            raise RuntimeError("stand-in is not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """Base URL for ``ANTHROPIC_BASE_URL``."""
        return f"http://{self._host}:{self.port}"

    @property
    def requests(self) -> list[dict[str, Any]]:
        """A snapshot of the requests so far: method, path, body, time, kind, prompt, status."""
        with self._lock:
            return list(self._requests)

    def main_requests(self) -> list[dict[str, Any]]:
        """Only the conversation turns (``kind == "main"``), without side requests."""
        return [r for r in self.requests if r["kind"] == "main"]

    def reset(self) -> None:
        """Forget recorded requests and the per-prompt counts used by ``[[once]]``."""
        with self._lock:
            self._requests.clear()
            self._counts.clear()

    # -- used by the handler ----------------------------------------------------------------

    def _count(self, prompt: str) -> int:
        with self._lock:
            self._counts[prompt] = self._counts.get(prompt, 0) + 1
            return self._counts[prompt]

    def _record(self, method: str, path: str, body: Any, kind: str, prompt: str, status: int) -> None:
        entry = {
            "method": method,
            "path": path,
            "body": body,
            "time": time.time(),
            "kind": kind,
            "prompt": prompt,
            "status": status,
        }
        with self._lock:
            self._requests.append(entry)
            if self._log_file is not None:
                summary = {k: v for k, v in entry.items() if k != "body"}
                if isinstance(body, dict):
                    summary["model"] = body.get("model")
                with self._log_file.open("a", encoding="utf-8") as fh:
                    fh.write(json.dumps(summary) + "\n")


def main(argv: list[str] | None = None) -> int:
    """Script mode: serve until SIGTERM/SIGINT, after writing the bound port to ``--port-file``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", help="write the bound port here (atomically) once listening")
    parser.add_argument("--log-file", help="append one JSON line per request (without the body)")
    args = parser.parse_args(argv)

    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    with MessagesStandIn(args.host, args.port, args.log_file) as standin:
        if args.port_file:
            target = Path(args.port_file)
            tmp = target.with_name(target.name + ".tmp")
            tmp.write_text(str(standin.port), encoding="utf-8")
            os.replace(tmp, target)
        print(standin.url, flush=True)
        while not done.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
