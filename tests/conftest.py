"""Shared fixtures: the real Claude Code CLI run offline against the Messages API stand-in, and redis."""

from __future__ import annotations

import os
import shutil
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

TESTS_DIR = Path(__file__).resolve().parent
REPO_ROOT = TESTS_DIR.parent
FIXTURES_DIR = TESTS_DIR / "fixtures"
if str(FIXTURES_DIR) not in sys.path:  # so test modules can `from standin import MessagesStandIn`
    sys.path.insert(0, str(FIXTURES_DIR))

from rediskit import SERVER_ENV as REDIS_SERVER_ENV  # noqa: E402
from rediskit import RedisServer, find_redis_server  # noqa: E402
from standin import MessagesStandIn  # noqa: E402

# Variables that would steer the CLI away from the stand-in (a developer's own login, a parent
# Claude Code session, a custom model...). They are dropped before the offline ones are set.
_STRIP_PREFIXES = ("ANTHROPIC_", "CLAUDE")


def find_claude_bin() -> str | None:
    """The real CLI: ``$FLOWTUI_TEST_CLAUDE``, else ``claude`` on PATH, else the repo's ``.tools`` copy."""
    override = os.environ.get("FLOWTUI_TEST_CLAUDE")
    if override:
        return override if Path(override).exists() else None
    on_path = shutil.which("claude")
    if on_path:
        return on_path
    local = REPO_ROOT / ".tools" / "node_modules" / ".bin" / "claude"
    return str(local) if local.exists() else None


@pytest.fixture(scope="session")
def claude_bin() -> str:
    """Path of the real Claude Code CLI; skips the test when it is not installed."""
    found = find_claude_bin()
    if found is None:
        pytest.skip(
            "real Claude Code CLI not found: set FLOWTUI_TEST_CLAUDE, put `claude` on PATH, "
            "or `npm install --prefix .tools @anthropic-ai/claude-code`"
        )
    return found


@pytest.fixture
def standin() -> Iterator[MessagesStandIn]:
    """A started Messages API stand-in on 127.0.0.1 (fresh per test, stopped afterwards)."""
    with MessagesStandIn() as server:
        yield server


@pytest.fixture
def claude_env(tmp_path: Path, standin: MessagesStandIn) -> dict[str, str]:
    """Environment for running the real CLI offline against ``standin``, with a throw-away HOME/config."""
    home = tmp_path / "claude-home"
    config = tmp_path / "claude-config"
    home.mkdir(exist_ok=True)
    config.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(_STRIP_PREFIXES)}
    env.update(
        {
            "ANTHROPIC_BASE_URL": standin.url,
            "ANTHROPIC_API_KEY": "test-key",
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "DISABLE_AUTOUPDATER": "1",
            "HOME": str(home),
            "CLAUDE_CONFIG_DIR": str(config),
        }
    )
    return env


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One real redis-server for the whole session; skips when it is not installed."""
    binary = find_redis_server()
    if binary is None:
        pytest.skip(
            "redis-server not found: install it (`apt-get install redis-server`) "
            f"or set {REDIS_SERVER_ENV} to its path"
        )
    with RedisServer(binary) as server:
        yield server


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """``redis://127.0.0.1:PORT/0`` on the session's server, emptied before each test."""
    url = redis_server.url(0)
    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()
    return url


@pytest.fixture
def redis_prefix() -> str:
    """A key prefix no other test uses, for isolation beyond the per-test flush."""
    return f"flowtui-test-{uuid.uuid4().hex[:12]}:"
