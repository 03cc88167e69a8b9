"""Deciding which ``[[notify]]`` channels hear of which jobs, each exactly once.

As Telegram's announcer: the engine's events are the fast path, a reconcile pass over the
ledger the complete one (another process's jobs, a finish the process died before queueing),
and a ``telegram_notices`` row per job, event and channel (``finished@NAME``) makes both
idempotent. A channel never hears of jobs that finished before it was first configured.
"""

from __future__ import annotations

from core.clock import parse_time
from core.config.settings import NotifyEvent
from core.jobs import Job, JobState
from core.ledger.notifications import Draft, NotificationStore
from core.notify import messages
from core.notify.channels import Channel, finished_event
from core.notify.messages import ChannelMessage
from core.ops.control import Control
from core.telegram.announce import FINAL_STATES, LOOKBACK, RECONCILE_WINDOW
from core.telegram.notify import current_token
from core.telegram.outbox import Outbox

SINCE_PREFIX = "notify_since:"


class ChannelAnnouncer:
    """Turns job changes into one outbox row per channel that wants them."""

    def __init__(
        self, channels: dict[str, Channel], control: Control, store: NotificationStore, outbox: Outbox
    ) -> None:
        self.control = control
        self.store = store
        self.outbox = outbox
        self.channels: dict[str, Channel] = {}
        self.since: dict[str, str] = {}
        self.set_channels(channels)

    def set_channels(self, channels: dict[str, Channel]) -> None:
        self.channels = dict(channels)
        now = self.control.ledger.clock.iso()
        self.since = {name: self.store.first_value(SINCE_PREFIX + name, now) for name in channels}

    def _queue(
        self,
        job: Job,
        notice: str,
        message: ChannelMessage | None,
        event: NotifyEvent,
        only: str | None = None,
    ) -> None:
        for name, channel in self.channels.items():
            if (
                message is None
                or (only is not None and name != only)
                or not channel.wants(event, job.workflow)
            ):
                continue
            if (
                self.store.notice(job.id, f"{notice}@{name}") is not None
            ):  # a read first: reconcile runs often
                continue
            draft = Draft(
                chat_id=0,
                text=message.text,
                kind="approval" if event == "needs_you" else "job",
                job_id=job.id,
                channel=name,
                payload={**message.payload, "target": channel.target()},
            )
            self.outbox.enqueue([draft], notice=(job.id, f"{notice}@{name}"))

    def job_finished(self, job: Job) -> None:
        event = finished_event(job)
        if event is not None:
            self._queue(job, "finished", messages.job_message(job, event), event)

    def approval_needed(self, job: Job) -> None:
        if job.state is JobState.AWAITING_APPROVAL:
            self._queue(job, "approval", messages.approval(job), "needs_you")

    def question_asked(self, job: Job) -> None:
        token = current_token(job)
        if token is None:
            return
        wanted = [name for name, channel in self.channels.items() if channel.wants("needs_you", job.workflow)]
        if all(self.store.notice(job.id, f"question:{token}@{name}") is not None for name in wanted):
            return  # before building the message: reconcile runs often
        self._queue(job, f"question:{token}", messages.question(job), "needs_you")

    def reconcile(self) -> None:
        """Queue whatever the ledger shows and no event queued."""
        if not self.channels:
            return
        ledger = self.control.ledger
        for job in self.control.questions():
            self.question_asked(job)
        for job in sorted(ledger.list_jobs(states=[JobState.AWAITING_APPROVAL]), key=lambda job: job.id):
            self.approval_needed(job)
        earliest = min(parse_time(since) for since in self.since.values())
        cutoff = max(earliest, ledger.clock.now() - LOOKBACK)
        since = cutoff.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        finished = [
            job
            for job in ledger.list_jobs(states=FINAL_STATES, limit=RECONCILE_WINDOW)
            if job.finished_at is not None and job.finished_at >= since
        ]
        for name in list(self.channels):
            kind = f"finished@{name}"
            noticed = self.store.noticed(kind, [job.id for job in finished])
            own_since = self.since[name]
            for job in sorted(finished, key=lambda job: job.id):
                if job.id not in noticed and job.finished_at is not None and job.finished_at >= own_since:
                    self._queue_one(name, job)

    def _queue_one(self, name: str, job: Job) -> None:
        event = finished_event(job)
        if event is not None and self.channels[name].wants(event, job.workflow):
            self._queue(job, "finished", messages.job_message(job, event), event, only=name)
