"""The ``[[notify]]`` entries as the outbox uses them: named, resolved, filtered, and shown redacted.

A channel's URL may carry a secret (an ntfy token in the query, a webhook key in the path, a
user and password), so it is only ever shown or logged as :func:`redact_url` makes it: the
scheme, host and port.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath
from urllib.parse import urlsplit

from core.config.settings import NotifyEvent, NotifySettings, Settings, notify_names
from core.jobs import Job, JobState

NEEDS_YOU_EVENT: NotifyEvent = "needs_you"
DEFAULT_SPACING_SECONDS = {"webhook": 0.2, "ntfy": 1.0, "command": 0.0}
"""How far apart one channel's rows go (ntfy.sh allows a burst, then about one a few seconds)."""


@dataclass(frozen=True)
class Channel:
    """One ``[[notify]]`` entry, resolved: its name, where it goes, and what it is told."""

    name: str
    settings: NotifySettings

    @property
    def kind(self) -> str:
        return self.settings.kind

    @property
    def url(self) -> str:
        """The full URL (a secret: never shown; see :meth:`target`)."""
        return self.settings.url.get_secret_value().strip() if self.settings.url else ""

    @property
    def argv(self) -> list[str]:
        return list(self.settings.command or [])

    @property
    def spacing_seconds(self) -> float:
        return DEFAULT_SPACING_SECONDS[self.kind]

    def target(self) -> str:
        """Where it goes, safe to show: ``ntfy https://ntfy.sh/…``, ``command notify-send``."""
        if self.kind == "command":
            return f"command {PurePath(self.argv[0]).name}" if self.argv else "command"
        return f"{self.kind} {redact_url(self.url)}"

    def secrets(self) -> tuple[str, ...]:
        """Pieces of the URL an error message might repeat (blanked from every reason)."""
        if not self.url:
            return ()
        parts = urlsplit(self.url)
        pieces = [self.url, parts.path, parts.query, parts.password or "", parts.username or ""]
        return tuple(piece for piece in pieces if len(piece) > 1)

    def wants(self, event: NotifyEvent, workflow: str) -> bool:
        """Whether this channel is told ``event`` for a job of ``workflow``."""
        workflows = self.settings.workflows
        return event in self.settings.on and (workflows is None or workflow in workflows)


def redact_url(url: str) -> str:
    """``scheme://host[:port]/…``: no user, password, path or query (any may be the secret)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(a URL)"
    if ":" in host:
        host = f"[{host}]"
    rest = "/…" if (parts.path not in ("", "/") or parts.query or parts.fragment) else "/"
    return f"{parts.scheme}://{host}{port}{rest}"


def resolve_channels(settings: Settings) -> dict[str, Channel]:
    """Every ``[[notify]]`` entry by its name (in config order)."""
    return {
        name: Channel(name, entry)
        for name, entry in zip(notify_names(settings.notify), settings.notify, strict=True)
    }


def finished_event(job: Job) -> NotifyEvent | None:
    """The event a job's end is (None: it is not final, or was cancelled before it ran, when
    whoever cancelled it already knows)."""
    if job.state is JobState.SUCCEEDED:
        return "succeeded"
    if job.state is JobState.FAILED:
        return "failed"
    if job.state is JobState.CANCELLED and job.started_at is not None:
        return "cancelled"
    return None
