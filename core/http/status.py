"""The HTTP trigger's health in one line for ``doctor``: configured, exposed, answering."""

from __future__ import annotations

import socket
from collections.abc import Mapping
from dataclasses import dataclass

from core.config.settings import Settings
from core.http.config import MISSING_TOKEN, HttpAddress, github_secret, http_address, http_token

PROBE_SECONDS = 1.0


@dataclass(frozen=True)
class HttpHealth:
    """Like doctor's check: a warning is not ok, yet doctor still exits 0 for it."""

    ok: bool
    detail: str
    warning: bool = False


def doctor_check(settings: Settings, environ: Mapping[str, str]) -> HttpHealth:
    """Not configured is fine; a missing token is not; a listen address others can reach
    without a TLS proxy in front is a warning. Never contains a secret."""
    address = http_address(settings)
    if address is None:
        return HttpHealth(True, "off ([http] listen is not set)")
    if http_token(settings, environ) is None:
        return HttpHealth(False, MISSING_TOKEN)
    github = "GitHub webhooks on" if github_secret(settings, environ) is not None else "no GitHub webhooks"
    state = f"http://{address}: {_answering(address)}; {github}"
    if not address.loopback and not settings.http.behind_tls_proxy:
        return HttpHealth(
            False,
            f"{state}; listens on {address.host}, not loopback, so the token crosses the network "
            "in clear: put a TLS proxy in front (then set [http] behind_tls_proxy = true) "
            "or listen on 127.0.0.1",
            warning=True,
        )
    return HttpHealth(True, state)


def _answering(address: HttpAddress) -> str:
    """Whether something accepts connections there now (an engine runs the endpoint)."""
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(address.host, address.host)
    try:
        with socket.create_connection((host, address.port), timeout=PROBE_SECONDS):
            return "answering"
    except OSError:
        return "nothing answers (the engine starts it: flowtui or flowtui serve)"
