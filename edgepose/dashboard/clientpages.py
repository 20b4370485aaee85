"""Client pages: the list, one client's progress and clinical tests, and their reports."""

from __future__ import annotations

import datetime as dt
import math
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from edgepose.dashboard import queries, reports, views
from edgepose.dashboard.pages import _int, _redirect
from edgepose.dashboard.web import ctx_of, error_page, page, render

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

MSG = {"saved": "Saved.", "bad-code": "That client code is not valid: 1-32 of A-Z a-z 0-9 _ . - starting with "
       "a letter or digit.", "exists": "That client code already exists.",
       "bad-year": "Birth year must be a year like 1950.", "bad-dates": "Dates must look like 2026-01-31.",
       "forgotten": "That client code was forgotten; a forgotten code is not used again. Choose a new code."}


def _date(v: str | None) -> dt.datetime | None:
    if not v:
        return None
    return dt.datetime.strptime(v.strip(), "%Y-%m-%d").replace(tzinfo=dt.UTC)


def period(request: Request) -> tuple[dt.datetime | None, dt.datetime | None]:
    """``from``/``to`` (inclusive days, UTC) of the query; ValueError for a malformed date."""
    start = _date(request.query_params.get("from"))
    end = _date(request.query_params.get("to"))
    return start, (end + dt.timedelta(days=1)) if end else None


async def no_such_client(request: Request, code: str) -> Response:
    """The page for a code with no client: what is known of its forgetting if it was forgotten
    (when, and that nothing of it is kept; 410 Gone), else 404."""
    from edgepose.telemetry.client_code import is_client_code

    ctx = ctx_of(request)
    tomb = await ctx.db(lambda st: st.tombstone(code)) if is_client_code(code) else None
    if tomb is None:
        return error_page(request, 404, "No such client.")
    return render(request, "client_forgotten.html", status=410, code=code, tomb=tomb)


@page()
async def clients_page(request: Request) -> Response:
    ctx = ctx_of(request)
    q = request.query_params.get("q", "").strip()[:32]
    size = ctx.settings.page_size
    total = await ctx.db(queries.count_clients, q or None)
    pages = max(1, math.ceil(total / size))
    pg = _int(request.query_params.get("page"), 1, 1, pages)
    clients = await ctx.db(lambda st: st.clients(search=q or None, limit=size, offset=(pg - 1) * size))
    stats = await ctx.db(queries.client_sessions_count, [c.code for c in clients])
    forgotten = await ctx.db(lambda st: st.tombstone_totals())
    return render(request, "clients.html", clients=clients, stats=stats, forgotten=forgotten, q=q, total=total,
                  page=pg, pages=pages,
                  base=f"/clients?q={quote(q)}", message=MSG.get(request.query_params.get("m", "")))


def _form_fields(form: Any) -> tuple[int | None, str | None, str | None]:
    y = str(form.get("birth_year", "")).strip()
    birth = int(y) if y else None
    if birth is not None and not 1900 <= birth <= dt.date.today().year:
        raise ValueError("bad-year")
    sex = str(form.get("sex", "")).strip() or None
    if sex not in (None, "f", "m"):
        sex = None
    note = str(form.get("note", "")).strip()[:500] or None
    return birth, sex, note


@page()
async def clients_add(request: Request) -> Response:
    from edgepose.telemetry.client_code import is_client_code

    ctx = ctx_of(request)
    form = await request.form()
    code = str(form.get("code", "")).strip()
    if not is_client_code(code):
        return _redirect("/clients?m=bad-code")
    try:
        birth, sex, note = _form_fields(form)
    except ValueError:
        return _redirect("/clients?m=bad-year")
    if await ctx.db(lambda st: st.tombstone(code)) is not None:
        return _redirect("/clients?m=forgotten")
    try:
        await ctx.db(lambda st: st.add_client(code, birth_year=birth, sex=sex, note=note))
    except ValueError:
        return _redirect("/clients?m=exists")
    return _redirect(f"/clients/{quote(code)}?m=saved")


@page()
async def client_update(request: Request) -> Response:
    ctx = ctx_of(request)
    code = request.path_params["code"]
    form = await request.form()
    try:
        birth, sex, note = _form_fields(form)
    except ValueError:
        return _redirect(f"/clients/{quote(code)}?m=bad-year")
    if not await ctx.db(queries.update_client, code, birth, sex, note):
        return await no_such_client(request, code)
    return _redirect(f"/clients/{quote(code)}?m=saved")


@page("admin")
async def client_forget(request: Request) -> Response:
    ctx = ctx_of(request)
    code = request.path_params["code"]
    form = await request.form()
    if str(form.get("confirm", "")).strip() != code:
        return error_page(request, 400, "To forget a client, type its code in the box to confirm.")
    result = await ctx.db(lambda st: st.forget_client(code))
    return render(request, "forgotten.html", result=result)


@page()
async def client_page(request: Request) -> Response:
    ctx = ctx_of(request)
    code = request.path_params["code"]
    client = await ctx.db(lambda st: st.client(code))
    if client is None:
        return await no_such_client(request, code)
    try:
        start, end = period(request)
    except ValueError:
        return _redirect(f"/clients/{quote(code)}?m=bad-dates")
    sessions = await ctx.db(lambda st: st.sessions(client=code, since=start, until=end, limit=2000))
    rows = views.clinical_rows(sessions, client)
    latest = {r.verdict.test: r for r in rows}  # sessions are oldest first: the last one wins
    return render(request, "client.html", c=client, sessions=list(reversed(sessions)), latest=list(latest.values()),
                  progress=views.progress(sessions, ctx.titles), clinical=rows,
                  clinical_charts=views.clinical_charts(rows), titles=ctx.titles,
                  start=request.query_params.get("from", ""), end=request.query_params.get("to", ""),
                  message=MSG.get(request.query_params.get("m", "")))


async def _report_data(request: Request) -> tuple[Any, list[Any], dict[int, list[Any]], str, str] | Response:
    ctx = ctx_of(request)
    code = request.path_params["code"]
    client = await ctx.db(lambda st: st.client(code))
    if client is None:
        return await no_such_client(request, code)
    try:
        start, end = period(request)
    except ValueError:
        return error_page(request, 400, "Dates must look like 2026-01-31.")
    sessions = await ctx.db(lambda st: st.sessions(client=code, since=start, until=end, limit=5000))
    reps = {}
    for s in sessions[:500]:
        reps[s.id] = await ctx.db(lambda st, pk=s.id: st.reps(pk))
    return client, sessions, reps, request.query_params.get("from", ""), request.query_params.get("to", "")


def _filename(code: str, start: str, end: str, ext: str) -> str:
    span = f"_{start or 'start'}_{end or 'today'}" if (start or end) else ""
    return f"edgepose_{code}{span}.{ext}"


@page()
async def client_pdf(request: Request) -> Response:
    import anyio.to_thread
    from starlette.responses import Response as Raw

    ctx = ctx_of(request)
    data = await _report_data(request)
    if not isinstance(data, tuple):
        return data
    client, sessions, reps, start, end = data
    who = request.scope["edgepose.who"].user.name
    pdf = await anyio.to_thread.run_sync(lambda: reports.client_pdf(client, sessions, reps, start, end, ctx.titles, who),
                                         limiter=ctx.limiter)
    return Raw(pdf, media_type="application/pdf",
               headers={"content-disposition": f'attachment; filename="{_filename(client.code, start, end, "pdf")}"'})


@page()
async def client_csv(request: Request) -> Response:
    from starlette.responses import Response as Raw

    ctx = ctx_of(request)
    data = await _report_data(request)
    if not isinstance(data, tuple):
        return data
    client, sessions, reps, start, end = data
    body = reports.client_csv(client, sessions, ctx.titles)
    return Raw(body.encode("utf-8"), media_type="text/csv; charset=utf-8",
               headers={"content-disposition": f'attachment; filename="{_filename(client.code, start, end, "csv")}"'})
