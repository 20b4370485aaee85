"""HTML pages: login, fleet, unit, session, users (the client pages are in ``clientpages``)."""

from __future__ import annotations

import math
import re
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from edgepose.dashboard import accounts, auth, queries, views
from edgepose.dashboard.web import COOKIE, LOGIN_CSRF_COOKIE, client_addr, ctx_of, error_page, page, render

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

PROGRAM_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def _redirect(url: str) -> Response:
    from starlette.responses import RedirectResponse

    return RedirectResponse(url, status_code=303)


def _int(v: Any, default: int, lo: int = 1, hi: int = 10**9) -> int:
    try:
        return max(lo, min(hi, int(v)))
    except (TypeError, ValueError):
        return default


def _safe_next(v: str | None) -> str:
    if not v or not v.startswith("/") or v.startswith("//") or "\\" in v or len(v) > 500:
        return "/"
    return v


# --------------------------------------------------------------------------- login
async def login_form(request: Request) -> Response:
    from edgepose.dashboard.web import identify

    if await identify(request) is not None:
        return _redirect(_safe_next(request.query_params.get("next")))
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or auth.new_secret()
    resp = render(request, "login.html", login_csrf=token, next=_safe_next(request.query_params.get("next")),
                  error=None, bye=request.query_params.get("bye") == "1")
    _set_cookie(request, resp, LOGIN_CSRF_COOKIE, token, 3600)
    return resp


def _set_cookie(request: Request, resp: Response, name: str, value: str, max_age: int) -> None:
    resp.set_cookie(name, value, max_age=max_age, httponly=True, samesite="strict", path="/",
                    secure=ctx_of(request).settings.secure_cookies)


async def login_submit(request: Request) -> Response:
    ctx = ctx_of(request)
    form = await request.form()
    name = str(form.get("name", ""))[:64].strip()
    password = str(form.get("password", ""))[:1024]
    nxt = _safe_next(str(form.get("next", "/")))
    token = request.cookies.get(LOGIN_CSRF_COOKIE)

    def again(status: int, error: str) -> Response:
        t = token or auth.new_secret()
        resp = render(request, "login.html", status=status, login_csrf=t, next=nxt, error=error, bye=False)
        _set_cookie(request, resp, LOGIN_CSRF_COOKIE, t, 3600)
        return resp

    if not auth.same(str(form.get("csrf", "")), token):
        return again(403, "The login form had expired. Please try again.")
    addr = client_addr(request)
    wait = max(ctx.names.blocked(name.lower()), ctx.addrs.blocked(addr))
    if wait:
        resp = again(429, f"Too many failed logins. Try again in {math.ceil(wait / 60)} min.")
        resp.headers["retry-after"] = str(math.ceil(wait))
        return resp
    user = await ctx.db(accounts.check_login, name, password)
    if user is None:
        ctx.names.fail(name.lower())
        ctx.addrs.fail(addr)
        return again(401, "Wrong name or password.")
    ctx.names.reset(name.lower())
    cookie, _login = await ctx.db(accounts.start_login, user, ctx.settings.session_hours)
    resp = _redirect(nxt)
    _set_cookie(request, resp, COOKIE, cookie, int(ctx.settings.session_hours * 3600))
    resp.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return resp


@page()
async def logout(request: Request) -> Response:
    ctx = ctx_of(request)
    cookie = request.cookies.get(COOKIE)
    if cookie:
        await ctx.db(accounts.end_login, cookie)
    resp = _redirect("/login?bye=1")
    resp.delete_cookie(COOKIE, path="/")
    return resp


# --------------------------------------------------------------------------- fleet
def _unit_rows(ctx: Any, units: list[Any], last: dict[str, Any]) -> list[dict[str, Any]]:
    from edgepose.dashboard.live import UnitLive

    now = time.time()
    rows = []
    for u in units:
        lv = ctx.feed.get(u.device_id) if ctx.feed is not None else None
        if lv is None:
            lv = UnitLive(u.device_id, online=u.online)
        v = lv.view(now, ctx.titles)
        if lv.seen_at is None:
            v["seen"] = ""
        rows.append({"unit": u, "live": v, "last": last.get(u.device_id),
                     "online": lv.online if lv.online is not None else u.online})
    return rows


@page()
async def fleet(request: Request) -> Response:
    ctx = ctx_of(request)
    q = request.query_params.get("q", "").strip()[:64]
    status = request.query_params.get("status", "all")
    online = {"online": True, "offline": False}.get(status)
    size = ctx.settings.page_size
    total = await ctx.db(queries.count_units, q or None, online)
    pages = max(1, math.ceil(total / size))
    pg = _int(request.query_params.get("page"), 1, 1, pages)
    units = await ctx.db(lambda st: st.units(search=q or None, online=online, limit=size, offset=(pg - 1) * size))
    last = await ctx.db(queries.last_sessions, [u.device_id for u in units])
    n_all, n_on = await ctx.db(queries.fleet_counts)
    base = f"/?q={quote(q)}&status={quote(status)}"
    return render(request, "fleet.html", rows=_unit_rows(ctx, units, last), q=q, show=status, total=total,
                  page=pg, pages=pages, base=base, n_all=n_all, n_on=n_on, titles=ctx.titles)


# --------------------------------------------------------------------------- unit
DONE = {
    "sent": "Sent to the unit: it will use this client and program for its next session.",
    "saved": "Saved. There is no broker connection (start with --mqtt), so the unit was not told.",
    "failed": "Saved, but the broker did not take the command; the unit was not told. Try again.",
    "cleared": "The next-session assignment was cleared.",
    "bad-client": "That client code is not valid: 1-32 of A-Z a-z 0-9 _ . - starting with a letter or digit.",
    "bad-program": "Choose a program.",
    "kept": "The unit was kept: it has stored sessions.",
    "forgotten": "That client code was forgotten; a forgotten code is not used again. Choose a new code.",
}


@page()
async def unit_page(request: Request) -> Response:
    ctx = ctx_of(request)
    uid = request.path_params["device_id"]
    u = await ctx.db(lambda st: st.unit(uid))
    if u is None:
        return error_page(request, 404, "No such unit.")
    size = ctx.settings.page_size
    total = await ctx.db(lambda st: st.count_sessions(device=uid))
    pages = max(1, math.ceil(total / size))
    pg = _int(request.query_params.get("page"), 1, 1, pages)
    sessions = await ctx.db(lambda st: st.sessions(device=uid, limit=size, offset=(pg - 1) * size, newest_first=True))
    events = await ctx.db(lambda st: st.events(device=uid, limit=15))
    clients = await ctx.db(lambda st: st.clients(limit=500))
    row = _unit_rows(ctx, [u], {})[0]
    default_program = u.next_program or (sessions[0].program if sessions else "squat")
    return render(request, "unit.html", u=u, row=row, sessions=sessions, events=events, total=total, page=pg,
                  pages=pages, base=f"/units/{quote(uid)}?", titles=ctx.titles, programs=ctx.titles,
                  default_program=default_program, clients=clients,
                  done=DONE.get(request.query_params.get("done", ""), None),
                  done_ok=request.query_params.get("done") in ("sent", "cleared"))


@page()
async def unit_assign(request: Request) -> Response:
    import anyio.to_thread

    from edgepose.telemetry.client_code import is_client_code

    ctx = ctx_of(request)
    uid = request.path_params["device_id"]
    form = await request.form()
    back = f"/units/{quote(uid)}"
    u = await ctx.db(lambda st: st.unit(uid))
    if u is None:
        return error_page(request, 404, "No such unit.")
    if form.get("clear"):
        await ctx.db(lambda st: st.set_next(uid, program=None, client=None))
        return _redirect(back + "?done=cleared")
    client = str(form.get("client", "")).strip()
    program = str(form.get("program", "")).strip()
    if not is_client_code(client):
        return _redirect(back + "?done=bad-client")
    if not PROGRAM_RE.match(program):
        return _redirect(back + "?done=bad-program")
    if await ctx.db(lambda st: st.tombstone(client)) is not None:
        return _redirect(back + "?done=forgotten")
    await ctx.db(lambda st: st.set_next(uid, program=program, client=client))
    if ctx.broker is None:
        return _redirect(back + "?done=saved")
    try:
        await anyio.to_thread.run_sync(lambda: ctx.broker.select(uid, program, client), limiter=ctx.limiter)
    except (RuntimeError, ValueError, OSError):
        return _redirect(back + "?done=failed")
    return _redirect(back + "?done=sent")


@page("admin")
async def unit_remove(request: Request) -> Response:
    ctx = ctx_of(request)
    uid = request.path_params["device_id"]
    result = await ctx.db(queries.remove_unit, uid)
    if result == "removed":
        return _redirect("/")
    return _redirect(f"/units/{quote(uid)}?done=kept")


# --------------------------------------------------------------------------- session
@page()
async def session_page(request: Request) -> Response:
    ctx = ctx_of(request)
    pk = _int(request.path_params["pk"], 0, 0)
    s = await ctx.db(lambda st: st.session(pk))
    if s is None:
        return error_page(request, 404, "No such session.")
    reps = await ctx.db(lambda st: st.reps(pk))
    client = await ctx.db(lambda st: st.client(s.client)) if s.client else None
    rows, measures = views.rep_rows(reps)
    clin = views.clinical_rows([s], client)
    tempo = s.payload.get("tempo") if isinstance(s.payload.get("tempo"), dict) else {}
    return render(request, "session.html", s=s, rows=rows, measures=measures, charts=views.session_charts(rows, measures),
                  cues=views.counts(s.payload, "cue_counts"), faults=views.counts(s.payload, "form_faults"),
                  clinical=clin[0] if clin else None, tempo=tempo, titles=ctx.titles,
                  hold=views.hold_s(s.payload), rom=views.rom_means(s.payload))


# --------------------------------------------------------------------------- users
@page("admin")
async def users_page(request: Request) -> Response:
    ctx = ctx_of(request)
    users = await ctx.db(accounts.list_users)
    return render(request, "users.html", users=users, message=USER_MSG.get(request.query_params.get("m", "")))


USER_MSG = {"added": "User added.", "removed": "User removed.", "exists": "That name is taken.",
            "bad": "Name or password not accepted: names are 1-64 of A-Z a-z 0-9 _ . @ -; passwords at least "
                   f"{auth.MIN_PASSWORD} characters.", "self": "You cannot remove yourself.",
            "last": "The last administrator cannot be removed."}


@page("admin")
async def users_add(request: Request) -> Response:
    ctx = ctx_of(request)
    form = await request.form()
    role = "admin" if form.get("role") == "admin" else "staff"
    try:
        await ctx.db(accounts.add_user, str(form.get("name", "")).strip(), str(form.get("password", "")), role)
    except ValueError as e:
        return _redirect("/admin/users?m=" + ("exists" if "exists" in str(e) else "bad"))
    return _redirect("/admin/users?m=added")


@page("admin")
async def users_remove(request: Request) -> Response:
    ctx = ctx_of(request)
    form = await request.form()
    name = str(form.get("name", ""))
    who = request.scope["edgepose.who"]
    if name == who.user.name:
        return _redirect("/admin/users?m=self")
    target = await ctx.db(accounts.get_user, name)
    if target is not None and target.is_admin and await ctx.db(accounts.count_admins) <= 1:
        return _redirect("/admin/users?m=last")
    await ctx.db(accounts.remove_user, name)
    return _redirect("/admin/users?m=removed")
