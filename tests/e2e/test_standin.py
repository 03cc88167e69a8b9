"""The Messages API stand-in, proven against the real Claude Code CLI (offline, ~1 s a run).

These tests pin both the stand-in's markers and the CLI behaviour flowtui relies on (result line
shape, tool round trip, errors, retries), so a CLI upgrade that changes them shows up here first.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pytest
from standin import SCRIPT, MessagesStandIn

CLI_ARGS = ["--output-format", "stream-json", "--verbose", "--include-partial-messages"]


@dataclass
class CliRun:
    """A finished CLI run: exit code and its stream-json lines."""

    returncode: int
    lines: list[dict[str, Any]]
    stderr: str = ""

    def of_type(self, kind: str, subtype: str | None = None) -> list[dict[str, Any]]:
        """Lines with this ``type`` (and ``subtype`` when given)."""
        return [
            ln
            for ln in self.lines
            if ln.get("type") == kind and (subtype is None or ln.get("subtype") == subtype)
        ]

    @property
    def result(self) -> dict[str, Any]:
        """The final ``result`` line (asserting there is exactly one)."""
        results = self.of_type("result")
        assert len(results) == 1, (self.lines, self.stderr)
        return results[0]

    def text_deltas(self) -> list[str]:
        """Texts of the ``stream_event`` text deltas, in order."""
        return [
            ln["event"]["delta"]["text"]
            for ln in self.of_type("stream_event")
            if ln["event"].get("type") == "content_block_delta"
            and ln["event"]["delta"].get("type") == "text_delta"
        ]


@dataclass
class LiveCli:
    """A running CLI whose stdout lines are collected (with arrival times) by a reader thread."""

    proc: subprocess.Popen[str]
    lines: queue.Queue[tuple[float, dict[str, Any]]] = field(default_factory=queue.Queue)

    def next_line(self, deadline: float) -> tuple[float, dict[str, Any]] | None:
        """The next JSON line, or None at EOF or when ``deadline`` (monotonic) passes."""
        try:
            return self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            return None

    def kill(self) -> None:
        """Kill the CLI (tests never wait for its multi-minute retry loops)."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)


def _argv(claude_bin: str, prompt: str, extra: tuple[str, ...]) -> list[str]:
    return [claude_bin, "-p", prompt, *CLI_ARGS, *extra]


def _parse(stdout: str) -> list[dict[str, Any]]:
    lines = []
    for raw in stdout.splitlines():
        try:
            lines.append(json.loads(raw))
        except ValueError:
            continue
    return lines


def run_cli(
    claude_bin: str, env: dict[str, str], cwd: Path, prompt: str, *extra: str, timeout: float = 60
) -> CliRun:
    """Run the CLI to completion, the way flowtui does (stdin from /dev/null, stream-json out)."""
    cwd.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        _argv(claude_bin, prompt, extra),
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return CliRun(proc.returncode, _parse(proc.stdout), proc.stderr)


def start_cli(claude_bin: str, env: dict[str, str], cwd: Path, prompt: str, *extra: str) -> LiveCli:
    """Start the CLI and stream its lines into a queue, to observe them before the run ends."""
    cwd.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        _argv(claude_bin, prompt, extra),
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    live = LiveCli(proc)

    def pump(stream: IO[str]) -> None:
        for raw in stream:
            try:
                live.lines.put((time.monotonic(), json.loads(raw)))
            except ValueError:
                continue

    assert proc.stdout is not None
    threading.Thread(target=pump, args=(proc.stdout,), daemon=True).start()
    return live


def post(
    url: str, body: dict[str, Any], path: str = "/v1/messages?beta=true", timeout: float = 10
) -> tuple[int, dict[str, str], bytes]:
    """POST JSON straight to the stand-in (no CLI), returning status, headers and raw body."""
    request = urllib.request.Request(
        url + path,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"content-type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def sse_events(raw: bytes) -> list[dict[str, Any]]:
    """The ``data:`` payloads of an SSE body."""
    return [json.loads(line[5:]) for line in raw.decode().splitlines() if line.startswith("data:")]


def user_body(prompt: str, **extra: Any) -> dict[str, Any]:
    """A minimal Messages request shaped like the CLI's (system-reminder block, then the prompt)."""
    content = [
        {
            "type": "text",
            "text": "<system-reminder>\n[[http:500]] is not a marker here\n</system-reminder>\n",
        },
        {"type": "text", "text": prompt},
    ]
    return {
        "model": "claude-test",
        "max_tokens": 1000,
        "stream": True,
        "messages": [{"role": "user", "content": content}],
        **extra,
    }


# --------------------------------------------------------------------------- real CLI


def test_plain_answer(
    claude_bin: str, claude_env: dict[str, str], standin: MessagesStandIn, tmp_path: Path
) -> None:
    """No marker: a normal successful run with the result line flowtui parses."""
    run = run_cli(claude_bin, claude_env, tmp_path / "work", "say something")
    assert run.returncode == 0, run.stderr
    result = run.result
    assert result["is_error"] is False
    assert result["result"] == "done"
    assert result["session_id"]
    assert result["total_cost_usd"] > 0
    assert result["usage"]["input_tokens"] > 0 and result["usage"]["output_tokens"] > 0
    assert run.text_deltas() == ["do", "ne"]
    assert run.of_type("system", "init")[0]["session_id"] == result["session_id"]
    main = standin.main_requests()
    assert len(main) == 1
    assert main[0]["method"] == "POST" and main[0]["path"].startswith("/v1/messages")
    assert main[0]["body"]["stream"] is True and main[0]["prompt"] == "say something"


def test_reply_marker(claude_bin: str, claude_env: dict[str, str], tmp_path: Path) -> None:
    """``[[reply:TEXT]]`` becomes the result text."""
    run = run_cli(claude_bin, claude_env, tmp_path / "work", "greet [[reply:hello from the stand-in]]")
    assert run.returncode == 0, run.stderr
    assert run.result["is_error"] is False
    assert run.result["result"] == "hello from the stand-in"
    assert "".join(run.text_deltas()) == "hello from the stand-in"


def test_lines_marker(claude_bin: str, claude_env: dict[str, str], tmp_path: Path) -> None:
    """``[[lines:N]]`` streams N deltas, for output-heavy tests."""
    run = run_cli(claude_bin, claude_env, tmp_path / "work", "count [[lines:5]]")
    assert run.returncode == 0, run.stderr
    assert run.text_deltas() == [f"line {i}\n" for i in range(1, 6)]
    assert run.result["result"].splitlines() == [f"line {i}" for i in range(1, 6)]


def test_bash_tool_round_trip(
    claude_bin: str, claude_env: dict[str, str], standin: MessagesStandIn, tmp_path: Path
) -> None:
    """``[[bash:...]]``: the CLI really runs the command and the stand-in echoes its output back."""
    run = run_cli(
        claude_bin, claude_env, tmp_path / "work", "run it [[bash:echo hi]]", "--allowedTools", "Bash"
    )
    assert run.returncode == 0, run.stderr
    tool_results = [
        block
        for line in run.of_type("user")
        for block in line["message"]["content"]
        if isinstance(block, dict) and block.get("type") == "tool_result"
    ]
    assert len(tool_results) == 1
    assert "hi" in str(tool_results[0]["content"])
    assert tool_results[0].get("is_error") is not True
    assert run.result["is_error"] is False
    assert run.result["result"] == "tool said: hi"
    assert run.result["num_turns"] == 2
    main = standin.main_requests()
    assert len(main) == 2
    last_user = [m for m in main[1]["body"]["messages"] if m["role"] == "user"][-1]
    assert any(b.get("type") == "tool_result" for b in last_user["content"])


def test_http_400_fails_at_once(claude_bin: str, claude_env: dict[str, str], tmp_path: Path) -> None:
    """A 400 is not retried: exit 1, ``is_error`` true although ``subtype`` says success."""
    run = run_cli(claude_bin, claude_env, tmp_path / "work", "break [[http:400]]")
    assert run.returncode == 1
    result = run.result
    assert result["is_error"] is True
    assert result["api_error_status"] == 400
    assert result["result"].startswith("API Error: 400")


def test_http_500_is_retried(
    claude_bin: str, claude_env: dict[str, str], standin: MessagesStandIn, tmp_path: Path
) -> None:
    """A 500 makes the CLI announce a retry with a ``system``/``api_retry`` line (then we kill it)."""
    live = start_cli(claude_bin, claude_env, tmp_path / "work", "flaky [[http:500]]")
    try:
        deadline = time.monotonic() + 20
        retry: dict[str, Any] | None = None
        while retry is None and (item := live.next_line(deadline)) is not None:
            line = item[1]
            assert line.get("type") != "result", line
            if line.get("type") == "system" and line.get("subtype") == "api_retry":
                retry = line
    finally:
        live.kill()
    assert retry is not None, "no api_retry line"
    assert retry["error_status"] == 500
    assert retry["attempt"] == 1 and retry["max_retries"] >= 1
    assert retry["retry_delay_ms"] < 5000
    assert [r["status"] for r in standin.main_requests()][:1] == [500]


def test_http_429_without_retries(claude_bin: str, claude_env: dict[str, str], tmp_path: Path) -> None:
    """With ``CLAUDE_CODE_MAX_RETRIES=0`` a 429 fails at once; shows what the result line carries."""
    env = dict(claude_env, CLAUDE_CODE_MAX_RETRIES="0")
    run = run_cli(claude_bin, env, tmp_path / "work", "busy [[http:429]]")
    assert run.returncode == 1
    assert run.result["is_error"] is True
    assert run.result["api_error_status"] == 429
    assert run.result["result"].startswith("API Error: Request rejected (429)")
    assert run.of_type("assistant")[0].get("error") == "rate_limit"


def test_usage_limit_fails_at_once(claude_bin: str, claude_env: dict[str, str], tmp_path: Path) -> None:
    """``[[usage-limit]]``: a 429 with an hour's retry-after, which the CLI will not wait for."""
    run = run_cli(claude_bin, claude_env, tmp_path / "work", "more [[usage-limit]]")
    assert run.returncode == 1
    assert run.result["is_error"] is True
    assert run.result["api_error_status"] == 429
    assert "usage limit" in run.result["result"]


def test_resume_uses_the_new_prompt(claude_bin: str, claude_env: dict[str, str], tmp_path: Path) -> None:
    """``--resume`` keeps the session id, and the resumed turn obeys the markers of its own prompt."""
    first = run_cli(claude_bin, claude_env, tmp_path / "work", "start [[reply:one]]")
    session = first.result["session_id"]
    second = run_cli(claude_bin, claude_env, tmp_path / "work", "go on [[reply:two]]", "--resume", session)
    assert first.result["result"] == "one"
    assert second.returncode == 0, second.stderr
    assert second.result["result"] == "two"
    assert second.result["session_id"] == session


def test_once_modifier(
    claude_bin: str, claude_env: dict[str, str], standin: MessagesStandIn, tmp_path: Path
) -> None:
    """``[[once]]``: the first run of a prompt gets the fault, a retried job then succeeds."""
    prompt = "retry me [[once]][[http:400]]"
    first = run_cli(claude_bin, claude_env, tmp_path / "work", prompt)
    second = run_cli(claude_bin, claude_env, tmp_path / "work", prompt)
    assert first.returncode == 1 and first.result["is_error"] is True
    assert second.returncode == 0 and second.result["is_error"] is False
    assert second.result["result"] == "done"
    assert [r["status"] for r in standin.main_requests()] == [400, 200]


def test_stall_shows_partial_text_early(claude_bin: str, claude_env: dict[str, str], tmp_path: Path) -> None:
    """``[[stall:S]]``: the partial text reaches the CLI's stdout while the stream is still open."""
    live = start_cli(claude_bin, claude_env, tmp_path / "work", "think [[stall:1.5]]")
    partial_at: float | None = None
    result: dict[str, Any] | None = None
    result_at = 0.0
    try:
        deadline = time.monotonic() + 30
        while result is None and (item := live.next_line(deadline)) is not None:
            at, line = item
            event = line.get("event", {}) if line.get("type") == "stream_event" else {}
            if event.get("delta", {}).get("text") == "partial " and partial_at is None:
                partial_at = at
            if line.get("type") == "result":
                result, result_at = line, at
        assert live.proc.wait(timeout=10) == 0
    finally:
        live.kill()
    assert partial_at is not None and result is not None
    assert result_at - partial_at >= 1.0
    assert result["result"] == "partial done"


# --------------------------------------------------------------------------- stand-in alone


def test_side_requests_never_fault(standin: MessagesStandIn) -> None:
    """Title generation, token counting and probes get quick answers and do not consume ``[[once]]``."""
    prompt = "job [[once]][[http:400]]"
    schema = {"type": "object", "properties": {"title": {"type": "string"}}, "required": ["title"]}
    status, _, raw = post(
        standin.url, user_body(prompt, output_config={"format": {"type": "json_schema", "schema": schema}})
    )
    assert status == 200
    text = "".join(e["delta"]["text"] for e in sse_events(raw) if e["type"] == "content_block_delta")
    assert isinstance(json.loads(text)["title"], str)

    status, _, raw = post(
        standin.url, {"model": "m", "max_tokens": 1, "messages": [{"role": "user", "content": "quota"}]}
    )
    assert status == 200 and json.loads(raw)["type"] == "message"

    status, _, raw = post(standin.url, user_body(prompt), path="/v1/messages/count_tokens?beta=true")
    assert status == 200 and json.loads(raw)["input_tokens"] > 0

    with urllib.request.urlopen(urllib.request.Request(standin.url + "/", method="HEAD"), timeout=5) as r:
        assert r.status == 200

    assert post(standin.url, user_body(prompt))[0] == 400
    assert post(standin.url, user_body(prompt))[0] == 200
    kinds = [r["kind"] for r in standin.requests]
    assert kinds == ["structured", "quota_probe", "count_tokens", "probe", "main", "main"]


def test_markers_ignore_system_reminders(standin: MessagesStandIn) -> None:
    """Only the prompt steers the stand-in, not CLI-injected context (e.g. a CLAUDE.md)."""
    status, _, raw = post(standin.url, user_body("plain"))
    assert status == 200
    assert standin.requests[-1]["prompt"] == "plain"
    events = sse_events(raw)
    assert events[0]["type"] == "message_start"
    assert events[-1]["type"] == "message_stop"


def test_http_error_shape(standin: MessagesStandIn) -> None:
    """Errors carry an Anthropic-style body; 429 carries ``retry-after``."""
    status, headers, raw = post(standin.url, user_body("[[http:429]]"))
    assert status == 429
    assert {k.lower(): v for k, v in headers.items()}["retry-after"] == "1"
    assert json.loads(raw)["error"]["type"] == "rate_limit_error"
    status, _, raw = post(standin.url, user_body("[[http:529]]"))
    assert status == 529 and json.loads(raw)["error"]["type"] == "overloaded_error"


def test_a_missing_model_is_a_404_for_that_model_only(standin: MessagesStandIn) -> None:
    """``[[no-model:NAME]]``: the API's not-found error for NAME, the shape the CLI falls back on."""
    prompt = "[[no-model:claude-test]] [[reply:other]]"
    status, _, raw = post(standin.url, user_body(prompt))
    error = json.loads(raw)["error"]
    assert status == 404 and error == {"type": "not_found_error", "message": "model: claude-test"}
    status, _, raw = post(standin.url, {**user_body(prompt), "model": "claude-other"})
    assert status == 200
    assert "".join(
        e["delta"].get("text", "") for e in sse_events(raw) if e["type"] == "content_block_delta"
    ) == ("other")


def test_an_offered_structured_output_tool_is_called_once(standin: MessagesStandIn) -> None:
    """With ``StructuredOutput`` offered, the answer calls it: the marker's JSON, else from the schema."""
    tool = {
        "name": "StructuredOutput",
        "input_schema": {"type": "object", "properties": {"n": {"type": "integer"}}},
    }

    def call_of(raw: bytes) -> tuple[str, Any]:
        events = sse_events(raw)
        start = next(e for e in events if e["type"] == "content_block_start")["content_block"]
        text = "".join(e["delta"]["partial_json"] for e in events if e["type"] == "content_block_delta")
        return start["name"], json.loads(text)

    status, _, raw = post(standin.url, user_body('x [[structured:{"n": 7}]]', tools=[tool]))
    assert status == 200 and call_of(raw) == ("StructuredOutput", {"n": 7})
    status, _, raw = post(standin.url, user_body("x", tools=[tool]))
    assert call_of(raw) == ("StructuredOutput", {"n": 0})
    called = user_body("x", tools=[tool])
    called["messages"] += [
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "t1", "name": "StructuredOutput", "input": {}}],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "ok"}]},
    ]
    status, _, raw = post(standin.url, called)
    texts = [e["delta"].get("text") for e in sse_events(raw) if e["type"] == "content_block_delta"]
    assert status == 200 and texts == ["tool said: ok"]


def test_stop_ends_sleeps_promptly() -> None:
    """A slow request must not hold up ``stop()`` (tests tear the server down mid-sleep)."""
    standin = MessagesStandIn().start()
    outcome: list[BaseException | int] = []

    def call() -> None:
        try:
            outcome.append(post(standin.url, user_body("[[slow:30]]"), timeout=10)[0])
        except BaseException as exc:  # any failure is the expected outcome
            outcome.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    deadline = time.monotonic() + 5
    while not standin.requests and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    standin.stop()
    caller.join(timeout=5)
    assert time.monotonic() - started < 2
    assert not caller.is_alive() and outcome and not isinstance(outcome[0], int)


def test_script_mode(tmp_path: Path) -> None:
    """``python tests/fixtures/standin.py --port 0 --port-file F`` serves until SIGTERM, for others."""
    port_file = tmp_path / "port"
    log_file = tmp_path / "requests.jsonl"
    proc = subprocess.Popen(
        [
            sys.executable,
            str(SCRIPT),
            "--port",
            "0",
            "--port-file",
            str(port_file),
            "--log-file",
            str(log_file),
        ],
        stdout=subprocess.DEVNULL,
        env=os.environ.copy(),
    )
    try:
        deadline = time.monotonic() + 10
        while not port_file.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        url = f"http://127.0.0.1:{int(port_file.read_text())}"
        status, _, raw = post(url, user_body("[[reply:from another process]]"))
        assert status == 200
        assert "from another process" in "".join(
            e["delta"].get("text", "") for e in sse_events(raw) if e["type"] == "content_block_delta"
        )
        assert json.loads(log_file.read_text().splitlines()[-1])["kind"] == "main"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize(
    "prompt, expected",
    [
        ("x [[reply:a]] [[reply:b]]", {"reply": "a"}),
        ("[[once]][[stall:2]]", {"once": "", "stall": "2"}),
        ("[[bash:echo 'a]b']]", {"bash": "echo 'a]b'"}),
    ],
)
def test_parse_markers(prompt: str, expected: dict[str, str]) -> None:
    """Marker values run to the first ``]]``; the first occurrence of a marker wins."""
    from standin import parse_markers

    assert parse_markers(prompt) == expected
