"""Config loading: every mistake is one line naming the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.config.settings import Settings, load_settings, parse_settings
from core.errors import ConfigError
from core.paths import resolve_paths


def test_missing_config_means_defaults(tmp_path: Path) -> None:
    settings = load_settings(tmp_path / "nope.toml")
    assert settings == Settings()
    assert settings.engine.workers == 1
    assert settings.ledger.synchronous == "normal"
    assert settings.workflow("default").max_attempts == 3


def test_full_config_is_read(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        """
[engine]
workers = 3
[ledger]
synchronous = "full"
[claude]
command = "/opt/claude"
kill_grace_seconds = 2
[workflows.review]
model = "sonnet"
allowed_tools = ["Bash", "Read"]
max_turns = 4
retries = 0
"""
    )
    settings = load_settings(config)
    assert settings.engine.workers == 3
    assert settings.ledger.synchronous == "full"
    assert settings.claude.kill_grace_seconds == 2
    review = settings.workflow("review")
    assert review.allowed_tools == ["Bash", "Read"]
    assert review.max_attempts == 1
    assert settings.workflow_names() == ["default", "review"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[engine]\nworkers = "two"', "[engine] workers: expected an integer (got 'two')"),
        ("[claude]\ncomand = 1", "[claude] comand: unknown key; expected one of: command,"),
        ("colour = 1", "key 'colour': unknown key; expected one of: engine,"),
        ('[workflows.fix]\nmodle = "x"', "[workflows.fix] modle: unknown key; expected one of: prompt,"),
        ('[ledger]\nsynchronous = "off"', "[ledger] synchronous: expected 'normal' or 'full' (got 'off')"),
        ("[engine]\nworkers = 0", "[engine] workers: input should be greater than or equal to 1"),
        ("[engine\nworkers = 1", "invalid TOML: Expected ']' at the end of a table declaration (at line 1"),
        ('[workflows.a]\nallowed_tools = "Bash"', "[workflows.a] allowed_tools: expected a list"),
        ("[engine]\nworkers = true", "[engine] workers: expected an integer (got True)"),
        ("[budget]\ndaily_usd = 0", "[budget] daily_usd: input should be greater than 0 (got 0.0)"),
        ("engine = 3", "key 'engine': expected a table (got 3)"),
        ('[[watch]]\nworkflow = "x"', "[[watch]] #1 path: required key is missing"),
        ('[[watch]]\npath = "x"\nbusy = "often"', "[[watch]] #1 busy: expected 'queue', 'skip' or 'restart'"),
        ('[telegram]\nallowed_users = ["me"]', "[telegram.allowed_users] 0: expected an integer (got 'me')"),
    ],
)
def test_bad_config_is_one_line_naming_file_and_key(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings(text, "/home/me/config.toml")
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("/home/me/config.toml: ")
    assert expected in message


def test_unknown_workflow_names_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="unknown workflow 'nope': use one of default"):
        Settings().workflow("nope")


def test_claude_command_env_override() -> None:
    settings = Settings()
    assert settings.claude_command({}) == "claude"
    assert settings.claude_command({"FLOWTUI_CLAUDE": "/x/claude"}) == "/x/claude"


def test_flowtui_home_holds_config_and_data(tmp_path: Path) -> None:
    paths = resolve_paths({"FLOWTUI_HOME": str(tmp_path)})
    assert paths.config_file == tmp_path / "config.toml"
    assert paths.ledger_db.parent == tmp_path


def test_platformdirs_without_flowtui_home() -> None:
    paths = resolve_paths({})
    assert paths.config_file.name == "config.toml"
    assert "flowtui" in str(paths.config_file.parent)
    assert "flowtui" in str(paths.data_dir)


def test_secrets_never_show_and_numbers_widen() -> None:
    settings = parse_settings('[telegram]\nbot_token = "123:abc"\n[queue]\nlease_seconds = 10', "c.toml")
    assert settings.telegram is not None and settings.telegram.bot_token is not None
    assert "abc" not in repr(settings) and "abc" not in str(settings.telegram.bot_token)
    assert settings.telegram.bot_token.get_secret_value() == "123:abc"
    assert settings.queue.lease_seconds == 10.0 and isinstance(settings.queue.lease_seconds, float)
    with pytest.raises(ConfigError) as caught:
        parse_settings("[telegram]\nbot_token = 123456", "c.toml")
    assert "123456" not in str(caught.value)
