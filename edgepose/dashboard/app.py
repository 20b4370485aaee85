"""The Starlette application: routes, middleware (Host check, security headers, deadlines)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from edgepose.dashboard.settings import DashboardSettings
from edgepose.dashboard.web import Context, make_env

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from edgepose.dashboard.live import Broker, LiveFeed
    from edgepose.history.store import Store

log = logging.getLogger(__name__)


def program_titles() -> dict[str, str]:
    try:
        from edgepose.programs import list_programs

        return {p.name: p.title for p in list_programs()}
    except Exception as e:  # a broken user program folder must not stop the dashboard
        log.warning("programs not listed: %s", e)
        return {}


def create_app(settings: DashboardSettings, store: Store, feed: LiveFeed | None = None,
               broker: Broker | None = None) -> Starlette:
    import anyio
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.middleware.trustedhost import TrustedHostMiddleware
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    from edgepose.dashboard import api, auth, clientpages, pages
    from edgepose.dashboard.middleware import Guard

    ctx = Context(settings=settings, store=store, feed=feed, broker=broker, titles=program_titles(),
                  limiter=anyio.CapacityLimiter(settings.workers), env=make_env(),
                  names=auth.RateLimiter(settings.login_attempts, settings.login_window_s),
                  addrs=auth.RateLimiter(settings.login_attempts * 4, settings.login_window_s))
    from edgepose.dashboard import words

    ctx.env.globals["prog"] = lambda name: words.program(name, ctx.titles)
    routes = [
        Route("/login", pages.login_form, methods=["GET"]),
        Route("/login", pages.login_submit, methods=["POST"]),
        Route("/logout", pages.logout, methods=["POST"]),
        Route("/", pages.fleet, methods=["GET"]),
        Route("/units/{device_id}", pages.unit_page, methods=["GET"]),
        Route("/units/{device_id}/assign", pages.unit_assign, methods=["POST"]),
        Route("/units/{device_id}/remove", pages.unit_remove, methods=["POST"]),
        Route("/sessions/{pk:int}", pages.session_page, methods=["GET"]),
        Route("/clients", clientpages.clients_page, methods=["GET"]),
        Route("/clients", clientpages.clients_add, methods=["POST"]),
        Route("/clients/{code}", clientpages.client_page, methods=["GET"]),
        Route("/clients/{code}", clientpages.client_update, methods=["POST"]),
        Route("/clients/{code}/forget", clientpages.client_forget, methods=["POST"]),
        Route("/clients/{code}/report.pdf", clientpages.client_pdf, methods=["GET"]),
        Route("/clients/{code}/report.csv", clientpages.client_csv, methods=["GET"]),
        Route("/admin/users", pages.users_page, methods=["GET"]),
        Route("/admin/users", pages.users_add, methods=["POST"]),
        Route("/admin/users/remove", pages.users_remove, methods=["POST"]),
        Route("/api/sessions", api.sessions, methods=["GET"]),
        Route("/api/units", api.units, methods=["GET"]),
        Route("/api/{rest:path}", api.unknown),
        Route("/live", api.live, methods=["GET"]),
        Mount("/static", app=StaticFiles(packages=[("edgepose.dashboard", "static")]), name="static"),
    ]
    middleware = [
        Middleware(Guard, request_timeout_s=settings.request_timeout_s, hsts=settings.tls),
        Middleware(TrustedHostMiddleware, allowed_hosts=settings.hosts(), www_redirect=False),
    ]
    from sqlalchemy.exc import OperationalError

    from edgepose.history.errors import StoreError

    app = Starlette(routes=routes, middleware=middleware,
                    exception_handlers={404: _not_found, 405: _not_allowed, OperationalError: _db_down,
                                        StoreError: _db_down})
    app.state.ctx = ctx
    return app


async def _not_found(request: Any, exc: Any) -> Any:
    from starlette.responses import JSONResponse, PlainTextResponse

    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": "not found"}, status_code=404)
    return PlainTextResponse("not found\n", status_code=404)


async def _db_down(request: Any, exc: Exception) -> Any:
    from starlette.responses import JSONResponse, PlainTextResponse

    log.error("database unavailable for %s: %s", request.url.path, str(exc).splitlines()[0][:300])
    msg = "the database cannot be reached right now; try again in a minute"
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": msg}, status_code=503, headers={"retry-after": "30"})
    return PlainTextResponse(msg + "\n", status_code=503, headers={"retry-after": "30"})


async def _not_allowed(request: Any, exc: Any) -> Any:
    from starlette.responses import PlainTextResponse

    return PlainTextResponse("method not allowed\n", status_code=405)
