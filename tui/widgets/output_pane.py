"""The output pane: the selected job's Claude output, rendered, streaming while it runs.

It reads the job's transcript (the full record) from where it left off whenever it is told
there is more, renders it with core's renderer, and keeps at most ``MAX_LINES`` lines, so
memory stays bounded however long a job talks. Lines wrap to the pane (``w`` toggles), ``/``
searches them, ``o`` / ``e`` hand the whole transcript to ``$PAGER`` / ``$EDITOR``. It follows
the end until the user scrolls up, then holds; ``follow()`` resumes. A job with no transcript
yet says why: queued, waiting for approval, or the error that stopped it before Claude started.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, ClassVar

from textual import events
from textual.binding import BindingType
from textual.reactive import reactive
from textual.scrollbar import ScrollTo, ScrollUp

from core.claude.events import parse_event
from core.claude.tail import TranscriptTail
from core.claude.transcript import TranscriptRenderer, decode_transcript_line
from core.display import printable
from core.jobs import Job, JobState
from tui.actions import OUTPUT_ACTIONS, bindings
from tui.pager import EDITOR, PAGER, Viewer, open_in_viewer
from tui.widgets.wrapped_log import WrappedLog

MAX_LINES = 5_000
PULL_BYTES = 128 * 1024
"""One read from the transcript; a pull reads these until PULL_BUDGET is spent."""
PULL_BUDGET_SECONDS = 0.006
"""A pull stops after this long, so keys stay answered while a fast job floods the pane."""
TAIL_BYTES = 2_000_000
"""A finished job's transcript is shown from its last 2 MB (``flowtui logs`` has it all)."""
SEARCH_ACTIONS = frozenset({"next_match", "previous_match", "close_search"})
"""Keys that mean something only while a search is kept (else the screen's n / N / esc act)."""


def not_started_text(job_id: int, job: Job | None) -> str:
    """What the pane says for a job whose (latest) attempt has no transcript."""
    if job is None:
        return f"job #{job_id} has not started yet"
    state = job.state
    if state is JobState.AWAITING_APPROVAL:
        return f"job #{job_id} is waiting for approval: y approves it, N denies it"
    if state is JobState.QUEUED:
        return f"job #{job_id} is queued: its output shows here when it starts"
    if state is JobState.RUNNING:
        return f"job #{job_id} is starting: Claude's output shows here as it comes"
    if state is JobState.FAILED:
        reason = job.error or "no error was recorded (enter shows its events)"
        return f"job #{job_id} failed before Claude started:\n{printable(reason)}"
    if state is JobState.CANCELLED:
        why = f": {printable(job.error)}" if job.error else ""
        return f"job #{job_id} was cancelled before Claude started{why}"
    return f"job #{job_id} finished without a transcript" + (
        f":\n{printable(job.answer)}" if job.answer else ""
    )


class OutputPane(WrappedLog):
    """Streams one transcript at a time."""

    BINDINGS: ClassVar[list[BindingType]] = bindings(OUTPUT_ACTIONS)

    following: reactive[bool] = reactive(True)

    def __init__(self, **kwargs: object) -> None:
        super().__init__(max_lines=MAX_LINES, **kwargs)
        self.job_id: int | None = None
        self.transcripts: list[Path] = []
        """Every attempt's transcript path of the job shown (some may not exist yet)."""
        self._job: Job | None = None
        self._tail: TranscriptTail | None = None
        self._renderer = TranscriptRenderer()
        self._awaited: Path | None = None  # the latest attempt's transcript, not there yet
        self._not_started = ""  # what the pane says about that attempt

    def show_job(self, job_id: int | None, transcripts: list[Path], job: Job | None = None) -> None:
        """Switch to a job (or to nothing): earlier attempts are shown whole (up to their
        last 2 MB), and the latest one is read so far and then followed. ``job`` (when
        known) says what an attempt without a transcript is waiting for or died of."""
        if job_id != self.job_id and self.search_query:
            self.search("")  # the matches were the other job's
        self.job_id = job_id
        self.transcripts = list(transcripts)
        self._job = job
        self.clear()
        self._tail = None
        self._awaited = None
        self.follow()
        if job_id is None:
            self.append("no job selected")
            return
        existing = [path for path in transcripts if path.exists()]
        if transcripts and transcripts[-1] not in existing:
            self._awaited = transcripts[-1]
        several = len(transcripts) > 1
        for number, path in enumerate(transcripts, start=1):
            if several:
                self.append(f"── attempt {number} ──\n")
            if path not in existing:
                if path == transcripts[-1]:
                    self._not_started = not_started_text(job_id, job)
                    self.append(self._not_started + "\n")
                else:
                    self.append("(no transcript: Claude did not start)\n")
                continue
            self._start(path, job_id)
            while self._read():  # earlier attempts are complete: read them to the end
                if path == transcripts[-1]:
                    break
        if self.search_query:
            self.search(self.search_query)

    def note_job(self, job: Job) -> None:
        """The shown job changed without a new attempt: a missing transcript's message follows
        its state (approved, started, failed), and a transcript that appeared is read."""
        if job.id != self.job_id:
            return
        self._job = job
        if self._awaited is None:
            return
        if self._awaited.exists() or not_started_text(job.id, job) != self._not_started:
            self.show_job(job.id, self.transcripts, job)

    def _start(self, path: Path, job_id: int) -> None:
        self._renderer = TranscriptRenderer()
        self._tail = TranscriptTail(path, max_read=PULL_BYTES)
        size = self._tail.size()
        if size > TAIL_BYTES:
            self._tail.skip_to(size - TAIL_BYTES)
            self.append(f"… earlier output is in `flowtui logs {job_id}`\n")

    def pull(self) -> int:
        """Render what was appended to the transcript since the last pull, within a time
        budget (the app pulls again while ``behind``); returns lines read."""
        if self._awaited is not None and self._awaited.exists() and self.job_id is not None:
            self.show_job(self.job_id, self.transcripts, self._job)  # the attempt has begun
        return self._read()

    def _read(self) -> int:
        if self._tail is None:
            return 0
        deadline = time.perf_counter() + PULL_BUDGET_SECONDS
        parts = []
        count = 0
        while True:
            for line in self._tail.new_lines():
                count += 1
                parts.append(self._renderer.feed_all(parse_event(decode_transcript_line(line))))
            if self._tail.caught_up or time.perf_counter() > deadline:
                break
        self.append("".join(parts), scroll_end=self.following)
        return count

    @property
    def behind(self) -> bool:
        """More of the transcript is on disk than was read (a fast job outran the pane)."""
        return self._tail is not None and not self._tail.caught_up

    def follow(self) -> None:
        self.following = True
        self.auto_scroll = True
        self.scroll_end(animate=False, immediate=True)

    def hold(self) -> None:
        self.following = False
        self.auto_scroll = False

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        # Scrolling back to the end follows again. (Only flags here: scrolling from inside a
        # scroll animation's last step breaks the animator.)
        if self.is_vertical_scroll_end and not self.following:
            self.following = True
            self.auto_scroll = True

    # Only the user's own scrolling up holds the view: a layout change (the question box
    # shown above, a resize, a re-wrap) can move scroll_y too, and must not stop following.

    def _user_scrolls_up(self) -> None:
        if self.max_scroll_y > 0:
            self.hold()

    def _on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        if not (event.ctrl or event.shift):
            self._user_scrolls_up()
        super()._on_mouse_scroll_up(event)

    def _on_scroll_up(self, event: ScrollUp) -> None:
        self._user_scrolls_up()
        super()._on_scroll_up(event)

    def _on_scroll_to(self, message: ScrollTo) -> None:
        if message.y is not None and message.y < self.max_scroll_y:
            self.hold()
        super()._on_scroll_to(message)

    def scroll_up(self, *args: Any, **kwargs: Any) -> None:
        self._user_scrolls_up()
        super().scroll_up(*args, **kwargs)

    def scroll_page_up(self, *args: Any, **kwargs: Any) -> None:
        self._user_scrolls_up()
        super().scroll_page_up(*args, **kwargs)

    def scroll_home(self, *args: Any, **kwargs: Any) -> None:
        self._user_scrolls_up()
        super().scroll_home(*args, **kwargs)

    def watch_following(self, following: bool) -> None:
        self.set_class(not following, "-holding")
        self._update_subtitle()

    def _update_subtitle(self) -> None:
        parts = []
        if not self.following:
            parts.append("holding · f follows")
        if not self.wrap:
            parts.append("no wrap · w wraps")
        if self.search_query:
            parts.append(f"/{printable(self.search_query)}: {self.search_verdict()} · n / N · esc")
        self.border_subtitle = " · ".join(parts)

    def watch_wrap(self, wrap: bool) -> None:
        super().watch_wrap(wrap)
        self._update_subtitle()

    # -- search -------------------------------------------------------------------------

    def search_verdict(self) -> str:
        """What the search found: "3 of 7", or "no match for 'x'"."""
        if not self.match_count:
            return f"no match for {printable(self.search_query)!r}"
        return f"{max(self.current_match, 1)} of {self.match_count}"

    def find(self, query: str) -> str:
        """Search for ``query`` now (the search box calls this as it is typed)."""
        self.search(query)
        if self.match_count:
            self.hold()  # the view stays on the match while the job streams on
        self._update_subtitle()
        return self.search_verdict() if query else ""

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in SEARCH_ACTIONS:
            return bool(self.search_query)  # False: the key goes on to the screen's binding
        return True

    def action_toggle_wrap(self) -> None:
        self.wrap = not self.wrap

    def action_search(self) -> None:
        from tui.screens.output_search import OutputSearchScreen

        def closed(query: str | None) -> None:
            if not query:
                self.action_close_search()
            self.refresh_bindings()

        self.app.push_screen(OutputSearchScreen(self.find, self.search_query), closed)

    def action_next_match(self) -> None:
        self.next_match(1)
        self.hold()
        self._update_subtitle()

    def action_previous_match(self) -> None:
        self.next_match(-1)
        self.hold()
        self._update_subtitle()

    def action_close_search(self) -> None:
        self.search("")
        self._update_subtitle()
        self.refresh_bindings()

    # -- the whole transcript elsewhere -------------------------------------------------

    def action_open_pager(self) -> None:
        self._open_in(PAGER)

    def action_open_editor(self) -> None:
        self._open_in(EDITOR)

    def _open_in(self, viewer: Viewer) -> None:
        if self.job_id is None:
            self.notify("no job selected", severity="warning")
            return
        if not any(path.exists() for path in self.transcripts):
            self.notify(f"job #{self.job_id} has no transcript yet", severity="warning")
            return
        open_in_viewer(self.app, viewer, self.job_id, self.transcripts, os.environ)
