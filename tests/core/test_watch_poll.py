"""Watches for every kind of mount: polling, the ``events`` filter, ``content_hash``, and
``flowtui doctor``'s warning about a native watch on a network mount."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from clikit import Flowtui
from enginekit import wait_for
from fakeclaude import ok_script
from watchkit import changed_paths, watch_block, watching

from cli.doctor import check_watch_mounts
from core.config.settings import WatchSettings, parse_settings
from core.errors import ConfigError
from core.watch.hub import WatcherKind
from core.watch.mounts import Mount, mount_of, unpolled_remote_watches

POLLED = "settle_ms = 60\npoll = true\npoll_interval_ms = 100\n"


def test_a_polled_watch_fires_from_its_polling_watcher(tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "old.md").write_text("there before")
    with watching(tmp_path / "home", watch_block(notes, POLLED), ok_script(tmp_path / "claude")) as w:
        w.wait_state(notes, "active")
        polled = WatcherKind(recursive=True, poll_interval_ms=100)
        assert w.service.hub.watched_paths() == {polled: frozenset({str(notes)})}
        (notes / "new.md").write_text("seen by a scan")
        # Most likely within the second old.md was written in: watchfiles' poller compares
        # whole seconds of mtime and misses it; the watch's look again a second later does not.
        (notes / "old.md").write_text("changed by a scan")

        def listed() -> set[str]:
            return {path for job in w.jobs() for path in changed_paths(job, notes)}

        wait_for(lambda: listed() == {"new.md", "old.md"}, what="both changes in jobs")


def test_events_counts_only_the_kinds_it_names(tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "kept.md").write_text("one")
    (notes / "gone.md").write_text("two")
    config = watch_block(notes, 'settle_ms = 60\nevents = ["added"]\n')
    with watching(tmp_path / "home", config, ok_script(tmp_path / "claude")) as w:
        w.wait_state(notes, "active")
        target = w.target(notes)
        (notes / "kept.md").write_text("one, edited")
        (notes / "gone.md").unlink()
        wait_for(lambda: not target.knows("gone.md"), what="the deletion to settle")
        w.wait_quiet(notes)
        (notes / "fresh.md").write_text("new")
        job = w.wait_jobs(1)[0]
        assert changed_paths(job, notes) == ["fresh.md"], job.prompt
        assert job.prompt.startswith(f"These files changed under {notes} (added):")
        w.wait_done(job)
        assert len(w.jobs()) == 1


def test_content_hash_ignores_saves_that_leave_the_bytes_as_they_were(tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    old = notes / "old.md"
    old.write_text("same bytes")
    with watching(
        tmp_path / "home",
        watch_block(notes, "settle_ms = 60\ncontent_hash = true\n"),
        ok_script(tmp_path / "claude"),
    ) as w:
        w.wait_state(notes, "active")
        target = w.target(notes)
        old.write_text("same bytes")  # the file there at the start, saved unchanged
        stat = old.stat()
        os.utime(old, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))  # a touch
        w.wait_quiet(notes)
        (notes / "new.md").write_text("first")
        first = w.wait_jobs(1)[0]
        assert changed_paths(first, notes) == ["new.md"], first.prompt  # old.md did not count
        w.wait_done(first)
        wait_for(lambda: target.knows("new.md"), what="new.md in the snapshot")
        (notes / "new.md").write_text("first")  # a file added while watched, saved unchanged
        w.wait_quiet(notes)
        old.write_text("other bytes")
        second = w.wait_jobs(2)[-1]
        assert changed_paths(second, notes) == ["old.md"], second.prompt
        assert second.prompt.startswith(f"These files changed under {notes} (modified):")
        w.wait_done(second)
        assert len(w.jobs()) == 2


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ('events = ["added", "renamed"]', "[[watch]] #1 events.1: expected 'added', 'modified' or 'deleted'"),
        (
            "poll_interval_ms = 10",
            "[[watch]] #1 poll_interval_ms: input should be greater than or equal to 50",
        ),
        ('poll = "yes"', "[[watch]] #1 poll: expected true or false"),
        ("content_hash = 1", "[[watch]] #1 content_hash: expected true or false"),
        ("events = []", "[[watch]] #1 events: is empty, so nothing would ever fire"),
    ],
)
def test_bad_watch_keys_are_one_line_naming_the_key(extra: str, named: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings(f'[[watch]]\npath = "/tmp"\n{extra}\n', "config.toml")
    message = str(caught.value)
    assert named in message and "\n" not in message, message


def test_the_mount_with_the_longest_mount_point_holds_a_path() -> None:
    table = [
        Mount("/", "ext4"),
        Mount("/mnt", "ext4"),
        Mount("/mnt/share", "nfs4"),
        Mount("/mnt/share2", "ext4"),
    ]
    assert mount_of("/mnt/share/notes", table) == Mount("/mnt/share", "nfs4")
    assert mount_of("/mnt/share", table) == Mount("/mnt/share", "nfs4")
    assert mount_of("/mnt/share2/notes", table) == Mount("/mnt/share2", "ext4")
    assert mount_of("/home/me", table) == Mount("/", "ext4")
    stacked = [*table, Mount("/mnt/share", "9p")]  # mounted over the first: the later one holds it
    assert mount_of("/mnt/share/x", stacked) == Mount("/mnt/share", "9p")


def test_doctor_warns_about_a_native_watch_on_a_network_mount(tmp_path: Path) -> None:
    share = tmp_path / "share"
    (share / "notes").mkdir(parents=True)
    local = tmp_path / "local"
    local.mkdir()
    table = [Mount("/", "ext4"), Mount(str(tmp_path.resolve()), "tmpfs"), Mount(str(share.resolve()), "nfs4")]

    def mounts() -> list[Mount]:
        return table

    native = WatchSettings(path=str(share / "notes"))
    later = WatchSettings(path=str(share / "not-yet" / "deeper"))  # judged by where it will be
    polled = WatchSettings(path=str(share / "notes"), poll=True)
    elsewhere = WatchSettings(path=str(local))
    found = unpolled_remote_watches([native, later, polled, elsewhere], mounts)
    assert [(path, mount.fstype) for path, mount in found] == [
        (str((share / "notes").resolve()), "nfs4"),
        (str((share / "not-yet" / "deeper").resolve()), "nfs4"),
    ]
    settings = parse_settings(f'[[watch]]\npath = "{share / "notes"}"\n', "config.toml")
    check = check_watch_mounts(settings, mounts)
    assert not check.ok and check.warning
    assert f"{(share / 'notes').resolve()} is on a nfs4 mount" in check.detail
    assert "set `poll = true`" in check.detail
    fixed = parse_settings(f'[[watch]]\npath = "{share / "notes"}"\npoll = true\n', "config.toml")
    assert check_watch_mounts(fixed, mounts).ok


def test_watch_add_poll_writes_the_keys(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    flowtui = Flowtui(home, ok_script(tmp_path / "claude"))
    notes = tmp_path / "notes"
    notes.mkdir()
    said = flowtui.ok(
        "watch", "add", str(notes), "--poll", "--poll-interval", "250", "--events", "added", "--content-hash"
    )
    assert f"watching {notes.resolve()} (workflow default, polled every 250 ms)" in said
    text = (home / "config.toml").read_text()
    for line in ("poll = true", "poll_interval_ms = 250", 'events = ["added"]', "content_hash = true"):
        assert line in text, text
    refused = flowtui.run("watch", "add", str(tmp_path / "other"), "--poll-interval", "5")
    assert refused.returncode != 0
    assert "poll_interval_ms: input should be greater than or equal to 50" in refused.stderr
    report = flowtui.run("doctor").stdout  # this machine's own mounts
    assert "ok    watch mounts: no watch without `poll` is on a network or 9p mount" in report, report
