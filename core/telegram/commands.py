"""Incoming Telegram messages and button presses, turned into Control operations and short replies.

Deny by default: only ``allowed_users`` are heard; anyone else is ignored without a reply
(no hint that a bot is listening), logged with their id and counted; only a stranger's file
gets one reply, so it is not lost without a word. Prompts typed as several messages in a row
become one job: text is held per chat until the chat has been quiet for ``burst_seconds``.
Photos, documents, voice notes and audio files join the same burst: each is downloaded
(``core.telegram.files``) before its burst may close, and the job's prompt names their paths.
Replies go through the outbox like everything else, so they are paced, retried and recorded.

A reply to one of a job's messages (found through the notification rows) does what answers
it best: a reply to a tool question the job still waits on denies it with the text as the
reason (a reply to an approval request of a job awaiting approval denies that); otherwise a
running job is told the text (Claude reads it at its next turn), a finished job gets a
follow-up in its session, and any other job gets the door's one-line refusal. Allow, Always
and Deny carry the question's token, so a button left from an answered question says so
instead of answering the job's next one.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from core.claude.environment import job_environment
from core.config.settings import DEFAULT_WORKFLOW
from core.errors import ConfigError, InputError
from core.jobs import REVIEW_DISCARDED, REVIEW_KEPT, Job, JobSource, JobState
from core.ledger.notifications import Button, Draft, Markup, Notification, NotificationStore
from core.ops.bulk import BulkVerb, JobSelection
from core.ops.control import Control
from core.summary import excerpt
from core.telegram.closing import ending
from core.telegram.config import TelegramConfig, redact
from core.telegram.files import (
    TAKEN_KINDS,
    Incoming,
    Received,
    carries_media,
    files_block,
    incoming_file,
    too_large,
    transcribe,
    unique_path,
    unsupported_kind,
)
from core.telegram.notify import (
    DISCARD,
    DISCARD_SURE,
    HELP_TEXT,
    KEEP,
    QUESTION_ACTIONS,
    answered_text,
    button_token,
    current_token,
    diff_caption,
    followup_prompt,
    inline_diff,
    job_buttons,
    job_question,
    jobs_list,
    split_message,
    status_text,
)
from core.telegram.outbox import Outbox

if TYPE_CHECKING:
    from pyrogram.types import CallbackQuery, Message, User

log = logging.getLogger(__name__)

EditMessage = Callable[[int, int, str, Markup | None], Awaitable[None]]
Download = Callable[["Message", Path], Awaitable[None]]
BURST_SECONDS = 1.5
BURST_LONGEST_SECONDS = 6.0
JOBS_SHOWN = 10
REASON_SHOWN = 300
"""How much of a deny reason the answered question message repeats."""
STALE = "#{job} no longer waits for this answer (it was answered, or its run ended)"


@dataclass
class _Burst:
    """Text a chat is still typing, not yet a job."""

    chat_id: int
    workflow: str
    sender: str
    first_message_id: int
    started: float
    deadline: float
    texts: list[str] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    """Files downloaded for it; their folder is ``folder``."""
    folder: Path | None = None
    pending: int = 0
    """Downloads (and transcriptions) still under way: the burst waits for them."""
    messages: int = 0


@dataclass(frozen=True)
class _From:
    """Who wrote, where, and which message they answered."""

    chat_id: int
    user_id: int
    label: str
    message_id: int
    reply_to: int | None

    @property
    def trigger(self) -> str:
        return f"telegram {self.label} (chat {self.chat_id})"


class CommandError(Exception):
    """A bad command or argument; the message is the reply."""


class Bot:
    """Handles what allowed users send; everything it says goes into the outbox."""

    def __init__(
        self,
        config: TelegramConfig,
        control: Control,
        outbox: Outbox,
        store: NotificationStore,
        *,
        answer_callback: Callable[[str, str], Awaitable[None]],
        edit_message: EditMessage | None = None,
        clock: Callable[[], float] = time.monotonic,
        burst_seconds: float = BURST_SECONDS,
        on_change: Callable[[], None] = lambda: None,
        download: Download | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.config = config
        self.control = control
        self.outbox = outbox
        self.store = store
        self.answer_callback = answer_callback
        self.edit_message = edit_message
        """Rewrites an answered question's message (its buttons go); None: a reply says it instead."""
        self.clock = clock
        self.burst_seconds = burst_seconds
        self.on_change = on_change
        """Told when a job was added or a burst started (the service flushes and reconciles)."""
        self.download = download
        """Fetches a message's file (the gateway's); None: files are refused with a reply."""
        self.environ = os.environ if environ is None else environ
        """The transcription command's environment, less flowtui's secrets."""
        self.username: str | None = None
        self.denied_count = 0
        self._bursts: dict[int, _Burst] = {}
        self._finishing: list[_Burst] = []
        """Bursts closed while their files were still downloading: queued when the last one is in."""
        self._told_strangers: set[int] = set()
        self._edits: list[tuple[int, int, str, Markup | None]] = []
        """Answered messages to rewrite (chat, message, text, the buttons left), once the handler is done."""

    # -- incoming messages ---------------------------------------------------------------

    async def on_message(self, message: Message) -> None:
        sender = self._allowed_sender(message.from_user, message)
        if sender is None:
            self._refuse_strangers_file(message)
            return
        if carries_media(message):
            await self._on_file_message(sender, message)
            await self._apply_edits()
            return
        text = (message.text or message.caption or "").strip()
        if not text:
            self.reply(sender.chat_id, "send text: a prompt, or a command from /help")
            return
        try:
            self._dispatch(sender, str(text))
        except (CommandError, InputError, ConfigError) as error:
            self.reply(sender.chat_id, str(error))
        except Exception as error:  # a reply beats silence; the log has the traceback
            log.exception("Telegram message from user %s failed", sender.user_id)
            self.reply(sender.chat_id, f"flowtui could not do that: {self._safe(error)}")
        await self._apply_edits()

    def _dispatch(self, sender: _From, text: str) -> None:
        if text.startswith("/"):
            self._flush_chat(sender.chat_id)
            name, _, rest = text.partition(" ")
            command, _, addressee = name[1:].partition("@")
            if addressee and self.username and addressee.lower() != self.username.lower():
                return  # meant for another bot in the same group
            self._command(sender, command.lower(), rest.strip())
            return
        job_id = self.store.job_for_message(sender.chat_id, sender.reply_to) if sender.reply_to else None
        if job_id is not None:
            self._flush_chat(sender.chat_id)
            self._reply_to_job(sender, job_id, text)
            return
        self._add_to_burst(sender, text, DEFAULT_WORKFLOW)

    def _reply_to_job(self, sender: _From, job_id: int, text: str) -> int:
        """A reply to a job's message: the rules are in the module's docstring. Returns the job
        the text went to (a follow-up's is a new one)."""
        job = self.control.get(job_id)
        replied = self._notification(sender.chat_id, sender.reply_to, job_id)
        token = button_token(replied.markup) if replied is not None else None
        if token is not None and token == current_token(job):
            self._deny_question(sender, job, text, replied)
            return job.id
        if (
            replied is not None
            and replied.kind == "approval"
            and token is None
            and job.state is JobState.AWAITING_APPROVAL
        ):
            self.control.deny(job.id, by=f"Telegram user {sender.label}", reason=text, via="telegram")
            self.reply(sender.chat_id, f"denied #{job.id}: cancelled", job_id=job.id)
            return job.id
        if job.state.is_final:
            return self._followup(sender, job_id, text)
        # running: Claude reads it next; not running yet: the door's one line says what to do
        told = self.control.tell(job.id, text, by=sender.label, via="telegram")
        waits = job_question(told)
        also = f" (it also waits for an answer about {waits.get('tool')})" if waits is not None else ""
        self.reply(sender.chat_id, f"told #{job.id}: Claude reads it at its next turn{also}", job_id=job.id)
        return job.id

    def _deny_question(self, sender: _From, job: Job, reason: str, replied: Notification | None) -> None:
        tool = (job_question(job) or {}).get("tool") or "the tool"
        self.control.deny(job.id, by=sender.label, reason=reason, via="telegram")
        self.reply(sender.chat_id, f"denied {tool} for #{job.id}: Claude reads your reason", job_id=job.id)
        if replied is not None and replied.message_id is not None:
            outcome = f"✗ denied by {sender.label}: {excerpt(reason, REASON_SHOWN)}"
            self._schedule_edit(replied.chat_id, replied.message_id, answered_text(replied.text, outcome))

    def _notification(self, chat_id: int, message_id: int | None, job_id: int) -> Notification | None:
        """The notification row behind one of the bot's messages (a job has only a few)."""
        if message_id is None:
            return None
        return next(
            (
                row
                for row in self.store.recent(job_id=job_id)
                if row.chat_id == chat_id and row.message_id == message_id
            ),
            None,
        )

    def _command(self, sender: _From, command: str, args: str) -> None:
        handlers: dict[str, Callable[[_From, str], None]] = {
            "run": self._run,
            "jobs": self._jobs,
            "status": self._status,
            "retry": self._retry,
            "cancel": self._cancel,
            "pause": self._pause,
            "resume": self._resume,
            "watch": self._watch,
            "unwatch": self._unwatch,
            "diff": self._diff,
            "help": self._help,
            "start": self._help,
        }
        handler = handlers.get(command)
        if handler is None:
            raise CommandError(f"unknown command /{command}: /help lists the commands")
        handler(sender, args)

    def _run(self, sender: _From, args: str) -> None:
        workflow = DEFAULT_WORKFLOW
        if args.startswith(("-w ", "--workflow ")):
            _, workflow, args = [*args.split(maxsplit=2), "", ""][:3]
        if not args.strip():
            raise CommandError("usage: /run PROMPT (or /run -w WORKFLOW PROMPT); plain text works too")
        self.control.settings.workflow(workflow)  # unknown workflow: the ConfigError is the reply
        self._add_to_burst(sender, args.strip(), workflow)

    def _jobs(self, sender: _From, args: str) -> None:
        jobs = self.control.ledger.list_jobs(limit=JOBS_SHOWN)
        pause = self.control.pause_state()
        self.reply(
            sender.chat_id,
            jobs_list(jobs, pause.reason if pause.paused else None, self.control.ledger.clock.now()),
        )

    def _status(self, sender: _From, args: str) -> None:
        job = self._job(args, "status")
        self.reply(sender.chat_id, status_text(job, self.control.ledger.clock.now()), job_id=job.id)

    def _retry(self, sender: _From, args: str) -> None:
        if args.strip().lower() == "failed":
            self._retry_failed(sender)
            return
        original = self._job(args, "retry")
        job = self.control.retry(original.id)
        self._queued(sender, job, f"queued #{job.id} (retry of #{original.id})")

    def _retry_failed(self, sender: _From) -> None:
        """Every failed job not retried yet, queued again; each retry reports to this chat."""
        report = self.control.bulk(BulkVerb.RETRY, JobSelection(states=frozenset({JobState.FAILED})))
        for job in report.new_jobs:
            self.store.record_origin(job.id, sender.chat_id, sender.message_id)
        if not report.lines:
            self.reply(sender.chat_id, "no failed jobs to retry")
            return
        retried = ", ".join(f"#{job.id}" for job in report.new_jobs[:JOBS_SHOWN])
        more = f" and {len(report.new_jobs) - JOBS_SHOWN} more" if len(report.new_jobs) > JOBS_SHOWN else ""
        self.reply(sender.chat_id, report.summary() + (f": queued {retried}{more}" if retried else ""))
        self.on_change()

    def _cancel(self, sender: _From, args: str) -> None:
        job = self._job(args, "cancel")
        state = self.control.cancel(job.id, f"cancelled from Telegram by {sender.label}")
        if state is JobState.CANCELLED:
            self.reply(sender.chat_id, f"cancelled #{job.id}", job_id=job.id)
        else:
            self.reply(
                sender.chat_id, f"cancelling #{job.id}: its Claude process is being ended", job_id=job.id
            )

    def _pause(self, sender: _From, args: str) -> None:
        self.control.pause(f"paused from Telegram by {sender.label}")
        self.reply(sender.chat_id, "paused: running jobs finish, queued jobs wait for /resume")

    def _resume(self, sender: _From, args: str) -> None:
        self.control.resume()
        self.reply(sender.chat_id, "resumed")

    def _watch(self, sender: _From, args: str) -> None:
        if not args:
            raise CommandError("usage: /watch PATH (a directory on the machine flowtui runs on)")
        # The sender cannot see this machine's disk: a typo must not become a silent watch.
        added = self.control.add_watch(args, must_exist=True)
        self.reply(sender.chat_id, f"watching {added.path} (workflow {added.workflow})")

    def _unwatch(self, sender: _From, args: str) -> None:
        if not args:
            raise CommandError("usage: /unwatch PATH")
        self.reply(sender.chat_id, f"stopped watching {self.control.remove_watch(args)}")

    def _diff(self, sender: _From, args: str) -> None:
        """The job's diff: inline as a code block when it is short, else as a ``.diff`` file."""
        job = self._job(args, "diff")
        changes = self.control.changes(job.id)
        if not changes.in_git:
            self.reply(sender.chat_id, self.control.diff(job.id))  # the door's line: no diff outside git
            return
        diff = self.control.diff(job.id)
        if not diff.strip():
            self.reply(sender.chat_id, f"#{job.id} changed nothing", job_id=job.id)
            return
        caption = diff_caption(job, changes)
        inline = inline_diff(caption, diff)
        if inline is not None:
            self.outbox.enqueue([Draft(sender.chat_id, inline, "reply", job_id=job.id)])
            return
        folder = self.control.paths.telegram_session_dir / "diffs"
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        file = folder / f"job-{job.id}.diff"
        file.write_text(diff, encoding="utf-8", errors="surrogateescape")
        self.outbox.enqueue([Draft(sender.chat_id, caption, "reply", job_id=job.id, document=str(file))])

    def _help(self, sender: _From, args: str) -> None:
        self.reply(sender.chat_id, HELP_TEXT)

    def _followup(self, sender: _From, job_id: int, text: str) -> int:
        job = self.control.followup(job_id, text, source=JobSource.TELEGRAM)
        self._queued(sender, job, f"queued #{job.id} (follow-up of #{job_id})")
        return job.id

    def _job(self, args: str, command: str) -> Job:
        text = args.strip().lstrip("#")
        if not text:
            raise CommandError(f"usage: /{command} ID (the number /jobs shows)")
        if not text.isdigit() or int(text) < 1:
            raise CommandError(f"bad job id {args.strip()!r}: give the number /jobs shows")
        job = self.control.ledger.get(int(text))
        if job is None:
            raise CommandError(f"no job #{text}: /jobs lists the latest ids")
        return job

    def _queued(self, sender: _From, job: Job, text: str) -> None:
        self.store.record_origin(job.id, sender.chat_id, sender.message_id)
        if job.state is JobState.AWAITING_APPROVAL:
            text = f"#{job.id} waits for approval (workflow {job.workflow})"
        self.reply(sender.chat_id, text, job_id=job.id)
        self.on_change()

    # -- bursts ----------------------------------------------------------------------------

    def _add_to_burst(self, sender: _From, text: str, workflow: str) -> _Burst:
        now = self.clock()
        burst = self._bursts.get(sender.chat_id)
        if burst is not None and burst.workflow != workflow:
            self._flush_chat(sender.chat_id)
            burst = None
        if burst is None:
            burst = _Burst(sender.chat_id, workflow, sender.label, sender.message_id, now, now)
            self._bursts[sender.chat_id] = burst
        if text:
            burst.texts.append(text)
        burst.messages += 1
        self._extend(burst, now)
        return burst

    def _extend(self, burst: _Burst, now: float) -> None:
        burst.deadline = min(now + self.burst_seconds, burst.started + BURST_LONGEST_SECONDS)
        self.on_change()

    def next_deadline(self) -> float | None:
        return min((burst.deadline for burst in self._bursts.values() if not burst.pending), default=None)

    def flush_due(self, now: float | None = None) -> list[Job]:
        """Queue every burst whose chat has been quiet long enough and whose files are in."""
        moment = self.clock() if now is None else now
        due = [chat for chat, burst in self._bursts.items() if burst.deadline <= moment and not burst.pending]
        return [job for chat in due if (job := self._flush_chat(chat)) is not None]

    def flush_all(self) -> list[Job]:
        """Every burst as a job now (the service stops): files still downloading are left out."""
        bursts = [*self._bursts.values(), *self._finishing]
        self._bursts, self._finishing = {}, []
        return [job for burst in bursts if (job := self._queue_burst(burst)) is not None]

    def _flush_chat(self, chat_id: int) -> Job | None:
        burst = self._bursts.pop(chat_id, None)
        if burst is None:
            return None
        if burst.pending:  # closed (a command, another workflow) while a file downloads
            self._finishing.append(burst)
            return None
        return self._queue_burst(burst)

    def _queue_burst(self, burst: _Burst) -> Job | None:
        chat_id = burst.chat_id
        sender = _From(chat_id, 0, burst.sender, burst.first_message_id, None)
        prompt = "\n\n".join(part for part in ("\n".join(burst.texts), files_block(burst.received)) if part)
        if not burst.received and burst.folder is not None:
            with contextlib.suppress(OSError):  # every download failed: the empty folder goes
                burst.folder.rmdir()
        if not prompt:
            return None  # only files that could not be had: each was answered already
        try:
            job = self.control.add(
                prompt,
                workflow=burst.workflow,
                source=JobSource.TELEGRAM,
                trigger=sender.trigger,
            )
        except (InputError, ConfigError) as error:
            self.reply(chat_id, str(error))
            return None
        if burst.received and burst.folder is not None:
            self.store.record_files(job.id, str(burst.folder))
        merged = f" from {burst.messages} messages" if burst.messages > 1 else ""
        files = len(burst.received)
        with_files = f" with {files} file{'s' if files != 1 else ''}" if files else ""
        notes = "".join(f"\n{entry.path.name} {entry.note}" for entry in burst.received if entry.note)
        self._queued(sender, job, f"queued #{job.id}{merged}{with_files}{notes}")
        return job

    # -- files -----------------------------------------------------------------------------

    async def _on_file_message(self, sender: _From, message: Message) -> None:
        """A photo, document, voice note or audio file: downloaded and named in a job's prompt
        (its caption, else the text it replies to, is the prompt); any other media is refused."""
        incoming = incoming_file(message)
        if incoming is None:
            kind = unsupported_kind(message) or "message of this kind"
            self.reply(sender.chat_id, f"flowtui cannot take a {kind}: send {TAKEN_KINDS}")
            return
        refusal = too_large(incoming, self.config.max_file_bytes)
        if refusal is not None:
            self.reply(sender.chat_id, refusal)
            return
        if self.download is None:
            self.reply(sender.chat_id, f"not downloaded: this bot cannot fetch files (the {incoming.kind})")
            return
        caption = (message.caption or "").strip()
        job_id = self.store.job_for_message(sender.chat_id, sender.reply_to) if sender.reply_to else None
        try:
            if job_id is not None:
                await self._file_for_job(sender, message, incoming, caption, job_id)
                return
            workflow, prompt = self._caption_prompt(caption, message)
            await self._file_into_burst(sender, message, incoming, workflow, prompt)
        except (CommandError, InputError, ConfigError) as error:
            self.reply(sender.chat_id, str(error))
        except Exception as error:  # a reply beats silence; the log has the traceback
            log.exception("Telegram file from user %s failed", sender.user_id)
            self.reply(sender.chat_id, f"flowtui could not take that file: {self._safe(error)}")

    def _caption_prompt(self, caption: str, message: Message) -> tuple[str, str]:
        """(workflow, prompt) of a file's caption: text, or ``/run [-w NAME] text``; without one
        the text of the message it replies to."""
        if caption.startswith("/"):
            name, _, rest = caption.partition(" ")
            if name.partition("@")[0].lower() != "/run":
                raise CommandError(f"a file goes with a prompt or /run, not {name}: send the command alone")
            workflow, rest = DEFAULT_WORKFLOW, rest.strip()
            if rest.startswith(("-w ", "--workflow ")):
                _, workflow, rest = [*rest.split(maxsplit=2), "", ""][:3]
            self.control.settings.workflow(workflow)  # unknown: the ConfigError is the reply
            return workflow, rest.strip()
        if caption:
            return DEFAULT_WORKFLOW, caption
        replied = message.reply_to_message
        text = (replied.text or replied.caption or "") if replied is not None else ""
        return DEFAULT_WORKFLOW, str(text).strip()

    async def _file_into_burst(
        self, sender: _From, message: Message, incoming: Incoming, workflow: str, prompt: str
    ) -> None:
        """The file joins the chat's burst (or starts one): the burst waits until it is in."""
        open_burst = self._bursts.get(sender.chat_id)
        if open_burst is not None and prompt in open_burst.texts:
            prompt = ""  # it replies to a message of this very burst: its text is there already
        burst = self._add_to_burst(sender, prompt, workflow)
        if burst.folder is None:
            burst.folder = self._files_dir / f"chat{burst.chat_id}-msg{burst.first_message_id}"
        burst.pending += 1
        try:
            received = await self._fetch(sender, message, incoming, burst.folder)
        finally:
            burst.pending -= 1
        if received is not None:
            burst.received.append(received)
        if burst.pending:
            return
        if burst in self._finishing:
            self._finishing.remove(burst)
            self._queue_burst(burst)
        elif self._bursts.get(burst.chat_id) is burst:
            self._extend(burst, self.clock())  # the quiet time counts from the file's arrival here

    async def _file_for_job(
        self, sender: _From, message: Message, incoming: Incoming, caption: str, job_id: int
    ) -> None:
        """A file in reply to a job's message goes where a text reply would (see the module)."""
        self._flush_chat(sender.chat_id)
        folder = self._files_dir / f"chat{sender.chat_id}-msg{sender.message_id}"
        received = await self._fetch(sender, message, incoming, folder)
        if received is None:
            return
        text = "\n\n".join(part for part in (caption, files_block([received])) if part)
        try:
            target = self._reply_to_job(sender, job_id, text)
        except BaseException:  # refused (the reply says why): nothing holds the file now
            shutil.rmtree(folder, ignore_errors=True)
            raise
        self.store.record_files(target, str(folder))
        if received.note:
            self.reply(sender.chat_id, f"{received.path.name} {received.note}", job_id=target)

    async def _fetch(
        self, sender: _From, message: Message, incoming: Incoming, folder: Path
    ) -> Received | None:
        """Download (and transcribe a voice note); a failure is replied and gives None."""
        assert self.download is not None
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        destination = unique_path(folder, incoming.file_name)
        destination.touch(mode=0o600)  # taken at once: a file of the same burst picks another name
        try:
            await self.download(message, destination)
        except Exception as error:
            destination.unlink(missing_ok=True)
            log.warning("could not download a Telegram %s: %s", incoming.kind, self._safe(error))
            self.reply(
                sender.chat_id,
                f"could not download the {incoming.kind} {incoming.file_name}: {self._safe(error)}",
            )
            return None
        size = destination.stat().st_size
        if size > self.config.max_file_bytes:  # Telegram did not say its size before
            destination.unlink(missing_ok=True)
            self.reply(
                sender.chat_id,
                too_large(Incoming(incoming.kind, incoming.file_name, size), self.config.max_file_bytes)
                or "",
            )
            return None
        if incoming.kind != "voice note":
            return Received(destination, incoming)
        environment = job_environment(self.environ, self.control.settings)
        transcript = await transcribe(
            self.config.transcribe_command, destination, self.config.transcribe_timeout_seconds, environment
        )
        return Received(destination, incoming, transcript.text, transcript.note)

    @property
    def _files_dir(self) -> Path:
        return self.control.paths.telegram_files_dir

    def _refuse_strangers_file(self, message: Message | None) -> None:
        """A stranger's file is never downloaded; in a private chat they are told why, once."""
        user = message.from_user if message is not None else None
        if message is None or not carries_media(message) or user is None or message.chat is None:
            return
        if message.chat.id != user.id or user.id in self._told_strangers:
            return
        self._told_strangers.add(user.id)
        self.reply(
            user.id,
            "not downloaded: this bot takes files only from the users it allows "
            f"(your id {user.id} is not one)",
        )

    # -- buttons ---------------------------------------------------------------------------

    async def on_callback(self, query: CallbackQuery) -> None:
        message = query.message
        sender = self._allowed_sender(query.from_user, message)
        if sender is None:
            return
        data = query.data.decode() if isinstance(query.data, bytes) else str(query.data or "")
        action, _, raw_id = data.partition(":")
        try:
            if action in QUESTION_ACTIONS:
                raw_id, _, token = raw_id.partition(":")
                toast = self._answer_question(sender, action, raw_id, token)
            else:
                toast = self._press(sender, action, raw_id)
        except (CommandError, InputError, ConfigError) as error:
            toast = str(error)
            self.reply(sender.chat_id, toast)
        except Exception as error:
            log.exception("Telegram button %r failed", data)
            toast = f"flowtui could not do that: {self._safe(error)}"
        try:
            await self.answer_callback(str(query.id), toast)
        except Exception as error:  # a lost toast is harmless; the chat got the reply
            log.warning("could not answer a Telegram button press: %s", self._safe(error))
        await self._apply_edits()

    def _answer_question(self, sender: _From, action: str, raw_id: str, token: str) -> str:
        """Allow, Always or Deny pressed under a question: answered through the door, unless the
        question is not the one the job waits on now (a stale button never answers the next one)."""
        job = self._job(raw_id, action)
        pressed = sender.message_id
        replied = self._notification(sender.chat_id, pressed, job.id) if pressed else None
        original = replied.text if replied is not None else None
        if token != current_token(job):
            if pressed and original is not None:
                note = "(no longer waiting: answered elsewhere, or its run ended)"
                self._schedule_edit(sender.chat_id, pressed, answered_text(original, note))
            return STALE.format(job=job.id)
        asked = job_question(job) or {}
        tool = asked.get("tool") or "the tool"
        request_id = asked.get("request_id")
        expected = request_id if isinstance(request_id, str) else None
        if action == "refuse":
            self.control.deny(job.id, by=sender.label, via="telegram", question=expected)
            toast, outcome = f"denied {tool} for #{job.id}", f"✗ denied by {sender.label}"
        else:
            always = action == "always"
            self.control.approve(job.id, by=sender.label, always=always, via="telegram", question=expected)
            if always:
                toast = f"allowed {tool} for the rest of #{job.id}"
                outcome = f"✓ allowed always (for the rest of #{job.id}) by {sender.label}"
            else:
                toast, outcome = f"allowed {tool} once for #{job.id}", f"✓ allowed once by {sender.label}"
        if pressed and original is not None:
            self._schedule_edit(sender.chat_id, pressed, answered_text(original, outcome))
        else:  # the message is not ours to rewrite (or unknown): say it in the chat
            self.reply(sender.chat_id, f"{toast} ({outcome})", job_id=job.id)
        return toast

    def _press(self, sender: _From, action: str, raw_id: str) -> str:
        job = self._job(raw_id, action or "button")
        if action == "retry":
            new = self.control.retry(job.id)
            text = f"queued #{new.id} (retry of #{job.id})"
            self._queued(sender, new, text)
            return text
        if action == "follow":
            if not job.session_id:
                raise CommandError(f"job #{job.id} has no Claude session to continue")
            prompt, markup = followup_prompt(job)
            self.outbox.enqueue([Draft(sender.chat_id, prompt, "reply", job_id=job.id, markup=markup)])
            return "reply to the message below"
        if action == "log":
            if not job.transcript_path:
                raise CommandError(f"job #{job.id} has no transcript yet")
            caption = f"#{job.id} transcript (attempt {job.attempts})"
            draft = Draft(sender.chat_id, caption, "log", job_id=job.id, document=job.transcript_path)
            self.outbox.enqueue([draft])
            return "sending the log"
        if action in (KEEP, DISCARD, DISCARD_SURE):
            return self._review(sender, action, job)
        if action in ("approve", "deny") and job.state is not JobState.AWAITING_APPROVAL:
            verb = "approved" if action == "approve" else "denied"
            raise CommandError(
                f"job #{job.id} is {job.state} and waits for no approval: nothing to be {verb}"
            )
        if action == "approve":
            self.control.approve(job.id, by=f"Telegram user {sender.label}", via="telegram")
            self.reply(sender.chat_id, f"approved #{job.id}: queued", job_id=job.id)
            return f"approved #{job.id}"
        if action == "deny":
            self.control.deny(job.id, by=f"Telegram user {sender.label}", via="telegram")
            self.reply(sender.chat_id, f"denied #{job.id}: cancelled", job_id=job.id)
            return f"denied #{job.id}"
        raise CommandError(f"unknown button {action!r}")

    def _review(self, sender: _From, action: str, job: Job) -> str:
        """Keep or Discard under a finish message, through the door. Discard only asks first;
        a button whose job was kept or discarded since says so (and its buttons go)."""
        pressed = sender.message_id
        replied = self._notification(sender.chat_id, pressed, job.id) if pressed else None
        if job.review in (REVIEW_KEPT, REVIEW_DISCARDED, None):
            note = f"#{job.id}'s changes were {job.review} already: this button is stale"
            if job.review is None:
                note = f"#{job.id} has no changes to review: this button is stale"
            if replied is not None and replied.kind == "job":
                self._schedule_edit(
                    sender.chat_id, pressed, answered_text(replied.text, f"({note})"), job_buttons(job)
                )
            return note
        if action == DISCARD:
            question = (
                f"Discard #{job.id}'s changes for good? Its worktree and branch {job.branch} are "
                "removed; nothing of them is kept."
            )
            markup = Markup(rows=((Button("Discard for good", f"{DISCARD_SURE}:{job.id}"),),))
            self.outbox.enqueue([Draft(sender.chat_id, question, "reply", job_id=job.id, markup=markup)])
            return "discard? confirm below"
        by = f"Telegram user {sender.label}"
        if action == KEEP:
            done_job = self.control.keep(job.id, by=by)
            toast = f"kept #{job.id}: merged into {done_job.base_branch}"
        else:
            done_job = self.control.discard(job.id, by=by)
            toast = f"discarded #{job.id}: worktree and branch removed"
        if replied is not None and pressed:
            outcome = f"✓ kept by {sender.label}" if action == KEEP else f"✗ discarded by {sender.label}"
            buttons = job_buttons(done_job) if replied.kind == "job" else None
            self._schedule_edit(sender.chat_id, pressed, answered_text(replied.text, outcome), buttons)
        self.reply(sender.chat_id, toast, job_id=job.id)
        return toast

    # -- helpers ---------------------------------------------------------------------------

    def _allowed_sender(self, user: User | None, message: Message | None) -> _From | None:
        """Who sent this, if they may command flowtui; otherwise log, count and return None."""
        chat = message.chat if message is not None else None
        chat_id = (
            chat.id if chat is not None and chat.id is not None else (user.id if user is not None else None)
        )
        if user is None or user.id not in self.config.allowed_users or chat_id is None:
            sender_id = user.id if user is not None else _sender_chat_id(message)
            self.denied_count += 1
            total = self.store.count_denied(sender_id) if sender_id is not None else 0
            log.warning(
                "ignored a Telegram update from unauthorized sender id %s (chat %s; %s so far from them)",
                sender_id,
                chat_id,
                total,
            )
            return None
        label = f"@{user.username}" if user.username else (user.first_name or str(user.id))
        reply_to = None
        if message is not None:
            reply_to = message.reply_to_message_id or (
                message.reply_to_message.id if message.reply_to_message is not None else None
            )
        return _From(chat_id, user.id, label, message.id if message is not None else 0, reply_to)

    def _schedule_edit(self, chat_id: int, message_id: int, text: str, markup: Markup | None = None) -> None:
        self._edits.append((chat_id, message_id, text, markup))

    async def close_answered(self) -> None:
        """Rewrite the question messages whose question is over (answered in the window, the
        CLI or MCP, timed out, or the run ended): the buttons go, the text says how it ended."""
        for sent in self.store.open_questions():
            if sent.job_id is None or sent.message_id is None:
                continue
            job = self.control.ledger.get(sent.job_id)
            if job is not None and current_token(job) == button_token(sent.markup):
                continue  # still asked
            events = self.control.ledger.events(sent.job_id) if job is not None else []
            outcome = ending(job, events, sent.created_at)
            self._schedule_edit(sent.chat_id, sent.message_id, answered_text(sent.text, outcome))
        await self._apply_edits()

    async def _apply_edits(self) -> None:
        """Rewrite answered question messages (their buttons go); when Telegram refuses the
        edit, or there is no way to edit, the chat is told in a reply instead. Either way the
        message counts as closed: it is not rewritten again."""
        edits, self._edits = self._edits, []
        for chat_id, message_id, text, markup in edits:
            self.store.rewrite(chat_id, message_id, text, markup)
            if self.edit_message is not None:
                try:
                    await self.edit_message(chat_id, message_id, text, markup)
                    continue
                except Exception as error:
                    log.warning("could not edit Telegram message %s: %s", message_id, self._safe(error))
            self.reply(chat_id, text.rpartition("\n\n")[2])

    def reply(self, chat_id: int, text: str, job_id: int | None = None) -> None:
        drafts = [Draft(chat_id, part, "reply", job_id=job_id) for part in split_message(text)]
        self.outbox.enqueue(drafts)

    def _safe(self, error: BaseException) -> str:
        return redact(" ".join(str(error).split()) or type(error).__name__, self.config.secrets())


def _sender_chat_id(message: Message | None) -> int | None:
    if message is None or message.sender_chat is None:
        return None
    return message.sender_chat.id
