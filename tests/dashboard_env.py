"""A real dashboard for tests: SQLite history store in a temp folder, uvicorn on a free loopback port."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

PASSWORD = "correct horse battery"


@dataclass
class Dash:
    url: str
    port: int
    db: str
    store: Any
    server: Any
    feed: Any = None
    broker: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    def client(self, **kw: Any) -> Any:
        import httpx

        return httpx.Client(base_url=self.url.rstrip("/"), follow_redirects=False, timeout=10, **kw)

    def login(self, name: str = "anna", password: str = PASSWORD) -> Any:
        return login_client(self.url, name, password)


def login_client(url: str, name: str, password: str) -> Any:
    """An httpx client logged in through the real login form (CSRF token and all)."""
    import httpx

    c = httpx.Client(base_url=url.rstrip("/"), follow_redirects=False, timeout=30)
    token = re.search(r'name="csrf" value="([^"]+)"', c.get("/login").text).group(1)
    r = c.post("/login", data={"name": name, "password": password, "csrf": token, "next": "/"})
    assert r.status_code == 303, r.text
    return c


def start(tmp_path: Path, mqtt: Any = None, db: str | None = None, **settings: Any) -> Dash:
    from edgepose.dashboard import accounts
    from edgepose.dashboard.app import create_app
    from edgepose.dashboard.live import Broker, LiveFeed
    from edgepose.dashboard.server import Server
    from edgepose.dashboard.settings import DashboardSettings
    from edgepose.history.store import open_store

    db = db or f"sqlite:///{tmp_path / 'history.sqlite'}"
    store = open_store(db)
    if not accounts.list_users(store):
        accounts.add_user(store, "anna", PASSWORD, "admin")
        accounts.add_user(store, "ben", PASSWORD, "staff")
    s = DashboardSettings(db=db, port=0, mqtt=mqtt, **settings)
    feed = broker = None
    if mqtt is not None:
        feed = LiveFeed(mqtt.base_topic)
        broker = Broker(mqtt, feed).start()
        assert broker.connected.wait(10), "dashboard did not connect to the broker"
    server = Server(create_app(s, store, feed, broker), s).start()
    return Dash(server.url, server.port, db, store, server, feed, broker)


def stop(d: Dash) -> None:
    d.server.stop()
    if d.broker is not None:
        d.broker.close()
    d.store.close()


@pytest.fixture(name="dash")
def dash_fixture(tmp_path: Path) -> Iterator[Dash]:
    d = start(tmp_path)
    try:
        yield d
    finally:
        stop(d)
