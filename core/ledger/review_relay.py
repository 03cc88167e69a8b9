"""Keep and discard carried to the machine whose disk holds a job's worktree (Redis only).

A worktree lives on the machine that ran the job. The door on another machine posts the
request on that machine's list (``review-requests:<machine>``) and blocks on a reply list of
its own (``review-reply:<id>``) until the deadline; every engine looks at its machine's list
whenever the shared state changes, carries each request out through its own door, and
pushes the answer. A request nobody took by the deadline is taken back, so it never runs
later behind the asker's back.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, cast

if TYPE_CHECKING:
    import redis

log = logging.getLogger(__name__)

REPLY_KEPT_SECONDS = 120
"""An answer nobody read (the asker gave up) is dropped after this long."""


@dataclass(frozen=True)
class ReviewRequest:
    """``keep`` or ``discard`` of one job, asked for on another machine."""

    request_id: str
    job_id: int
    verb: str
    by: str
    asked_on: str
    """The machine it was asked for on."""


@dataclass(frozen=True)
class ReviewAnswer:
    """What the worktree's machine did: done (``ok``), or its one-line refusal."""

    ok: bool
    text: str


class RelayUnavailable(Exception):
    """The shared queue did not answer while a request was carried; the message says why."""


class ReviewRelay(Protocol):
    """Carries keep and discard to the machine with the worktree, and its answer back."""

    def ask(
        self, machine: str, request: ReviewRequest, wake: Callable[[], object], timeout: float
    ) -> ReviewAnswer | None:
        """Post ``request`` for ``machine``'s engine, ``wake`` the engines, and wait up to
        ``timeout`` seconds for the answer; None when no engine there took it.
        :class:`RelayUnavailable` when the shared queue cannot be reached."""
        ...

    def take(self, machine: str) -> list[ReviewRequest]:
        """The requests waiting for ``machine``'s engine, each taken once."""
        ...

    def answer(self, request: ReviewRequest, answer: ReviewAnswer) -> None: ...


class RedisReviewRelay:
    """The relay on the ledger's Redis, under its key prefix."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self._redis = client
        self._prefix = prefix

    def _requests(self, machine: str) -> str:
        return f"{self._prefix}review-requests:{machine}"

    def _reply(self, request_id: str) -> str:
        return f"{self._prefix}review-reply:{request_id}"

    def ask(
        self, machine: str, request: ReviewRequest, wake: Callable[[], object], timeout: float
    ) -> ReviewAnswer | None:
        import redis

        try:
            return self._ask(machine, request, wake, timeout)
        except redis.RedisError as error:
            raise RelayUnavailable(f"cannot reach the shared queue: {error}") from None

    def _ask(
        self, machine: str, request: ReviewRequest, wake: Callable[[], object], timeout: float
    ) -> ReviewAnswer | None:
        entry = json.dumps(request.__dict__)
        self._redis.rpush(self._requests(machine), entry)
        wake()
        answer = self._wait(request.request_id, timeout)
        if answer is not None:
            return answer
        if self._redis.lrem(self._requests(machine), 1, entry):
            return None  # taken back before any engine there took it: it will never run
        # an engine there took it as the deadline passed: its answer is on the way
        return self._wait(request.request_id, timeout) or ReviewAnswer(
            False,
            f"machine {machine}'s engine took the request but did not answer in time: "
            f"`flowtui show {request.job_id}` says whether it was done",
        )

    def _wait(self, request_id: str, timeout: float) -> ReviewAnswer | None:
        found = cast(Any, self._redis.blpop([self._reply(request_id)], timeout=max(timeout, 0.01)))
        if found is None:
            return None
        data = json.loads(found[1])
        return ReviewAnswer(ok=bool(data.get("ok")), text=str(data.get("text", "")))

    def take(self, machine: str) -> list[ReviewRequest]:
        taken = []
        while (entry := cast(Any, self._redis.lpop(self._requests(machine)))) is not None:
            try:
                data = json.loads(entry)
                taken.append(
                    ReviewRequest(
                        request_id=str(data["request_id"]),
                        job_id=int(data["job_id"]),
                        verb=str(data["verb"]),
                        by=str(data["by"]),
                        asked_on=str(data["asked_on"]),
                    )
                )
            except (ValueError, KeyError, TypeError) as error:
                log.warning("ignored a malformed keep/discard request %r: %s", entry, error)
        return taken

    def answer(self, request: ReviewRequest, answer: ReviewAnswer) -> None:
        key = self._reply(request.request_id)
        pipe = self._redis.pipeline()
        pipe.rpush(key, json.dumps({"ok": answer.ok, "text": answer.text}))
        pipe.expire(key, REPLY_KEPT_SECONDS)
        pipe.execute()


def new_request(job_id: int, verb: str, by: str, asked_on: str) -> ReviewRequest:
    return ReviewRequest(uuid.uuid4().hex, job_id, verb, by, asked_on)
