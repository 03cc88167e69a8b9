"""The HTTP trigger's routes: ``POST /jobs``, ``GET /jobs/ID`` and ``POST /github``.

Each route only parses and answers; jobs are queued through the operations door
(``Control.add``, as ``flowtui add`` does) with source ``http``, and a job is read back with
:func:`core.ops.record.job_record`, as ``flowtui show --json`` prints it. Every refusal is JSON
``{"error": "one line"}``. The door's calls touch the ledger, so they run in a worker thread,
never in the server's loop.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from core.engine.service import ServiceContext
from core.errors import InputError, log_failure
from core.http.config import MAX_BODY_BYTES, github_secret, http_token
from core.http.github import github_prompt, signature_matches, trigger_name
from core.jobs import JobSource
from core.ops.record import job_record

log = logging.getLogger(__name__)

DRAIN_LIMIT_BYTES = 8 * MAX_BODY_BYTES
"""An oversize body is read on (and dropped) up to this, so the client gets its 413 instead of
a reset connection; beyond it the connection is simply closed after the answer."""
JOB_FIELDS = {"prompt": str, "workflow": str, "cwd": str, "priority": int}


class Refusal(Exception):
    """A request answered with ``status`` and ``{"error": reason}``."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def error(status: int, reason: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": reason}, status_code=status, headers=headers)


def build_app(context: ServiceContext, environ: Mapping[str, str]) -> Starlette:
    """The endpoint's app; the token, the GitHub secret and the event map are read from the
    current config at each request."""

    async def add_job(request: Request) -> Response:
        _authorize(request, context, environ)
        fields = _job_fields(_json_object(await read_body(request)))
        try:
            job = await run_in_threadpool(
                context.control.add,
                fields["prompt"],
                workflow=fields.get("workflow", "default"),
                cwd=fields.get("cwd"),
                priority=fields.get("priority"),
                source=JobSource.HTTP,
            )
        except InputError as refused:
            raise Refusal(400, str(refused)) from None
        except Exception as failure:  # the ledger or the shared queue away: say so, queue nothing
            raise Refusal(503, _unavailable(failure)) from None
        return JSONResponse({"id": job.id, "state": str(job.state)}, status_code=201)

    async def show_job(request: Request) -> Response:
        _authorize(request, context, environ)
        job_id: int = request.path_params["job_id"]
        try:
            record = await run_in_threadpool(job_record, context.control, job_id)
        except InputError as unknown:
            raise Refusal(404, str(unknown)) from None
        return JSONResponse(record)

    async def github(request: Request) -> Response:
        secret = github_secret(context.settings, environ)
        if secret is None:
            raise Refusal(
                404, "GitHub webhooks are off: set [http] github_secret (or $FLOWTUI_HTTP_GITHUB_SECRET)"
            )
        body = await read_body(request)
        if not signature_matches(secret.get_secret_value(), body, request.headers.get("x-hub-signature-256")):
            raise Refusal(
                401, "bad or missing X-Hub-Signature-256: the webhook's secret must be [http] github_secret"
            )
        event = request.headers.get("x-github-event", "").strip()
        if not event:
            raise Refusal(400, "no X-GitHub-Event header: is this a GitHub webhook delivery?")
        if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            raise Refusal(400, "the webhook sends a form: set its Content type to application/json")
        payload = _json_object(body)
        if event == "ping":
            return JSONResponse({"ok": True, "event": "ping", "zen": str(payload.get("zen", ""))})
        workflow = context.settings.http.github.get(event)
        if workflow is None:
            reason = f'no workflow for GitHub event {event!r}: add {event} = "WORKFLOW" to [http.github]'
            return JSONResponse({"queued": False, "reason": reason}, status_code=202)
        prompt = github_prompt(event, request.headers.get("x-github-delivery"), payload)
        try:
            job = await run_in_threadpool(
                context.control.add,
                prompt,
                workflow=workflow,
                source=JobSource.HTTP,
                trigger=trigger_name(event, payload),
                template_values={"event": event},
            )
        except InputError as refused:
            raise Refusal(400, str(refused)) from None
        except Exception as failure:
            raise Refusal(503, _unavailable(failure)) from None
        return JSONResponse({"id": job.id, "workflow": workflow, "event": event}, status_code=201)

    async def refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Refusal)
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return error(exc.status, exc.reason, headers)

    async def not_here(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 404:
            where = f"{request.method} {request.url.path}"
            return error(404, f"no route {where}: use POST /jobs, GET /jobs/ID or POST /github")
        return error(exc.status_code, str(exc.detail))

    return Starlette(
        routes=[
            Route("/jobs", add_job, methods=["POST"]),
            Route("/jobs/{job_id:int}", show_job, methods=["GET"]),
            Route("/github", github, methods=["POST"]),
        ],
        exception_handlers={Refusal: refused, HTTPException: not_here},
    )


async def read_body(request: Request) -> bytes:
    """The body, refused with 413 once it passes ``MAX_BODY_BYTES`` as it streams in (a
    ``Content-Length`` may lie or be missing); what follows is read on and dropped."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > DRAIN_LIMIT_BYTES:
        raise Refusal(413, _too_large())
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size <= MAX_BODY_BYTES:
            chunks.append(chunk)
        elif size > DRAIN_LIMIT_BYTES:
            break
    if size > MAX_BODY_BYTES:
        raise Refusal(413, _too_large())
    return b"".join(chunks)


def _too_large() -> str:
    return f"the body is over {MAX_BODY_BYTES:,} bytes: send a shorter prompt (or point to a file in cwd)"


def _authorize(request: Request, context: ServiceContext, environ: Mapping[str, str]) -> None:
    """``Authorization: Bearer TOKEN`` with the configured token (constant-time), or 401."""
    token = http_token(context.settings, environ)
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if token is None:
        raise Refusal(401, "no [http] token is configured: set it (or $FLOWTUI_HTTP_TOKEN) and restart")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), token.get_secret_value().encode()
    ):
        raise Refusal(401, "missing or wrong token: send Authorization: Bearer TOKEN with [http] token")


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as bad:
        raise Refusal(400, f"the body is not JSON: {bad}") from None
    if not isinstance(data, dict):
        raise Refusal(400, f"expected a JSON object, got {type(data).__name__}")
    return data


def _job_fields(data: dict[str, Any]) -> dict[str, Any]:
    """``prompt`` (required, not blank), ``workflow``, ``cwd`` (absolute) and ``priority``."""
    unknown = sorted(set(data) - set(JOB_FIELDS))
    if unknown:
        raise Refusal(400, f"unknown field {unknown[0]!r}: expected {', '.join(JOB_FIELDS)}")
    for name, kind in JOB_FIELDS.items():
        value = data.get(name)
        if value is None:
            continue
        if not isinstance(value, kind) or isinstance(value, bool):
            expected = "an integer" if kind is int else "a string"
            raise Refusal(400, f"{name} must be {expected} (got {type(value).__name__})")
    fields = {name: value for name, value in data.items() if value is not None}
    if not str(fields.get("prompt", "")).strip():
        raise Refusal(400, "prompt is missing or empty: give the text Claude should work on")
    cwd = fields.get("cwd")
    if cwd is not None and not Path(cwd).expanduser().is_absolute():
        raise Refusal(400, f"cwd {cwd!r} is relative: give an absolute path on the engine's machine")
    return fields


def _unavailable(failure: Exception) -> str:
    line = log_failure(log, "the HTTP trigger cannot queue a job", failure)
    return f"cannot queue the job now: {line or 'internal error, see the engine log'}"
