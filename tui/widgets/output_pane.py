"""The output pane: the selected job's Claude output, rendered, streaming while it runs.

It reads the job's transcript (the full record) from where it left off whenever it is told
there is more, renders it with core's renderer, and keeps at most ``MAX_LINES`` lines, so
memory stays bounded however long a job talks. It follows the end until the user scrolls
up, then holds; ``follow()`` resumes.
"""

from __future__ import annotations

from pathlib import Path

from textual.reactive import reactive
from textual.widgets import Log

from core.claude_events import parse_event
from core.follow import TranscriptTail
from core.transcript import TranscriptRenderer, decode_transcript_line

MAX_LINES = 5_000
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

    def show_job(self, job_id: int | None, transcripts: list[Path]) -> None:
        """Switch to a job (or to nothing): earlier attempts are shown whole (up to their
        last 2 MB), and the latest one is read so far and then followed."""
        self.job_id = job_id
        self.clear()
        self._tail = None
        self.follow()
        if job_id is None:
            self.write("no job selected\n")
            return
        existing = [path for path in transcripts if path.exists()]
        if not existing:
            self.write(f"job #{job_id} has not started yet\n")
            return
        for number, path in enumerate(existing, start=1):
            if len(existing) > 1:
                self.write(f"── attempt {number} ──\n")
            self._start(path, job_id)
            while self.pull():  # earlier attempts are complete: read them to the end
                if path == existing[-1]:
                    break

    def _start(self, path: Path, job_id: int) -> None:
        self._renderer = TranscriptRenderer()
        self._tail = TranscriptTail(path)
        size = self._tail.size()
        if size > TAIL_BYTES:
            self._tail.skip_to(size - TAIL_BYTES)
            self.write(f"… earlier output is in `flowtui logs {job_id}`\n")

    def pull(self) -> int:
        """Render what was appended to the transcript since the last pull; returns lines read."""
        if self._tail is None:
            return 0
        parts = []
        count = 0
        for line in self._tail.new_lines():
            count += 1
            parts.append(self._renderer.feed_all(parse_event(decode_transcript_line(line))))
        text = "".join(parts)
        if text:
            self.write(text, scroll_end=self.following)
        return count

    def follow(self) -> None:
        self.following = True
        self.auto_scroll = True
        self.scroll_end(animate=False, immediate=True)

    def hold(self) -> None:
        self.following = False
        self.auto_scroll = False

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        # Scrolling up holds the view; scrolling back to the end follows again.
        if new < old and not self.is_vertical_scroll_end:
            self.hold()
        elif self.is_vertical_scroll_end and not self.following:
            self.follow()

    def watch_following(self, following: bool) -> None:
        self.set_class(not following, "-holding")
        self.border_subtitle = "" if following else "holding · f follows"
