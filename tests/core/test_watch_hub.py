"""One watchfiles watcher for every root: changes go to each watch whose root holds them
(nested roots too), and a reload that adds a watch re-arms it without losing the others'
changes."""

from __future__ import annotations

from pathlib import Path

from enginekit import home_paths, wait_for
from fakeclaude import ok_script
from watchkit import changed_paths, watch_block, watching

from core.config.edit import add_watch
from core.wake.doorbell import poke
from core.watch.hub import WatcherKind

NATIVE = WatcherKind(recursive=True)


def _listed(jobs: list, directory: Path) -> set[str]:  # type: ignore[type-arg]
    return {path for job in jobs if job.cwd == str(directory) for path in changed_paths(job, directory)}


def test_one_watcher_serves_every_root_and_nested_roots_both_get_a_change(tmp_path: Path) -> None:
    outer = tmp_path / "outer"
    inner = outer / "inner"
    other = tmp_path / "other"
    inner.mkdir(parents=True)
    other.mkdir()
    config = watch_block(outer) + watch_block(inner) + watch_block(other)
    with watching(tmp_path / "home", config, ok_script(tmp_path / "claude")) as w:
        for path in (outer, inner, other):
            w.wait_state(path, "active")
        # inner lies in outer's tree: one recursive watcher over the two other roots sees it.
        assert w.service.hub.watched_paths() == {NATIVE: frozenset({str(outer), str(other)})}
        (inner / "deep.md").write_text("in both trees")
        wait_for(lambda: "deep.md" in _listed(w.jobs(), inner), what="the inner watch's job")
        wait_for(lambda: "inner/deep.md" in _listed(w.jobs(), outer), what="the outer watch's job")
        (other / "apart.md").write_text("only here")
        wait_for(lambda: "apart.md" in _listed(w.jobs(), other), what="the other watch's job")
        for job in w.jobs():
            w.wait_done(job)
        assert "apart.md" not in _listed(w.jobs(), outer) | _listed(w.jobs(), inner)
        assert _listed(w.jobs(), other) == {"apart.md"}


def test_a_reload_adding_a_watch_rearms_the_shared_watcher_and_loses_nothing(tmp_path: Path) -> None:
    first = tmp_path / "first"
    second = tmp_path / "second"
    first.mkdir()
    second.mkdir()
    home = tmp_path / "home"
    with watching(home, watch_block(first), ok_script(tmp_path / "claude")) as w:
        w.wait_state(first, "active")
        kept = w.target(first)
        restarts = w.service.hub.restarts()
        add_watch(home / "config.toml", second, settle_ms=60)
        poke(home_paths(home).wake_fifo)
        written: set[str] = set()
        number = 0
        # One write at a time, each seen before the next, until the shared watcher was replaced
        # and a few more: a write the re-arm lost would never be seen.
        while w.state(second) != "active" or number < 8:
            number += 1
            name = f"during-{number}.txt"
            (first / name).write_text("must not be lost")
            written.add(name)
            wait_for(lambda name=name: kept.knows(name), what=f"{name} to be seen")  # type: ignore[misc]
        assert w.target(first) is kept  # its own state (snapshot, jobs) untouched
        assert w.service.hub.restarts() > restarts
        assert w.service.hub.watched_paths() == {NATIVE: frozenset({str(first), str(second)})}
        (second / "new-watch.txt").write_text("seen by the new watch")
        wait_for(lambda: written <= _listed(w.jobs(), first), timeout=30, what="every write to be in a job")
        wait_for(lambda: _listed(w.jobs(), second) == {"new-watch.txt"}, what="the new watch's job")
