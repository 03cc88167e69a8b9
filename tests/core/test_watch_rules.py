"""Which paths count: built-in ignores, .gitignore files (nested, negated), include/exclude,
and the tree scan and diff that rescans rely on."""

from __future__ import annotations

import os
from pathlib import Path

from core.watch.rules import WatchRules
from core.watch.snapshot import SnapshotStore, diff, scan


def test_builtin_ignores(tmp_path: Path) -> None:
    rules = WatchRules(tmp_path)
    for ignored in [
        ".git/HEAD",
        "node_modules/pkg/index.js",
        "src/__pycache__/x.pyc",
        ".venv/bin/python",
        "notes.md.swp",
        "notes.md~",
        ".#notes.md",
        "4913",
    ]:
        verdict = rules.check(ignored)
        assert not verdict.counts and "built-in" in verdict.reason, ignored
    assert rules.check("src/main.py").counts


def test_a_virtualenv_with_any_name_is_ignored(tmp_path: Path) -> None:
    (tmp_path / "my-env").mkdir()
    (tmp_path / "my-env" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    verdict = WatchRules(tmp_path).check("my-env/lib/site.py")
    assert not verdict.counts and "virtualenv" in verdict.reason


def test_gitignore_files_nest_and_negate_as_git_does(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("*.log\nbuild/\n")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / ".gitignore").write_text("!keep.log\ndrafts/\n")
    rules = WatchRules(tmp_path)
    assert rules.check("debug.log").reason == "ignored by .gitignore: `*.log`"
    assert not rules.check("build/out/app.js").counts
    assert rules.check("docs/keep.log").counts  # re-included deeper down
    assert rules.check("docs/drafts/a.md").reason == "ignored by docs/.gitignore: `drafts/`"
    assert rules.check("docs/guide.md").counts
    # Editing a .gitignore takes effect once the watcher tells the rules to forget it.
    (tmp_path / ".gitignore").write_text("*.md\n")
    rules.forget(".gitignore")
    assert not rules.check("docs/guide.md").counts
    assert rules.check("debug.log").counts


def test_include_and_exclude_globs(tmp_path: Path) -> None:
    rules = WatchRules(tmp_path, include=["*.md", "docs/**"], exclude=["private/", "*.tmp.md"])
    assert rules.check("a/b/c.md").reason == "matches include `*.md`"
    assert rules.check("docs/image.png").counts
    assert rules.check("code.py").reason == "matches none of the include patterns ['*.md', 'docs/**']"
    assert rules.check("private/diary.md").reason == "excluded by `private/`"
    assert not rules.check("x.tmp.md").counts
    assert rules.check("a", is_dir=True).counts  # directories are never cut off by include


def test_non_recursive_and_single_file_watches(tmp_path: Path) -> None:
    flat = WatchRules(tmp_path, recursive=False)
    assert flat.check("top.md").counts and not flat.check("sub/deep.md").counts
    single = WatchRules(tmp_path, only_file="todo.txt")
    assert single.check("todo.txt").counts and not single.check("other.txt").counts


def test_relative_paths(tmp_path: Path) -> None:
    rules = WatchRules(tmp_path)
    assert rules.relative(str(tmp_path)) == ""
    assert rules.relative(str(tmp_path / "a" / "b.md")) == "a/b.md"
    assert rules.relative(str(tmp_path) + "-sibling/x") is None


def test_scan_skips_ignored_trees_and_symlink_loops_and_diffs(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.py").write_text("a")
    (tmp_path / "node_modules" / "x").mkdir(parents=True)
    (tmp_path / "node_modules" / "x" / "i.js").write_text("i")
    (tmp_path / "src" / "loop").symlink_to("..")
    rules = WatchRules(tmp_path)
    first = scan(rules).files
    assert set(first) == {"src/a.py", "src/loop"}  # the link is a file entry, never followed
    (tmp_path / "src" / "a.py").write_text("changed size")
    (tmp_path / "src" / "b.py").write_text("b")
    os.unlink(tmp_path / "src" / "loop")
    expected = {"src/a.py": "modified", "src/b.py": "added", "src/loop": "deleted"}
    assert diff(first, scan(rules).files) == expected
    assert set(scan(rules, under="src").files) == {"src/a.py", "src/b.py"}


def test_snapshot_store_round_trip_and_rule_changes(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path / "state")
    files = {"a.md": (1, 2, 3)}
    store.save("/watched", "rules-1", files)
    assert store.load("/watched", "rules-1") == files
    assert store.load("/watched", "rules-2") is None  # other rules: the snapshot is void
    assert store.load("/elsewhere", "rules-1") is None
