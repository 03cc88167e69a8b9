"""Edits to config.toml keep the user's comments and order, and never write a broken file."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.config.edit import add_watch, remove_watch, set_value
from core.config.settings import load_settings
from core.errors import ConfigError

USER_CONFIG = """\
# my flowtui config
[engine]
workers = 2  # two at once

[workflows.notes]
prompt = "Summarise {paths}"  # keep it short

[[watch]]
path = "/srv/first"
workflow = "notes"
"""


def test_add_and_remove_watch_keep_comments_and_order(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(USER_CONFIG)
    project = tmp_path / "project"
    settings = add_watch(config, project, workflow="notes", include=["*.md"])
    assert [watch.path for watch in settings.watch] == ["/srv/first", str(project)]
    text = config.read_text()
    assert text.startswith(USER_CONFIG)
    assert 'include = ["*.md"]' in text
    remove_watch(config, project)
    assert config.read_text().rstrip() == USER_CONFIG.rstrip()
    remove_watch(config, "/srv/first")
    assert "# keep it short" in config.read_text() and "[[watch]]" not in config.read_text()
    assert load_settings(config).watch == []


def test_refusals_leave_the_file_untouched(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(USER_CONFIG)
    with pytest.raises(ConfigError, match="already watched"):
        add_watch(config, "/srv/first")
    with pytest.raises(ConfigError, match="is not watched"):
        remove_watch(config, "/nowhere")
    with pytest.raises(ConfigError, match=r"\[\[watch\]\] #2 busy: expected"):
        add_watch(config, tmp_path, busy="sometimes")
    assert config.read_text() == USER_CONFIG


def test_set_value_creates_the_section(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    set_value(config, "ui", "theme", "nord")
    assert load_settings(config).ui.theme == "nord"
