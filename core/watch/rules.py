"""Which changed paths count for a watch: built-in ignores, ``.gitignore`` files, include/exclude.

Paths are relative to the watched directory, with ``/`` separators (``""`` is the directory
itself). Every verdict carries the reason in words, so ``flowtui watch test`` can say which
rule decided.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pathspec import GitIgnoreSpec

BUILTIN_IGNORED_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        "node_modules",
        "__pycache__",
        ".venv",
        "venv",
        ".tox",
        ".nox",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
    }
)
"""Directories no watch wants: version control, dependencies, caches, virtualenvs."""

BUILTIN_IGNORED_FILES = ("*.swp", "*.swo", "*.swx", "*~", ".#*", "#*#", "4913", ".DS_Store")
"""Editor swap, backup and lock files (``4913`` is Vim's probe file)."""

VENV_MARKER = "pyvenv.cfg"
GITIGNORE = ".gitignore"


@dataclass(frozen=True)
class Verdict:
    """Whether a path counts for a watch, and the rule that said so."""

    counts: bool
    reason: str


class WatchRules:
    """The rules of one watch; caches ``.gitignore`` files and directory verdicts."""

    def __init__(
        self,
        directory: Path,
        include: Sequence[str] = (),
        exclude: Sequence[str] = (),
        recursive: bool = True,
        only_file: str | None = None,
    ) -> None:
        self.directory = directory
        self.include = list(include)
        self.exclude = list(exclude)
        self.recursive = recursive and only_file is None
        self.only_file = only_file
        """For a watch on a single file: its name (the directory is watched, editors replace files)."""
        self._include_spec = GitIgnoreSpec.from_lines(self.include) if self.include else None
        self._exclude_spec = GitIgnoreSpec.from_lines(self.exclude) if self.exclude else None
        self._builtin_files = GitIgnoreSpec.from_lines(BUILTIN_IGNORED_FILES)
        self._gitignores: dict[str, GitIgnoreSpec | None] = {}
        self._dir_verdicts: dict[str, Verdict] = {}

    def fingerprint(self) -> str:
        """Changes when the rules would select other files (a saved snapshot is then void)."""
        data = [str(self.directory), self.include, self.exclude, self.recursive, self.only_file]
        return hashlib.sha1(json.dumps(data).encode()).hexdigest()[:16]

    def relative(self, path: str) -> str | None:
        """``path`` relative to the watched directory, or None when it lies outside."""
        base = str(self.directory)
        if path == base:
            return ""
        prefix = base if base.endswith(os.sep) else base + os.sep
        if not path.startswith(prefix):
            return None
        return path[len(prefix) :].replace(os.sep, "/")

    def check(self, rel: str, is_dir: bool = False) -> Verdict:
        """The verdict on a changed path (a directory's verdict decides what lies under it)."""
        if rel == "":
            return Verdict(True, "the watched directory itself")
        if self.only_file is not None:
            if rel == self.only_file:
                return Verdict(True, f"the watched file {self.only_file}")
            return Verdict(False, f"not the watched file {self.only_file}")
        parent, _, name = rel.rpartition("/")
        if parent:
            if not self.recursive:
                return Verdict(False, "inside a subdirectory, and the watch is not recursive")
            parent_verdict = self.check_dir(parent)
            if not parent_verdict.counts:
                return parent_verdict
        return self._check_entry(rel, name, is_dir)

    def check_dir(self, rel: str) -> Verdict:
        """A directory's verdict, memoised (ancestors first, as git does)."""
        known = self._dir_verdicts.get(rel)
        if known is None:
            known = self.check(rel, is_dir=True)
            self._dir_verdicts[rel] = known
        return known

    def counts(self, rel: str, is_dir: bool = False) -> bool:
        return self.check(rel, is_dir).counts

    def forget(self, rel: str) -> None:
        """A ``.gitignore`` or ``pyvenv.cfg`` at ``rel`` changed: drop what was derived from it."""
        parent, _, name = rel.rpartition("/")
        if name == GITIGNORE:
            self._gitignores.pop(parent, None)
        self._dir_verdicts.clear()

    def _check_entry(self, rel: str, name: str, is_dir: bool) -> Verdict:
        if is_dir:
            if name in BUILTIN_IGNORED_DIRS:
                return Verdict(False, f"ignored by the built-in rule `{name}/`")
            if os.path.isfile(self.directory / rel / VENV_MARKER):
                return Verdict(False, f"ignored: a virtualenv (has {VENV_MARKER})")
        else:
            builtin = self._builtin_files.check_file(name)
            if builtin.include:
                rule = BUILTIN_IGNORED_FILES[builtin.index or 0]
                return Verdict(False, f"ignored by the built-in rule `{rule}`")
        git = self._gitignore_verdict(rel, is_dir)
        if git is not None:
            return git
        candidate = rel + "/" if is_dir else rel
        if self._exclude_spec is not None:
            excluded = self._exclude_spec.check_file(candidate)
            if excluded.include:
                return Verdict(False, f"excluded by `{self.exclude[excluded.index or 0]}`")
        if is_dir:
            return Verdict(True, "a directory that is not ignored")
        if self._include_spec is None:
            return Verdict(True, "no include patterns: every file that is not ignored counts")
        included = self._include_spec.check_file(rel)
        if included.include:
            return Verdict(True, f"matches include `{self.include[included.index or 0]}`")
        return Verdict(False, f"matches none of the include patterns {self.include}")

    def _gitignore_verdict(self, rel: str, is_dir: bool) -> Verdict | None:
        """The last matching pattern of the ``.gitignore`` files above ``rel`` (deeper wins)."""
        decided: Verdict | None = None
        parts = rel.split("/")
        for depth in range(len(parts)):
            folder = "/".join(parts[:depth])
            spec = self._gitignore(folder)
            if spec is None:
                continue
            sub = "/".join(parts[depth:]) + ("/" if is_dir else "")
            result = spec.check_file(sub)
            if result.include is None:
                continue
            where = f"{folder}/{GITIGNORE}" if folder else GITIGNORE
            pattern = _pattern_text(spec, result.index)
            # A negation (``!pattern``) re-includes what an earlier pattern ignored.
            decided = Verdict(False, f"ignored by {where}: `{pattern}`") if result.include else None
        return decided

    def _gitignore(self, folder: str) -> GitIgnoreSpec | None:
        if folder in self._gitignores:
            return self._gitignores[folder]
        path = self.directory / folder / GITIGNORE if folder else self.directory / GITIGNORE
        try:
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            spec = None
        else:
            spec = GitIgnoreSpec.from_lines(lines)
        self._gitignores[folder] = spec
        return spec


def _pattern_text(spec: GitIgnoreSpec, index: int | None) -> str:
    if index is None:
        return "?"
    pattern = spec.patterns[index]
    return str(getattr(pattern, "pattern", pattern))
