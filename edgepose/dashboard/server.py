"""Run the app under uvicorn with bounded resources.

- ``limit_concurrency``: open connections + running tasks; beyond it new requests get 503.
- A connection must deliver a whole request head within ``header_timeout_s`` of opening (or of its
  previous answer): idle or half-open connections, and clients that trickle bytes, are closed, so
  they cannot use up the connection limit (uvicorn alone arms no timer until a first answer).
- ``timeout_keep_alive`` closes idle keep-alive connections; the Guard middleware puts a deadline
  on each request; database work runs on ``workers`` threads.
- TLS from ``tls_cert``/``tls_key``, or behind a reverse proxy (``behind_proxy``: X-Forwarded-*
  trusted from ``proxy_ips`` only).
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any

from edgepose.dashboard.settings import DashboardSettings

log = logging.getLogger(__name__)


def guarded_protocol(header_timeout_s: float) -> type:
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class GuardedH11Protocol(H11Protocol):
        """uvicorn's h11 protocol with a deadline for each request head."""

        _head_timer: asyncio.TimerHandle | None = None

        def _arm(self) -> None:
            self._disarm()
            self._head_timer = self.loop.call_later(header_timeout_s, self._head_timeout)

        def _disarm(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _head_timeout(self) -> None:
            self._head_timer = None
            if not self.transport.is_closing() and self.conn.their_state in (h11.IDLE, h11.DONE, h11.MUST_CLOSE):
                if self.cycle is None or self.cycle.response_complete:
                    self.transport.close()

        def connection_made(self, transport: Any) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def handle_events(self) -> None:
            super().handle_events()
            if self.conn.their_state is not h11.IDLE:
                self._disarm()  # a whole head arrived; the request deadline takes over

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm()

    return GuardedH11Protocol


def uvicorn_config(app: Any, s: DashboardSettings, sock: socket.socket | None = None) -> Any:
    import uvicorn

    kw: dict[str, Any] = {}
    if s.tls:
        kw.update(ssl_certfile=s.tls_cert, ssl_keyfile=s.tls_key)
    return uvicorn.Config(
        app, host=s.bind, port=s.port, http=guarded_protocol(s.header_timeout_s), ws="none", lifespan="off",
        limit_concurrency=s.limit_concurrency, timeout_keep_alive=s.keep_alive_s, backlog=256,
        timeout_graceful_shutdown=5, proxy_headers=s.behind_proxy, forwarded_allow_ips=list(s.proxy_ips),
        server_header=False, date_header=True, log_config=None, access_log=False,
        h11_max_incomplete_event_size=16 * 1024, **kw)


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening socket (port 0 picks a free one), so callers learn the port before serving."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(fam, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise OSError(f"cannot listen on {host}:{port}: {e.strerror or e}; pick another --port or --bind") from e
    sock.listen(256)
    sock.set_inheritable(True)
    return sock


class Server:
    """uvicorn in this process: ``run()`` blocks; ``start()``/``stop()`` run it on a thread (tests)."""

    def __init__(self, app: Any, settings: DashboardSettings) -> None:
        import uvicorn

        self.settings = settings
        self.sock = bind_socket(settings.bind, settings.port)
        self.port = int(self.sock.getsockname()[1])
        self.server = uvicorn.Server(uvicorn_config(app, settings))
        self._thread: Any = None

    @property
    def url(self) -> str:
        host = self.settings.bind
        host = "127.0.0.1" if host in ("0.0.0.0", "") else (f"[{host}]" if ":" in host else host)
        return f"{'https' if self.settings.tls else 'http'}://{host}:{self.port}/"

    def run(self) -> None:
        self.server.run(sockets=[self.sock])

    def start(self, timeout: float = 10.0) -> Server:
        import threading
        import time

        self._thread = threading.Thread(target=self.run, name="edgepose-dashboard", daemon=True)
        self._thread.start()
        end = time.monotonic() + timeout
        while not self.server.started:
            if time.monotonic() > end or not self._thread.is_alive():
                raise RuntimeError("dashboard server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)
        self.sock.close()
