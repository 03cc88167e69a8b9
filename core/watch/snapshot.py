"""What a watched tree looked like: size, mtime and inode of every file that counts.

The snapshot is the baseline changes are judged against: a burst's paths are compared
with it when the burst settles (so an atomic save reads as ``modified`` and a temp file
that came and went reads as nothing), and a rescan after a restart, a re-created root or
a lost kernel event turns the differences into changes. Symlinked directories are not
followed, so a symlink loop cannot trap the scan.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from core.watch.rules import WatchRules

Entry = tuple[int, int, int]
"""(size, mtime in ns, inode) of one file."""

ADDED = "added"
MODIFIED = "modified"
DELETED = "deleted"


@dataclass
class ScanResult:
    """A tree's files that count, and what could not be read, from one scan."""

    files: dict[str, Entry] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    """One line per directory that could not be read."""


def entry_of(path: Path | str) -> Entry | None:
    """The entry of a file now, or None when it is gone or is a directory."""
    try:
        info = os.lstat(path)
    except OSError:
        return None
    if stat.S_ISDIR(info.st_mode):
        return None
    return (info.st_size, info.st_mtime_ns, info.st_ino)


def scan(rules: WatchRules, under: str = "") -> ScanResult:
    """Every counting file below ``under`` (relative; ``""`` is the whole tree)."""
    result = ScanResult()
    if rules.only_file is not None:
        entry = entry_of(rules.directory / rules.only_file)
        if entry is not None:
            result.files[rules.only_file] = entry
        return result
    if under and not rules.check_dir(under).counts:
        return result
    pending = [under]
    while pending:
        folder = pending.pop()
        absolute = rules.directory / folder if folder else rules.directory
        try:
            with os.scandir(absolute) as entries:
                children = list(entries)
        except FileNotFoundError:
            continue  # removed while we looked: its deletion arrives as events
        except NotADirectoryError:
            continue
        except OSError as error:
            result.problems.append(f"{folder or '.'}: {error.strerror or error}")
            continue
        for child in children:
            rel = f"{folder}/{child.name}" if folder else child.name
            try:
                is_dir = child.is_dir(follow_symlinks=False)
            except OSError:
                continue
            if is_dir:
                if rules.recursive and rules.check_dir(rel).counts:
                    pending.append(rel)
                continue
            if not rules.counts(rel):
                continue
            try:
                info = child.stat(follow_symlinks=False)
            except OSError:
                continue
            result.files[rel] = (info.st_size, info.st_mtime_ns, info.st_ino)
    return result


def diff(old: Mapping[str, Entry], new: Mapping[str, Entry]) -> dict[str, str]:
    """Changes that turn ``old`` into ``new``, by path."""
    changes: dict[str, str] = {}
    for rel, entry in new.items():
        before = old.get(rel)
        if before is None:
            changes[rel] = ADDED
        elif before != entry:
            changes[rel] = MODIFIED
    for rel in old:
        if rel not in new:
            changes[rel] = DELETED
    return changes


class SnapshotStore:
    """Snapshots kept between runs, one JSON file per watch in the data dir.

    Saved after every settled burst and at stop, so changes made while flowtui was down
    become one job at the next start.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _file_for(self, key: str) -> Path:
        return self.folder / f"{hashlib.sha1(key.encode()).hexdigest()[:16]}.json"

    def load(self, key: str, fingerprint: str) -> dict[str, Entry] | None:
        """The saved snapshot, or None when there is none or the rules changed since."""
        try:
            data = json.loads(self._file_for(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict) or data.get("key") != key or data.get("rules") != fingerprint:
            return None
        files = data.get("files")
        if not isinstance(files, dict):
            return None
        return {rel: (int(v[0]), int(v[1]), int(v[2])) for rel, v in files.items()}

    def save(self, key: str, fingerprint: str, files: Mapping[str, Entry]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        text = json.dumps({"key": key, "rules": fingerprint, "files": files}, separators=(",", ":"))
        handle, temp_name = tempfile.mkstemp(dir=self.folder, prefix=".snapshot-", suffix=".json")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as temp:
                temp.write(text)
            os.replace(temp_name, self._file_for(key))
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            raise

    def forget(self, key: str) -> None:
        self._file_for(key).unlink(missing_ok=True)
