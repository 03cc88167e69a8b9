"""The dashboard: queue, output, watched paths and notifications, and every key that acts on them.

Attributes down, messages up: the app hands it a :class:`~tui.shared.Door` and snapshots of
the shared state (``show``); it tells the app with its own messages when a fresh read is
wanted or the output pane is behind. Every operation runs in a thread worker, one after the
other in the order the keys were pressed, and reports as a toast: the screen never waits on
the ledger, the outbox or Redis (see :mod:`tui.operations`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import suppress
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import ActiveBinding, BindingType
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Input

from core.claude.conversation import describe_input
from core.claude.limits import UsageReading, headline_reading
from core.clock import Clock
from core.display import one_line
from core.jobs import Job, JobSource, JobState
from core.ops.bulk import BulkVerb
from core.ops.control import not_running_to_tell
from tui import footer
from tui.actions import bindings
from tui.job_filter import JobFilter
from tui.operations import VIA, OperationDone, Operations, person, toggle_pause
from tui.review import Review
from tui.shared import Door, Snapshot, question_of
from tui.widgets.job_table import JobTable, needs_answer
from tui.widgets.jobs_hint import JobsHint, no_match_hint, start_hint
from tui.widgets.output_pane import OutputPane
from tui.widgets.question_box import QuestionBox
from tui.widgets.side_lists import NotificationList, WatchList
from tui.widgets.status_line import StatusLine

if TYPE_CHECKING:
    from tui.screens.new_job import NewJobRequest
    from tui.screens.watch_dialogs import WatchRequest

NOTHING_SHOWN = (0, 0)
LOWER_PANES = ("output", "watches", "notifications")
"""What the lower area shows on a narrow terminal, one at a time (``s`` goes to the next)."""
SELECTION_WAIT_READS = 3
"""How many reads a job just queued from here may take to show up before it is no longer selected."""
QUESTION_TOAST_SECONDS = 10.0
SETTLE_SECONDS = 0.15
"""How long the state drawn holds before the toast of a new question and the footer follow."""
SETTLE_LONGEST_SECONDS = 1.0
"""How long they follow a window that keeps changing at the latest."""
ANSWER_KEYS = "y / N / A"


class DashboardScreen(Screen[None]):
    """The main screen: draws the snapshots it is shown, acts through its door."""

    BINDINGS: ClassVar[list[BindingType]] = bindings()

    class RefreshWanted(Message):
        """Read the shared state again: an operation changed it."""

    class QuitWanted(Message):
        """The user asked to quit (the app decides whether to ask about running jobs)."""

    class OutputBehind(Message):
        """The output pane is behind this job's transcript: pull again on the next tick."""

        def __init__(self, job_id: int) -> None:
            super().__init__()
            self.job_id = job_id

    def __init__(self, door: Door, snapshot: Snapshot | None = None) -> None:
        super().__init__()
        self.door = door
        self.snapshot = snapshot
        """The state drawn now (None until the first read answers)."""
        self.job_filter = JobFilter()
        self.composed = False
        """Its panes exist (from its mount on), so the app can show the state in them."""
        self._shown_job: tuple[int, int] | None = None  # (job id, attempts) in the output pane
        self.lower_pane = LOWER_PANES[0]
        """The pane the lower area shows when the terminal is narrow."""
        self._select_next: tuple[int, int] | None = None  # (job id, reads left): queued here, to select
        self._cancelling: set[int] = set()  # running jobs asked to cancel: a toast when they end
        self._footer_contexts: frozenset[str] = frozenset()
        self._questions_seen: set[str] = set()  # request ids already announced with a toast
        self._settle_timer: Timer | None = None  # the toast and the footer follow when it fires
        self._settle_since = 0.0  # when the change it waits out came (monotonic s)
        self._jobs_title: Text | None = None  # the Jobs pane's border title drawn now
        self._draw_promptly = False  # a question's widgets changed: draw them without waiting for a tick
        self.operations = Operations(self, lambda: self.post_message(self.RefreshWanted()))
        self.review = Review(self, door, self.operations, lambda: self.person, lambda: self.snapshot)
        """Keep and discard, and the Diff view, for this screen and the ones it opens."""

    @property
    def busy(self) -> bool:
        """An operation is running or waiting for the one before it, or the toast and the
        footer have yet to follow the state drawn."""
        return self.operations.busy or self._settle_timer is not None

    def compose(self) -> ComposeResult:
        yield StatusLine(id="status")
        with Vertical(id="jobs-area"):
            jobs = JobTable(id="jobs")
            jobs.border_title = "Jobs"
            yield jobs
            yield JobsHint(id="jobs-hint")
        with Horizontal(id="lower", classes="-show-output"):
            with Vertical(id="output-area"):
                yield QuestionBox(id="question")
                output = OutputPane(id="output")
                output.border_title = "Output"
                yield output
            with Vertical(id="side"):
                watches = WatchList(id="watches")
                watches.border_title = "Watched paths"
                yield watches
                notifications = NotificationList(id="notifications")
                notifications.border_title = "Notifications"
                yield notifications
        yield Input(placeholder="filter: words, state:failed, source:telegram, workflow:NAME", id="filter")
        yield Footer(compact=True)  # compact: the keys of a focused pane fit at 80 columns

    def on_mount(self) -> None:
        self.composed = True
        self.query_one(JobTable).focus()
        self._draw()  # a dashboard put back after a failure shows the last state at once

    # -- rendering the shared state -------------------------------------------

    def show(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        # A snapshot read before the window closed (or before a failure replaced this screen)
        # can arrive after the panes were taken down: there is nothing left to draw on. Before
        # compose, ``composed`` keeps _draw from querying at all.
        with suppress(NoMatches):
            self._draw()
        self._settle_soon()

    def show_question_change(self, snapshot: Snapshot) -> None:
        """A question asked or ended, as this process's engine said it: only what shows it is
        drawn now (the header, the job's row, the question box), so its frame is small; the
        read that follows draws the rest."""
        before = self.snapshot
        asked_before = {question_of(job).get("request_id") for job in before.questions} if before else set()
        asked = any(question_of(job).get("request_id") not in asked_before for job in snapshot.questions)
        self.snapshot = snapshot
        if not self.composed:
            return
        with suppress(NoMatches):
            self._draw_status(snapshot)
            self._draw_jobs()
            job_id = self.query_one(JobTable).selected_job_id
            self._sync_question(snapshot.job(job_id) if job_id is not None else None)
            # An answer's frame waits for the tick: the answer goes to Claude first.
            self._draw_promptly = self._draw_promptly or asked
        self._settle_soon()

    async def _on_idle(self, event: events.Idle) -> None:
        """A question's frame is drawn once its widgets have handed their changes to this
        screen, instead of at the next of Textual's 60 fps ticks (up to 17 ms later)."""
        if (
            self._draw_promptly
            and (self._dirty_widgets or self._layout_required)
            and self._question_widgets_posted()
            and self.is_current
            and not self.app._batch_count
        ):
            self._on_timer_update()
            # It counts as a tick: the next frame (the read that follows) keeps 60 fps away
            # from it, so a key pressed at the sight of the question is handled first.
            self._update_timer.reset()
            return
        await super()._on_idle(event)

    def _on_timer_update(self) -> None:
        if self._question_widgets_posted():  # this frame draws the question, however it came
            self._draw_promptly = False
        super()._on_timer_update()

    def _question_widgets_posted(self) -> bool:
        """Each widget that shows a question has posted its change to this screen (Textual's
        Pilot draws a frame the same way, through ``_on_timer_update``)."""
        try:
            widgets = (self.query_one(StatusLine), self.query_one(JobTable), self.query_one(QuestionBox))
        except NoMatches:  # the panes are being taken down
            return False
        return not any(widget._repaint_required or widget._layout_required for widget in widgets)

    def _settle_soon(self) -> None:
        """The toast of a new question and the footer follow the state once it has held for
        ``SETTLE_SECONDS`` (at the latest ``SETTLE_LONGEST_SECONDS`` after the first change):
        their widgets are mounted anew, and a state that lasts less than that (a question
        answered at once) costs no frames, nor delays the next key."""
        now = time.monotonic()
        if self._settle_timer is None:
            self._settle_since = now
            self._settle_timer = self.set_timer(SETTLE_SECONDS, self._settled)
        elif now - self._settle_since < SETTLE_LONGEST_SECONDS - SETTLE_SECONDS:
            self._settle_timer.reset()

    def _settled(self) -> None:
        self._settle_timer = None
        snapshot = self.snapshot
        if snapshot is None:
            return
        self._announce_questions(snapshot)
        with suppress(NoMatches):  # a screen being taken down has no table
            self._refresh_footer()

    def show_unreachable(self, reason: str) -> None:
        """The shared state cannot be read now: say so; the panes keep the last state read."""
        engine = self.snapshot.session if self.snapshot is not None else self.door.session.describe()
        with suppress(NoMatches):  # as in show: a screen being taken down has no status line
            self.query_one(StatusLine).show_unreachable(engine, reason)

    def _draw(self) -> None:
        snapshot = self.snapshot
        if snapshot is None or not self.composed:
            return
        self._draw_status(snapshot)
        self._draw_jobs()
        self.query_one(WatchList).show_watches(list(snapshot.watches))
        self.query_one(NotificationList).show_notifications(list(snapshot.notifications))
        self._sync_output()
        self._count_selection_wait()
        self._say_cancelled(snapshot)

    def _draw_status(self, snapshot: Snapshot) -> None:
        overview = snapshot.overview
        leader = snapshot.leader
        self.query_one(StatusLine).show(
            snapshot.session + (f" · leader: {leader}" if leader else ""),
            overview.pause,
            overview.counts,
            overview.spent_today_usd,
            snapshot.telegram,
            claude_problem=snapshot.claude_problem,
            config_note=snapshot.config_note,
            needs_you=len(snapshot.questions),
            usage=usage_headline(list(overview.usage), self.door.session.clock),
            to_review=overview.worktrees_to_review,
        )

    def _draw_jobs(self) -> None:
        if self.snapshot is None:
            return
        jobs = [job for job in self.snapshot.jobs if self.job_filter.matches(job)]
        table = self.query_one(JobTable)
        table.show_jobs(jobs, self.snapshot.taken_at)
        typed = self.query_one("#filter", Input).value
        filtered = f" · filter: {one_line(typed, 60)}" if self.job_filter.active else ""
        title = Text(f"Jobs ({len(jobs)}){filtered}")  # a border title str is markup
        if title != self._jobs_title:  # setting one repaints the whole table, even the same one
            self._jobs_title = title
            table.border_title = title
        if jobs:
            hint = None
        elif self.job_filter.active:
            hint = no_match_hint(self.job_filter.problem)
        else:
            hint = start_hint(self.snapshot.telegram_configured)
        self.query_one(JobsHint).show_hint(hint)
        self._select_queued(table)

    def select_job(self, job_id: int) -> None:
        """A job this window just queued: select it (and show its output) as soon as a read
        has it."""
        self._select_next = (job_id, SELECTION_WAIT_READS)

    def _select_queued(self, table: JobTable) -> None:
        if self._select_next is not None and str(self._select_next[0]) in table.rows:
            job_id = self._select_next[0]
            self._select_next = None
            table.move_cursor(row=table.get_row_index(str(job_id)))
            self._sync_output()

    def _count_selection_wait(self) -> None:
        """One more read came without the job to select: the read that has it may still be on
        its way (it started before the job was queued), or the filter hides it."""
        if self._select_next is not None:
            job_id, reads_left = self._select_next
            self._select_next = (job_id, reads_left - 1) if reads_left > 1 else None

    def _say_cancelled(self, snapshot: Snapshot) -> None:
        """A running job asked to cancel ended: say how (it may have finished first)."""
        for job_id in sorted(self._cancelling):
            job = snapshot.job(job_id)
            if job is None or job.state.is_final:
                self._cancelling.discard(job_id)
                if job is not None:
                    cancelled = job.state is JobState.CANCELLED
                    self.notify(f"#{job_id} cancelled" if cancelled else f"#{job_id} {job.state} first")

    def _announce_questions(self, snapshot: Snapshot) -> None:
        """A question that arrived since the last read: a toast, whichever job is selected
        (once per question; the header keeps the count)."""
        asked = {str(question_of(job).get("request_id", "")): job for job in snapshot.questions}
        for request_id, job in asked.items():
            if request_id not in self._questions_seen:
                self.notify(
                    f"#{job.id} asks to use {self._tool(job)}: {one_line(self._summary(job), 120)}"
                    f" · {ANSWER_KEYS}",
                    severity="warning",
                    timeout=QUESTION_TOAST_SECONDS,
                )
        self._questions_seen = set(asked)

    def _summary(self, job: Job) -> str:
        """What the job's question would run or change, on one line."""
        preview = self.snapshot.previews.get(job.id) if self.snapshot is not None else None
        if preview is not None:
            return preview.summary
        tool_input = question_of(job).get("input")
        return describe_input(tool_input if isinstance(tool_input, dict) else {})

    def _sync_question(self, job: Job | None) -> None:
        asking = job if job is not None and needs_answer(job) else None
        preview = self.snapshot.previews.get(asking.id) if asking is not None and self.snapshot else None
        self.query_one(QuestionBox).show_question(asking, preview)

    def _sync_output(self) -> None:
        job_id = self.query_one(JobTable).selected_job_id
        output = self.query_one(OutputPane)
        selected = self.snapshot.job(job_id) if self.snapshot is not None and job_id is not None else None
        self._sync_question(selected)
        if job_id is None:
            if self._shown_job != NOTHING_SHOWN:
                self._shown_job = NOTHING_SHOWN
                output.show_job(None, [])
            return
        job = self.snapshot.job(job_id) if self.snapshot is not None else None
        if job is None:
            return
        key = (job.id, job.attempts)
        if key != self._shown_job:
            self._shown_job = key
            paths = self.door.paths
            output.show_job(
                job.id, [paths.transcript_for(job.id, n) for n in range(1, max(job.attempts, 1) + 1)], job
            )
            output.border_title = f"Output · #{job.id}"
        else:
            output.note_job(job)
            output.pull()
        if output.behind:
            self.post_message(self.OutputBehind(job.id))

    def pull_output(self, job_id: int) -> bool:
        """New output for ``job_id`` was published: read it if that job is shown; True
        while the pane is still behind the transcript."""
        try:
            output = self.query_one(OutputPane)
        except NoMatches:  # the window is closing: the panes were taken down
            return False
        if output.job_id != job_id:
            return False
        output.pull()
        return output.behind

    def on_data_table_row_highlighted(self, event: JobTable.RowHighlighted) -> None:
        if event.data_table.id == "jobs" and self.composed:
            self._sync_output()
        self._refresh_footer()

    def on_data_table_row_selected(self, event: JobTable.RowSelected) -> None:
        if event.data_table.id == "jobs":
            self.action_open_job()

    # -- operations, in thread workers (tui.operations) --------------------------

    def on_operation_done(self, message: OperationDone) -> None:
        self.operations.finish(message)  # a fresh read follows: what a key changed shows at once

    # -- actions --------------------------------------------------------------

    def _selected_job_id(self) -> int | None:
        job_id = self.query_one(JobTable).selected_job_id
        if job_id is None:
            self.notify("no job selected", severity="warning")
        return job_id

    def _selected_job(self) -> Job | None:
        job_id = self._selected_job_id()
        if job_id is None or self.snapshot is None:
            return None
        return self.snapshot.job(job_id)

    def action_toggle_pause(self) -> None:
        door = self.door
        self.operations.add(lambda: toggle_pause(door.control), str)  # control: read in the thread

    def action_new_job(self) -> None:
        from tui.screens.new_job import NewJobScreen

        door = self.door

        def submit(
            request: NewJobRequest, done: Callable[[Job], None], failed: Callable[[str], None]
        ) -> None:
            self.operations.add(
                lambda: door.control.add(
                    request.prompt, workflow=request.workflow, cwd=request.cwd, source=JobSource.TUI
                ),
                lambda job: f"queued #{job.id}",
                then=self._then_select(done),
                failed=failed,
            )

        workflows = door.control.settings.workflow_names()
        self.app.push_screen(NewJobScreen(workflows, str(door.default_cwd), submit))

    def action_retry(self) -> None:
        job_id = self._selected_job_id()
        if job_id is not None:
            door = self.door
            self.operations.add(
                lambda: door.control.retry(job_id),
                lambda job: f"queued #{job.id} (retry of #{job_id})",
                then=self._then_select(),
            )

    def _then_select(self, done: Callable[[Job], None] | None = None) -> Callable[[Job], None]:
        """What follows a job queued from here: ``done`` (a dialog closes), then the new job
        becomes the selected one."""

        def then(job: Job) -> None:
            if done is not None:
                done(job)
            self.select_job(job.id)

        return then

    def action_cancel(self) -> None:
        from tui.screens.confirm import ConfirmScreen

        job = self._selected_job()
        if job is None:
            return
        job_id = job.id

        def confirmed(yes: bool | None) -> None:
            if yes:
                door = self.door
                toast, then = self._cancel_toast(job_id), self._cancel_asked(job_id)
                self.operations.add(lambda: door.control.cancel(job_id), toast, then)

        if job.state is JobState.RUNNING:
            self.app.push_screen(
                ConfirmScreen(f"Job #{job_id} is running. Cancel it?", yes="Cancel it"), confirmed
            )
        else:
            confirmed(True)

    @staticmethod
    def _cancel_toast(job_id: int) -> Callable[[JobState], str]:
        def toast(state: JobState) -> str:
            return f"#{job_id} cancelled" if state is JobState.CANCELLED else f"cancelling #{job_id}…"

        return toast

    def _cancel_asked(self, job_id: int) -> Callable[[JobState], None]:
        def then(state: JobState) -> None:
            if state is not JobState.CANCELLED:  # being ended: say so when its state changes
                self._cancelling.add(job_id)

        return then

    def action_retry_shown(self) -> None:
        from tui.bulk import act_on_shown

        act_on_shown(self, BulkVerb.RETRY)

    def action_cancel_shown(self) -> None:
        from tui.bulk import act_on_shown

        act_on_shown(self, BulkVerb.CANCEL)

    def action_follow_up(self) -> None:
        from tui.screens.new_job import FollowUpScreen

        job = self._selected_job()
        if job is None:
            return
        job_id = job.id
        if not job.session_id:
            self.notify(f"job #{job_id} has no Claude session to continue yet", severity="warning")
            return

        door = self.door

        def submit(prompt: str, done: Callable[[Job], None], failed: Callable[[str], None]) -> None:
            self.operations.add(
                lambda: door.control.followup(job_id, prompt, source=JobSource.TUI),
                lambda new: f"queued #{new.id} (follow-up)",
                then=self._then_select(done),
                failed=failed,
            )

        self.app.push_screen(FollowUpScreen(job_id, job.session_id, submit))

    def action_open_job(self) -> None:
        from tui.screens.job_detail import JobDetailScreen

        job = self._selected_job()
        if job is not None:
            self.app.push_screen(JobDetailScreen(job, self.door, lambda: self.snapshot, review=self.review))

    def action_diff(self) -> None:
        job = self._selected_job()
        if job is not None:
            self.review.open_diff(job)

    def action_keep(self) -> None:
        job_id = self._selected_job_id()
        if job_id is not None:
            self.review.keep(job_id)

    def action_discard(self) -> None:
        job = self._selected_job()
        if job is not None:
            self.review.discard(job)

    @property
    def person(self) -> str:
        """Who answers from this window, as the job's history says it."""
        return person(self.door.session.environ)

    def action_approve(self) -> None:
        """Yes to what the selected job waits for: its approval, or its tool question once."""
        job = self._selected_job()
        if job is None:
            return
        job_id, door, by = job.id, self.door, self.person
        if needs_answer(job):
            tool = self._tool(job)
            self.operations.add(
                lambda: door.control.approve(job_id, by=by, via=VIA), f"allowed {tool} for #{job_id}"
            )
        else:
            self.operations.add(lambda: door.control.approve(job_id, by=by, via=VIA), f"approved #{job_id}")

    def action_allow_always(self) -> None:
        """Allow the tool the selected job asks for, for the rest of the job (its retries and
        follow-ups too)."""
        job = self._selected_job()
        if job is None:
            return
        if not needs_answer(job):
            self.notify(
                f"job #{job.id} asks to use no tool: A answers a tool question (? needs you)",
                severity="warning",
            )
            return
        job_id, door, by, tool = job.id, self.door, self.person, self._tool(job)
        self.operations.add(
            lambda: door.control.approve(job_id, by=by, always=True, via=VIA),
            f"allowed {tool} always for #{job_id}",
        )

    def action_deny(self) -> None:
        """No to what the selected job waits for: a job awaiting approval is cancelled; a tool
        question asks for an optional reason first (Claude reads it)."""
        job = self._selected_job()
        if job is None:
            return
        job_id, door, by = job.id, self.door, self.person
        if not needs_answer(job):
            self.operations.add(lambda: door.control.deny(job_id, by=by, via=VIA), f"denied #{job_id}")
            return
        from tui.screens.answer import DenyScreen

        tool, summary = self._tool(job), self._summary(job)

        def submit(reason: str, done: Callable[[Job], None], failed: Callable[[str], None]) -> None:
            self.operations.add(
                lambda: door.control.deny(job_id, by=by, reason=reason or None, via=VIA),
                f"denied {tool} for #{job_id}" + (f": {one_line(reason, 80)}" if reason else ""),
                then=done,
                failed=failed,
            )

        self.app.push_screen(DenyScreen(job_id, tool, summary, submit))

    def action_tell(self) -> None:
        """A message into the selected running job's Claude process (its next turn)."""
        job = self._selected_job()
        if job is None:
            return
        if job.state is not JobState.RUNNING:
            self.notify(not_running_to_tell(job.id, job.state), severity="warning")
            return
        from tui.screens.answer import TellScreen

        job_id, door, by = job.id, self.door, self.person

        def submit(message: str, done: Callable[[Job], None], failed: Callable[[str], None]) -> None:
            self.operations.add(
                lambda: door.control.tell(job_id, message, by=by, via=VIA),
                f"told #{job_id}: {one_line(message, 80)}",
                then=done,
                failed=failed,
            )

        self.app.push_screen(TellScreen(job_id, submit))

    @staticmethod
    def _tool(job: Job) -> str:
        return one_line(str(question_of(job).get("tool") or "the tool"), 60)

    def action_add_watch(self) -> None:
        from tui.screens.watch_dialogs import AddWatchScreen

        sources = self.door.sources

        def submit(request: WatchRequest, done: Callable[[str], None], failed: Callable[[str], None]) -> None:
            self.operations.add(
                lambda: sources.add_watch(
                    request.path, request.workflow, request.include, request.exclude, request.poll
                ),
                lambda path: f"watching {path}",
                then=done,
                failed=failed,
            )

        if self.snapshot is not None:
            workflows = list(self.snapshot.watch_workflows)
        else:
            workflows = self.door.control.settings.workflow_names()
        self.app.push_screen(AddWatchScreen(workflows, submit))

    def action_remove_watch(self) -> None:
        from tui.screens.confirm import ConfirmScreen

        watches = self.query_one(WatchList)
        path = watches.selected_key if self.focused is watches else None
        if path is None:  # only the watch the user sees selected: a palette entry can get here too
            self.notify(f"no watch selected: {self._way_to('watches')}", severity="warning")
            return
        sources = self.door.sources

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.operations.add(lambda: sources.remove_watch(path), f"stopped watching {path}")

        self.app.push_screen(ConfirmScreen(f"Stop watching {path}?", yes="Remove"), confirmed)

    def action_test_path(self) -> None:
        from tui.screens.watch_dialogs import TestPathScreen

        self.app.push_screen(TestPathScreen(self.door.sources.explain))

    def action_schedules(self) -> None:
        from tui.screens.schedules import SchedulesScreen

        door = self.door
        self.app.push_screen(SchedulesScreen(lambda: door.control, door.session.clock, self.person))

    def action_resend(self) -> None:
        notifications = self.query_one(NotificationList)
        note_id = notifications.selected_notification_id if self.focused is notifications else None
        if note_id is None:
            self.notify(f"no notification selected: {self._way_to('notifications')}", severity="warning")
            return
        sources = self.door.sources
        self.operations.add(lambda: sources.resend_notification(note_id), lambda new: f"queued #{new}")

    def action_open_pager(self) -> None:
        self.query_one(OutputPane).action_open_pager()  # the pane shows the selected job

    def action_open_editor(self) -> None:
        self.query_one(OutputPane).action_open_editor()

    def action_follow(self) -> None:
        self.query_one(OutputPane).follow()

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.add_class("-shown")
        box.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            self.job_filter = JobFilter.parse(event.value)
            self._draw_jobs()
            self._sync_output()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter":
            self.query_one(JobTable).focus()

    def action_clear_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.value = ""
        box.remove_class("-shown")
        self.job_filter = JobFilter()
        self.query_one(JobTable).focus()
        self._draw_jobs()
        self._sync_output()
        self._refresh_footer()

    def action_cursor_down(self) -> None:
        if isinstance(self.focused, DataTable):
            self.focused.action_cursor_down()
        elif isinstance(self.focused, OutputPane):
            self.focused.scroll_down()

    def action_cursor_up(self) -> None:
        if isinstance(self.focused, DataTable):
            self.focused.action_cursor_up()
        elif isinstance(self.focused, OutputPane):
            self.focused.scroll_up()

    def action_cursor_first(self) -> None:
        self._select_pane_end(last=False)

    def action_cursor_last(self) -> None:
        self._select_pane_end(last=True)

    def _select_pane_end(self, last: bool) -> None:
        focused = self.focused
        if isinstance(focused, DataTable):
            if focused.row_count:
                focused.move_cursor(row=focused.row_count - 1 if last else 0)
        elif isinstance(focused, OutputPane):
            if last:
                focused.scroll_end(animate=False)
            else:
                focused.scroll_home(animate=False)

    # -- narrow terminals: one lower pane at a time ----------------------------------

    @property
    def narrow(self) -> bool:
        return self.has_class("-narrow")

    def action_switch_side(self) -> None:
        following = LOWER_PANES[(LOWER_PANES.index(self.lower_pane) + 1) % len(LOWER_PANES)]
        self.show_lower(following)
        pane = self.query_one(f"#{following}")
        if following != "output":
            pane.focus()  # its keys (d, t, R) act on what is now in view
        elif self.focused is None or isinstance(self.focused, WatchList | NotificationList):
            self.query_one(JobTable).focus()  # the side pane it had went out of view
        titles = {"output": "Output", "watches": "Watched paths", "notifications": "Notifications"}
        self.notify(f"showing {titles[following]} · s shows the next", timeout=2)

    def show_lower(self, pane: str) -> None:
        """Which pane the lower area shows while the terminal is narrow."""
        self.lower_pane = pane
        lower = self.query_one("#lower")
        for name in LOWER_PANES:
            lower.set_class(name == pane, f"-show-{name}")
        self._refresh_footer()

    def _shown(self, pane: str) -> bool:
        return not self.narrow or self.lower_pane == pane

    def _way_to(self, pane: str) -> str:
        """How to get to ``pane`` from here, for a key that needs its selection."""
        if not self._shown(pane):
            return "press s until it shows, then pick one"
        return "tab to it first"

    def on_resize(self) -> None:
        # The breakpoint classes change in the same resize: read them once they are set.
        self.call_after_refresh(self._layout_changed)

    def _layout_changed(self) -> None:
        focused = self.focused
        if self.narrow and focused is not None and focused.id in LOWER_PANES[1:]:
            self.show_lower(str(focused.id))  # narrowed with a side pane focused: keep it in view
        self._refresh_footer()

    # -- the footer: the keys of what is focused and selected ------------------------

    def _contexts(self) -> frozenset[str]:
        table = self.query_one(JobTable)
        job_id = table.selected_job_id
        job = self.snapshot.job(job_id) if self.snapshot is not None and job_id is not None else None
        return footer.contexts(self.focused, job, self.narrow, self.job_filter.active)

    def _refresh_footer(self) -> None:
        """Redraw the footer when what it shows changed (not on every snapshot)."""
        contexts = self._contexts()
        if contexts != self._footer_contexts:
            self._footer_contexts = contexts
            self.refresh_bindings()

    def on_descendant_focus(self) -> None:
        self._footer_contexts = self._contexts()  # Textual refreshes the bindings after a focus change

    @property
    def active_bindings(self) -> dict[str, ActiveBinding]:
        return footer.shown_in(super().active_bindings, self._contexts())

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Keys act only on what is in view: ``d`` and ``R`` on their focused pane, ``s`` on
        a narrow terminal; home/end/g/G pass to an input that has focus."""
        focused = self.focused
        if action == "switch_side":
            return self.narrow
        if action == "remove_watch":
            return isinstance(focused, WatchList)
        if action == "resend":
            return isinstance(focused, NotificationList)
        if action in ("cursor_first", "cursor_last"):
            return isinstance(focused, DataTable | OutputPane)
        return True

    def action_help(self) -> None:
        from tui.screens.help import HelpScreen

        self.app.push_screen(HelpScreen())

    def action_request_quit(self) -> None:
        self.post_message(self.QuitWanted())  # the app asks first when its engine runs jobs


def usage_headline(readings: list[UsageReading], clock: Clock) -> str | None:
    """The subscription window nearest its limit, as the header says it (``5h 93% · resets 17:00``)."""
    reading = headline_reading(readings, clock.now())
    return reading.describe(clock) if reading is not None else None
