"""The HTTP trigger as an engine service: uvicorn serving the app on its own thread and loop.

The socket is bound in :meth:`HttpService.start`, on the engine's thread, so a port in use or a
missing token is one line there (the engine logs it, reports ``ServiceFailed`` and runs on
without the endpoint) instead of a server thread that dies. Not leader-only: with a shared
Redis queue every engine may listen on its own machine, and their jobs go into the one queue.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import threading
from collections.abc import Mapping

import uvicorn

from core.engine.service import ServiceContext
from core.events import ServiceStateChanged
from core.http.app import build_app
from core.http.config import HttpAddress, HttpConfigError, http_address, require_token

log = logging.getLogger(__name__)

START_TIMEOUT_SECONDS = 10.0
STOP_TIMEOUT_SECONDS = 10.0


class _Server(uvicorn.Server):
    """uvicorn's server that says when it accepts connections, and never touches signals
    (it runs off the main thread, where uvicorn installs none anyway)."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        self.ready.set()


class HttpService:
    """``[http] listen``: POST /jobs, GET /jobs/ID and POST /github, for the engine's lifetime."""

    name = "http"

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        """Where ``$FLOWTUI_HTTP_TOKEN`` and ``$FLOWTUI_HTTP_GITHUB_SECRET`` are read."""
        self.address: HttpAddress | None = None
        """Where it listens, once started (the real port when ``listen`` asked for port 0)."""
        self._server: _Server | None = None
        self._socket: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None

    def start(self, context: ServiceContext) -> None:
        configured = http_address(context.settings)
        if configured is None:
            raise HttpConfigError('[http] listen is not set: add listen = "127.0.0.1:8765" to [http]')
        require_token(context.settings, self.environ)
        self._socket = bind(configured)
        port = self._socket.getsockname()[1]
        self.address = HttpAddress(configured.host, port)
        # uvicorn logs every start step at INFO; our own line says where it listens.
        logging.getLogger("uvicorn.error").setLevel(logging.WARNING)
        config = uvicorn.Config(
            build_app(context, self.environ),
            log_config=None,
            access_log=False,
            lifespan="off",
            server_header=False,
            timeout_graceful_shutdown=5,
        )
        self._server = server = _Server(config)
        self._thread = threading.Thread(target=self._serve, name="http", daemon=True)
        self._thread.start()
        if not server.ready.wait(START_TIMEOUT_SECONDS) or self._failure is not None:
            self.stop()
            raise RuntimeError(f"the HTTP trigger did not start: {self._failure or 'timed out'}")
        log.info("HTTP trigger listening on http://%s", self.address)
        context.bus.publish(ServiceStateChanged(name=self.name))

    def _serve(self) -> None:
        assert self._server is not None and self._socket is not None
        try:
            asyncio.run(self._server.serve(sockets=[self._socket]))
        except BaseException as failure:  # SystemExit too: uvicorn exits when its start fails
            self._failure = failure
            log.error("the HTTP trigger stopped: %s", failure)
            if self._server is not None:
                self._server.ready.set()

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(STOP_TIMEOUT_SECONDS)
            if self._thread.is_alive():
                log.warning("the HTTP thread did not stop within %ss", STOP_TIMEOUT_SECONDS)
            self._thread = None
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        self._server = None


def bind(address: HttpAddress) -> socket.socket:
    """A listening socket on ``address``, or an HttpConfigError naming the key, the port and the fix."""
    family = socket.AF_INET6 if ":" in address.host else socket.AF_INET
    try:
        return socket.create_server((address.host, address.port), family=family, backlog=128)
    except OSError as failure:
        if failure.errno == errno.EADDRINUSE:
            reason = (
                f"port {address.port} is already in use (another flowtui engine or program listens "
                "there): stop it, or set another port in [http] listen"
            )
        elif failure.errno == errno.EACCES:
            reason = f"port {address.port} needs privileges: use a port above 1023 in [http] listen"
        else:
            reason = f"cannot listen there ({failure.strerror or failure}): fix [http] listen"
        raise HttpConfigError(f"[http] listen {address}: {reason}") from None
