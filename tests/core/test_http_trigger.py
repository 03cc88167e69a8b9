"""The HTTP trigger: real requests on 127.0.0.1 to the endpoint a real engine runs.

Jobs are queued through the door with source ``http`` (the queue is paused, so they stay as
queued and ``GET /jobs/ID`` can be compared with ``flowtui show --json``); refusals queue nothing.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from clikit import Flowtui
from enginekit import home_paths, settings_from, wait_for, wait_job
from fakeclaude import ok_script

from core.claude.environment import job_environment
from core.engine.engine import Engine
from core.errors import ConfigError
from core.events import Event, ServiceFailed
from core.http.config import MAX_BODY_BYTES
from core.http.github import signature_for
from core.http.service import HttpService
from core.http.status import doctor_check
from core.jobs import JobSource, JobState

TOKEN = "s3cret-token-for-tests-0123456789"
GITHUB_SECRET = "github-webhook-secret"
Reply = tuple[int, dict[str, Any]]


def config_text(work: Path, listen: str = "127.0.0.1:0", token: str | None = TOKEN) -> str:
    token_line = f'token = "{token}"' if token is not None else ""
    return f"""
[workflows.review]
cwd = "{work}"

[workflows.deploy]
prompt = "Deploy after this {{event}} event:\\n{{prompt}}"
cwd = "{work}"

[http]
listen = "{listen}"
{token_line}
github_secret = "{GITHUB_SECRET}"

[http.github]
push = "deploy"
"""


@contextmanager
def trigger_engine(
    home: Path, config: str, environ: dict[str, str] | None = None, paused: bool = True
) -> Iterator[tuple[Engine, HttpService, list[Event]]]:
    home.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **(environ or {}), "FLOWTUI_CLAUDE": str(ok_script(home / "claude"))}
    settings = settings_from(config)
    service = HttpService(env)
    engine = Engine(settings, home_paths(home), environ=env, services=[service])
    events: list[Event] = []
    engine.bus.subscribe(events.append)
    engine.start()
    try:
        if paused:
            engine.control.pause("held for the test")
        yield engine, service, events
    finally:
        engine.stop()


@pytest.fixture
def work(tmp_path: Path) -> Path:
    directory = tmp_path / "work"
    directory.mkdir()
    return directory


@pytest.fixture
def running(tmp_path: Path, work: Path) -> Iterator[tuple[Engine, int]]:
    with trigger_engine(tmp_path / "home", config_text(work)) as (engine, service, _):
        assert service.address is not None
        yield engine, service.address.port


def call(
    port: int,
    method: str,
    path: str,
    body: bytes | Iterator[bytes] | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        data = response.read()
        return response.status, json.loads(data) if data else {}
    finally:
        connection.close()


def post_job(port: int, payload: object, token: str | None = TOKEN) -> Reply:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return call(port, "POST", "/jobs", json.dumps(payload).encode(), headers)


def post_github(port: int, event: str, payload: object, secret: str = GITHUB_SECRET) -> Reply:
    body = json.dumps(payload).encode()
    headers = {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
        "X-Hub-Signature-256": signature_for(secret, body),
        "Content-Type": "application/json",
    }
    return call(port, "POST", "/github", body, headers)


def job_count(engine: Engine) -> int:
    return len(engine.ledger.list_jobs())


def one_line_error(reply: Reply, status: int, *fragments: str) -> str:
    code, data = reply
    assert code == status, reply
    reason = data["error"]
    assert isinstance(reason, str) and "\n" not in reason and reason.strip()
    for fragment in fragments:
        assert fragment in reason, reason
    return reason


def test_a_good_token_queues_a_job_that_get_shows_as_show_json_does(
    running: tuple[Engine, int], tmp_path: Path, work: Path
) -> None:
    engine, port = running
    code, data = post_job(port, {"prompt": "summarise the logs", "workflow": "review", "priority": 7})
    assert code == 201, data
    job = engine.ledger.require(data["id"])
    assert (job.source, job.workflow, job.priority, job.state) == (
        JobSource.HTTP,
        "review",
        7,
        JobState.QUEUED,
    )
    assert job.prompt == "summarise the logs" and job.cwd == str(work.resolve())

    code, shown = call(port, "GET", f"/jobs/{job.id}", headers={"Authorization": f"Bearer {TOKEN}"})
    assert code == 200
    cli = Flowtui(tmp_path / "home", "claude")
    assert shown == json.loads(cli.ok("show", str(job.id), "--json"))
    assert shown["source"] == "http" and shown["events"]


def test_cwd_is_taken_and_must_be_absolute(running: tuple[Engine, int], tmp_path: Path) -> None:
    engine, port = running
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    code, data = post_job(port, {"prompt": "look here", "cwd": str(elsewhere)})
    assert code == 201 and engine.ledger.require(data["id"]).cwd == str(elsewhere.resolve())
    one_line_error(post_job(port, {"prompt": "x", "cwd": "relative/dir"}), 400, "relative")
    one_line_error(post_job(port, {"prompt": "x", "cwd": str(tmp_path / "gone")}), 400, "does not exist")
    assert job_count(engine) == 1


@pytest.mark.parametrize("token", [None, "wrong-token", TOKEN[:-1]])
def test_a_wrong_or_missing_token_is_401_and_queues_nothing(
    running: tuple[Engine, int], token: str | None
) -> None:
    engine, port = running
    reason = one_line_error(post_job(port, {"prompt": "hi"}, token=token), 401, "token")
    assert TOKEN not in reason
    one_line_error(call(port, "GET", "/jobs/1", headers={"Authorization": f"Basic {TOKEN}"}), 401)
    assert job_count(engine) == 0


def test_a_body_over_one_megabyte_is_413_with_or_without_a_content_length(
    running: tuple[Engine, int],
) -> None:
    engine, port = running
    big = json.dumps({"prompt": "x" * (MAX_BODY_BYTES + 10)}).encode()
    headers = {"Authorization": f"Bearer {TOKEN}"}
    one_line_error(call(port, "POST", "/jobs", big, headers), 413, "1,000,000 bytes")

    def chunks() -> Iterator[bytes]:  # no Content-Length at all: chunked, checked as it arrives
        for start in range(0, len(big), 64 * 1024):
            yield big[start : start + 64 * 1024]

    one_line_error(call(port, "POST", "/jobs", chunks(), headers), 413)
    assert job_count(engine) == 0


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"{not json", "not JSON"),
        (b'["a list"]', "JSON object"),
        (b"{}", "prompt is missing"),
        (b'{"prompt": "   "}', "prompt is missing or empty"),
        (b'{"prompt": 5}', "prompt must be a string"),
        (b'{"prompt": "x", "priority": "high"}', "priority must be an integer"),
        (b'{"prompt": "x", "priority": true}', "priority must be an integer"),
        (b'{"prompt": "x", "workflow": "nope"}', "unknown workflow 'nope'"),
        (b'{"prompt": "x", "colour": "red"}', "unknown field 'colour'"),
    ],
)
def test_bad_requests_are_400_with_one_line_and_queue_nothing(
    running: tuple[Engine, int], body: bytes, fragment: str
) -> None:
    engine, port = running
    reply = call(port, "POST", "/jobs", body, {"Authorization": f"Bearer {TOKEN}"})
    one_line_error(reply, 400, fragment)
    assert job_count(engine) == 0


def test_an_unknown_job_or_route_is_404_with_a_reason(running: tuple[Engine, int]) -> None:
    _, port = running
    auth = {"Authorization": f"Bearer {TOKEN}"}
    one_line_error(call(port, "GET", "/jobs/999", headers=auth), 404, "no job #999")
    one_line_error(call(port, "GET", "/nowhere", headers=auth), 404, "POST /jobs")


def test_requests_never_log_the_token_or_the_secret(
    tmp_path: Path, work: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with trigger_engine(tmp_path / "home", config_text(work)) as (_, service, _):
        assert service.address is not None
        port = service.address.port
        assert post_job(port, {"prompt": "hi"})[0] == 201
        assert post_job(port, {"prompt": "hi"}, token=TOKEN + "x")[0] == 401
        assert post_github(port, "push", {"ref": "x"})[0] == 201
    assert "HTTP trigger listening on http://127.0.0.1:" in caplog.text
    assert TOKEN not in caplog.text and GITHUB_SECRET not in caplog.text


def test_a_github_form_delivery_is_400_naming_the_content_type(running: tuple[Engine, int]) -> None:
    engine, port = running
    body = b"payload=%7B%7D"
    headers = {
        "X-GitHub-Event": "push",
        "X-Hub-Signature-256": signature_for(GITHUB_SECRET, body),
        "Content-Type": "application/x-www-form-urlencoded",
    }
    one_line_error(call(port, "POST", "/github", body, headers), 400, "application/json")
    assert job_count(engine) == 0


def test_a_signed_github_push_queues_a_job_of_the_mapped_workflow(running: tuple[Engine, int]) -> None:
    engine, port = running
    payload = {
        "ref": "refs/heads/main",
        "after": "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c",
        "repository": {"full_name": "octo/app"},
        "sender": {"login": "octocat"},
        "commits": [{"message": "[bold]fix[/bold] <b>x</b>"}],
    }
    code, data = post_github(port, "push", payload)
    assert code == 201 and data["workflow"] == "deploy"
    job = engine.ledger.require(data["id"])
    assert (job.source, job.workflow, job.trigger) == (JobSource.HTTP, "deploy", "github push octo/app")
    assert job.prompt.startswith("Deploy after this push event:\nGitHub event: push\n")
    for line in ("repository: octo/app", "ref: refs/heads/main", "sender: octocat", "commits: 1"):
        assert line in job.prompt
    assert json.dumps(payload, indent=2, sort_keys=True) in job.prompt  # the payload, literally


def test_a_bad_github_signature_is_401_and_queues_nothing(running: tuple[Engine, int]) -> None:
    engine, port = running
    one_line_error(post_github(port, "push", {"ref": "x"}, secret="another-secret"), 401, "Signature")
    body = b'{"ref": "x"}'
    unsigned = call(port, "POST", "/github", body, {"X-GitHub-Event": "push"})
    one_line_error(unsigned, 401)
    assert job_count(engine) == 0


def test_github_ping_is_answered_and_an_unmapped_event_queues_nothing(running: tuple[Engine, int]) -> None:
    engine, port = running
    code, data = post_github(port, "ping", {"zen": "Keep it logically awesome.", "hook_id": 1})
    assert (code, data["ok"], data["zen"]) == (200, True, "Keep it logically awesome.")
    code, data = post_github(port, "issues", {"action": "opened"})
    assert code == 202 and data["queued"] is False and "[http.github]" in data["reason"]
    assert job_count(engine) == 0


def test_a_port_in_use_fails_the_trigger_in_one_line_and_the_engine_runs_on(
    tmp_path: Path, work: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        config = config_text(work, listen=f"127.0.0.1:{port}")
        with trigger_engine(tmp_path / "home", config, paused=False) as (engine, _, events):
            failed = [event for event in events if isinstance(event, ServiceFailed)]
            assert [event.name for event in failed] == ["http"]
            reason = failed[0].reason
            assert "\n" not in reason and f"[http] listen 127.0.0.1:{port}" in reason
            assert "already in use" in reason and TOKEN not in reason
            job = engine.control.add("still working?", workflow="review")
            assert wait_job(engine, job.id, JobState.SUCCEEDED).answer == "fake answer"
    assert f"port {port} is already in use" in caplog.text and TOKEN not in caplog.text


def test_a_missing_token_fails_the_trigger_in_one_line_and_the_engine_runs_on(
    tmp_path: Path, work: Path
) -> None:
    with trigger_engine(tmp_path / "home", config_text(work, token=None), paused=False) as (
        engine,
        service,
        events,
    ):
        failed = wait_for(lambda: [e for e in events if isinstance(e, ServiceFailed)], what="the failure")
        assert "[http] token is missing" in failed[0].reason and "FLOWTUI_HTTP_TOKEN" in failed[0].reason
        assert service.address is None
        job = engine.control.add("still working?", workflow="review")
        assert wait_job(engine, job.id, JobState.SUCCEEDED).state is JobState.SUCCEEDED


def test_the_environment_token_overrides_the_file_and_never_reaches_a_job(tmp_path: Path, work: Path) -> None:
    environ = {"FLOWTUI_HTTP_TOKEN": "from-the-environment-42"}
    with trigger_engine(tmp_path / "home", config_text(work), environ=environ) as (engine, service, _):
        assert service.address is not None
        port = service.address.port
        one_line_error(post_job(port, {"prompt": "hi"}), 401)
        assert post_job(port, {"prompt": "hi"}, token="from-the-environment-42")[0] == 201
        job_env = job_environment({**environ, "COPY": TOKEN, "HOME": "/home/x"}, engine.settings)
        assert job_env == {"HOME": "/home/x"}


def test_doctor_warns_when_listening_beyond_loopback_and_names_the_state(work: Path) -> None:
    exposed = doctor_check(settings_from(config_text(work, listen="0.0.0.0:9")), {})
    assert exposed.warning and not exposed.ok and "not loopback" in exposed.detail
    assert "TLS" in exposed.detail and TOKEN not in exposed.detail
    exposed_text = config_text(work, listen="0.0.0.0:9")
    proxied = settings_from(exposed_text.replace("[http]\n", "[http]\nbehind_tls_proxy = true\n"))
    assert not doctor_check(proxied, {}).warning
    with socket.create_server(("127.0.0.1", 0)) as listening:
        port = listening.getsockname()[1]
        local = doctor_check(settings_from(config_text(work, listen=f"127.0.0.1:{port}")), {})
        assert local.ok and not local.warning and "answering" in local.detail
    missing = doctor_check(settings_from(config_text(work, token=None)), {})
    assert not missing.ok and not missing.warning and "[http] token is missing" in missing.detail
    assert doctor_check(settings_from(""), {}).detail.startswith("off")


def test_flowtui_doctor_prints_the_http_warning(tmp_path: Path, work: Path) -> None:
    version = tmp_path / "claude-version"
    version.write_text("#!/bin/sh\necho '9.9.9 (Claude Code)'\n")
    version.chmod(0o755)
    home = tmp_path / "home"
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(config_text(work, listen="0.0.0.0:9"))
    done = Flowtui(home, version).run("doctor")
    lines = [line for line in done.stdout.splitlines() if line.startswith("warn  http: ")]
    assert len(lines) == 1 and "not loopback" in lines[0], done.stdout
    assert TOKEN not in done.stdout and GITHUB_SECRET not in done.stdout


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('[http]\nlisten = "localhost"', "[http] listen: 'localhost' is not HOST:PORT"),
        ('[http]\nlisten = "127.0.0.1:99999"', "[http] listen: port 99999 is over 65535"),
        ("[http]\nlisten = 8080", "[http] listen: expected HOST:PORT"),
        ('[http.github]\npush = "nope"', "[http.github] push: unknown workflow 'nope'"),
        ("[http.github]\npush = 3", "[http.github] push: expected a string (got 3)"),
        ("[http]\ntoken = 3", "[http] token"),
    ],
)
def test_http_keys_are_checked_at_load_in_one_line(text: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as raised:
        settings_from(text)
    assert fragment in str(raised.value) and "\n" not in str(raised.value)


def test_the_trigger_is_a_service_only_when_listen_is_set_and_runs_on_every_engine(work: Path) -> None:
    from core.engine.engine import LEADER_ONLY_SERVICES
    from core.host.services import default_services

    paths = home_paths(work / "home")
    with_http = [service.name for service in default_services(settings_from(config_text(work)), paths, {})]
    assert "http" in with_http and "http" not in LEADER_ONLY_SERVICES
    assert "http" not in [service.name for service in default_services(settings_from(""), paths, {})]
