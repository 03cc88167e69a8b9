"""Trees that fight back: symlink loops, unreadable directories, impossible paths.

Each is reported on its watch (status and reason), never a crash or a hang, and the rest
of the tree (and the other watches) keep working.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from clikit import Flowtui
from enginekit import wait_for
from fakeclaude import ok_script
from watchkit import changed_paths, watch_block, watching

from core.ledger.sqlite import Ledger
from core.watch.status import WatchStatus, read_statuses


def test_symlink_loops_are_reported_or_harmless(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "loop").symlink_to(".")
    (tree / "up").symlink_to("..")  # points outside the tree, at tmp_path
    looping_root = tmp_path / "self-loop"
    looping_root.symlink_to("self-loop")
    not_a_dir = tmp_path / "plain-file.txt"
    not_a_dir.write_text("a file")
    config = watch_block(tree) + watch_block(looping_root) + watch_block(not_a_dir / "sub")
    with watching(tmp_path / "home", config, ok_script(tmp_path / "claude")) as w:
        w.wait_state(tree, "active")
        wait_for(lambda: w.service.statuses().get(str(looping_root), None), what="the looping root's status")
        w.wait_state(looping_root, "error")
        assert "symlink loop" in w.service.statuses()[str(looping_root)].reason
        w.wait_state(not_a_dir / "sub", "error")
        assert "not a directory" in w.service.statuses()[str(not_a_dir / "sub")].reason
        (tree / "real.txt").write_text("x")
        job = w.wait_jobs(1)[0]
        assert changed_paths(job, tree) == ["real.txt"], job.prompt
        # The looping root heals once the loop is replaced by a directory.
        looping_root.unlink()
        looping_root.mkdir()
        w.wait_state(looping_root, "active")


def _unprivileged() -> list[str]:
    """A prefix that runs a command without root's power to read any directory."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: chmod 000 cannot block root's reads")
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search"]


@pytest.fixture
def locked_tree(tmp_path: Path) -> Iterator[tuple[Path, Path, Path]]:
    tree = tmp_path / "tree"
    locked = tree / "locked"
    locked.mkdir(parents=True)
    (locked / "secret.txt").write_text("unreadable")
    closed = tmp_path / "closed"
    closed.mkdir()
    locked.chmod(0)
    closed.chmod(0)
    yield tree, locked, closed
    locked.chmod(0o755)
    closed.chmod(0o755)


def test_chmod_000_directories_are_reported_and_heal(
    tmp_path: Path, locked_tree: tuple[Path, Path, Path]
) -> None:
    tree, locked, closed = locked_tree
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(watch_block(tree) + watch_block(closed))
    flowtui = Flowtui(home, ok_script(tmp_path / "claude"))
    serve = subprocess.Popen(
        [*_unprivileged(), *flowtui.argv("serve")],
        env=flowtui.env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert serve.stderr is not None
        for line in serve.stderr:
            if "engine running" in line:
                break
        else:
            raise AssertionError(f"serve did not start (exit {serve.wait()})")

        ledger = Ledger(home / "ledger.db")  # what `flowtui watch ls` reads, polled in-process

        def status(path: Path) -> WatchStatus:
            return read_statuses(ledger).get(str(path)) or WatchStatus(state="missing")

        def prompts() -> str:
            return "\n".join(job.prompt for job in ledger.list_jobs())

        wait_for(lambda: status(closed).state == "error", what="closed/ to be an error")
        wait_for(lambda: "locked" in status(tree).reason, what="locked/ to be reported")
        rows = {row["path"]: row for row in json.loads(flowtui.ok("watch", "ls", "--json"))}
        assert rows[str(closed)]["status"] == "error" and "permission denied" in rows[str(closed)]["reason"]
        assert rows[str(tree)]["status"] == "active" and "Permission denied" in rows[str(tree)]["reason"]

        (tree / "open.txt").write_text("the rest of the tree still counts")
        wait_for(lambda: "open.txt" in prompts(), what="a job for open.txt")

        closed.chmod(0o755)
        wait_for(lambda: status(closed).state == "active", what="closed/ to heal")
        locked.chmod(0o755)
        wait_for(lambda: status(tree).reason == "", what="locked/ to heal")
        (locked / "new.txt").write_text("now readable")
        wait_for(lambda: "locked/new.txt" in prompts(), what="a job for locked/new.txt")
        ledger.close()
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(timeout=30)


def test_changes_lost_by_the_kernel_are_found_by_the_rescan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """watchfiles drops the kernel's overflow notice: a big batch is checked by a rescan.

    The loss is simulated by dropping one file's events; every batch counts as big.
    """
    import core.watch.watcher as watcher

    monkeypatch.setattr(watcher, "RESCAN_BURST", 1)
    real_intake = watcher.WatchTarget._intake

    def lossy_intake(
        self: watcher.WatchTarget, rules: object, changes: set[tuple[object, str]], arrived: float
    ) -> bool:
        kept = {change for change in changes if not change[1].endswith("lost.txt")}
        return real_intake(self, rules, kept, arrived)  # type: ignore[arg-type]

    monkeypatch.setattr(watcher.WatchTarget, "_intake", lossy_intake)
    tree = tmp_path / "tree"
    tree.mkdir()
    with watching(tmp_path / "home", watch_block(tree), ok_script(tmp_path / "claude")) as w:
        w.wait_state(tree, "active")
        (tree / "lost.txt").write_text("its events never arrive")
        (tree / "seen.txt").write_text("x")

        def listed() -> set[str]:
            return {path for job in w.jobs() for path in changed_paths(job, tree)}

        wait_for(lambda: listed() == {"lost.txt", "seen.txt"}, what="the lost file to be found")
