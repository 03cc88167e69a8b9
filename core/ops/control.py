"""Operations on the shared state, the same from the CLI, the TUI, MCP, Telegram and the engine.

Each operation validates its input once (a bad one is an :class:`InputError`, one line the
surface shows), commits (the ledger, config.toml, the outbox), then tells the engine
(directly when it is in this process, through its named pipe when it is another one).
Surfaces only parse and present.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, timedelta, tzinfo
from pathlib import Path

from core.changes.git import GitError
from core.changes.worktree import KeepRefused, keep_worktree, remove_worktree
from core.claude.conversation import Answer, Told, input_to_json
from core.claude.limits import UsageReading
from core.clock import parse_time
from core.config.live import LiveSettings
from core.config.prompts import base_values, render_prompt
from core.config.settings import (
    DEFAULT_WORKFLOW,
    NOT_CONFIGURED,
    Settings,
    WatchSettings,
    WorkflowSettings,
    load_settings,
)
from core.config.watch_path import watch_key
from core.errors import ConfigError, InputError, describe_os_error
from core.jobs import REVIEW_DISCARDED, REVIEW_KEPT, REVIEW_PENDING, Job, JobSource, JobState, Workspace
from core.ledger.notifications import Notification, NotificationStore
from core.ledger.review_relay import RelayUnavailable, ReviewAnswer, ReviewRequest, new_request
from core.ledger.sqlite import LedgerError, NewJob
from core.ledger.store import LedgerStore
from core.ops.bulk import BulkReport, BulkVerb, JobSelection, apply_each, select_jobs
from core.ops.handoff import Handoff
from core.ops.prune import PruneReport, prune
from core.ops.review import JobChanges, job_changes, job_diff, release_pins
from core.ops.schedules import ScheduleInfo, describe_schedules, find_schedule, paused_key, schedule_key
from core.ops.usage import read_usage
from core.paths import Paths, machine_name
from core.queue.transport import JobQueue
from core.wake.changes import Change, EngineNotifier

PAUSED_FLAG = "paused"
PAUSED_UNTIL_FLAG = "paused_until"
EMPTY_PROMPT = "the prompt is empty: give the text Claude should work on"


@dataclass(frozen=True)
class PauseState:
    """Whether the queue takes jobs, why not, and until when, as every surface tells it."""

    paused: bool
    reason: str | None
    until: str | None = None
    """When the engine resumes by itself (a limit's reset, the budget's new day), UTC ISO."""

    zone: tzinfo = UTC
    """The zone ``until`` is told in (the ledger clock's)."""

    def describe(self) -> str:
        if not self.paused:
            return "running"
        if self.until:
            local = parse_time(self.until).astimezone(self.zone)
            return f"paused: {self.reason} (resumes by itself at {local:%H:%M})"
        return f"paused: {self.reason}"


class Control:
    """The one door: every operation on shared state, validated once, committed, then woken."""

    def __init__(
        self,
        settings: Settings | LiveSettings,
        ledger: LedgerStore,
        queue: JobQueue,
        notify_engine: EngineNotifier,
        *,
        paths: Paths,
        machine: str | None = None,
    ) -> None:
        self.live = settings if isinstance(settings, LiveSettings) else LiveSettings.fixed(settings)
        """The settings every operation checks against (the config as it is now, when followed)."""
        self.paths = paths
        self.ledger = ledger
        self.queue = queue
        self.handoff = Handoff(ledger, queue)
        self._notify_engine = notify_engine
        self.machine = machine or machine_name()
        """This machine's name: a worktree recorded on another one is kept or discarded there."""
        self._relay = ledger.review_relay()

    @property
    def settings(self) -> Settings:
        """The current settings, read at each call: a workflow added to the file is known at once."""
        return self.live.current()

    def add(
        self,
        prompt: str,
        workflow: str = "default",
        cwd: str | Path | None = None,
        priority: int | None = None,
        source: JobSource = JobSource.CLI,
        parent_id: int | None = None,
        trigger: str | None = None,
        template_values: Mapping[str, str] | None = None,
    ) -> Job:
        """Record and queue a job; the workflow's prompt template gets ``{prompt}`` and the
        trigger's ``template_values``. Jobs of workflows that need approval wait for it."""
        workflow_settings = self._workflow(workflow)
        values = {**base_values(prompt, self.ledger.clock.local()), **(template_values or {})}
        final_prompt = render_prompt(workflow_settings.prompt, values)
        if not final_prompt.strip():
            raise InputError(EMPTY_PROMPT)
        directory = self._job_directory(cwd, workflow_settings)
        job = self.handoff.create(
            NewJob(
                prompt=final_prompt,
                workflow=workflow,
                source=str(source),
                cwd=str(directory),
                max_attempts=workflow_settings.max_attempts,
                priority=workflow_settings.priority if priority is None else priority,
                parent_id=parent_id,
                trigger=trigger,
                awaiting_approval=workflow_settings.approval,
            ),
            reason=f"added by {source}" + (" (waits for approval)" if workflow_settings.approval else ""),
        )
        self._notify_engine(Change.JOBS)
        return job

    def spool(self, prompt: str, workflow: str, cwd: str | Path | None, priority: int | None) -> Path:
        """The shared queue is unreachable: keep the job, checked as :meth:`add` checks it, in
        this machine's spool; the engine here queues it once the queue answers again."""
        # spool's drain_spool queues through this door, so it is imported here, not above.
        from core.ops.spool import SpooledJob, spool_job

        workflow_settings = self._workflow(workflow)
        directory = self._job_directory(cwd, workflow_settings)
        if not prompt.strip():
            raise InputError(EMPTY_PROMPT)
        return spool_job(self.paths, SpooledJob(prompt, workflow, str(directory), priority))

    def _workflow(self, name: str) -> WorkflowSettings:
        try:
            return self.settings.workflow(name)
        except ConfigError as error:
            raise InputError(str(error)) from None

    @staticmethod
    def _job_directory(cwd: str | Path | None, workflow_settings: WorkflowSettings) -> Path:
        """Where a new job runs: the given directory, else the workflow's, else here."""
        directory = Path(cwd or workflow_settings.cwd or Path.cwd()).expanduser()
        if not directory.is_dir():
            raise InputError(f"working directory {directory} does not exist: create it or pass another --cwd")
        return directory.resolve()

    def followup(self, job_id: int, prompt: str, source: JobSource = JobSource.CLI) -> Job:
        """A new job that continues job ``job_id``'s Claude session in the same directory."""
        parent = self.get(job_id)
        if not parent.session_id:
            raise InputError(
                f"job #{job_id} has no Claude session to continue (it never started one): "
                "use `flowtui retry` or add a new job"
            )
        if not prompt.strip():
            raise InputError("the follow-up prompt is empty: say what Claude should do next")
        if not Path(parent.cwd).is_dir():
            raise InputError(f"job #{job_id}'s working directory {parent.cwd} is gone: recreate it")
        workspace = parent.workspace
        if workspace is not None and workspace.isolated and _worktree_gone(parent):
            raise InputError(
                f"job #{job_id}'s worktree was discarded, and its Claude session with it: add a new job"
            )
        workflow_settings = self._workflow(parent.workflow)
        job = self.handoff.create(
            NewJob(
                prompt=prompt,
                workflow=parent.workflow,
                source=str(source),
                cwd=parent.cwd,
                max_attempts=workflow_settings.max_attempts,
                priority=parent.priority,
                parent_id=parent.id,
                trigger=f"follow-up of #{parent.id}",
                resume_session_id=parent.session_id,
                always_allowed=tuple(parent.always_allowed_tools),
                workspace=_continued(workspace),
            ),
            reason=f"follow-up of #{parent.id} (session {parent.session_id})",
        )
        self._notify_engine(Change.JOBS)
        return job

    def approve(
        self,
        job_id: int,
        by: str = "the user",
        *,
        always: bool = False,
        via: str = "cli",
        question: str | None = None,
    ) -> Job:
        """Answer yes to what the job waits for: the approval before it runs, or the tool
        question of its run (``always``: that tool for the rest of the job). ``question`` (a
        request id) answers only that question: a button pressed under an older one never
        answers the next."""
        job = self.get(job_id)
        if job.state is JobState.RUNNING and job.question is not None:
            return self._answer(
                job, allow=True, always=always, message=None, by=by, via=via, expected=question
            )
        if question is not None:
            raise InputError(_no_longer_waits(job_id))
        if not self.handoff.approve(job_id, f"approved by {by}"):
            raise InputError(_nothing_to_answer(job, "approved"))
        self._notify_engine(Change.JOBS)
        return self.get(job_id)

    def deny(
        self,
        job_id: int,
        by: str = "the user",
        *,
        reason: str | None = None,
        via: str = "cli",
        question: str | None = None,
    ) -> Job:
        """Answer no to what the job waits for: a job awaiting approval is cancelled; a tool
        question is denied and Claude reads ``reason`` (``question``: as for :meth:`approve`)."""
        job = self.get(job_id)
        if job.state is JobState.RUNNING and job.question is not None:
            return self._answer(
                job, allow=False, always=False, message=reason, by=by, via=via, expected=question
            )
        if question is not None:
            raise InputError(_no_longer_waits(job_id))
        because = f": {reason}" if reason else ""
        if job.state is not JobState.AWAITING_APPROVAL or not self.ledger.cancel_queued(
            job_id, f"denied by {by}{because}"
        ):
            raise InputError(_nothing_to_answer(job, "denied"))
        self._notify_engine(Change.JOBS)
        return self.get(job_id)

    def _answer(
        self,
        job: Job,
        *,
        allow: bool,
        always: bool,
        message: str | None,
        by: str,
        via: str,
        expected: str | None = None,
    ) -> Job:
        """Keep the answer in the ledger first (it survives this process), then wake the engine."""
        question = job.question or {}
        request_id = question.get("request_id")
        if not isinstance(request_id, str):
            raise InputError(f"job #{job.id}'s question cannot be answered by this version of flowtui")
        if expected is not None and expected != request_id:
            raise InputError(_no_longer_waits(job.id))
        tool = str(question.get("tool") or "the tool")
        answer = Answer(request_id=request_id, allow=allow, always=always, message=message, by=by, via=via)
        if allow:
            what = f"allowed {tool}" + (" always for this job" if always else "")
        else:
            what = f"denied {tool}" + (f": {message}" if message else "")
        if not self.ledger.post_input(job.id, input_to_json(answer), f"{what} (by {by} via {via})"):
            raise InputError(f"job #{job.id} ended before the answer arrived")
        self._notify_engine(Change.INPUT)
        return self.get(job.id)

    def tell(self, job_id: int, message: str, by: str = "the user", via: str = "cli") -> Job:
        """Send ``message`` into the job's running Claude process: its next turn."""
        if not message.strip():
            raise InputError("the message is empty: say what Claude should hear")
        job = self.get(job_id)
        if job.state is not JobState.RUNNING or not self.ledger.post_input(
            job_id,
            input_to_json(Told(text=message, by=by, via=via)),
            f"told by {by} via {via}: {_line(message)}",
        ):
            raise InputError(not_running_to_tell(job_id, self.get(job_id).state))
        self._notify_engine(Change.INPUT)
        return self.get(job_id)

    def questions(self) -> list[Job]:
        """Running jobs that wait for a person's answer, oldest question first."""
        waiting = [job for job in self.ledger.list_jobs([JobState.RUNNING]) if job.question is not None]
        return sorted(waiting, key=lambda job: str((job.question or {}).get("asked_at", "")))

    def get(self, job_id: int) -> Job:
        try:
            return self.ledger.require(job_id)
        except LedgerError as error:
            raise InputError(str(error)) from None

    def retry(self, job_id: int) -> Job:
        """Queue a finished job again as a new job (source ``retry``) linked to it."""
        original = self.get(job_id)
        if not original.state.is_final:
            raise InputError(
                f"job #{job_id} is {original.state}: only a finished job can be retried (cancel it first)"
            )
        cwd = original.cwd if Path(original.cwd).is_dir() else None
        if cwd is None:
            raise InputError(f"job #{job_id}'s working directory {original.cwd} is gone: recreate it")
        return self._add_verbatim(original, JobSource.RETRY, cwd)

    def _add_verbatim(self, original: Job, source: JobSource, cwd: str) -> Job:
        """A new job with exactly the original's final prompt (no template applied again)."""
        workflow_settings = self._workflow(original.workflow)
        job = self.handoff.create(
            NewJob(
                prompt=original.prompt,
                workflow=original.workflow,
                source=str(source),
                cwd=cwd,
                max_attempts=workflow_settings.max_attempts,
                priority=original.priority,
                parent_id=original.id,
                trigger=f"retry of #{original.id}",
                always_allowed=tuple(original.always_allowed_tools),
                workspace=None if _worktree_gone(original) else _continued(original.workspace),
            ),
            reason=f"retry of #{original.id}",
        )
        self._notify_engine(Change.JOBS)
        return job

    def cancel(self, job_id: int, reason: str = "cancelled by the user") -> JobState:
        """Cancel a queued job at once, or ask the engine to end a running one.

        Returns the state the job is in afterwards (``running`` while it is being ended).
        """
        job = self.get(job_id)
        waiting = (JobState.QUEUED, JobState.AWAITING_APPROVAL)
        if job.state in waiting and self.ledger.cancel_queued(job_id, reason):
            self._notify_engine(Change.JOBS)
            return JobState.CANCELLED
        if job.state in (JobState.QUEUED, JobState.RUNNING) and self.ledger.request_cancel(job_id, reason):
            self._notify_engine(Change.CANCEL)
            return JobState.RUNNING
        latest = self.get(job_id)
        if latest.state.is_final:
            raise InputError(f"job #{job_id} already {latest.state}: nothing to cancel")
        raise InputError(f"job #{job_id} changed state while cancelling: try again")

    # -- many jobs at once, and retention ------------------------------------------

    def matching(self, verb: BulkVerb, selection: JobSelection) -> list[Job]:
        """The jobs :meth:`bulk` would act on now, oldest first (a window counts them before
        it asks); an empty filter, or a state the verb cannot act on, is refused."""
        return select_jobs(self.ledger, verb, selection)

    def bulk(
        self, verb: BulkVerb, selection: JobSelection, reason: str = "cancelled by the user"
    ) -> BulkReport:
        """Retry or cancel every job the filter picks, each as :meth:`retry` or :meth:`cancel`
        would; a job that cannot be is a line of the report, not the end of it."""
        jobs = self.matching(verb, selection)
        return apply_each(verb, jobs, self.retry, lambda job_id: self.cancel(job_id, reason))

    def prune(self, older_than: timedelta, dry_run: bool = False) -> PruneReport:
        """Delete the jobs finished more than ``older_than`` ago with everything kept for them
        (``core.ops.prune``); ``dry_run`` says what would go and changes nothing."""
        report = prune(self.ledger, self.paths, older_than, dry_run)
        if report.jobs and not dry_run:
            self._notify_engine(Change.JOBS)
        return report

    # -- a job's changes: what it changed, and keeping or discarding its worktree -------

    def changes(self, job_id: int) -> JobChanges:
        """The files the job changed, with line counts (in git)."""
        return job_changes(self.get(job_id), self.paths)

    def diff(self, job_id: int) -> str:
        """The job's changes as a unified diff (empty: it changed nothing)."""
        return job_diff(self.get(job_id))

    def keep(self, job_id: int, by: str = "the user") -> Job:
        """Commit the job's worktree changes on its branch and merge them into the branch the
        repository had checked out when it started; refuses, changing nothing, when that would
        conflict or overwrite uncommitted changes. Keeping a kept job again does nothing."""
        job = self.get(job_id)
        workspace = _isolated(job, "keep")
        if job.review == REVIEW_KEPT:
            return job
        if job.review == REVIEW_DISCARDED:
            raise InputError(f"job #{job_id}'s changes were discarded: nothing to keep")
        if self._elsewhere(job):
            return self._ask_elsewhere(job, "keep", by)
        sharing = self._sharing(job, "keep")
        message = f"{_first_line(job.prompt)} (flowtui job #{job_id})"
        assert workspace.worktree is not None and workspace.branch is not None
        try:
            kept = keep_worktree(
                workspace.git_root, Path(workspace.worktree), workspace.branch, workspace.base_branch, message
            )
        except KeepRefused as refusal:
            raise InputError(f"job #{job_id} not kept: {refusal}") from None
        except (GitError, OSError) as error:
            raise InputError(f"job #{job_id} not kept: {error}") from None
        if kept.already:
            reason = f"kept by {by}: {workspace.branch} was merged into {workspace.base_branch} already"
        else:
            reason = (
                f"kept by {by}: {workspace.branch} ({kept.commit[:12]}) merged into "
                f"{workspace.base_branch} ({kept.merged_head[:12]})"
            )
        for other in sharing:
            if other.review == REVIEW_PENDING:
                self.ledger.set_review(other.id, REVIEW_KEPT, reason)
        if (problem := release_pins(workspace.git_root, sharing, kept.commit)) is not None:
            self.ledger.note(job_id, problem)
        self._notify_engine(Change.JOBS)
        return self.get(job_id)

    def discard(self, job_id: int, by: str = "the user") -> Job:
        """Remove the job's worktree and its branch; changes not kept are gone. Discarding
        again does nothing."""
        job = self.get(job_id)
        workspace = _isolated(job, "discard")
        if self._elsewhere(job):
            return job if job.review == REVIEW_DISCARDED else self._ask_elsewhere(job, "discard", by)
        sharing = self._sharing(job, "discard")
        assert workspace.worktree is not None and workspace.branch is not None
        try:
            removed = remove_worktree(workspace.git_root, Path(workspace.worktree), workspace.branch)
        except (GitError, OSError) as error:
            raise InputError(f"job #{job_id} not discarded: {error}") from None
        what = f"worktree {workspace.worktree} and branch {workspace.branch} removed"
        for other in sharing:
            if other.review == REVIEW_PENDING:
                self.ledger.set_review(other.id, REVIEW_DISCARDED, f"discarded by {by}: {what}")
            elif removed and other.id == job_id:
                self.ledger.note(job_id, f"{what} by {by}")
        if (problem := release_pins(workspace.git_root, sharing, None)) is not None:
            self.ledger.note(job_id, problem)
        self._notify_engine(Change.JOBS)
        return self.get(job_id)

    def _elsewhere(self, job: Job) -> bool:
        """Whether the job's worktree is on another machine's disk (only with a shared queue)."""
        return self._relay is not None and job.git_host is not None and job.git_host != self.machine

    def _ask_elsewhere(self, job: Job, verb: str, by: str) -> Job:
        """Keep or discard done by the engine of the machine with the worktree, or refused
        naming that machine when no engine there answers in time."""
        assert self._relay is not None and job.git_host is not None
        request = new_request(job.id, verb, by, self.machine)
        try:
            answer = self._relay.ask(
                job.git_host,
                request,
                lambda: self._notify_engine(Change.JOBS),
                self.settings.queue.review_answer_seconds,
            )
        except RelayUnavailable as error:
            raise InputError(f"job #{job.id} not {verb_done(verb)}: {error}") from None
        if answer is None:
            raise InputError(
                f"job #{job.id}'s worktree is on machine {job.git_host}, and no flowtui engine there "
                f"answered: start flowtui there, or run `flowtui {verb} {job.id}` there"
            )
        if not answer.ok:
            raise InputError(answer.text)
        return self.get(job.id)

    def serve_review_requests(self) -> int:
        """Carry out keep and discard asked for on other machines of jobs whose worktree is on
        this one (the engine calls this on every shared change); returns how many."""
        if self._relay is None:
            return 0
        requests = self._relay.take(self.machine)
        for request in requests:
            self._serve(request)
        return len(requests)

    def _serve(self, request: ReviewRequest) -> None:
        by = f"{request.by} (from machine {request.asked_on})"
        try:
            job = self.get(request.job_id)
            if job.git_host != self.machine:
                raise InputError(
                    f"job #{job.id}'s worktree is on machine {job.git_host}, not on {self.machine}"
                )
            if request.verb == "keep":
                self.keep(job.id, by=by)
            elif request.verb == "discard":
                self.discard(job.id, by=by)
            else:
                raise InputError(f"unknown request {request.verb!r} for job #{job.id}")
            answer = ReviewAnswer(True, f"{verb_done(request.verb)} on machine {self.machine}")
        except InputError as error:
            answer = ReviewAnswer(False, str(error))
        assert self._relay is not None
        self._relay.answer(request, answer)

    def _sharing(self, job: Job, verb: str) -> list[Job]:
        """Every job working in ``job``'s worktree (its follow-ups, its retries); refuses while
        one of them has not ended."""
        sharing = [other for other in self.ledger.list_jobs() if other.branch == job.branch]
        busy = [other for other in sharing if not other.state.is_final]
        if busy:
            raise InputError(
                f"job #{busy[-1].id} is {busy[-1].state} in this worktree: {verb} it once it has ended"
            )
        return sharing

    def pause(self, reason: str = "by hand", until: str | None = None) -> None:
        """Stop taking jobs; with ``until`` (UTC ISO) the engine resumes by itself then."""
        self.write_pause(reason, until)
        self._notify_engine(Change.PAUSE)

    def resume(self) -> None:
        self.write_resume()
        self._notify_engine(Change.PAUSE)

    def write_pause(self, reason: str, until: str | None) -> None:
        """Only the two pause flags, telling nobody: for the engine pausing itself, which
        already knows and announces the change without reading it back."""
        self.ledger.set_flag(PAUSED_UNTIL_FLAG, until)
        self.ledger.set_flag(PAUSED_FLAG, reason)

    def write_resume(self) -> None:
        """Clear the pause flags, telling nobody (the engine's own auto-resume)."""
        self.ledger.set_flag(PAUSED_FLAG, None)
        self.ledger.set_flag(PAUSED_UNTIL_FLAG, None)

    def pause_state(self) -> PauseState:
        reason = self.ledger.get_flag(PAUSED_FLAG)
        until = self.ledger.get_flag(PAUSED_UNTIL_FLAG) if reason is not None else None
        return PauseState(paused=reason is not None, reason=reason, until=until, zone=self.ledger.clock.zone)

    def release(self, job: Job) -> None:
        """Hand Huey a job the ledger has queued but Huey does not (a watch held it back)."""
        self.handoff.submit(job)
        self._notify_engine(Change.JOBS)

    def merge_into_queued(self, job_id: int, prompt: str, trigger: str | None, reason: str) -> Job | None:
        """Give a still-waiting job a new prompt (a watch's later changes join it); None when
        a worker took it first, so the caller treats it as running."""
        job = self.ledger.rewrite_waiting(job_id, prompt, trigger, reason)
        if job is not None:
            self._notify_engine(Change.JOBS)
        return job

    # -- watches (config.toml) ----------------------------------------------------

    def add_watch(
        self,
        path: str | Path,
        *,
        workflow: str = DEFAULT_WORKFLOW,
        include: Sequence[str] = (),
        exclude: Sequence[str] = (),
        must_exist: bool = False,
        poll: bool = False,
        poll_interval_ms: int | None = None,
        events: Sequence[str] = (),
        content_hash: bool = False,
    ) -> WatchSettings:
        """Watch ``path`` (a directory, or a file); a path that does not exist yet is watched
        once it appears, unless ``must_exist`` (a sender who cannot see the disk, where a
        typo must not become a silent watch). Checked against the config on disk, which is
        what is edited. ``poll``, ``poll_interval_ms``, ``events`` and ``content_hash`` are
        written only when given (the config's defaults stay implicit)."""
        from core.config import edit  # tomlkit and pathspec: only when a watch is edited

        expanded = self._watch_path(path)
        settings = self._config_on_disk()
        if workflow not in settings.workflow_names():
            known = ", ".join(settings.workflow_names())
            raise InputError(
                f"unknown workflow {workflow!r}: use one of {known}, or add [workflows.{workflow}] first"
            )
        problem = edit.glob_problem(include) or edit.glob_problem(exclude)
        if problem:
            raise InputError(problem)
        if os.path.exists(expanded):
            if not (os.path.isdir(expanded) or os.path.isfile(expanded)):
                raise InputError(f"{expanded} is neither a directory nor a file: watch a folder or a file")
        elif must_exist:
            raise InputError(f"no such file or directory: {expanded}")
        updated = self._edit_config(
            lambda: edit.add_watch(
                self.paths.config_file,
                expanded,
                workflow=None if workflow == DEFAULT_WORKFLOW else workflow,
                include=list(include),
                exclude=list(exclude),
                poll=poll or None,
                poll_interval_ms=poll_interval_ms,
                events=list(events),
                content_hash=content_hash or None,
            ),
            f"cannot watch {expanded}",
        )
        self._notify_engine(Change.WATCHES)
        return updated.watch[-1]

    def remove_watch(self, path: str | Path) -> str:
        """Stop watching ``path``; returns the watch path as the config had it."""
        from core.config import edit

        expanded = self._watch_path(path)
        self._edit_config(
            lambda: edit.remove_watch(self.paths.config_file, expanded), f"cannot stop watching {expanded}"
        )
        self._notify_engine(Change.WATCHES)
        return watch_key(expanded)

    def set_watch_enabled(self, path: str | Path, enabled: bool) -> WatchSettings:
        """Switch a watch on or off (``enabled``) and keep it in the config either way."""
        from core.config import edit

        expanded = self._watch_path(path)
        updated = self._edit_config(
            lambda: edit.set_watch_enabled(self.paths.config_file, expanded, enabled),
            f"cannot {'enable' if enabled else 'disable'} {expanded}",
        )
        self._notify_engine(Change.WATCHES)
        key = watch_key(expanded)
        return next(watch for watch in updated.watch if watch_key(watch.path) == key)

    def _watch_path(self, path: str | Path) -> str:
        text = str(path).strip()
        if not text:
            raise InputError("give a directory (or a file) to watch")
        if "\x00" in text:
            raise InputError(f"cannot watch {text!r}: a path cannot contain a NUL character")
        return os.path.expanduser(text)

    @staticmethod
    def _edit_config(edit_call: Callable[[], Settings], what: str) -> Settings:
        """One config edit, its refusals (already watched, not watched, a config that would
        not load) and the disk's as the one line the user sees."""
        try:
            return edit_call()
        except ConfigError as error:
            raise InputError(str(error)) from None
        except OSError as error:  # the config's folder read-only, a full disk
            raise InputError(f"{what}: {describe_os_error(error)}") from None

    def _config_on_disk(self) -> Settings:
        try:
            return load_settings(self.paths.config_file)
        except ConfigError as error:
            raise InputError(str(error)) from None

    # -- schedules (their pauses and last runs are ledger flags) ----------------------

    def schedules(self) -> list[ScheduleInfo]:
        """Every ``[[schedule]]`` with its next and last run, pause and missed runs."""
        return describe_schedules(self.settings, self.ledger)

    def run_schedule(self, name: str, by: str = "the user") -> Job:
        """Queue the schedule's job now (paused or not); it counts as its last run."""
        schedule = find_schedule(self.settings, name)
        now = self.ledger.clock.local()
        job = self.add(
            schedule.prompt or "",
            workflow=schedule.workflow,
            source=JobSource.SCHEDULE,
            trigger=f"schedule {name}: run now by {by}",
            template_values={"now": now.isoformat(timespec="seconds")},
        )
        self.ledger.set_flag(schedule_key(schedule), self.ledger.clock.iso())
        return job

    def pause_schedule(self, name: str) -> ScheduleInfo:
        """Stop the schedule's runs until :meth:`resume_schedule`; kept across restarts."""
        find_schedule(self.settings, name)
        if self.ledger.get_flag(paused_key(name)) is not None:
            raise InputError(
                f"schedule {name!r} is paused already: `flowtui schedules resume {name}` resumes it"
            )
        self.ledger.set_flag(paused_key(name), self.ledger.clock.iso())
        self._notify_engine(Change.SCHEDULES)
        return self._schedule_info(name)

    def resume_schedule(self, name: str) -> ScheduleInfo:
        """Run the schedule again from its next time: the runs that fell in the pause are skipped."""
        schedule = find_schedule(self.settings, name)
        if self.ledger.get_flag(paused_key(name)) is None:
            raise InputError(f"schedule {name!r} is not paused: nothing to resume")
        self.ledger.set_flag(schedule_key(schedule), self.ledger.clock.iso())
        self.ledger.set_flag(paused_key(name), None)
        self._notify_engine(Change.SCHEDULES)
        return self._schedule_info(name)

    def _schedule_info(self, name: str) -> ScheduleInfo:
        return next(info for info in self.schedules() if info.name == name)

    # -- the subscription windows (ledger flags usage:WINDOW) ------------------------

    def usage(self) -> list[UsageReading]:
        """Each subscription window's latest reading, five-hour first."""
        return read_usage(self.ledger)

    # -- notifications (the Telegram outbox) ----------------------------------------

    def resend_notification(self, notification_id: int) -> Notification:
        """Queue a new copy of a notification (the old row keeps its history); the engine's
        Telegram service sends it. A row made while Telegram was set up can be sent again
        after the section went: the copy waits in the outbox until it is back."""
        self.paths.ensure_data_dir()
        store = NotificationStore(self.paths.ledger_db, self.ledger.clock)
        try:
            copy = store.resend(notification_id)
        except KeyError:
            if self.settings.telegram is None:  # the likeliest reason there is no such row
                raise InputError(NOT_CONFIGURED) from None
            raise InputError(
                f"no notification #{notification_id}: see `flowtui notifications` for the ids that exist"
            ) from None
        finally:
            store.close()
        self._notify_engine(Change.NOTIFICATIONS)
        return copy


def not_running_to_tell(job_id: int, state: JobState) -> str:
    """Why a message cannot reach job ``job_id`` in ``state``, and what to do instead (every
    surface says the same line, the window before it asks for the message)."""
    return (
        f"job #{job_id} is {state}, not running: use `flowtui followup {job_id} MESSAGE` "
        "to continue its session"
    )


def verb_done(verb: str) -> str:
    return {"keep": "kept", "discard": "discarded"}.get(verb, verb)


def _isolated(job: Job, verb: str) -> Workspace:
    workspace = job.workspace
    if workspace is None or not workspace.isolated:
        where = f"are in {job.git_root} already" if job.git_root else "were made where it ran"
        raise InputError(
            f"job #{job.id} has no worktree of its own to {verb} (its workflow's isolation is "
            f'"none"): its changes {where}'
        )
    return workspace


def _worktree_gone(job: Job) -> bool:
    return job.review == REVIEW_DISCARDED or (job.worktree is not None and not Path(job.worktree).is_dir())


def _continued(workspace: Workspace | None) -> Workspace | None:
    """A follow-up or retry works on in an isolated parent's worktree; a plain one records its own."""
    return workspace if workspace is not None and workspace.isolated else None


def _first_line(text: str, limit: int = 72) -> str:
    line = next((line.strip() for line in text.splitlines() if line.strip()), "flowtui job")
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _nothing_to_answer(job: Job, verb: str) -> str:
    if job.state is JobState.RUNNING:
        return f"job #{job.id} is running and waits for no answer: nothing to be {verb}"
    command = "approve" if verb == "approved" else "deny"
    return (
        f"job #{job.id} has no question waiting (it is {job.state}): {command} answers a running "
        "job's tool question, or a job awaiting approval before it runs"
    )


def _line(text: str, limit: int = 120) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _no_longer_waits(job_id: int) -> str:
    return f"job #{job_id} no longer waits for that answer: `flowtui show {job_id}` says what it waits on now"
