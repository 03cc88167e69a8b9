"""The footer's contexts: which of the table's keys apply to what is focused and selected now.

The dashboard names the contexts true now (``contexts``); each action of ``tui.actions``
shows in the footer only in its ``when`` context (``shown_in``), so a key is offered where
it acts: ``d`` / ``t`` on the watched paths, ``R`` on the notifications, ``y`` / ``N`` on a
job awaiting approval or a tool answer (``A`` too on the latter), ``T`` on a running job,
``c`` only while the selected job can be cancelled, ``D`` on a job that ran in git and
``K`` / ``X`` on one whose changes wait for review.
"""

from __future__ import annotations

import dataclasses

from textual.binding import ActiveBinding
from textual.widget import Widget

from core.jobs import Job, JobState
from tui import actions
from tui.widgets.job_table import JobTable
from tui.widgets.output_pane import OutputPane
from tui.widgets.side_lists import NotificationList, WatchList

FOOTER_WHEN = actions.footer_actions()


def job_contexts(job: Job) -> set[str]:
    """What the selected job allows: retry, cancel, follow-up, approval, an answer, a message."""
    contexts = set()
    if job.state.is_final:
        contexts.add(actions.JOB_RETRYABLE)
    elif not job.cancel_requested:
        contexts.add(actions.JOB_CANCELLABLE)
    if job.session_id:
        contexts.add(actions.JOB_SESSION)
    if job.workspace is not None:
        contexts.add(actions.JOB_CHANGES)
    if job.changes_to_review:
        contexts.add(actions.JOB_REVIEW)
    if job.state is JobState.AWAITING_APPROVAL:
        contexts.add(actions.JOB_APPROVAL)
    if job.state is JobState.RUNNING:
        contexts.add(actions.JOB_RUNNING)
        if job.question is not None:
            contexts |= {actions.JOB_APPROVAL, actions.JOB_QUESTION}
    return contexts


def contexts(
    focused: Widget | None, selected_job: Job | None, narrow: bool, filtered: bool = False
) -> frozenset[str]:
    """The contexts true now (see ``Action.when``)."""
    true_now = {actions.ALWAYS}
    if narrow:
        true_now.add(actions.NARROW)
    if isinstance(focused, JobTable):
        true_now.add(actions.JOBS)
        if filtered:
            true_now.add(actions.FILTERED)
        if selected_job is not None:
            true_now |= job_contexts(selected_job)
    elif isinstance(focused, WatchList):
        true_now.add(actions.WATCHES)
    elif isinstance(focused, NotificationList):
        true_now.add(actions.NOTIFICATIONS)
    elif isinstance(focused, OutputPane):
        true_now.add(actions.OUTPUT)
    return frozenset(true_now)


def shows(when: str, hidden_when: frozenset[str], true_now: frozenset[str]) -> bool:
    """The footer shows an action now: its context is true and none that leaves it out."""
    return when in true_now and not hidden_when & true_now


def shown_in(active: dict[str, ActiveBinding], true_now: frozenset[str]) -> dict[str, ActiveBinding]:
    """Textual's active bindings, each of the table's actions shown only in its context."""
    shown = {}
    for key, binding in active.items():
        placed = FOOTER_WHEN.get(binding.binding.action)
        if placed is not None and binding.binding.show and not shows(*placed, true_now):
            binding = binding._replace(binding=dataclasses.replace(binding.binding, show=False))
        shown[key] = binding
    return shown
