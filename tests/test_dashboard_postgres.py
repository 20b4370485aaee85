"""The dashboard's pages, API and reports over a real PostgreSQL server (the fixture starts one)."""

from __future__ import annotations

from pathlib import Path

from dashboard_env import start, stop
from pg_server import pg_server, pg_url  # noqa: F401  (fixtures)

from tools.dashboard_seed import seed_demo


def test_pages_and_api_on_postgresql(tmp_path: Path, pg_url: str) -> None:  # noqa: F811
    d = start(tmp_path, db=pg_url)
    try:
        seed_demo(d.store)
        c = d.login()
        r = c.get("/")
        assert r.status_code == 200 and "4</strong> online" in r.text and "clinic-room-1" in r.text
        assert "gym-pi-01" in c.get("/", params={"q": "PI-0"}).text  # case-insensitive search
        assert c.get("/units/clinic-room-1").status_code == 200
        page = c.get("/clients/C-104").text
        assert "Below average" in page and "At risk of falling" in page
        assert "C-104" in c.get("/clients").text and "32" in c.get("/clients").text
        rows = c.get("/api/sessions", params={"device": "clinic-room-2"}).json()
        assert len(rows) == 16 and all(r["client"] == "C-104" for r in rows)
        pdf = c.get("/clients/C-104/report.pdf", params={"from": "2020-01-01", "to": ""})
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
        assert c.get("/clients/C-104/report.csv").text.count("\n") == 33
    finally:
        stop(d)


def test_database_down_is_a_clear_503(tmp_path: Path) -> None:
    import pytest
    from pg_server import pg_bindir, running_server

    if pg_bindir() is None:
        pytest.skip("PostgreSQL binaries not found (Debian package 'postgresql')")
    srv = running_server()
    d = None
    try:
        d = start(tmp_path, db=srv.new_database())
        c = d.login()
        assert c.get("/").status_code == 200
        srv.stop()
        r = c.get("/")
        assert r.status_code == 503 and "database cannot be reached" in r.text
        r = c.get("/api/units")
        assert r.status_code == 503 and r.headers["retry-after"] == "30"
    finally:
        if d is not None:
            d.server.stop()
            d.store.engine.dispose()
        srv.stop()
