"""While a watch's job waits or runs: changes join it, queue one more run, are skipped, or
restart it; the job's own changes never trigger it again unless the watch asks for that."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from enginekit import wait_for
from fakeclaude import ok_script
from watchkit import (
    FAST_SETTLE,
    Watching,
    blocking_script,
    changed_paths,
    self_editing_script,
    watch_block,
    watching,
)

from core.jobs import Job, JobState
from core.watch.timing import timing_for


def test_changes_join_the_job_while_it_is_still_queued(tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    with watching(tmp_path / "home", watch_block(notes), ok_script(tmp_path / "claude")) as w:
        assert w.engine.control is not None
        w.engine.control.pause("hold the job in the queue")
        w.wait_state(notes, "active")
        (notes / "a.md").write_text("a")
        first = w.wait_jobs(1)[0]
        target = w.target(notes)
        (notes / "b.md").write_text("b")
        wait_for(lambda: target.knows("b.md"), what="the second burst to settle")
        (job,) = w.jobs()
        assert job.id == first.id and job.state is JobState.QUEUED
        assert changed_paths(job, notes) == ["a.md", "b.md"]
        assert job.trigger == "a.md (+1 more)"
        assert w.engine.ledger is not None
        reasons = [event.reason for event in w.engine.ledger.events(job.id)]
        assert any("changes joined while waiting: b.md" in reason for reason in reasons)
        w.engine.control.resume()
        assert w.wait_done(job).state is JobState.SUCCEEDED
        assert len(w.jobs()) == 1


@contextmanager
def _busy(tmp_path: Path, policy: str) -> Iterator[tuple[Watching, Path, Path, Job]]:
    """A watch with busy ``policy`` whose first job runs (until released), its burst settled:
    the next change meets a running job."""
    notes = tmp_path / "notes"
    notes.mkdir()
    release = tmp_path / "release"
    config = watch_block(notes, f'{FAST_SETTLE}busy = "{policy}"\n')
    with watching(tmp_path / "home", config, blocking_script(tmp_path / "claude", release)) as w:
        w.wait_state(notes, "active")
        (notes / "a.md").write_text("a")
        first = w.wait_state_of(w.wait_jobs(1)[0], JobState.RUNNING)
        w.wait_quiet(notes)
        yield w, notes, release, first


def test_busy_queue_runs_once_more_with_everything_that_changed(tmp_path: Path) -> None:
    with _busy(tmp_path, "queue") as (w, notes, release, first):
        target = w.target(notes)
        (notes / "b.md").write_text("b")
        wait_for(lambda: target.held_paths == {"b.md"}, what="b.md to be held")
        (notes / "c.md").write_text("c")
        wait_for(lambda: target.held_paths == {"b.md", "c.md"}, what="c.md to be held")
        assert len(w.jobs()) == 1
        release.write_text("go")
        assert w.wait_done(first).state is JobState.SUCCEEDED
        second = w.wait_jobs(2)[-1]
        assert changed_paths(second, notes) == ["b.md", "c.md"]
        assert w.wait_done(second).state is JobState.SUCCEEDED
        assert len(w.jobs()) == 2


def test_busy_skip_drops_changes_made_while_it_runs(tmp_path: Path) -> None:
    with _busy(tmp_path, "skip") as (w, notes, release, first):
        target = w.target(notes)
        (notes / "skipped.md").write_text("while busy")
        wait_for(lambda: target.knows("skipped.md"), what="the busy burst to settle")
        release.write_text("go")
        w.wait_done(first)
        (notes / "after.md").write_text("after")
        second = w.wait_jobs(2)[-1]
        assert changed_paths(second, notes) == ["after.md"]
        assert len(w.jobs()) == 2


def test_busy_restart_cancels_the_run_and_reruns_with_both_changes(tmp_path: Path) -> None:
    with _busy(tmp_path, "restart") as (w, notes, release, first):
        (notes / "b.md").write_text("b")
        assert w.wait_done(first).state is JobState.CANCELLED
        second = w.wait_jobs(2)[-1]
        assert changed_paths(second, notes) == ["a.md", "b.md"]
        release.write_text("go")
        assert w.wait_done(second).state is JobState.SUCCEEDED
        assert len(w.jobs()) == 2


def test_the_running_jobs_own_change_does_not_trigger_it_again(tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    made = notes / "made-by-job.txt"
    with watching(tmp_path / "home", watch_block(notes), self_editing_script(tmp_path / "claude", made)) as w:
        w.wait_state(notes, "active")
        (notes / "request.md").write_text("please")
        first = w.wait_jobs(1)[0]
        assert w.wait_done(first).state is JobState.SUCCEEDED
        assert made.exists()
        target = w.target(notes)
        # A change reaching the watcher within the delivery delay after the job's tool call
        # ended is taken for the job's (nobody can tell who wrote it): a person's change
        # comes later than that.
        time.sleep(timing_for(60).delivery_seconds + 0.1)
        (notes / "user.md").write_text("a person's change")
        second = w.wait_jobs(2)[-1]
        assert changed_paths(second, notes) == ["user.md"], second.prompt
        w.wait_done(second)
        assert all("made-by-job" not in job.prompt for job in w.jobs())
        assert target.knows("made-by-job.txt")  # seen, and dropped as the job's own


def test_self_trigger_lets_the_jobs_own_change_trigger_it(tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    made = notes / "made-by-job.txt"
    config = watch_block(notes, f"{FAST_SETTLE}self_trigger = true\n")
    with watching(tmp_path / "home", config, self_editing_script(tmp_path / "claude", made)) as w:
        w.wait_state(notes, "active")
        (notes / "request.md").write_text("please")
        first = w.wait_jobs(1)[0]
        w.wait_done(first)
        second = w.wait_jobs(2)[-1]
        assert changed_paths(second, notes) == ["made-by-job.txt"]
        # The script leaves the file alone when its prompt names it: no loop.
        assert w.wait_done(second).state is JobState.SUCCEEDED
