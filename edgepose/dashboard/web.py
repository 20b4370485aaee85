"""Request plumbing shared by the pages and the API: who is asking, CSRF, templates, DB threads."""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from edgepose.dashboard import accounts, auth, words
from edgepose.dashboard.settings import DashboardSettings

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from edgepose.dashboard.live import Broker, LiveFeed
    from edgepose.history.store import Store

log = logging.getLogger(__name__)

COOKIE = "edgepose_session"
LOGIN_CSRF_COOKIE = "edgepose_login_csrf"


@dataclass
class Context:
    """Everything a request handler needs; one per app (``request.app.state.ctx``)."""

    settings: DashboardSettings
    store: Store
    feed: LiveFeed | None = None
    broker: Broker | None = None
    titles: dict[str, str] = field(default_factory=dict)
    limiter: Any = None           # anyio.CapacityLimiter: bounded database threads
    names: auth.RateLimiter = field(default_factory=auth.RateLimiter)
    addrs: auth.RateLimiter = field(default_factory=auth.RateLimiter)
    env: Any = None               # jinja2.Environment
    sse_open: int = 0

    async def db(self, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        import anyio.to_thread

        return await anyio.to_thread.run_sync(functools.partial(fn, self.store, *args, **kw), limiter=self.limiter)


@dataclass(frozen=True)
class Who:
    user: accounts.User
    csrf: str | None      # None for an API token (no forms)
    via: str              # "cookie" | "token"


def ctx_of(request: Request) -> Context:
    return request.app.state.ctx  # type: ignore[no-any-return]


async def identify(request: Request) -> Who | None:
    ctx = ctx_of(request)
    h = request.headers.get("authorization", "")
    if h[:7].lower() == "bearer ":
        user = await ctx.db(accounts.user_for_token, h[7:].strip())
        return Who(user, None, "token") if user else None
    cookie = request.cookies.get(COOKIE)
    if cookie:
        login = await ctx.db(accounts.login_for_cookie, cookie)
        if login is not None:
            return Who(login.user, login.csrf_token, "cookie")
    return None


def client_addr(request: Request) -> str:
    return request.client.host if request.client else "?"


# --------------------------------------------------------------------------- templates
def make_env() -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("edgepose.dashboard", "templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "svg", "xml"), default=True),
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
    )
    env.filters.update({
        "when": fmt_when, "day": fmt_day, "secs": words.seconds, "state": words.live_state,
        "status": words.session_status, "measure": words.measure, "fault": words.fault, "num": fmt_num,
        "ago": lambda t: words.ago((dt.datetime.now(dt.UTC) - t).total_seconds()) if t else "never",
    })
    return env


def fmt_when(t: dt.datetime | None) -> str:
    return t.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC") if t else "—"


def fmt_day(t: dt.datetime | None) -> str:
    return t.astimezone(dt.UTC).strftime("%Y-%m-%d") if t else "—"


def fmt_num(v: Any, digits: int = 0) -> str:
    if v is None or isinstance(v, bool) or not isinstance(v, int | float):
        return "—"
    return f"{v:.{digits}f}"


SECURITY_HEADERS = {
    "content-security-policy": "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; "
                               "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cache-control": "no-store",
}


def render(request: Request, name: str, status: int = 200, **values: Any) -> Response:
    from starlette.responses import HTMLResponse

    ctx = ctx_of(request)
    who: Who | None = request.scope.get("edgepose.who")
    html = ctx.env.get_template(name).render(
        who=who, user=who.user if who else None, csrf=(who.csrf if who else None),
        path=request.url.path, live=ctx.feed is not None, **values)
    return HTMLResponse(html, status_code=status)


def error_page(request: Request, status: int, message: str) -> Response:
    return render(request, "error.html", status=status, status_code=status, message=message)


# --------------------------------------------------------------------------- guards
Handler = Callable[["Request"], Awaitable["Response"]]


def page(role: str | None = None) -> Callable[[Handler], Handler]:
    """A page: without a login -> redirect to /login; POST needs the session's CSRF token."""

    def wrap(fn: Handler) -> Handler:
        @functools.wraps(fn)
        async def inner(request: Request) -> Response:
            from starlette.responses import RedirectResponse

            who = await identify(request)
            if who is None:
                if request.method == "GET":
                    nxt = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                    return RedirectResponse(f"/login?next={quote(nxt, safe='')}", status_code=303)
                return error_page(request, 401, "Log in first.")
            request.scope["edgepose.who"] = who
            if request.method == "POST" and who.via == "cookie":
                form = await request.form()
                if not auth.same(str(form.get("csrf", "")), who.csrf):
                    return error_page(request, 403, "This form has expired; go back, reload the page and try again.")
            if role == "admin" and not who.user.is_admin:
                return error_page(request, 403, "Only an administrator can do this.")
            return await fn(request)

        return inner

    return wrap


def api(fn: Handler) -> Handler:
    """A JSON endpoint: a login cookie or ``Authorization: Bearer TOKEN``; otherwise 401."""

    @functools.wraps(fn)
    async def inner(request: Request) -> Response:
        from starlette.responses import JSONResponse

        who = await identify(request)
        if who is None:
            return JSONResponse({"error": "authentication required: log in, or send Authorization: Bearer TOKEN "
                                          "(edgepose users token NAME)"}, status_code=401,
                                headers={"www-authenticate": 'Bearer realm="edgepose"'})
        request.scope["edgepose.who"] = who
        return await fn(request)

    return inner
