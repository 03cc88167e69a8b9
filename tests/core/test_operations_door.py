"""The operations door: each method validates once (one-line InputError), commits (ledger,
config.toml, outbox) and wakes the engine; the handoff pairs every queued write with Huey;
and no surface reaches past the door."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
from enginekit import home_paths, settings_from

from core.config.settings import NOT_CONFIGURED, load_settings
from core.config.watch_path import watch_key
from core.errors import InputError
from core.host.state import open_shared_state
from core.jobs import JobState, RunOutcome
from core.ledger.notifications import Draft, NotificationStore
from core.ledger.sqlite import Ledger, NewJob
from core.ops.control import Control
from core.paths import Paths
from core.queue.transport import JobQueue
from core.wake.changes import Change

ROOT = Path(__file__).resolve().parents[2]

USER_CONFIG = """\
# my flowtui config
[workflows.notes]
prompt = "Tidy {prompt}"  # keep it short
"""


@dataclass
class Door:
    control: Control
    paths: Paths
    changes: list[Change] = field(default_factory=list)

    @property
    def queue(self) -> JobQueue:
        return self.control.queue


@pytest.fixture
def door(tmp_path: Path) -> Iterator[Door]:
    paths = home_paths(tmp_path / "home")
    paths.ensure_data_dir()
    paths.config_file.write_text(USER_CONFIG)
    changes: list[Change] = []
    ledger = Ledger(paths.ledger_db)
    control = Control(
        load_settings(paths.config_file), ledger, JobQueue(paths.queue_db), changes.append, paths=paths
    )
    try:
        yield Door(control, paths, changes)
    finally:
        ledger.close()


def one_line(error: pytest.ExceptionInfo[InputError]) -> str:
    text = str(error.value)
    assert text and "\n" not in text
    return text


def new_job(cwd: Path, approval: bool = False) -> NewJob:
    return NewJob("x", "default", "cli", str(cwd), max_attempts=3, awaiting_approval=approval)


# -- the handoff: ledger first, then Huey, in one place ------------------------------------


def test_handoff_submits_what_it_queues_and_holds_what_waits(door: Door, tmp_path: Path) -> None:
    handoff = door.control.handoff
    queued = handoff.create(new_job(tmp_path), "added")
    waiting = handoff.create(new_job(tmp_path, approval=True), "added")
    assert waiting.state is JobState.AWAITING_APPROVAL
    assert door.queue.known_job_ids() == {queued.id}
    assert handoff.approve(waiting.id, "approved") and not handoff.approve(waiting.id, "twice")
    assert door.queue.known_job_ids() == {queued.id, waiting.id}


def test_handoff_requeue_holds_or_submits_with_the_delay(door: Door, tmp_path: Path) -> None:
    handoff, ledger = door.control.handoff, door.control.ledger
    job = handoff.create(new_job(tmp_path), "added")
    door.queue.reset()
    assert ledger.claim(job.id, os.getpid()) is not None
    held = handoff.requeue(job.id, "superseded", refund_attempt=True, hold=True)
    assert held.state is JobState.QUEUED and held.attempts == 0
    assert door.queue.known_job_ids() == set()
    assert ledger.claim(job.id, os.getpid()) is not None
    later = ledger.clock.now() + timedelta(hours=1)
    failed = RunOutcome(state=JobState.FAILED, error="boom")
    retried = handoff.requeue(job.id, "retry in 1h", later, outcome=failed)
    assert retried.eta is not None and abs(retried.eta - later) < timedelta(milliseconds=1)
    assert [task.args[0] for task in door.queue.huey.scheduled()] == [job.id]


def test_handoff_defer_and_resubmit_keep_the_delay(door: Door, tmp_path: Path) -> None:
    handoff = door.control.handoff
    job = handoff.create(new_job(tmp_path), "added")
    door.queue.reset()
    tomorrow = door.control.ledger.clock.now() + timedelta(days=1)
    assert handoff.defer(job.id, tomorrow, "over budget")
    assert [task.args[0] for task in door.queue.huey.scheduled()] == [job.id]
    door.queue.reset()
    assert handoff.resubmit_all_queued() == 1
    assert [task.args[0] for task in door.queue.huey.scheduled()] == [job.id]
    assert door.queue.huey.pending() == []


def test_only_the_handoff_hands_jobs_to_huey() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for folder in ("core", "cli", "tui")
        for path in (ROOT / folder).rglob("*.py")
        if path != ROOT / "core/ops/handoff.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"\bqueue\.submit\(", line)
    ]
    assert offenders == []


# -- pause: the door notifies, the engine's own writes do not ---------------------------


def test_pause_notifies_and_the_engines_own_writes_do_not(door: Door) -> None:
    door.control.write_pause("rate limit until 12:00", "2030-01-01T12:00:00.000Z")
    state = door.control.pause_state()
    assert state.paused and state.until == "2030-01-01T12:00:00.000Z"
    door.control.write_resume()
    assert not door.control.pause_state().paused
    assert door.changes == []
    door.control.pause("by hand")
    door.control.resume()
    assert door.changes == [Change.PAUSE, Change.PAUSE]


# -- watches ------------------------------------------------------------------------------


def test_add_watch_writes_the_config_and_wakes_the_engine(door: Door, tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    added = door.control.add_watch(str(notes), workflow="notes", include=["*.md"], exclude=("drafts/",))
    assert (added.path, added.workflow, added.include, added.exclude) == (
        str(notes.resolve()),
        "notes",
        ["*.md"],
        ["drafts/"],
    )
    assert door.changes == [Change.WATCHES]
    text = door.paths.config_file.read_text()
    assert text.startswith("# my flowtui config") and "# keep it short" in text
    assert [watch.path for watch in load_settings(door.paths.config_file).watch] == [str(notes.resolve())]


def test_add_watch_refuses_bad_input_in_one_line_and_changes_nothing(door: Door, tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    door.control.add_watch(notes)
    before = door.paths.config_file.read_text()
    fifo = tmp_path / "a-fifo"
    os.mkfifo(fifo)
    cases = [
        ({"path": notes, "workflow": "nope"}, "unknown workflow 'nope': use one of default, notes"),
        ({"path": tmp_path, "include": ["!"]}, "bad glob '!'"),
        ({"path": fifo}, f"{fifo} is neither a directory nor a file"),
        (
            {"path": tmp_path / "missing", "must_exist": True},
            f"no such file or directory: {tmp_path / 'missing'}",
        ),
        ({"path": notes}, f"{notes.resolve()} is already watched: remove it first"),
        ({"path": f"{tmp_path}/a\x00b"}, "a path cannot contain a NUL character"),
        ({"path": "  "}, "give a directory (or a file) to watch"),
    ]
    for arguments, expected in cases:
        with pytest.raises(InputError) as error:
            door.control.add_watch(**arguments)  # type: ignore[arg-type]
        assert expected in one_line(error)
    assert door.paths.config_file.read_text() == before
    assert door.changes == [Change.WATCHES]  # only the one that was added


def test_a_missing_path_is_watched_once_it_appears_unless_it_must_exist(door: Door, tmp_path: Path) -> None:
    later = tmp_path / "later"
    assert door.control.add_watch(later).path == str(later)


def test_remove_and_enable_watch(door: Door, tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    door.control.add_watch(notes)
    assert door.control.set_watch_enabled(f"{notes}/", False).enabled is False
    assert "enabled = false" in door.paths.config_file.read_text()
    assert door.control.set_watch_enabled(notes, True).enabled is True
    assert door.control.remove_watch(notes) == str(notes.resolve())
    assert load_settings(door.paths.config_file).watch == []
    assert door.changes == [Change.WATCHES] * 4
    for call in (
        lambda: door.control.remove_watch(notes),
        lambda: door.control.set_watch_enabled(notes, False),
    ):
        with pytest.raises(InputError) as error:
            call()
        assert one_line(error).startswith(f"{notes.resolve()} is not watched")


def test_watch_changes_poke_this_machines_engine_only(tmp_path: Path) -> None:
    """From another process the door pokes the named pipe; watches and the outbox are this
    machine's files, so they are never announced to other machines."""
    assert not Change.WATCHES.shared and not Change.NOTIFICATIONS.shared
    assert Change.JOBS.shared and Change.PAUSE.shared and Change.CANCEL.shared
    paths = home_paths(tmp_path / "home")
    paths.ensure_data_dir()
    os.mkfifo(paths.wake_fifo)
    reader = os.open(paths.wake_fifo, os.O_RDONLY | os.O_NONBLOCK)
    control = open_shared_state(settings_from(), paths)
    try:
        control.add_watch(tmp_path)
        assert os.read(reader, 16) == b"!"
        control.remove_watch(tmp_path)
        assert os.read(reader, 16) == b"!"
    finally:
        control.ledger.close()
        os.close(reader)


def test_one_normal_form_for_a_watch_path(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    assert watch_key(tmp_path / "link") == watch_key(f"{real}/") == str(real.resolve())
    home = os.path.expanduser("~")
    assert watch_key("~/x") == str(Path(home, "x").resolve())
    assert watch_key(f"{tmp_path}/a\x00b") == f"{tmp_path}/a\x00b"  # left for the watch to report


# -- notifications --------------------------------------------------------------------------


def test_resend_notification(tmp_path: Path) -> None:
    paths = home_paths(tmp_path / "home")
    paths.ensure_data_dir()
    changes: list[Change] = []
    ledger = Ledger(paths.ledger_db)
    queue = JobQueue(paths.queue_db)
    store = NotificationStore(paths.ledger_db)
    try:
        (original,) = store.enqueue([Draft(42, "job done", "job", job_id=1)])
        unconfigured = Control(settings_from(), ledger, queue, changes.append, paths=paths)
        with pytest.raises(InputError) as error:
            unconfigured.resend_notification(77)
        assert one_line(error) == NOT_CONFIGURED  # why no row #77 exists, most likely
        control = Control(settings_from("[telegram]\n"), ledger, queue, changes.append, paths=paths)
        with pytest.raises(InputError) as error:
            control.resend_notification(77)
        assert one_line(error) == "no notification #77: see `flowtui notifications` for the ids that exist"
        assert changes == []
        copy = control.resend_notification(original.id)
        assert copy.id != original.id and copy.state == "pending" and copy.text == "job done"
        assert changes == [Change.NOTIFICATIONS]
        assert unconfigured.resend_notification(original.id).resent_from == original.id
    finally:
        store.close()
        ledger.close()


# -- the spool (the shared queue unreachable) -----------------------------------------------


def test_spool_checks_as_add_does(door: Door, tmp_path: Path) -> None:
    for arguments, expected in [
        (("x", "nope", tmp_path, None), "unknown workflow 'nope'"),
        (("x", "default", tmp_path / "gone", None), "working directory"),
        (("  ", "default", tmp_path, None), "the prompt is empty"),
    ]:
        with pytest.raises(InputError) as error:
            door.control.spool(*arguments)
        assert expected in one_line(error)
    path = door.control.spool("x", "notes", tmp_path, 3)
    assert path.parent == door.paths.spool_dir and '"priority": 3' in path.read_text()


# -- every surface goes through the door ----------------------------------------------------

DOOR_ONLY = {
    r"\bedit\.(add_watch|remove_watch|set_watch_enabled)\(": "watch edits",
    r"from core\.config\.edit import [^\n]*\b(add_watch|remove_watch|set_watch_enabled)\b": "watch edits",
    r"\bstore\.resend\(": "notification resend",
    r"\bspool_job\(": "spooling a job",
    r"\bledger\.(approve|defer|requeue|create)\(": "moving a job to queued",
    r"set_flag\(\s*(PAUSED_FLAG|PAUSED_UNTIL_FLAG|\"paused)": "pause flags",
}


def test_no_surface_reaches_past_the_door() -> None:
    surfaces = [
        *(ROOT / "cli").rglob("*.py"),
        *(ROOT / "tui").rglob("*.py"),
        ROOT / "core/telegram/commands.py",
    ]
    offenders = [
        f"{path.relative_to(ROOT)}: {what}"
        for path in surfaces
        if not path.name.startswith("demo")  # the screenshot scenes seed a ledger of their own
        for pattern, what in DOOR_ONLY.items()
        if re.search(pattern, path.read_text())
    ]
    assert offenders == []


def test_the_door_itself_matches_what_surfaces_must_not_do() -> None:
    """So the test above cannot pass by a rename alone."""
    door_text = "\n".join(path.read_text() for path in (ROOT / "core/ops").glob("*.py"))
    unmatched = [
        what
        for pattern, what in DOOR_ONLY.items()
        if "import" not in pattern and not re.search(pattern, door_text)
    ]
    assert unmatched == []


def test_the_door_is_the_only_caller_of_the_config_watch_edits() -> None:
    callers = {
        str(path.relative_to(ROOT))
        for folder in ("core", "cli", "tui")
        for path in (ROOT / folder).rglob("*.py")
        if re.search(r"\bedit\.(add_watch|remove_watch|set_watch_enabled)\(", path.read_text())
    }
    assert callers == {"core/ops/control.py"}


def test_an_answer_for_an_older_question_never_answers_the_next(door: Door, tmp_path: Path) -> None:
    """A Telegram button under question r1, pressed after the job moved on to r2: refused."""
    ledger = door.control.ledger
    job = door.control.handoff.create(new_job(tmp_path), "added")
    assert ledger.claim(job.id, os.getpid()) is not None
    asked = '{"kind": "tool", "tool": "Bash", "input": {"command": "touch %s"}, "request_id": "%s"}'
    ledger.set_waiting(job.id, asked % ("b", "r2"), "asks to use Bash: touch b")
    for answer in (
        lambda: door.control.approve(job.id, always=True, via="telegram", question="r1"),
        lambda: door.control.deny(job.id, via="telegram", question="r1"),
    ):
        with pytest.raises(InputError) as error:
            answer()
        assert one_line(error).startswith(f"job #{job.id} no longer waits for that answer")
    assert ledger.take_inputs(job.id) == []
    door.control.approve(job.id, via="telegram", question="r2")
    (entry,) = ledger.take_inputs(job.id)
    assert '"request_id": "r2"' in entry and '"allow": true' in entry


def test_approve_or_deny_on_a_finished_job_says_what_they_answer(door: Door, tmp_path: Path) -> None:
    """approve and deny answer a running job's tool question or a pre-run approval: on a job
    that has neither, the sentence says so (and the state it is in), and nothing changes."""
    ledger = door.control.ledger
    job = door.control.handoff.create(new_job(tmp_path), "added")
    assert ledger.claim(job.id, os.getpid()) is not None
    ledger.finish(job.id, RunOutcome(state=JobState.SUCCEEDED))
    for answer, command in ((door.control.approve, "approve"), (door.control.deny, "deny")):
        with pytest.raises(InputError) as error:
            answer(job.id)
        assert one_line(error) == (
            f"job #{job.id} has no question waiting (it is succeeded): {command} answers a running "
            "job's tool question, or a job awaiting approval before it runs"
        )
    assert door.control.get(job.id).state is JobState.SUCCEEDED
    assert ledger.take_inputs(job.id) == []
