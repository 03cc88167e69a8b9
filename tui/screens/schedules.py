"""The schedules: each ``[[schedule]]`` with its next and last run, whether it is paused, and
the runs it missed; ``r`` runs the selected one now, ``p`` pauses or resumes it.

The list is read through the door in a thread worker (the ledger may be Redis), on opening,
after each key, and every few seconds while open; the keys' operations run in order in
thread workers like the dashboard's, each answered by a toast.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Label

from core.clock import Clock
from core.errors import describe_failure
from core.ops.control import Control
from core.ops.schedules import ScheduleInfo
from core.summary import excerpt
from tui.operations import OperationDone, Operations
from tui.widgets.rows_table import RowsTable

log = logging.getLogger(__name__)

REFRESH_SECONDS = 5.0
"""While open, the list is read again this often (next runs move on, ticks happen)."""
STATE_STYLES = {"active": "$success", "paused": "$warning", "error": "bold $error", "disabled": "dim"}


def _when(moment: datetime | None, clock: Clock) -> str:
    if moment is None:
        return "-"
    local = clock.local(moment)
    today = clock.local().date()
    return f"{local:%H:%M}" if local.date() == today else f"{local:%a %d %b %H:%M}"


def missed_text(info: ScheduleInfo) -> str:
    """The runs it owes now, and what its last catch-up did (``5 · ran once``)."""
    parts = []
    if info.due:
        parts.append(f"{info.due} due")
    caught = info.last_catch_up
    if caught:
        ran = caught.get("ran")
        policy = caught.get("policy")
        parts.append(f"{caught.get('missed')} missed, {ran} run ({policy})")
    return " · ".join(parts) or "-"


class ScheduleList(RowsTable):
    """The schedules, one row each, keyed by name."""

    COLUMNS: ClassVar[tuple[str, ...]] = ("#", "Name", "State", "Next run", "Last run", "Missed", "Workflow")

    def sort_key(self, cell: object) -> int:
        return int(str(getattr(cell, "plain", cell)))

    def show_schedules(self, infos: list[ScheduleInfo], clock: Clock) -> None:
        variables = self.app.theme_variables
        rows = []
        for info in infos:
            style = STATE_STYLES.get(info.state, "")
            for name, replacement in variables.items():
                style = style.replace(f"${name}", replacement)
            state = Text(info.state, style=style)
            if info.problem:
                state.append(f" ({excerpt(info.problem, 30)})", style="dim")
            elif info.paused_at is not None:
                state.append(f" since {_when(info.paused_at, clock)}", style="dim")
            cells = (
                str(info.number),
                Text(excerpt(info.name, 40)),
                state,
                _when(info.next_run, clock),
                _when(info.last_run, clock),
                missed_text(info),
                Text(excerpt(info.schedule.workflow, 20)),
            )
            rows.append((info.name, cells))
        self.set_rows(rows, reorder=True)


class SchedulesScreen(ModalScreen[None]):
    """Every schedule, with keys to run one now and to pause or resume it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "run_now", "Run now"),
        Binding("p", "toggle_pause", "Pause / resume"),
        Binding("escape,S,q", "close", "Close"),
        Binding("j", "move(1)", "Down", show=False),
        Binding("k", "move(-1)", "Up", show=False),
    ]

    class Listed(Message, bubble=False):
        """The schedules were read (posted from the read's thread), or why they were not."""

        def __init__(self, infos: list[ScheduleInfo] | None, problem: str | None = None) -> None:
            super().__init__()
            self.infos = infos
            self.problem = problem

    def __init__(self, control: Callable[[], Control], clock: Clock, person: str) -> None:
        super().__init__()
        self._control = control
        self._clock = clock
        self._person = person
        self.infos: list[ScheduleInfo] = []
        self.operations = Operations(self, self.read)
        self._reading = False

    @property
    def busy(self) -> bool:
        """A read or an answer is on its way: what is drawn may be about to change (the
        screenshots wait)."""
        return self._reading or self.operations.busy

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog schedules"):
            yield Label("Schedules", classes="title")
            yield ScheduleList(id="schedule-list")
            yield Label("", id="schedules-empty", classes="hint")
            yield Label("r runs the selected one now · p pauses / resumes it · esc closes", classes="hint")

    def on_mount(self) -> None:
        self.query_one(ScheduleList).focus()
        self.read()
        self.set_interval(REFRESH_SECONDS, self.read)

    def read(self) -> None:
        """Read the schedules in a thread, unless a read is on its way."""
        if self._reading:
            return
        self._reading = True
        self.run_worker(self._read, thread=True, group="schedules")

    def _read(self) -> None:
        try:
            infos = self._control().schedules()
        except Exception as error:  # Redis away, a locked ledger: said in place, the window goes on
            line = describe_failure(error)
            if line is None:
                raise
            log.warning("reading the schedules failed: %s", line)
            self.post_message(self.Listed(None, line))
        else:
            self.post_message(self.Listed(infos))

    def on_schedules_screen_listed(self, message: SchedulesScreen.Listed) -> None:
        self._reading = False
        empty = self.query_one("#schedules-empty", Label)
        if message.infos is None:
            empty.update(Text(f"the schedules cannot be read: {message.problem}"))
            return
        self.infos = message.infos
        self.query_one(ScheduleList).show_schedules(self.infos, self._clock)
        empty.update(
            ""
            if self.infos
            else Text("no schedules: add a [[schedule]] with cron and workflow to the config")
        )

    def on_operation_done(self, message: OperationDone) -> None:
        self.operations.finish(message)

    @property
    def selected(self) -> ScheduleInfo | None:
        key = self.query_one(ScheduleList).selected_key
        return next((info for info in self.infos if info.name == key), None)

    def action_run_now(self) -> None:
        info = self.selected
        if info is None:
            self.notify("no schedule selected", severity="warning")
            return
        control, name, person = self._control, info.name, self._person
        self.operations.add(
            lambda: control().run_schedule(name, by=person), lambda job: f"{name}: queued #{job.id}"
        )

    def action_toggle_pause(self) -> None:
        info = self.selected
        if info is None:
            self.notify("no schedule selected", severity="warning")
            return
        control, name = self._control, info.name
        if info.paused:
            self.operations.add(lambda: control().resume_schedule(name), f"{name} resumed")
        else:
            self.operations.add(lambda: control().pause_schedule(name), f"{name} paused")

    def action_move(self, rows: int) -> None:
        table = self.query_one(ScheduleList)
        table.move_cursor(row=table.cursor_row + rows)

    def action_close(self) -> None:
        self.dismiss(None)
