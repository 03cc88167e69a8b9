"""The ``[http]`` settings as the endpoint uses them: the address, the secrets with their
environment overrides, and the one-line state ``doctor`` prints.

The token and the GitHub secret stay :class:`SecretStr` and are read again at each request, so
an edit of the config (or a new environment) applies without a restart; ``listen`` needs one.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass

from core.config.check import SecretStr, secret_from
from core.config.settings import HTTP_GITHUB_SECRET_ENV, HTTP_TOKEN_ENV, Settings, split_listen
from core.errors import ConfigError

MAX_BODY_BYTES = 1_000_000
"""The largest request body read; a longer one is refused with 413 while it is read."""


class HttpConfigError(ConfigError):
    """The endpoint cannot start as configured; one line naming the key and the fix, no secret."""


@dataclass(frozen=True)
class HttpAddress:
    """Where the endpoint listens."""

    host: str
    port: int

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def http_address(settings: Settings) -> HttpAddress | None:
    """``[http] listen`` as an address, None when there is no endpoint (checked at load)."""
    if settings.http.listen is None:
        return None
    host, port = split_listen(settings.http.listen)
    return HttpAddress(host, port)


def http_token(settings: Settings, environ: Mapping[str, str]) -> SecretStr | None:
    """``$FLOWTUI_HTTP_TOKEN``, else ``[http] token``; None when neither is set."""
    return secret_from(settings.http.token, environ, HTTP_TOKEN_ENV)


def github_secret(settings: Settings, environ: Mapping[str, str]) -> SecretStr | None:
    """``$FLOWTUI_HTTP_GITHUB_SECRET``, else ``[http] github_secret``; None: no GitHub webhooks."""
    return secret_from(settings.http.github_secret, environ, HTTP_GITHUB_SECRET_ENV)


def require_token(settings: Settings, environ: Mapping[str, str]) -> SecretStr:
    token = http_token(settings, environ)
    if token is None:
        raise HttpConfigError(MISSING_TOKEN)
    return token


MISSING_TOKEN = (
    f"[http] token is missing: the endpoint needs one to refuse strangers; set [http] token "
    f"(a long random string, e.g. from `openssl rand -hex 32`) or ${HTTP_TOKEN_ENV}"
)


def is_loopback(host: str) -> bool:
    """Whether only this machine can reach ``host`` (``localhost`` counts; a name that could
    resolve elsewhere does not)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
