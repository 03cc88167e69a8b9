"""A watch's snapshot at run time: what it last handed on, and how settled paths compare.

Paths that settle are judged by what they are now against the snapshot, never by the
kernel's event names: a file replaced by an atomic save is ``modified``, a temp file that
came and went is nothing, a chmod is nothing, and a directory stands for every file in it
(a folder moved in lists its files; a folder removed lists what it held).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Set
from dataclasses import dataclass

from core.watch.rules import WatchRules
from core.watch.snapshot import ADDED, DELETED, MODIFIED, Entry, SnapshotStore, diff, entry_of, scan

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Comparison:
    """What a settled burst changed, in the order it arrived."""

    changes: dict[str, str]
    """Relative path to ``added``/``modified``/``deleted``; ``{path}`` is the first."""
    entries: dict[str, Entry | None]
    """Each changed path's entry now (None: gone), for the snapshot once it is handed on."""
    arrivals: dict[str, float]
    """When each changed path reached the watcher (monotonic seconds)."""


class WatchedTree:
    """The snapshot of one watch, and the entries it replaced for changes still held back."""

    def __init__(self, key: str, store: SnapshotStore) -> None:
        self.key = key
        self._store = store
        self.files: dict[str, Entry] = {}
        self.ready = False
        """False until the first scan (or the first look found the root missing)."""
        self._pre_images: dict[str, Entry | None] = {}
        self.problems: list[str] = []
        """One line per directory that could not be read at the last scan."""
        self.problem_dirs: set[str] = set()

    def start_empty(self) -> None:
        """The root did not exist at the first look: everything that appears there is new."""
        self.ready = True

    def scan_on_arm(self, rules: WatchRules) -> list[str]:
        """Scan the tree; returns what differs from the snapshot (nothing on a first start)."""
        result = scan(rules)
        self._note_problems(result.problems)
        if not self.ready:
            self.ready = True
            saved = self._store.load(self.key, rules.fingerprint())
            if saved is None:
                self.files = result.files
                return []
            self.files = saved
        return list(diff(self.files, result.files))

    def _note_problems(self, problems: list[str]) -> None:
        self.problems = problems
        self.problem_dirs = {line.split(": ", 1)[0] for line in problems}

    def compare(self, rules: WatchRules, pending: dict[str, float], rescan: bool, now: float) -> Comparison:
        """The settled paths (and, after a possible loss, the whole tree) against the snapshot."""
        arrivals = dict(pending)
        if rescan:
            result = scan(rules)
            self._note_problems(result.problems)
            for rel in diff(self.files, result.files):
                arrivals.setdefault(rel, now)
        current = self._current_entries(rules, arrivals)
        changes: dict[str, str] = {}
        entries: dict[str, Entry | None] = {}
        # In the order they arrived (a new folder's files by name).
        for rel in sorted(current, key=lambda rel: (arrivals[rel], rel)):
            entry, before = current[rel], self.files.get(rel)
            if before == entry:
                continue  # unchanged (metadata only, or it came and went)
            changes[rel] = ADDED if before is None else DELETED if entry is None else MODIFIED
            entries[rel] = entry
        return Comparison(changes=changes, entries=entries, arrivals=arrivals)

    def _current_entries(self, rules: WatchRules, arrivals: dict[str, float]) -> dict[str, Entry | None]:
        current: dict[str, Entry | None] = {}
        gone_dirs: set[str] = set()
        seen_dirs: set[str] = set()
        for rel in sorted(arrivals):
            full = rules.directory / rel
            if os.path.isdir(full) and not os.path.islink(full):
                if _ancestor_in(rel, seen_dirs):
                    continue  # inside a directory scanned already
                seen_dirs.add(rel)
                prefix = rel + "/"
                for child in [key for key in self.files if key.startswith(prefix)]:
                    current.setdefault(child, None)
                for child, child_entry in scan(rules, under=rel).files.items():
                    current[child] = child_entry
                    arrivals.setdefault(child, arrivals[rel])
                continue
            entry = entry_of(full)
            if entry is None and rel not in self.files:
                gone_dirs.add(rel)  # perhaps a directory that went away
            current[rel] = entry
        if gone_dirs:
            for key in self.files:
                folder = _ancestor_in(key, gone_dirs)
                if folder:
                    current.setdefault(key, None)
                    arrivals.setdefault(key, arrivals[folder])
        return current

    def differing(self, rules: WatchRules, rels: Set[str]) -> list[str]:
        """Which of ``rels`` are not what the snapshot says now (changed, gone or new)."""
        return [rel for rel in sorted(rels) if entry_of(rules.directory / rel) != self.files.get(rel)]

    def recent(self, seconds: float) -> list[str]:
        """The files whose mtime is within the last ``seconds`` (a poller may not see their next change)."""
        since = time.time_ns() - int(seconds * 1e9)
        return [rel for rel, (_, mtime_ns, _) in self.files.items() if mtime_ns >= since]

    def commit(self, comparison: Comparison) -> None:
        """The changes were handed on (queued, held or dropped): the snapshot follows."""
        for rel, entry in comparison.entries.items():
            if rel not in self._pre_images:
                self._pre_images[rel] = self.files.get(rel)
            if entry is None:
                self.files.pop(rel, None)
            else:
                self.files[rel] = entry

    def keep_pre_images(self, held: Set[str]) -> None:
        """Only changes still held back need their old entry (see :meth:`save`)."""
        for rel in [rel for rel in self._pre_images if rel not in held]:
            del self._pre_images[rel]

    def save(self, rules: WatchRules, held: Set[str]) -> None:
        """Save the snapshot as of the last job: changes held for a later run keep their old
        entry, so a crash before that run finds them again."""
        files = dict(self.files)
        for rel, before in self._pre_images.items():
            if rel not in held:
                continue
            if before is None:
                files.pop(rel, None)
            else:
                files[rel] = before
        try:
            self._store.save(self.key, rules.fingerprint(), files)
        except OSError as error:
            log.warning("watch %s: cannot save its snapshot: %s", self.key, error)


def _ancestor_in(rel: str, folders: set[str]) -> str | None:
    """The nearest folder of ``folders`` that contains ``rel``."""
    folder = rel.rpartition("/")[0]
    while folder:
        if folder in folders:
            return folder
        folder = folder.rpartition("/")[0]
    return None
