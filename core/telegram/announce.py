"""Deciding which jobs are announced, where, and queueing each announcement exactly once.

Two paths reach here: the engine's ``JobChanged`` events (fast), and a reconcile pass over
the ledger at start, after any shared change and now and then (complete: jobs added by
another process, a finish the process died before announcing, jobs failed during crash
recovery). A row in ``telegram_notices`` per job and kind makes both paths idempotent.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from core.clock import parse_time
from core.config.settings import NotifyPolicy, Settings
from core.errors import ConfigError, InputError, describe_os_error
from core.jobs import Job, JobState
from core.ledger.notifications import Draft, NotificationStore
from core.ops.control import Control
from core.ops.review import JobChanges
from core.telegram.config import TelegramConfig
from core.telegram.files_out import FilesOut, collect_files
from core.telegram.notify import (
    approval_message,
    current_token,
    file_caption,
    finished_messages,
    question_message,
)
from core.telegram.outbox import MAX_DOCUMENT_BYTES, Outbox

log = logging.getLogger(__name__)

FINISHED = "finished"
APPROVAL = "approval"
QUESTION = "question"
"""A tool question's notice is ``question:TOKEN``: each question of a run is asked once."""
SINCE_KEY = "announce_since"
LOOKBACK = timedelta(days=1)
"""Reconcile never announces jobs older than this (say, after Telegram was off for a month)."""
RECONCILE_WINDOW = 2_000
"""Reconcile looks at this many of the newest finished jobs (events announce the rest)."""
FINAL_STATES = (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)


class Announcer:
    """Turns job changes into outbox rows, each exactly once, as the workflow's notify policy says."""

    def __init__(
        self,
        settings: Settings,
        config: TelegramConfig,
        control: Control,
        store: NotificationStore,
        outbox: Outbox,
    ) -> None:
        self.settings = settings
        self.config = config
        self.control = control
        self.store = store
        self.outbox = outbox
        self.max_file_bytes = MAX_DOCUMENT_BYTES
        """The largest file ``send_files`` sends (tests make it small)."""
        # Jobs that finished before Telegram was first set up are never announced.
        self.since = store.first_value(SINCE_KEY, control.ledger.clock.iso())

    def policy(self, job: Job) -> NotifyPolicy:
        try:
            return self.settings.workflow(job.workflow).notify
        except ConfigError:
            return "always"

    def destination(self, job: Job) -> int | None:
        """The chat a job (or the job it was retried or followed up from) came from, else
        ``notify_chat_id``."""
        current: Job | None = job
        for _ in range(20):  # a chain of retries and follow-ups; bounded against cycles
            if current is None:
                break
            origin = self.store.origin(current.id)
            if origin is not None:
                return origin[0]
            current = self.control.ledger.get(current.parent_id) if current.parent_id else None
        return self.config.notify_chat_id

    def job_finished(self, job: Job) -> None:
        if not job.state.is_final:
            return
        if job.state is JobState.CANCELLED and job.started_at is None:
            # cancelled or denied before it ran: whoever did it already got the answer
            self.store.skip_notice(job.id, FINISHED, "never ran")
            return
        policy = self.policy(job)
        if policy == "never" or (policy == "failure" and job.state is not JobState.FAILED):
            self.store.skip_notice(job.id, FINISHED, f"policy {policy}")
            return
        chat_id = self.destination(job)
        if chat_id is None:
            self.store.skip_notice(job.id, FINISHED, "no chat: set [telegram] notify_chat_id")
            return
        changes = self.changes(job)
        files = self.files_out(job, changes)
        drafts = [
            Draft(chat_id=chat_id, text=text, kind="job", job_id=job.id, markup=markup)
            for text, markup in finished_messages(job, changes, files.lines())
        ]
        drafts += [
            Draft(chat_id, file_caption(job, file.name), kind="job", job_id=job.id, document=str(file.copy))
            for file in files.files
        ]
        self.outbox.enqueue(drafts, notice=(job.id, FINISHED))

    def files_out(self, job: Job, changes: JobChanges | None) -> FilesOut:
        """The files the workflow's ``send_files`` picks from the job's changes, copied now; none
        when it was announced already (the copies it queued stay as they are)."""
        try:
            globs = self.settings.workflow(job.workflow).send_files
        except ConfigError:
            return FilesOut()
        if not globs or self.store.notice(job.id, FINISHED) is not None:
            return FilesOut()
        copies = self.control.paths.outgoing_for(job.id)
        try:
            return collect_files(job, changes, globs, copies, self.max_file_bytes)
        except OSError as error:
            log.warning("job #%s's files are not sent: %s", job.id, error)
            return FilesOut(problems=[f"cannot copy the files to send: {describe_os_error(error)}"])

    def changes(self, job: Job) -> JobChanges | None:
        """What the job changed, for its finish message; None when this machine cannot tell
        (the repository is on the machine that ran it): the message goes out without them."""
        try:
            return self.control.changes(job.id)
        except InputError as error:
            log.info("job #%s's finish message goes without its changes: %s", job.id, error)
            return None

    def approval_needed(self, job: Job) -> None:
        if job.state is not JobState.AWAITING_APPROVAL:
            return
        chat_id = self.destination(job)
        if chat_id is None:
            self.store.skip_notice(job.id, APPROVAL, "no chat: set [telegram] notify_chat_id")
            log.warning("job #%s waits for approval but no Telegram chat is set to ask", job.id)
            return
        text, markup = approval_message(job)
        draft = Draft(chat_id=chat_id, text=text, kind="approval", job_id=job.id, markup=markup)
        self.outbox.enqueue([draft], notice=(job.id, APPROVAL))

    def question_asked(self, job: Job) -> None:
        """Ask the chat whether the tool the running ``job`` waits on may run (once per question)."""
        token = current_token(job)
        if token is None:
            return
        notice = (job.id, f"{QUESTION}:{token}")
        if self.store.notice(*notice) is not None:  # a read first: reconcile runs often
            return
        chat_id = self.destination(job)
        if chat_id is None:
            if self.store.skip_notice(*notice, "no chat: set [telegram] notify_chat_id"):
                log.warning("job #%s asks a question but no Telegram chat is set to ask", job.id)
            return
        message = question_message(job)
        if message is None:
            return
        text, markup = message
        draft = Draft(chat_id=chat_id, text=text, kind="approval", job_id=job.id, markup=markup)
        self.outbox.enqueue([draft], notice=notice)

    def reconcile(self) -> None:
        """Announce whatever the ledger shows and no event announced."""
        ledger = self.control.ledger
        for job in self.control.questions():  # first: a question holds a run up
            self.question_asked(job)
        waiting = ledger.list_jobs(states=[JobState.AWAITING_APPROVAL])
        announced = self.store.noticed(APPROVAL, [job.id for job in waiting])
        for job in sorted(waiting, key=lambda job: job.id):
            if job.id not in announced:
                self.approval_needed(job)
        cutoff = max(parse_time(self.since), ledger.clock.now() - LOOKBACK)
        since = cutoff.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        finished = [
            job
            for job in ledger.list_jobs(states=FINAL_STATES, limit=RECONCILE_WINDOW)
            if job.finished_at is not None and job.finished_at >= since
        ]
        announced = self.store.noticed(FINISHED, [job.id for job in finished])
        for job in sorted(finished, key=lambda job: job.id):
            if job.id not in announced:
                self.job_finished(job)
