"""JSON under ``/api/`` (login cookie or ``Authorization: Bearer``) and the live stream ``/live``."""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import TYPE_CHECKING, Any

from edgepose.dashboard.pages import _int
from edgepose.dashboard.web import api, ctx_of, identify

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response


def _bad(msg: str) -> Response:
    from starlette.responses import JSONResponse

    return JSONResponse({"error": msg}, status_code=400)


@api
async def sessions(request: Request) -> Response:
    """``GET /api/sessions?device=ID&client=CODE&since=ISO&limit=N&offset=N``: stored sessions, oldest first,
    each the summary as received plus ``device_id``, ``client``, ``received_at`` (as ``edgepose history --json``)."""
    from starlette.responses import JSONResponse

    ctx = ctx_of(request)
    p = request.query_params
    since = None
    if p.get("since"):
        try:
            since = dt.datetime.fromisoformat(p["since"].replace("Z", "+00:00"))
        except ValueError:
            return _bad("since must be ISO 8601, e.g. 2026-01-31T00:00:00Z")
        if since.tzinfo is None:
            since = since.replace(tzinfo=dt.UTC)
    limit = _int(p.get("limit"), 1000, 1, 10000)
    offset = _int(p.get("offset"), 0, 0)
    rows = await ctx.db(lambda st: st.sessions(device=p.get("device") or None, client=p.get("client") or None,
                                               since=since, limit=limit, offset=offset))
    return JSONResponse([r.history_json() for r in rows])


def _unit_json(u: Any, live: dict[str, Any] | None) -> dict[str, Any]:
    return {"device_id": u.device_id, "online": u.online, "first_seen": u.first_seen.isoformat(),
            "last_seen": u.last_seen.isoformat(), "firmware": u.firmware, "model": u.model,
            "next_client": u.next_client, "next_program": u.next_program, "live": live}


@api
async def units(request: Request) -> Response:
    """``GET /api/units?q=TEXT&status=online|offline&limit=N&offset=N``: units by id."""
    from starlette.responses import JSONResponse

    ctx = ctx_of(request)
    p = request.query_params
    online = {"online": True, "offline": False}.get(p.get("status", ""))
    limit = _int(p.get("limit"), 1000, 1, 10000)
    offset = _int(p.get("offset"), 0, 0)
    rows = await ctx.db(lambda st: st.units(search=p.get("q") or None, online=online, limit=limit, offset=offset))
    now = time.time()
    out = []
    for u in rows:
        lv = ctx.feed.get(u.device_id) if ctx.feed is not None else None
        out.append(_unit_json(u, lv.view(now, ctx.titles) if lv else None))
    return JSONResponse(out)


@api
async def unknown(request: Request) -> Response:
    from starlette.responses import JSONResponse

    return JSONResponse({"error": "no such API endpoint; see docs/dashboard.md"}, status_code=404)


async def live(request: Request) -> Response:
    """Server-Sent Events: ``event: units`` with the plain-words view of each unit that changed."""
    import anyio
    from starlette.responses import PlainTextResponse, StreamingResponse

    ctx = ctx_of(request)
    who = await identify(request)
    if who is None:
        return PlainTextResponse("log in first\n", status_code=401)
    if ctx.feed is None:
        return PlainTextResponse("no broker configured (start the dashboard with --mqtt)\n", status_code=404)
    if ctx.sse_open >= ctx.settings.sse_clients:
        return PlainTextResponse("too many live views open; close one\n", status_code=503,
                                 headers={"retry-after": "30"})
    raw = request.query_params.get("ids", "")
    ids = {i for i in raw.split(",") if i}
    if len(ids) > 1000:
        ids = set(sorted(ids)[:1000])
    feed = ctx.feed
    cookie_check_every = 60.0

    async def stream() -> Any:
        seq = 0
        last_beat = last_check = time.monotonic()
        ctx.sse_open += 1
        try:
            yield "retry: 3000\n\n"
            while True:
                new, changed = feed.since(seq, ids or None)
                seq = new
                if changed:
                    now = time.time()
                    yield "event: units\ndata: " + json.dumps([u.view(now, ctx.titles) for u in changed]) + "\n\n"
                t = time.monotonic()
                if t - last_beat > 15:
                    yield ": keep-alive\n\n"
                    last_beat = t
                if t - last_check > cookie_check_every:
                    last_check = t
                    if await identify(request) is None:  # logged out or expired: stop
                        yield "event: logout\ndata: {}\n\n"
                        return
                await anyio.sleep(1.0)
        finally:
            ctx.sse_open -= 1

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"cache-control": "no-store", "x-accel-buffering": "no"})
