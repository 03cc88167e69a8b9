"""A running engine follows config.toml: watches come and go without a restart, the others
keep every event, and a broken config changes nothing but is reported."""

from __future__ import annotations

from pathlib import Path

from enginekit import home_paths, wait_for
from fakeclaude import ok_script
from watchkit import changed_paths, watch_block, watching

from core.config.edit import add_watch, remove_watch
from core.events import ServiceFailed
from core.wake.doorbell import poke
from core.watch.status import read_statuses


def test_watch_add_and_rm_apply_at_once_and_other_watches_keep_their_events(tmp_path: Path) -> None:
    first = tmp_path / "first"
    second = tmp_path / "second"
    first.mkdir()
    second.mkdir()
    home = tmp_path / "home"
    with watching(home, watch_block(first), ok_script(tmp_path / "claude")) as w:
        w.wait_state(first, "active")
        kept = w.target(first)
        add_watch(home / "config.toml", second, settle_ms=60)
        poke(home_paths(home).wake_fifo)  # what `flowtui watch add` does after editing
        (first / "during-reload.txt").write_text("must not be lost")
        w.wait_state(second, "active")
        assert w.target(first) is kept  # untouched: its events kept flowing
        (second / "new-watch.txt").write_text("seen by the new watch")

        def listed() -> set[str]:
            return {f"{job.cwd}/{path}" for job in w.jobs() for path in changed_paths(job, Path(job.cwd))}

        wait_for(
            lambda: {f"{first}/during-reload.txt", f"{second}/new-watch.txt"} <= listed(),
            what="both changes to be jobs",
        )
        remove_watch(home / "config.toml", first)
        poke(home_paths(home).wake_fifo)
        wait_for(lambda: w.service.target(str(first)) is None, what="the first watch to stop")
        assert w.state(second) == "active"
        assert w.engine.ledger is not None
        ledger = w.engine.ledger
        wait_for(lambda: set(read_statuses(ledger)) == {str(second)}, what="the status board to follow")


def test_a_broken_config_keeps_the_running_watches_and_is_reported(tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    home = tmp_path / "home"
    with watching(home, watch_block(notes), ok_script(tmp_path / "claude")) as w:
        w.wait_state(notes, "active")
        kept = w.target(notes)
        config = home / "config.toml"
        config.write_text(watch_block(notes) + "busy = 'sometimes'\n")  # a hand edit gone wrong

        def reported() -> list[str]:
            return [event.reason for event in w.events if isinstance(event, ServiceFailed)]

        wait_for(lambda: any("config not applied" in reason for reason in reported()), what="a report")
        (line,) = [reason for reason in reported() if "config not applied" in reason]
        assert "busy" in line and "\n" not in line
        assert w.target(notes) is kept and w.state(notes) == "active"
        (notes / "still.md").write_text("still watched")
        assert changed_paths(w.wait_jobs(1)[0], notes) == ["still.md"]
        config.write_text(watch_block(notes) + "enabled = false\n")
        wait_for(lambda: w.service.target(str(notes)) is None, what="the watch to be disabled")
        assert w.engine.ledger is not None
        ledger = w.engine.ledger

        def state() -> str | None:
            status = read_statuses(ledger).get(str(notes))
            return status.state if status else None

        wait_for(lambda: state() == "disabled", what="a disabled status")
