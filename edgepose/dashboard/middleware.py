"""ASGI middleware: security headers on every answer, and a deadline on every request.

A request that has not finished (body read and answer sent) within ``request_timeout_s`` is
answered 503 if nothing was sent yet, and its connection is closed otherwise. The live-update
stream (``/live``) is exempt: it is bounded by ``sse_clients`` instead.
"""

from __future__ import annotations

import logging
from typing import Any

from edgepose.dashboard.web import SECURITY_HEADERS

log = logging.getLogger(__name__)

Scope = dict[str, Any]
MAX_BODY = 64 * 1024  # the largest form is a login or a note
_HEADERS = [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]


class Guard:
    def __init__(self, app: Any, request_timeout_s: float = 30.0, hsts: bool = False,
                 streaming_paths: tuple[str, ...] = ("/live",)) -> None:
        self.app = app
        self.timeout = request_timeout_s
        self.streaming = streaming_paths
        self.extra = [(b"strict-transport-security", b"max-age=31536000")] if hsts else []

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_with_headers(message: dict[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                names = {k.lower() for k, _ in message.get("headers", [])}
                headers = list(message.get("headers", []))
                for k, v in _HEADERS + self.extra:
                    if k not in names:
                        headers.append((k, v))
                message = dict(message, headers=headers)
            await send(message)

        length = dict(scope.get("headers", [])).get(b"content-length", b"0")
        if not length.isdigit() or int(length) > MAX_BODY:
            await _plain(send, 413, b"request body too large\n")
            return
        seen = 0

        async def bounded_receive() -> dict[str, Any]:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > MAX_BODY:
                raise ValueError("request body larger than its content-length allows")
            return message

        if scope["path"] in self.streaming:
            await self.app(scope, bounded_receive, send_with_headers)
            return
        import anyio

        with anyio.move_on_after(self.timeout) as cancel:
            await self.app(scope, bounded_receive, send_with_headers)
        if cancel.cancelled_caught:
            log.warning("request %s %s timed out after %.0f s", scope.get("method"), scope.get("path"), self.timeout)
            if not started:
                await _plain(send, 503, b"request timed out\n")


async def _plain(send: Any, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode()), (b"connection", b"close"), *_HEADERS]})
    await send({"type": "http.response.body", "body": body})
