"""A dialog that asks for something the shared state must accept: it closes only once it did.

The work runs where every operation runs (the dashboard's thread workers, in key order), so
the dialog hands its request over and waits for the answer: on success it closes with the
result, on failure it shows the one-line error in place and keeps what was typed, so the
next keys still go to it and never to the screen below.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar, Generic, TypeVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.screen import ModalScreen
from textual.widgets import Label

from core.display import one_line

RequestT = TypeVar("RequestT")
ResultT = TypeVar("ResultT")

Submit = Callable[[RequestT, Callable[[ResultT], None], Callable[[str], None]], None]
"""Runs a dialog's request (blocking work, off the app's thread) and answers on the app's
thread: ``done(result)`` once it is accepted, or ``failed(line)`` with the one-line error."""

SENDING = "…"
"""What the error line shows while a request waits for its answer."""


class SubmitDialog(ModalScreen[ResultT | None], Generic[RequestT, ResultT]):
    """A modal whose request is accepted or refused by the shared state before it closes."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Close")]

    def __init__(self, submit: Submit[RequestT, ResultT]) -> None:
        super().__init__()
        self._submit = submit
        self.pending = False
        """A request was handed over and has not been answered: a second one waits for it."""
        self._open = True

    def send(self, request: RequestT) -> None:
        """Hand ``request`` over; the dialog stays open (and editable) until the answer."""
        if self.pending:
            return  # a key held down must not queue the job twice
        self.pending = True
        self.show_error(SENDING)
        self._submit(request, self._accepted, self._refused)

    def show_error(self, line: str) -> None:
        self.query_one("#error", Label).update(Text(one_line(line, 500)))  # it quotes what was typed

    def _accepted(self, result: ResultT) -> None:
        self.pending = False
        if self._open:
            self._open = False
            self.dismiss(result)

    def _refused(self, line: str) -> None:
        self.pending = False
        if self._open:
            self.show_error(line)
        else:  # closed while it waited: the error must still be seen
            self.app.notify(line, severity="error")

    def action_close(self) -> None:
        self._open = False
        self.dismiss(None)
