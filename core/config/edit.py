"""Editing the user's config.toml in place with tomlkit: comments, order and layout survive.

Every edit is validated as a whole config before it is written, and written atomically
(temp file + rename), so a bad edit never leaves a broken file behind.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.items import AoT, Table

from core.config.settings import Settings, parse_settings
from core.config.watch_path import watch_key
from core.errors import ConfigError


def _read(config_file: Path) -> tomlkit.TOMLDocument:
    try:
        text = config_file.read_text(encoding="utf-8")
    except FileNotFoundError:
        return tomlkit.document()
    try:
        return tomlkit.parse(text)
    except tomlkit.exceptions.ParseError as error:
        raise ConfigError(f"{config_file}: invalid TOML: {error}") from None


def _write(config_file: Path, document: tomlkit.TOMLDocument) -> Settings:
    text = tomlkit.dumps(document)
    settings = parse_settings(text, config_file)  # refuse to write a config we could not load
    config_file.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(dir=config_file.parent, prefix=".config-", suffix=".toml")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as temp:
            temp.write(text)
        os.replace(temp_name, config_file)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    return settings


def glob_problem(patterns: Sequence[str]) -> str | None:
    """Refuse an include/exclude pattern the watcher could not compile, before it is saved."""
    from pathspec import GitIgnoreSpec

    for pattern in patterns:
        try:
            GitIgnoreSpec.from_lines([pattern])
        except (ValueError, TypeError) as error:
            return f"bad glob {pattern!r}: {error}"
    return None


def add_watch(config_file: Path, path: str | Path, **options: Any) -> Settings:
    """Append a ``[[watch]]`` table; refuses a path that is already watched."""
    document = _read(config_file)
    stored = watch_key(path)
    watches = document.get("watch")
    if watches is None:
        watches = tomlkit.aot()
        document.append("watch", watches)
    if not isinstance(watches, AoT):
        raise ConfigError(f"{config_file}: `watch` must be written as [[watch]] tables to be edited")
    if _find_watch(watches, stored) is not None:
        raise ConfigError(f"{stored} is already watched: remove it first (flowtui watch rm)")
    table: Table = tomlkit.table()
    table.add("path", stored)
    for key, value in options.items():
        if value not in (None, [], ()):
            table.add(key, list(value) if isinstance(value, tuple) else value)
    watches.append(table)
    return _write(config_file, document)


def remove_watch(config_file: Path, path: str | Path) -> Settings:
    document = _read(config_file)
    watches, index = _existing_watch(document, path)
    del watches[index]
    if len(watches) == 0:
        del document["watch"]
    return _write(config_file, document)


def set_watch_enabled(config_file: Path, path: str | Path, enabled: bool) -> Settings:
    """Set a watch's ``enabled``; the table and its other keys stay as the user wrote them."""
    document = _read(config_file)
    watches, index = _existing_watch(document, path)
    watches[index]["enabled"] = enabled
    return _write(config_file, document)


def _existing_watch(document: tomlkit.TOMLDocument, path: str | Path) -> tuple[AoT, int]:
    """The ``[[watch]]`` tables and the index of ``path``'s; refuses a path not watched."""
    stored = watch_key(path)
    watches = document.get("watch")
    index = _find_watch(watches, stored) if isinstance(watches, AoT) else None
    if not isinstance(watches, AoT) or index is None:
        raise ConfigError(f"{stored} is not watched: see `flowtui watch ls`")
    return watches, index


def _find_watch(watches: AoT, stored: str) -> int | None:
    """The index of the ``[[watch]]`` table whose path has the normal form ``stored``."""
    for index, existing in enumerate(watches):
        if watch_key(str(existing.get("path", ""))) == stored:
            return index
    return None


def set_value(config_file: Path, section: str, key: str, value: Any) -> Settings:
    """Set ``[section] key = value`` (for example the UI theme), creating the section."""
    document = _read(config_file)
    table = document.get(section)
    if table is None:
        table = tomlkit.table()
        document.append(section, table)
    table[key] = value
    return _write(config_file, document)
