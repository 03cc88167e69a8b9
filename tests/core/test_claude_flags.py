"""Every Claude flag a workflow may ask for, from config.toml to the real CLI (issue 17, item 4).

A wrapper around the real Claude Code CLI records the argv and environment flowtui gives it and
then runs the CLI itself against the stand-in, so each test shows both the exact form a key takes
on argv and that the CLI understood it (a misspelt flag fails the run with ``unknown option``):
the tools it offers, the MCP servers it loads, the effort it asks the API for, the model it falls
back to, the directory a tool may read, the budget it stops at and the structured output it returns.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from clikit import Flowtui
from enginekit import running_engine, settings_from, wait_job
from fakeclaude import recorded_runs, recording_wrapper
from standin import MessagesStandIn

from core.claude.runner import RunRequest, build_argv
from core.claude.stream import ResultLine
from core.config.claude_options import FLOWTUI_PRIVATE_NAMES, FLOWTUI_PRIVATE_PREFIXES
from core.config.settings import API_HASH_ENV, BOT_TOKEN_ENV, QUEUE_ENV
from core.errors import ConfigError
from core.jobs import Job, JobState, RunOutcome
from core.ledger.redis import RedisLedger
from core.ledger.schema import SCHEMA
from core.ledger.sqlite import Ledger, NewJob
from core.ledger.store import LedgerStore


def toml(value: object) -> str:
    """A TOML value for a path or a string (TOML's basic strings read JSON's escapes)."""
    return json.dumps(value)


@pytest.fixture
def record(tmp_path: Path) -> Path:
    return tmp_path / "claude-runs.jsonl"


@pytest.fixture
def engine_env(tmp_path: Path, claude_bin: str, claude_env: dict[str, str], record: Path) -> dict[str, str]:
    wrapper = recording_wrapper(tmp_path / "claude-wrapper", claude_bin, record)
    return {**claude_env, "FLOWTUI_CLAUDE": str(wrapper), "USER_OWN_SETTING": "from the user"}


def transcript(job: Job) -> list[dict[str, Any]]:
    assert job.transcript_path
    text = Path(job.transcript_path).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def init_line(job: Job) -> dict[str, Any]:
    return next(line for line in transcript(job) if line.get("subtype") == "init")


def run_one(home: Path, config: str, environ: dict[str, str], prompt: str, workflow: str, cwd: Path) -> Job:
    with running_engine(home, config, environ=environ) as engine:
        assert engine.control is not None
        job = engine.control.add(prompt, workflow=workflow, cwd=cwd)
        return wait_job(engine, job.id, JobState.SUCCEEDED, JobState.FAILED, timeout=90)


# -- argv and environment, through the real CLI ------------------------------------------


@pytest.mark.claude
def test_each_key_reaches_argv_and_the_cli_acts_on_it(
    tmp_path: Path,
    engine_env: dict[str, str],
    record: Path,
    standin: MessagesStandIn,
    claude_env: dict[str, str],
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    mcp_file = tmp_path / "mcp.json"
    mcp_file.write_text(
        json.dumps({"mcpServers": {"from-file": {"command": str(tmp_path / "no-such-server")}}})
    )
    inline = json.dumps({"mcpServers": {"inline": {"command": str(tmp_path / "no-such-server")}}})
    # A server of the user's own settings: strict_mcp_config keeps it out.
    user_config = Path(claude_env["CLAUDE_CONFIG_DIR"]) / ".claude.json"
    user_config.write_text(json.dumps({"mcpServers": {"users-own": {"command": str(tmp_path / "nope")}}}))
    config = f"""
[workflows.flags]
disallowed_tools = ["Bash", "Edit"]
mcp_config = [{toml(str(mcp_file))}, {toml(inline)}]
strict_mcp_config = true
effort = "low"
max_budget_usd = 5
env = {{ JOB_MARK = "from the workflow", USER_OWN_SETTING = "the workflow's" }}
extra_args = ["--name", "flowtui flags test"]
"""
    done = run_one(tmp_path / "home", config, engine_env, "hi [[reply:flags ok]]", "flags", work)
    assert done.state is JobState.SUCCEEDED, done.error
    assert done.answer == "flags ok"

    (run,) = recorded_runs(record)
    argv: list[str] = run["argv"]
    assert "--disallowedTools=Bash,Edit" in argv
    assert f"--mcp-config={mcp_file}" in argv and f"--mcp-config={inline}" in argv
    assert "--strict-mcp-config" in argv
    assert argv[argv.index("--effort") + 1] == "low"
    assert argv[argv.index("--max-budget-usd") + 1] == "5.0"
    assert argv[-2:] == ["--name", "flowtui flags test"]  # extra_args come last, as given
    assert run["env"]["JOB_MARK"] == "from the workflow"
    assert run["env"]["USER_OWN_SETTING"] == "the workflow's"  # the table wins over the user's

    init = init_line(done)
    assert "Bash" not in init["tools"] and "Edit" not in init["tools"] and "Read" in init["tools"]
    assert sorted(server["name"] for server in init["mcp_servers"]) == ["from-file", "inline"]
    (main,) = standin.main_requests()
    assert main["body"]["output_config"]["effort"] == "low"


@pytest.mark.claude
def test_without_the_keys_the_cli_gets_none_of_their_flags(
    tmp_path: Path, engine_env: dict[str, str], record: Path, claude_env: dict[str, str]
) -> None:
    user_config = Path(claude_env["CLAUDE_CONFIG_DIR"]) / ".claude.json"
    user_config.write_text(json.dumps({"mcpServers": {"users-own": {"command": str(tmp_path / "nope")}}}))
    done = run_one(tmp_path / "home", "", engine_env, "hi", "default", tmp_path)
    assert done.state is JobState.SUCCEEDED, done.error
    (run,) = recorded_runs(record)
    flags = {arg.split("=", 1)[0] for arg in run["argv"]}
    added = {
        "--add-dir",
        "--disallowedTools",
        "--mcp-config",
        "--strict-mcp-config",
        "--effort",
        "--fallback-model",
        "--max-budget-usd",
        "--json-schema",
    }
    assert not flags & added
    init = init_line(done)
    assert "Bash" in init["tools"] and [s["name"] for s in init["mcp_servers"]] == ["users-own"]


@pytest.mark.claude
def test_add_dirs_lets_a_tool_read_another_directory(
    tmp_path: Path, engine_env: dict[str, str], record: Path
) -> None:
    work, other = tmp_path / "work", tmp_path / "other"
    work.mkdir()
    other.mkdir()
    (other / "notes.txt").write_text("a line from the other directory\n")
    # dontAsk: a tool the session's own rules do not allow is denied without a question
    config = f"""
[workflows.wide]
permission_mode = "dontAsk"
add_dirs = [{toml(str(other))}]

[workflows.narrow]
permission_mode = "dontAsk"
"""
    prompt = f"read it [[bash:cat {other / 'notes.txt'}]]"
    home = tmp_path / "home"
    wide = run_one(home, config, engine_env, prompt, "wide", work)
    narrow = run_one(home, config, engine_env, prompt, "narrow", work)
    assert wide.state is JobState.SUCCEEDED, wide.error
    assert wide.answer == "tool said: a line from the other directory"
    assert narrow.answer is not None and "denied" in narrow.answer
    wide_run, narrow_run = recorded_runs(record)
    assert f"--add-dir={other}" in wide_run["argv"]
    assert not any(arg.startswith("--add-dir") for arg in narrow_run["argv"])


@pytest.mark.claude
def test_fallback_model_takes_over_when_the_model_is_not_available(
    tmp_path: Path, engine_env: dict[str, str], record: Path, standin: MessagesStandIn
) -> None:
    config = """
[workflows.careful]
model = "claude-haiku-4-5"
fallback_model = "claude-sonnet-4-6"
"""
    prompt = "hi [[no-model:claude-haiku-4-5]] [[reply:from the fallback]]"
    done = run_one(tmp_path / "home", config, engine_env, prompt, "careful", tmp_path)
    assert done.state is JobState.SUCCEEDED, done.error
    assert done.answer == "from the fallback"
    (run,) = recorded_runs(record)
    argv = run["argv"]
    assert argv[argv.index("--fallback-model") + 1] == "claude-sonnet-4-6"
    models = [(request["body"]["model"], request["status"]) for request in standin.main_requests()]
    assert models == [("claude-haiku-4-5", 404), ("claude-sonnet-4-6", 200)]
    switched = [line for line in transcript(done) if line.get("subtype") == "model_fallback"]
    assert switched and switched[0]["fallback_model"] == "claude-sonnet-4-6"


@pytest.mark.claude
def test_a_run_stopped_by_max_budget_usd_fails_naming_the_cap_and_is_not_retried(
    tmp_path: Path, engine_env: dict[str, str], record: Path
) -> None:
    # The CLI prices the stand-in's token counts (about $0.008 for a one-line answer).
    config = """
[workflows.thrifty]
max_budget_usd = 0.0001
retries = 2
retry_delay_seconds = 0
"""
    done = run_one(tmp_path / "home", config, engine_env, "hi [[reply:too dear]]", "thrifty", tmp_path)
    assert done.state is JobState.FAILED
    assert done.attempts == 1 and done.max_attempts == 3  # retries were allowed, none was made
    assert done.error is not None
    assert done.error.startswith("stopped by the workflow's max_budget_usd of $0.0001 after spending $")
    assert done.cost_usd is not None and done.cost_usd > 0.0001
    (run,) = recorded_runs(record)
    assert run["argv"][run["argv"].index("--max-budget-usd") + 1] == "0.0001"
    (result,) = [line for line in transcript(done) if line["type"] == "result"]
    assert result["subtype"] == "error_max_budget_usd" and result["is_error"] is True


@pytest.mark.claude
def test_json_schema_output_is_kept_on_the_job_and_shown_by_show_json(
    tmp_path: Path, engine_env: dict[str, str], record: Path, claude_bin: str, claude_env: dict[str, str]
) -> None:
    config = """
[workflows.extract.json_schema]
type = "object"
required = ["name"]
properties = { name = { type = "string" }, tags = { type = "array", items = { type = "string" } } }
"""
    prompt = 'who? [[structured:{"name": "Ada", "tags": ["math", "engines"]}]]'
    home = tmp_path / "home"
    done = run_one(home, config, engine_env, prompt, "extract", tmp_path)
    assert done.state is JobState.SUCCEEDED, done.error
    assert done.structured_value == {"name": "Ada", "tags": ["math", "engines"]}
    (run,) = recorded_runs(record)
    schema = json.loads(run["argv"][run["argv"].index("--json-schema") + 1])
    assert schema["required"] == ["name"] and schema["properties"]["name"] == {"type": "string"}

    shown = json.loads(Flowtui(home, claude_bin, environ=claude_env).ok("show", str(done.id), "--json"))
    assert shown["structured_output"] == {"name": "Ada", "tags": ["math", "engines"]}
    text = Flowtui(home, claude_bin, environ=claude_env).ok("show", str(done.id))
    assert "structured output:" in text and '"Ada"' in text


@pytest.mark.claude
def test_env_never_brings_back_a_secret_under_another_name(
    tmp_path: Path, engine_env: dict[str, str], record: Path
) -> None:
    token = "123456:a-bot-token-for-tests"
    config = f"""
[telegram]
bot_token = {toml(token)}

[workflows.leaky]
env = {{ LOOKS_HARMLESS = {toml(token)}, FINE = "yes" }}
"""
    home = tmp_path / "home"
    with running_engine(home, config, environ=engine_env) as engine:
        assert engine.control is not None and engine.ledger is not None
        job = engine.control.add("hi", workflow="leaky", cwd=tmp_path)
        done = wait_job(engine, job.id, JobState.SUCCEEDED, JobState.FAILED, timeout=90)
        reasons = [event.reason for event in engine.ledger.events(job.id)]
    assert done.state is JobState.SUCCEEDED, done.error
    (run,) = recorded_runs(record)
    assert run["env"]["FINE"] == "yes"
    assert "LOOKS_HARMLESS" not in run["env"] and token not in json.dumps(run)
    assert "env LOOKS_HARMLESS was not passed to Claude: its value is one of flowtui's secrets" in reasons


# -- argv forms without running anything --------------------------------------------------


def request_for(config: str, workflow: str = "w", resume: str | None = None) -> RunRequest:
    settings = settings_from(config)
    return RunRequest(
        job_id=1,
        attempt=1,
        prompt="p",
        cwd="/tmp",
        workflow=settings.workflow(workflow),
        transcript=Path("/tmp/t.jsonl"),
        resume_session=resume,
    )


def test_paths_expand_home_json_passes_as_written_and_extra_args_come_after_resume() -> None:
    schema_text = '{"type": "object", "properties": {"ok": {"type": "boolean"}}}'
    config = f"""
[workflows.w]
add_dirs = ["~/notes", "relative/dir"]
mcp_config = "~/mcp.json"
json_schema = {toml(schema_text)}
extra_args = ["--exclude-dynamic-system-prompt-sections"]
"""
    argv = build_argv("claude", request_for(config, resume="session-1"))
    home = os.path.expanduser("~")
    assert f"--add-dir={home}/notes" in argv and "--add-dir=relative/dir" in argv
    assert f"--mcp-config={home}/mcp.json" in argv
    assert argv[argv.index("--json-schema") + 1] == schema_text  # a string is passed unchanged
    assert argv.index("--resume") < argv.index("--exclude-dynamic-system-prompt-sections") == len(argv) - 1


def test_a_schema_table_goes_as_compact_json() -> None:
    config = '[workflows.w.json_schema]\ntype = "object"\nproperties = { n = { type = "integer" } }'
    argv = build_argv("claude", request_for(config))
    assert argv[argv.index("--json-schema") + 1] == '{"type":"object","properties":{"n":{"type":"integer"}}}'


# -- wrong values refused at load, one line naming the key -------------------------------


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("add_dirs = 3", "[workflows.fix] add_dirs: expected a list of paths (got 3)"),
        ('add_dirs = ["a", 3]', "[workflows.fix] add_dirs: expected a list of paths (got ['a', 3])"),
        (
            'disallowed_tools = "Bash"',
            "[workflows.fix] disallowed_tools: expected a list of tool names (got 'Bash')",
        ),
        (
            "mcp_config = 3",
            "[workflows.fix] mcp_config: expected a path or a JSON string, or a list of them (got 3)",
        ),
        ('mcp_config = ["a.json", ""]', "[workflows.fix] mcp_config: an entry is empty: give a path"),
        (
            'mcp_config = "{servers"',
            "[workflows.fix] mcp_config: an entry starting with '{' is not valid JSON",
        ),
        (
            'strict_mcp_config = "yes"',
            "[workflows.fix] strict_mcp_config: expected true or false (got 'yes')",
        ),
        (
            'effort = "extreme"',
            "[workflows.fix] effort: expected 'low', 'medium', 'high', 'xhigh' or 'max' (got 'extreme')",
        ),
        ("fallback_model = 4", "[workflows.fix] fallback_model: expected a string (got 4)"),
        (
            'model = "sonnet"\nfallback_model = "sonnet"',
            "[workflows.fix] fallback_model: is the same as model: name another model to fall back to",
        ),
        ("max_budget_usd = 0", "[workflows.fix] max_budget_usd: input should be greater than 0 (got 0.0)"),
        ("max_budget_usd = -1", "[workflows.fix] max_budget_usd: input should be greater than 0 (got -1.0)"),
        ('max_budget_usd = "5"', "[workflows.fix] max_budget_usd: expected a number (got '5')"),
        (
            "json_schema = 3",
            "[workflows.fix] json_schema: expected a table or a JSON object as a string (got 3)",
        ),
        ('json_schema = "{not json"', "[workflows.fix] json_schema: is not valid JSON"),
        ('json_schema = "[1, 2]"', "[workflows.fix] json_schema: expected a JSON object"),
        ("json_schema = { made = 2026-01-01 }", "[workflows.fix] json_schema: holds a TOML date or time"),
        ('env = ["A=1"]', "[workflows.fix] env: expected a table of strings (got ['A=1'])"),
        ("env = { A = 1 }", "[workflows.fix] env: expected a table of strings (got {'A': 1})"),
        ('env = { "A=B" = "1" }', "[workflows.fix] env: 'A=B' is not a variable name"),
        (
            'env = { FLOWTUI_TELEGRAM_BOT_TOKEN = "x" }',
            "[workflows.fix] env: FLOWTUI_TELEGRAM_BOT_TOKEN is flowtui's own and never reaches a job",
        ),
        (
            'env = { FLOWTUI_QUEUE_URL = "redis://h" }',
            "[workflows.fix] env: FLOWTUI_QUEUE_URL is flowtui's own and never reaches a job: remove it",
        ),
        (
            'env = { CLAUDECODE = "1" }',
            "[workflows.fix] env: CLAUDECODE marks a Claude Code session and flowtui keeps it out",
        ),
        (
            'extra_args = "--verbose"',
            "[workflows.fix] extra_args: expected a list of strings (got '--verbose')",
        ),
        (
            'extra_args = ["--output-format=json"]',
            "[workflows.fix] extra_args: --output-format is set by flowtui itself",
        ),
        ('extra_args = ["--resume", "abc"]', "[workflows.fix] extra_args: --resume is set by flowtui itself"),
    ],
)
def test_a_wrong_value_is_one_line_naming_the_key(line: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        settings_from(f"[workflows.fix]\n{line}\n")
    text = str(raised.value)
    assert "\n" not in text
    assert text.startswith(f"test-config.toml: {message}")


def test_good_values_load_as_written() -> None:
    workflow = settings_from(
        """
[workflows.fix]
add_dirs = ["~/a"]
disallowed_tools = ["Bash(git push:*)"]
mcp_config = "servers.json"
strict_mcp_config = true
effort = "xhigh"
fallback_model = "sonnet,haiku"
max_budget_usd = 2
json_schema = '{"type": "object"}'
env = { A = "1" }
extra_args = ["--betas", "x"]
"""
    ).workflow("fix")
    assert (workflow.add_dirs, workflow.disallowed_tools, workflow.mcp_config) == (
        ["~/a"],
        ["Bash(git push:*)"],
        "servers.json",
    )
    assert (workflow.strict_mcp_config, workflow.effort, workflow.fallback_model) == (
        True,
        "xhigh",
        "sonnet,haiku",
    )
    assert (workflow.max_budget_usd, workflow.json_schema) == (2.0, '{"type": "object"}')
    assert (workflow.env, workflow.extra_args) == ({"A": "1"}, ["--betas", "x"])


def test_the_names_env_refuses_are_the_ones_flowtui_strips() -> None:
    assert QUEUE_ENV in FLOWTUI_PRIVATE_NAMES
    assert all(name.startswith(FLOWTUI_PRIVATE_PREFIXES) for name in (API_HASH_ENV, BOT_TOKEN_ENV))


# -- the structured output in the ledger: a result line, SQLite and Redis ---------------


def test_the_result_lines_structured_output_is_read_as_json_text() -> None:
    line = {"type": "result", "subtype": "success", "is_error": False, "result": "{}"}
    assert (
        ResultLine.from_event({**line, "structured_output": {"a": [1, "é"]}}).structured_output
        == '{"a":[1,"é"]}'
    )
    assert ResultLine.from_event(line).structured_output is None


@pytest.fixture(params=["sqlite", "redis"])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    store: LedgerStore
    if request.param == "sqlite":
        store = Ledger(tmp_path / "ledger.db")
    else:
        store = RedisLedger(
            request.getfixturevalue("redis_url"), prefix=request.getfixturevalue("redis_prefix")
        )
    yield store
    store.close()


def test_both_ledgers_keep_the_latest_attempts_structured_output(ledger: LedgerStore) -> None:
    job = ledger.create(NewJob("extract", "default", "cli", "/", 2), "test")
    ledger.claim(job.id, 1)
    first = ledger.requeue(job.id, "retry", None, outcome=RunOutcome(JobState.FAILED, error="x"))
    assert first.structured_output is None
    ledger.claim(job.id, 1)
    done = ledger.finish(job.id, RunOutcome(JobState.SUCCEEDED, structured_output='{"n":1}'))
    assert done.structured_output == '{"n":1}' and ledger.require(job.id).structured_value == {"n": 1}
    assert done.to_dict()["structured_output"] == {"n": 1}
    again = ledger.create(NewJob("plain", "default", "cli", "/", 1), "test")
    ledger.claim(again.id, 1)
    plain = ledger.finish(again.id, RunOutcome(JobState.SUCCEEDED, answer="text"))
    assert plain.structured_output is None and plain.to_dict()["structured_output"] is None


def test_a_ledger_from_before_structured_output_gains_the_column_keeping_its_rows(tmp_path: Path) -> None:
    create_jobs = SCHEMA.split(";")[0]
    old_table = re.sub(r"\n    structured_output TEXT,?", "", create_jobs).replace(",\n)", "\n)")
    assert "structured_output" not in old_table
    conn = sqlite3.connect(tmp_path / "ledger.db")
    conn.execute(old_table)
    conn.execute(
        "INSERT INTO jobs (workflow, prompt, source, cwd, state, max_attempts, created_at, answer)"
        " VALUES ('default', 'old job', 'cli', '/', 'succeeded', 1, '2026-01-01T00:00:00.000Z', 'kept')"
    )
    conn.execute("PRAGMA user_version=6")
    conn.commit()
    conn.close()
    ledger = Ledger(tmp_path / "ledger.db")
    try:
        old = ledger.require(1)
        assert (old.prompt, old.answer, old.structured_output) == ("old job", "kept", None)
    finally:
        ledger.close()
    columns = [row[1] for row in sqlite3.connect(tmp_path / "ledger.db").execute("PRAGMA table_info(jobs)")]
    assert "structured_output" in columns
