"""The job ledger on Redis, so flowtui processes on several machines share one truth.

Same contract as the SQLite ``Ledger`` (``core.ledger.store.LedgerStore``). Every write
is one Lua script, so a conditional transition (claim only from queued, recover only
the same run...) is checked and applied atomically on the server: two workers racing
for a job cannot both get it.

Keys, all under a prefix (``flowtui:`` by default):

- ``job:next``, ``event:next``   counters for the small integer ids (INCR)
- ``job:<id>``                  hash, one field per ``Job`` column; a NULL is a missing field
- ``jobs``                      sorted set of every id (score = id): newest first
- ``state:<state>``             sorted set of the ids in that state (score = id)
- ``finished``                  sorted set of ids with a ``finished_at`` (score = its epoch ms)
- ``events:<id>``               list of the job's events, JSON, oldest first
- ``costs``                     sorted set of attempt-ending events with a cost (score = epoch ms)
- ``flags``                     hash of engine flags
- ``reply:<token>``             a write's reply, kept 2 minutes, so a retried write
                                (the reply was lost, redis-py sent it again) is not applied twice
- ``review-requests:<machine>``  keep/discard asked for elsewhere, for that machine's engine
- ``review-reply:<id>``         its answer (``core.ledger.review_relay``)
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import UnionType
from typing import Any, TypeVar, Union, cast, get_args, get_origin, get_type_hints

import redis
from redis.commands.core import Script

from core.clock import SYSTEM_CLOCK, Clock, parse_time, to_iso
from core.jobs import JOB_COLUMNS, REVIEW_PENDING, Job, JobEvent, JobState, RunOutcome, Workspace
from core.ledger import redis_scripts as scripts
from core.ledger.prune import DeletedJobs, Reclaimed
from core.ledger.review_relay import RedisReviewRelay
from core.ledger.sqlite import (
    DEFAULT_LEASE,
    LedgerError,
    NewJob,
    encode_tools,
    lease_deadline,
    workspace_columns,
)
from core.ledger.stats import Stats, StatsRow

DEFAULT_PREFIX = "flowtui:"
_BATCH = 500

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_Row = dict[str, str | None]
_T = TypeVar("_T")


def _column_types() -> dict[str, type]:
    """Each Job column's value type (``int | None`` -> int), to read hash fields back."""
    found: dict[str, type] = {}
    for name, hint in get_type_hints(Job).items():
        options = get_args(hint) if get_origin(hint) in (Union, UnionType) else (hint,)
        found[name] = next(option for option in options if option is not type(None))
    return found


_COLUMN_TYPES = _column_types()


@dataclass(frozen=True)
class _Moment:
    """One instant as the ISO text stored in rows and as the epoch ms used for scores."""

    iso: str
    ms: int

    @classmethod
    def now(cls, clock: Clock) -> _Moment:
        iso = clock.iso()
        return cls(iso, _epoch_ms(iso))


class RedisLedger:
    """The ledger in one Redis database; thread-safe (redis-py pools its connections)."""

    def __init__(
        self,
        url: str,
        prefix: str = DEFAULT_PREFIX,
        socket_timeout: float = 15.0,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.url = url
        self.clock = clock
        self.prefix = prefix
        # A timeout, so a cut network shows as an error instead of a hang.
        self._redis = redis.Redis.from_url(
            url, decode_responses=True, socket_timeout=socket_timeout, socket_connect_timeout=5.0
        )
        write = self._write_script
        self._create = write(scripts.CREATE)
        self._claim = write(scripts.CLAIM)
        self._record_process = write(scripts.RECORD_PROCESS)
        self._finish = write(scripts.FINISH)
        self._requeue = write(scripts.REQUEUE)
        self._defer = write(scripts.DEFER)
        self._approve = write(scripts.APPROVE)
        self._cancel_queued = write(scripts.CANCEL_QUEUED)
        self._request_cancel = write(scripts.REQUEST_CANCEL)
        self._rewrite_waiting = write(scripts.REWRITE_WAITING)
        self._note = write(scripts.NOTE)
        self._set_waiting = write(scripts.SET_WAITING)
        self._post_input = write(scripts.POST_INPUT)
        self._take_inputs = write(scripts.TAKE_INPUTS)
        self._allow_always = write(scripts.ALLOW_ALWAYS)
        self._set_fields = write(scripts.SET_FIELDS)
        self._record_trees = write(scripts.RECORD_TREES)
        self._set_review = write(scripts.SET_REVIEW)
        self._renew = write(scripts.RENEW)
        self._recover = write(scripts.RECOVER)
        self._delete_finished = write(scripts.DELETE_FINISHED)
        self._list = self._redis.register_script(scripts.LIST)

    def __repr__(self) -> str:
        return f"RedisLedger({self.url!r}, prefix={self.prefix!r})"

    def close(self) -> None:
        self._redis.close()

    def _write_script(self, body: str) -> Script:
        return self._redis.register_script(scripts.PRELUDE + body + scripts.EPILOGUE)

    def _run(self, script: Script, *args: object, token: str | None = None) -> Any:
        """Run a write script now; ``token`` names the write, so a retry of it is a no-op."""
        moment = _Moment.now(self.clock)
        prelude_args = [self.prefix, moment.iso, str(moment.ms), token or uuid.uuid4().hex]
        return script(args=[*prelude_args, *(str(arg) for arg in args)])

    def _key(self, *parts: object) -> str:
        return self.prefix + ":".join(str(part) for part in parts)

    # -- reading -----------------------------------------------------------------

    def get(self, job_id: int) -> Job | None:
        raw = cast(dict[str, str], self._redis.hgetall(self._key("job", job_id)))
        return _decode_job(raw) if raw else None

    def require(self, job_id: int) -> Job:
        job = self.get(job_id)
        if job is None:
            raise LedgerError(f"no job #{job_id}: see `flowtui jobs` for the ids that exist")
        return job

    def list_jobs(self, states: Sequence[JobState] = (), limit: int | None = None) -> list[Job]:
        """Jobs newest first, optionally only those in the given states."""
        if limit == 0:
            return []
        # As SQLite's LIMIT: a negative limit means no limit.
        bound = "" if limit is None or limit < 0 else str(limit)
        wanted = list(dict.fromkeys(str(state) for state in states))
        rows = cast(list[list[str]], self._list(args=[self.prefix, bound, *wanted]))
        return [_decode_job(_pairs(row)) for row in rows if row]

    def events(self, job_id: int) -> list[JobEvent]:
        lines = cast(list[str], self._redis.lrange(self._key("events", job_id), 0, -1))
        found = []
        for line in lines:
            data = json.loads(line)
            cost = data.get("cost_usd")
            found.append(
                JobEvent(
                    id=int(data["id"]),
                    job_id=job_id,
                    at=data["at"],
                    state=data["state"],
                    reason=data["reason"],
                    cost_usd=None if cost is None else float(cost),
                )
            )
        return found

    def counts(self) -> dict[JobState, int]:
        pipe = self._redis.pipeline(transaction=True)
        for state in JobState:
            pipe.zcard(self._key("state", state))
        sizes = pipe.execute()
        return {state: int(size) for state, size in zip(JobState, sizes, strict=True)}

    def cancel_requested_ids(self) -> list[int]:
        return [job.id for job in reversed(self.orphans()) if job.cancel_requested]

    def stats(self, days: int) -> Stats:
        """Same figures as ``core.ledger.stats.collect_stats``, computed here from the indexes."""
        since = self.clock.days_ago_start(days - 1)
        since_ms = _epoch_ms(to_iso(since))
        ids = cast(list[str], self._redis.zrangebyscore(self._key("finished"), since_ms, "+inf"))
        fields = ("finished_at", "state", "workflow", "source", "cost_usd", "input_tokens", "output_tokens")
        finished = []
        for chunk in _chunks(ids):
            pipe = self._redis.pipeline(transaction=False)
            for job_id in chunk:
                pipe.hmget(self._key("job", job_id), fields)
            for values in pipe.execute():
                row = dict(zip(fields, values, strict=True))
                if row["finished_at"] is not None and _epoch_ms(row["finished_at"]) >= since_ms:
                    finished.append(row)
        costs = cast(
            list[tuple[str, float]],
            self._redis.zrangebyscore(self._key("costs"), since_ms, "+inf", withscores=True),
        )
        spent = [(int(score), float(json.loads(entry)["cost_usd"])) for entry, score in costs]
        return _stats_from(finished, spent, self.clock)

    def integrity_problems(self) -> list[str]:
        """Index consistency: every listed job exists and sits in the index of its state."""
        problems: list[str] = []
        ids = [int(job_id) for job_id in cast(list[str], self._redis.zrange(self._key("jobs"), 0, -1))]
        listed: dict[str, set[int]] = {}
        for state in JobState:
            in_state = cast(list[str], self._redis.zrange(self._key("state", state), 0, -1))
            listed[str(state)] = {int(member) for member in in_state}
        finished = {
            int(member) for member in cast(list[str], self._redis.zrange(self._key("finished"), 0, -1))
        }
        counter = int(cast(str | None, self._redis.get(self._key("job", "next"))) or 0)
        if ids and max(ids) > counter:
            problems.append(f"job id counter {counter} is below the highest job id {max(ids)}")
        known = set(ids)
        for chunk in _chunks(ids):
            pipe = self._redis.pipeline(transaction=False)
            for job_id in chunk:
                pipe.hmget(self._key("job", job_id), ("id", "state", "finished_at"))
            for job_id, (stored_id, stored_state, finished_at) in zip(chunk, pipe.execute(), strict=True):
                problems.extend(_job_problems(job_id, stored_id, stored_state, finished_at, listed, finished))
        for name, members in listed.items():
            problems.extend(f"state index {name} lists unknown job #{stray}" for stray in members - known)
        problems.extend(f"finished index lists unknown job #{job_id}" for job_id in finished - known)
        return problems

    def spent_since(self, since_utc: str, workflow: str | None = None) -> float:
        """Recorded cost of attempts that ended at or after ``since_utc``."""
        entries = cast(list[str], self._redis.zrangebyscore(self._key("costs"), _epoch_ms(since_utc), "+inf"))
        total = 0.0
        for entry in entries:
            data = json.loads(entry)
            if workflow is None or data["workflow"] == workflow:
                total += float(data["cost_usd"])
        return total

    def expired_leases(self, now_utc: str) -> list[Job]:
        """Running jobs whose worker stopped renewing (it died, or lost its connection)."""
        return [
            job
            for job in reversed(self.orphans())
            if job.lease_until is not None and job.lease_until < now_utc
        ]

    def orphans(self) -> list[Job]:
        """Jobs marked running: at engine start, none of them has a live owner."""
        return self.list_jobs(states=[JobState.RUNNING])

    def queued(self) -> list[Job]:
        """Queued jobs in the order they should run (priority, then age)."""
        return sorted(self.list_jobs(states=[JobState.QUEUED]), key=lambda job: (-job.priority, job.id))

    def search(self, text: str, limit: int | None = None) -> list[Job]:
        """Jobs whose prompt, answer, error or trigger contains ``text``, newest first
        (case-insensitive for ASCII only, as SQLite's LIKE)."""
        if limit == 0:
            return []
        needle = _ascii_fold(text)
        columns = ("prompt", "answer", "error", "trigger")
        ids = cast(list[str], self._redis.zrevrange(self._key("jobs"), 0, -1))
        found: list[Job] = []
        for chunk in _chunks(ids):
            pipe = self._redis.pipeline(transaction=False)
            for job_id in chunk:
                pipe.hmget(self._key("job", job_id), columns)
            hits = [
                int(job_id)
                for job_id, values in zip(chunk, pipe.execute(), strict=True)
                if any(value is not None and needle in _ascii_fold(value) for value in values)
            ]
            if limit is not None and limit > 0:
                hits = hits[: limit - len(found)]
            pipe = self._redis.pipeline(transaction=False)
            for hit in hits:
                pipe.hgetall(self._key("job", hit))
            found.extend(_decode_job(raw) for raw in pipe.execute() if raw)
            if limit is not None and 0 < limit <= len(found):
                break
        return found

    # -- engine flags (pause survives a restart) ------------------------------------

    def get_flag(self, key: str) -> str | None:
        return cast(str | None, self._redis.hget(self._key("flags"), key))

    def flags_with_prefix(self, prefix: str) -> dict[str, str]:
        found = self._redis.hscan_iter(self._key("flags"), match=_glob_escape(prefix) + "*")
        return {str(key): str(value) for key, value in found}

    def set_flag(self, key: str, value: str | None) -> None:
        if value is None:
            self._redis.hdel(self._key("flags"), key)
        else:
            self._redis.hset(self._key("flags"), key, value)

    # -- state changes ---------------------------------------------------------------

    def create(self, new: NewJob, reason: str) -> Job:
        state = JobState.AWAITING_APPROVAL if new.awaiting_approval else JobState.QUEUED
        columns = {
            "workflow": new.workflow,
            "prompt": new.prompt,
            "source": new.source,
            "cwd": new.cwd,
            "trigger": new.trigger,
            "max_attempts": new.max_attempts,
            "priority": new.priority,
            "parent_id": new.parent_id,
            "resume_session_id": new.resume_session_id,
            "always_allowed": encode_tools(new.always_allowed),
            **workspace_columns(new.workspace),
        }
        pairs = [part for name, value in columns.items() for part in (name, _opt(value))]
        return _decode_job(_pairs(self._run(self._create, state, reason, *pairs)))

    def claim(
        self, job_id: int, owner_pid: int, owner_host: str = "", lease_seconds: float = DEFAULT_LEASE
    ) -> Job | None:
        """queued -> running, counting the attempt and taking a lease on it; None when the job
        is not queued any more (another worker has it, or it was cancelled)."""
        row = self._run(self._claim, job_id, owner_pid, owner_host, lease_deadline(self.clock, lease_seconds))
        return _decode_job(_pairs(row)) if row else None

    def record_process(self, job_id: int, pid: int, started: float, transcript_path: str) -> None:
        if not self._run(self._record_process, job_id, pid, repr(started), transcript_path):
            raise _vanished(job_id)

    def finish(self, job_id: int, outcome: RunOutcome) -> Job:
        """running -> a final state, with what the run reported."""
        reason = outcome.error or ("cancelled" if outcome.state is JobState.CANCELLED else "done")
        row = self._run(
            self._finish,
            job_id,
            outcome.state,
            *map(
                _opt,
                (
                    outcome.exit_code,
                    outcome.error,
                    outcome.cost_usd,
                    outcome.input_tokens,
                    outcome.output_tokens,
                    outcome.turns,
                    outcome.session_id,
                    outcome.answer,
                ),
            ),
            reason,
            _opt(outcome.structured_output),
        )
        if not row:
            raise _vanished(job_id)
        return _decode_job(_pairs(row))

    def requeue(
        self,
        job_id: int,
        reason: str,
        run_after: str | None,
        refund_attempt: bool = False,
        outcome: RunOutcome | None = None,
    ) -> Job:
        """running -> queued again (a retry, or a run the engine itself interrupted); what the
        ended attempt reported (cost, session, error) is kept."""
        row = self._run(
            self._requeue,
            job_id,
            _opt(run_after),
            "1" if refund_attempt else "0",
            _opt(outcome.cost_usd if outcome else None),
            _opt(outcome.error if outcome else None),
            _opt(outcome.session_id if outcome else None),
            reason,
        )
        if not row:
            raise _vanished(job_id)
        return _decode_job(_pairs(row))

    def defer(self, job_id: int, run_after: str, reason: str) -> bool:
        """A queued job waits until ``run_after`` (a workflow over its budget)."""
        return bool(self._run(self._defer, job_id, JobState.QUEUED, reason, run_after))

    def approve(self, job_id: int, reason: str) -> bool:
        """awaiting_approval -> queued."""
        return bool(self._run(self._approve, job_id, JobState.AWAITING_APPROVAL, reason))

    def cancel_queued(self, job_id: int, reason: str) -> bool:
        """queued (or awaiting approval) -> cancelled."""
        waiting = f"{JobState.QUEUED} {JobState.AWAITING_APPROVAL}"
        return bool(self._run(self._cancel_queued, job_id, waiting, reason))

    def request_cancel(self, job_id: int, reason: str) -> bool:
        """Mark a running job for cancelling; the engine that runs it ends it."""
        return bool(self._run(self._request_cancel, job_id, JobState.RUNNING, reason))

    # -- where in git a job works, and what it changed ----------------------------------

    def set_workspace(self, job_id: int, workspace: Workspace, reason: str | None) -> Job:
        """Record the repository (and worktree) a job works in; an isolated job's changes wait
        for review from here on."""
        pairs = [part for name, value in workspace_columns(workspace).items() for part in (name, _opt(value))]
        row = self._run(self._set_fields, job_id, reason or "", *pairs)
        if not row:
            raise _vanished(job_id)
        return _decode_job(_pairs(row))

    def record_trees(self, job_id: int, before: str | None, after: str | None, reason: str | None) -> None:
        """The working tree before an attempt (kept only from the first) and after it (the latest)."""
        self._run(self._record_trees, job_id, _opt(before), _opt(after), reason or "")

    def set_review(self, job_id: int, review: str, reason: str) -> bool:
        """What became of the job's worktree changes; False when it has no worktree or is
        already so."""
        return bool(self._run(self._set_review, job_id, review, reason))

    # -- questions and messages of a running job ------------------------------------

    def set_waiting(self, job_id: int, question: str | None, reason: str | None) -> bool:
        """What a running job waits for (a JSON question), or None once it waits for nothing."""
        return bool(self._run(self._set_waiting, job_id, JobState.RUNNING, reason or "", _opt(question)))

    def post_input(self, job_id: int, entry: str, reason: str) -> bool:
        """Keep an answer or a message for a running job until its engine takes it."""
        return bool(self._run(self._post_input, job_id, JobState.RUNNING, reason, entry))

    def input_job_ids(self) -> set[int]:
        return {int(job_id) for job_id in cast(set[str], self._redis.smembers(self._key("inputs")))}

    def take_inputs(self, job_id: int) -> list[str]:
        """The job's kept inputs, oldest first, removed as they are taken (each is taken once)."""
        return list(cast(list[str], self._run(self._take_inputs, job_id)) or [])

    def allow_always(self, job_id: int, tool: str) -> None:
        """Remember that ``tool`` needs no question for the rest of the job."""
        self._run(self._allow_always, job_id, tool)

    def renew_leases(
        self, job_ids: Sequence[int], owner_pid: int, owner_host: str, lease_seconds: float
    ) -> set[int]:
        """Extend the leases this worker holds; returns the ids it still owns (a job missing
        from the answer was taken back after its lease ran out, and must be stopped here)."""
        if not job_ids:
            return set()
        owned = self._run(
            self._renew, lease_deadline(self.clock, lease_seconds), owner_pid, owner_host, *job_ids
        )
        return {int(job_id) for job_id in owned or ()}

    def recover_orphan(self, job: Job, reason: str) -> JobState | None:
        """An interrupted job goes back to queued, or fails once its attempts are spent.

        Only while it is still the same run (running, same attempt, same owner): when two
        engines see the same expired lease, one recovers it and the other gets None.
        """
        state = self._run(
            self._recover,
            job.id,
            job.attempts,
            _opt(job.owner_pid),
            _opt(job.owner_host),
            f"cancelled ({reason})",
            f"{reason}; all {job.max_attempts} attempts spent",
            f"{reason}; will run again",
        )
        return JobState(state) if state else None

    def review_relay(self) -> RedisReviewRelay:
        """Keep and discard of a worktree on another machine, carried to its engine."""
        return RedisReviewRelay(self._redis, self.prefix)

    def note(self, job_id: int, reason: str) -> None:
        """A history line that is not a state change (for example a skipped stray line)."""
        if not self._run(self._note, job_id, reason):
            raise _vanished(job_id)

    def rewrite_waiting(self, job_id: int, prompt: str, trigger: str | None, reason: str) -> Job | None:
        """Replace a job's prompt while it still waits (queued or awaiting approval), so new
        changes join it instead of queuing a twin; None once a worker has claimed it."""
        waiting = f"{JobState.QUEUED} {JobState.AWAITING_APPROVAL}"
        row = self._run(self._rewrite_waiting, job_id, waiting, reason, prompt, _opt(trigger))
        return _decode_job(_pairs(row)) if row else None

    # -- retention ------------------------------------------------------------------

    def delete_finished(self, before_utc: str, dry_run: bool = False) -> DeletedJobs:
        """Delete jobs finished before ``before_utc`` with their events, inputs and cost
        entries, keeping the same jobs the SQLite ledger keeps. Which job another was made
        from is read before the deleting script runs: a retry made in that very moment may
        name a parent that is gone (nothing here depends on it)."""
        ids = cast(
            list[str], self._redis.zrangebyscore(self._key("finished"), "-inf", f"({_epoch_ms(before_utc)}")
        )
        old = [
            job
            for job in self._jobs_by_id(ids)
            if job.state.is_final and job.finished_at is not None and job.finished_at < before_utc
        ]
        for_review = [job for job in old if job.review == REVIEW_PENDING]
        candidates = {job.id: job for job in old if job.review != REVIEW_PENDING}
        removable = self._without_parents_of_kept(candidates)
        deleted: list[int] = []
        events = inputs = 0
        for chunk in _chunks(sorted(removable)):
            ids_done, events_done, inputs_done = self._run(
                self._delete_finished, "1" if dry_run else "0", *chunk
            )
            deleted.extend(int(job_id) for job_id in ids_done or ())
            events += int(events_done)
            inputs += int(inputs_done)
        return DeletedJobs(
            jobs=[candidates[job_id] for job_id in sorted(deleted)],
            events=events,
            inputs=inputs,
            kept_for_review=len(for_review),
            kept_as_parent=len(candidates) - len(removable),
        )

    def _jobs_by_id(self, ids: Sequence[str]) -> list[Job]:
        found: list[Job] = []
        for chunk in _chunks(ids):
            pipe = self._redis.pipeline(transaction=False)
            for job_id in chunk:
                pipe.hgetall(self._key("job", job_id))
            found.extend(_decode_job(raw) for raw in pipe.execute() if raw)
        return found

    def _without_parents_of_kept(self, candidates: dict[int, Job]) -> set[int]:
        """The candidates no staying job was made from (children have higher ids, so deciding
        from the newest down settles each child before its parent)."""
        if not candidates:
            return set()
        newer = cast(list[str], self._redis.zrangebyscore(self._key("jobs"), f"({min(candidates)}", "+inf"))
        children: dict[int, list[int]] = {}
        for chunk in _chunks(newer):
            pipe = self._redis.pipeline(transaction=False)
            for job_id in chunk:
                pipe.hget(self._key("job", job_id), "parent_id")
            for job_id, parent in zip(chunk, pipe.execute(), strict=True):
                if parent is not None and int(parent) in candidates:
                    children.setdefault(int(parent), []).append(int(job_id))
        removable: set[int] = set()
        for candidate in sorted(candidates, reverse=True):
            if all(child in removable for child in children.get(candidate, [])):
                removable.add(candidate)
        return removable

    def reclaim_space(self) -> Reclaimed:
        return Reclaimed(bytes=None, returned_to_disk=False)


def _opt(value: object) -> str:
    """An optional script argument: "" is NULL, anything else is "=" + its text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "=1" if value else "=0"
    if isinstance(value, float):
        return "=" + repr(value)
    return f"={value}"


def _pairs(flat: Sequence[str]) -> dict[str, str]:
    """HGETALL as a script returns it (name, value, name, value...) -> a dict."""
    return dict(zip(flat[::2], flat[1::2], strict=True))


def _decode_job(raw: dict[str, str]) -> Job:
    values: dict[str, object] = dict.fromkeys(JOB_COLUMNS)
    for name, text in raw.items():
        kind = _COLUMN_TYPES.get(name)
        if kind is None:
            continue  # a field a newer flowtui added; this one does not know it
        if kind is bool:
            values[name] = text == "1"
        elif kind in (int, float, JobState):
            values[name] = kind(text)
        else:
            values[name] = text
    return Job(**cast(dict[str, Any], values))


def _vanished(job_id: int) -> LedgerError:
    return LedgerError(f"job #{job_id} is not in the ledger: see `flowtui jobs` for the ids that exist")


def _epoch_ms(iso: str) -> int:
    moment = parse_time(iso)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def _chunks(items: Sequence[_T]) -> Iterable[Sequence[_T]]:
    for start in range(0, len(items), _BATCH):
        yield items[start : start + _BATCH]


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _ascii_fold(text: str) -> str:
    return text.translate(_ASCII_LOWER)


def _job_problems(
    job_id: int,
    stored_id: str | None,
    state: str | None,
    finished_at: str | None,
    listed: dict[str, set[int]],
    finished: set[int],
) -> list[str]:
    if stored_id is None:
        return [f"job #{job_id} is listed but has no record"]
    problems = []
    holders = sorted(name for name, members in listed.items() if job_id in members)
    if holders != [state]:
        problems.append(f"job #{job_id} is {state} but the state index lists it under {holders or 'none'}")
    if (finished_at is not None) != (job_id in finished):
        problems.append(f"job #{job_id} finished_at {finished_at} disagrees with the finished index")
    return problems


def _stats_from(finished: list[_Row], spent: list[tuple[int, float]], clock: Clock) -> Stats:
    """``collect_stats`` in Python: rows are finished jobs, ``spent`` is (epoch ms, cost)
    per attempt; days are each moment's local day, as the SQL version does."""

    def day_of(moment: datetime) -> str:
        return clock.local_date(moment).isoformat()

    cost_by_day: dict[str, float] = {}
    for ms, cost in spent:
        day = day_of(_EPOCH + timedelta(milliseconds=ms))
        cost_by_day[day] = cost_by_day.get(day, 0.0) + cost
    per_day = _group(finished, lambda row: day_of(parse_time(row["finished_at"] or "")))
    days_rows = [
        StatsRow(
            row.key,
            row.jobs,
            row.succeeded,
            row.failed,
            cost_by_day.get(row.key, 0.0),
            row.input_tokens,
            row.output_tokens,
        )
        for row in per_day
    ]
    seen = {row.key for row in days_rows}
    days_rows.extend(
        StatsRow(day, 0, 0, 0, cost, 0, 0) for day, cost in cost_by_day.items() if day not in seen
    )
    days_rows.sort(key=lambda row: row.key, reverse=True)
    return Stats(
        days=days_rows,
        workflows=_group(finished, lambda row: row["workflow"] or ""),
        sources=_group(finished, lambda row: row["source"] or ""),
    )


def _group(rows: list[_Row], key_of: Callable[[_Row], str]) -> list[StatsRow]:
    """GROUP BY ``key_of(row)`` ORDER BY key, with collect_stats's sums."""
    groups: dict[str, list[_Row]] = {}
    for row in rows:
        groups.setdefault(str(key_of(row)), []).append(row)
    return [
        StatsRow(
            key,
            len(members),
            sum(row["state"] == JobState.SUCCEEDED for row in members),
            sum(row["state"] == JobState.FAILED for row in members),
            sum(float(row["cost_usd"]) for row in members if row["cost_usd"] is not None),
            sum(int(row["input_tokens"]) for row in members if row["input_tokens"] is not None),
            sum(int(row["output_tokens"]) for row in members if row["output_tokens"] is not None),
        )
        for key, members in sorted(groups.items())
    ]


def _glob_escape(text: str) -> str:
    """``text`` matched literally by Redis's glob patterns (HSCAN MATCH)."""
    return "".join("\\" + char if char in "*?[]\\" else char for char in text)
