"""The output pane: the selected job's Claude output, rendered, streaming while it runs.

It reads the job's transcript (the full record) from where it left off whenever it is told
there is more, renders it with core's renderer, and keeps at most ``MAX_LINES`` lines, so
memory stays bounded however long a job talks. It follows the end until the user scrolls
up, then holds; ``follow()`` resumes.
"""

from __future__ import annotations

import time
from pathlib import Path

from textual.reactive import reactive
from textual.widgets import Log

from core.claude.events import parse_event
from core.claude.tail import TranscriptTail
from core.claude.transcript import TranscriptRenderer, decode_transcript_line

MAX_LINES = 5_000
PULL_BYTES = 128 * 1024
"""One read from the transcript; a pull reads these until PULL_BUDGET is spent."""
PULL_BUDGET_SECONDS = 0.006
"""A pull stops after this long, so keys stay answered while a fast job floods the pane."""
TAIL_BYTES = 2_000_000
"""A finished job's transcript is shown from its last 2 MB (``flowtui logs`` has it all)."""


class OutputPane(Log):
    """Streams one transcript at a time."""

    following: reactive[bool] = reactive(True)

    def __init__(self, **kwargs: object) -> None:
        super().__init__(max_lines=MAX_LINES, auto_scroll=True, **kwargs)  # type: ignore[arg-type]
        self.job_id: int | None = None
        self._tail: TranscriptTail | None = None
        self._renderer = TranscriptRenderer()
        self._open_line = False  # the last line shown is still being streamed

    def show_job(self, job_id: int | None, transcripts: list[Path]) -> None:
        """Switch to a job (or to nothing): earlier attempts are shown whole (up to their
        last 2 MB), and the latest one is read so far and then followed."""
        self.job_id = job_id
        self.clear()
        self._open_line = False
        self._tail = None
        self.follow()
        if job_id is None:
            self.write_lines(["no job selected"])
            return
        existing = [path for path in transcripts if path.exists()]
        if not existing:
            self.write_lines([f"job #{job_id} has not started yet"])
            return
        for number, path in enumerate(existing, start=1):
            if len(existing) > 1:
                self._append(f"── attempt {number} ──\n")
            self._start(path, job_id)
            while self.pull():  # earlier attempts are complete: read them to the end
                if path == existing[-1]:
                    break

    def _start(self, path: Path, job_id: int) -> None:
        self._renderer = TranscriptRenderer()
        self._tail = TranscriptTail(path, max_read=PULL_BYTES)
        size = self._tail.size()
        if size > TAIL_BYTES:
            self._tail.skip_to(size - TAIL_BYTES)
            self._append(f"… earlier output is in `flowtui logs {job_id}`\n")

    def pull(self) -> int:
        """Render what was appended to the transcript since the last pull, within a time
        budget (the app pulls again while ``behind``); returns lines read."""
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
        self._append("".join(parts))
        return count

    @property
    def behind(self) -> bool:
        """More of the transcript is on disk than was read (a fast job outran the pane)."""
        return self._tail is not None and not self._tail.caught_up

    def _append(self, text: str) -> None:
        """One batched redraw per pull: Log.write redraws line by line (~28 µs a line), so
        whole lines go through write_lines and only a streamed line's ends through write.
        The Log's last line is either complete, or the line still streaming (``_open_line``)."""
        if not text:
            return
        *whole, rest = text.split("\n")
        if self._open_line:
            if not whole:
                self.write(rest, scroll_end=self.following)  # the line streams on
                return
            self.write(whole.pop(0), scroll_end=self.following)  # the open line ends
            self._open_line = False
        if whole:
            self.write_lines(whole, scroll_end=self.following)
        if rest:
            self.write(("\n" if self.line_count else "") + rest, scroll_end=self.following)
            self._open_line = True

    def follow(self) -> None:
        self.following = True
        self.auto_scroll = True
        self.scroll_end(animate=False, immediate=True)

    def hold(self) -> None:
        self.following = False
        self.auto_scroll = False

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        # Scrolling up holds the view; scrolling back to the end follows again. (Only flags
        # here: scrolling from inside a scroll animation's last step breaks the animator.)
        if new < old and not self.is_vertical_scroll_end:
            self.hold()
        elif self.is_vertical_scroll_end and not self.following:
            self.following = True
            self.auto_scroll = True

    def watch_following(self, following: bool) -> None:
        self.set_class(not following, "-holding")
        self.border_subtitle = "" if following else "holding · f follows"
