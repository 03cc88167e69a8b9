"""Keeping and discarding a job's changes from the window: the Jobs pane, the details and the
Diff view all ask here, and it asks the door, in the dashboard's operations (one after the
other in key order, off the window's thread). Discarding asks first; a refusal (a conflict,
uncommitted changes in the same files) is the door's one line and changes nothing."""

from __future__ import annotations

from collections.abc import Callable

from textual.widget import Widget

from core.jobs import REVIEW_DISCARDED, REVIEW_KEPT, Job
from tui.operations import Operations
from tui.shared import Door, Snapshot

Done = Callable[[Job], None]
Failed = Callable[[str], None]


def kept_toast(job: Job) -> str:
    return f"kept #{job.id}: {job.branch} merged into {job.base_branch}"


def discarded_toast(job: Job) -> str:
    return f"discarded #{job.id}: its worktree and {job.branch} removed"


def discard_question(job: Job) -> str:
    """What the confirmation asks: the changes not kept are gone."""
    return (
        f"Discard job #{job.id}'s changes? Its worktree and branch {job.branch} are removed, "
        "and changes not kept are gone."
    )


class Review:
    """The window's keep and discard, for whichever screen asked (``node`` runs the work and
    shows its toasts: the dashboard)."""

    def __init__(
        self,
        node: Widget,
        door: Door,
        operations: Operations,
        person: Callable[[], str],
        latest: Callable[[], Snapshot | None],
    ) -> None:
        self._node = node
        self._door = door
        self._operations = operations
        self._person = person
        self.latest = latest
        """The dashboard's newest snapshot (the Diff view follows its job there)."""

    @property
    def door(self) -> Door:
        return self._door

    def keep(self, job_id: int, done: Done | None = None, failed: Failed | None = None) -> None:
        """Merge the job's worktree into its base branch; ``failed`` takes a refusal's line
        instead of a toast."""
        control, by = self._door.control, self._person()
        self._operations.add(lambda: control.keep(job_id, by=by), kept_toast, done, failed)

    def discard(self, job: Job, done: Done | None = None, failed: Failed | None = None) -> None:
        """Remove the job's worktree and branch, once the user said yes; a job with no worktree
        (or one already gone) goes straight to the door, which says so or does nothing."""
        from tui.screens.confirm import ConfirmScreen

        control, by, job_id = self._door.control, self._person(), job.id

        def confirmed(yes: bool | None) -> None:
            if yes:
                self._operations.add(lambda: control.discard(job_id, by=by), discarded_toast, done, failed)

        if job.worktree is None or job.review == REVIEW_DISCARDED:
            confirmed(True)
            return
        if job.review == REVIEW_KEPT:
            question = f"Job #{job.id}'s changes were kept. Remove its worktree and branch {job.branch}?"
        else:
            question = discard_question(job)
        self._node.app.push_screen(ConfirmScreen(question, yes="Discard"), confirmed)

    def open_diff(self, job: Job) -> None:
        """The Diff view of ``job``, over whatever screen is on top."""
        from tui.screens.diff_view import DiffScreen

        self._node.app.push_screen(DiffScreen(job, self))
