"""The staff dashboard over real HTTP (uvicorn on loopback, SQLite store): access control, the API,
escaping of what units send, Host checks, and bounded resources under idle connections."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from pathlib import Path

from dashboard_env import PASSWORD, dash_fixture, start, stop  # noqa: F401  (the "dash" fixture)

from tools.dashboard_seed import seed_demo, status, summary

EVIL = '<script>alert(1)</script><img src=x onerror=alert(2)>'


def _seed_evil(store) -> None:  # type: ignore[no-untyped-def]
    store.upsert_status(status("evil-unit", firmware=EVIL, model="<b>bold</b>"))
    store.add_summary(summary("evil-unit", "squat" + EVIL, time.time() - 60, client="C-9", reps=3,
                              cues={EVIL: 2}, seed=5))


def test_unauthenticated_requests_are_refused_without_data(dash) -> None:  # type: ignore[no-untyped-def]
    seed_demo(dash.store)
    c = dash.client()
    r = c.get("/")
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    for path in ("/api/sessions", "/api/sessions?device=clinic-room-1", "/api/units", "/api/nothing-here"):
        r = c.get(path)
        assert r.status_code == 401, path
        assert "clinic-room" not in r.text and "C-104" not in r.text
        assert r.headers["www-authenticate"].startswith("Bearer")
    for path in ("/units/clinic-room-1", "/clients/C-104", "/sessions/1", "/clients/C-104/report.pdf",
                 "/clients/C-104/report.csv", "/admin/users"):
        r = c.get(path)
        assert r.status_code == 303 and "/login" in r.headers["location"], path
        assert "C-104" not in r.text
    assert c.get("/live").status_code == 401
    # a made-up cookie or token is no better
    c.cookies.set("edgepose_session", "forged")
    assert c.get("/").status_code == 303
    assert c.get("/api/units", headers={"authorization": "Bearer ept_forged"}).status_code == 401
    r = c.post("/units/clinic-room-1/assign", data={"client": "C-1", "program": "squat"})
    assert r.status_code == 401
    assert dash.store.unit("clinic-room-1").next_client is None


def test_token_from_cli_lists_sessions_with_reps(dash) -> None:  # type: ignore[no-untyped-def]
    seed_demo(dash.store)
    out = subprocess.run([sys.executable, "-m", "edgepose.cli", "users", "token", "ben", "--db", dash.db],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    token = out.stdout.strip().splitlines()[-1]
    c = dash.client(headers={"authorization": f"Bearer {token}"})
    r = c.get("/api/sessions", params={"device": "clinic-room-1"})
    assert r.status_code == 200
    rows = r.json()
    stored = dash.store.sessions(device="clinic-room-1")
    assert len(rows) == len(stored) == 16
    assert {x["msg_id"] for x in rows} == {s.msg_id for s in stored}
    squat = [x for x in rows if x["program"] == "squat"]
    assert squat and all(x["device_id"] == "clinic-room-1" and x["client"] == "C-104" and x["received_at"] for x in squat)
    assert all(len(x["rep_list"]) == x["reps"] > 0 for x in squat)
    r = c.get("/api/sessions", params={"client": "C-221"})
    assert {x["program"] for x in r.json()} == {"bicep-curl"}
    units = c.get("/api/units").json()
    assert {u["device_id"] for u in units} >= {"clinic-room-1", "gym-pi-02"}
    # the database holds only the token's hash
    from sqlalchemy import select

    from edgepose.history.schema import api_tokens
    with dash.store.engine.connect() as conn:
        hashes = list(conn.execute(select(api_tokens.c.token_hash)).scalars())
    assert token not in hashes and len(hashes) == 1
    # a removed user's token stops working
    subprocess.run([sys.executable, "-m", "edgepose.cli", "users", "remove", "ben", "--db", dash.db], check=True,
                   capture_output=True, timeout=60)
    assert c.get("/api/units").status_code == 401


def test_login_csrf_rate_limit_logout(dash) -> None:  # type: ignore[no-untyped-def]
    c = dash.client()
    r = c.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', r.text).group(1)
    assert c.post("/login", data={"name": "anna", "password": PASSWORD, "csrf": "wrong"}).status_code == 403
    for _ in range(5):
        assert c.post("/login", data={"name": "anna", "password": "not it at all", "csrf": token}).status_code == 401
    r = c.post("/login", data={"name": "anna", "password": PASSWORD, "csrf": token})
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0  # even the right password waits
    # another user from another address is not locked out by anna's failures
    c2 = dash.login("ben")
    cookie = c2.cookies.get("edgepose_session")
    r = c2.get("/")
    assert r.status_code == 200 and "Log out" in r.text
    set_cookie = [v for k, v in r.headers.multi_items() if k == "set-cookie"]
    assert set_cookie == []
    # the session cookie is HttpOnly + SameSite and stored only as a hash
    c3 = dash.client()
    t = re.search(r'name="csrf" value="([^"]+)"', c3.get("/login").text).group(1)
    r = c3.post("/login", data={"name": "ben", "password": PASSWORD, "csrf": t})
    sc = r.headers["set-cookie"].lower()
    assert "httponly" in sc and "samesite=strict" in sc
    from sqlalchemy import select

    from edgepose.history.schema import login_sessions
    with dash.store.engine.connect() as conn:
        ids = list(conn.execute(select(login_sessions.c.id)).scalars())
    assert cookie not in ids and len(ids) == 2
    # staff may not open the admin pages
    assert c2.get("/admin/users").status_code == 403
    # a form without the session's CSRF token changes nothing
    seed_demo(dash.store)
    r = c2.post("/units/clinic-room-1/assign", data={"client": "C-104", "program": "squat", "csrf": "nope"})
    assert r.status_code == 403 and dash.store.unit("clinic-room-1").next_client is None
    page = c2.get("/units/clinic-room-1").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    r = c2.post("/units/clinic-room-1/assign", data={"client": "C-104", "program": "squat", "csrf": csrf})
    assert r.status_code == 303 and "done=saved" in r.headers["location"]
    assert dash.store.unit("clinic-room-1").next_client == "C-104"
    # logout ends the server-side session: the old cookie is refused afterwards
    r = c2.post("/logout", data={"csrf": csrf})
    assert r.status_code == 303
    c4 = dash.client()
    c4.cookies.set("edgepose_session", cookie)
    assert c4.get("/").status_code == 303


def test_expired_login_is_refused(tmp_path: Path) -> None:
    d = start(tmp_path, session_hours=0.05)
    try:
        c = d.login()
        assert c.get("/").status_code == 200
        from sqlalchemy import update

        from edgepose.history.rows import now
        from edgepose.history.schema import login_sessions
        with d.store.engine.execution_options(write=True).begin() as conn:
            conn.execute(update(login_sessions).values(expires_at=now()))
        assert c.get("/").status_code == 303
    finally:
        stop(d)


def test_markup_from_a_unit_is_shown_as_text(dash) -> None:  # type: ignore[no-untyped-def]
    _seed_evil(dash.store)
    c = dash.login()
    pk = dash.store.sessions(device="evil-unit")[0].id
    for path in ("/", "/units/evil-unit", f"/sessions/{pk}", "/clients/C-9"):
        html = c.get(path).text
        assert "<script>alert" not in html and "<img src=x" not in html and "<b>bold" not in html, path
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in c.get("/units/evil-unit").text
    assert "&lt;b&gt;bold&lt;/b&gt;" in c.get("/").text
    assert "&lt;script&gt;" in c.get(f"/sessions/{pk}").text  # the cue text
    r = c.get("/clients/C-9/report.csv")
    assert r.status_code == 200 and "squat<script>" in r.text  # data as it was sent, in a text file
    assert r.headers["content-type"].startswith("text/csv")
    csp = c.get("/").headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp


def test_host_header_is_checked(dash) -> None:  # type: ignore[no-untyped-def]
    c = dash.client()
    assert c.get("/login").status_code == 200
    r = c.get("/login", headers={"host": "attacker.example"})
    assert r.status_code == 400
    r = c.get("/api/units", headers={"host": f"evil.test:{dash.port}"})
    assert r.status_code == 400


def _raw_get(port: int, path: str = "/login", timeout: float = 5.0) -> int:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return int(data.split(b" ", 2)[1])


def test_idle_connections_do_not_block_a_real_request(tmp_path: Path) -> None:
    """300 connections that never send a byte, and one that trickles its head, against a limit of 64:
    they are closed after the header timeout and a real request is answered."""
    d = start(tmp_path, limit_concurrency=64, header_timeout_s=1.0)
    socks: list[socket.socket] = []
    try:
        for _ in range(300):
            socks.append(socket.create_connection(("127.0.0.1", d.port), timeout=5))
        slow = socket.create_connection(("127.0.0.1", d.port), timeout=5)
        slow.sendall(b"GET /login HTTP/1.1\r\n")
        t0 = time.monotonic()
        for _ in range(6):
            time.sleep(0.3)
            try:
                slow.sendall(b"X-Slow: 1\r\n")
            except OSError:
                break
        code = _raw_get(d.port, timeout=10)
        took = time.monotonic() - t0
        assert code == 200, code
        assert took < 20.0, took  # header timeout 1 s; the slack is for a loaded CI machine
        # the idle ones were closed by the server (recv returns b"" or the reset is seen)
        closed = 0
        for s in socks[:50]:
            s.settimeout(2)
            try:
                closed += s.recv(1) == b""
            except (ConnectionResetError, TimeoutError, OSError):
                closed += 1
        assert closed == 50
        slow.settimeout(2)
        try:
            assert slow.recv(65536) == b""  # the trickling head was cut off, not answered
        except (ConnectionResetError, BrokenPipeError):
            pass
        assert _raw_get(d.port) == 200
    finally:
        for s in socks:
            s.close()
        stop(d)


def test_oversized_body_refused(dash) -> None:  # type: ignore[no-untyped-def]
    c = dash.client()
    r = c.post("/login", content=b"a" * (200 * 1024), headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 413


def test_tls_from_cert_and_key(tmp_path: Path) -> None:
    import shutil
    import ssl

    import httpx

    openssl = shutil.which("openssl")
    assert openssl, "openssl is in tools/quickstart.sh's apt list"
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    d = start(tmp_path, tls_cert=str(cert), tls_key=str(key))
    try:
        assert d.url.startswith("https://")
        c = httpx.Client(base_url=d.url.rstrip("/"), verify=ssl.create_default_context(cafile=str(cert)), follow_redirects=False, timeout=10)
        r = c.get("/login")
        assert r.status_code == 200 and "max-age" in r.headers["strict-transport-security"]
        token = re.search(r'name="csrf" value="([^"]+)"', r.text).group(1)
        r = c.post("/login", data={"name": "anna", "password": PASSWORD, "csrf": token})
        assert r.status_code == 303 and "secure" in r.headers["set-cookie"].lower()
        assert c.get("/api/units").status_code == 200
        # plain HTTP on the TLS port gets nothing of the app
        try:
            r = httpx.get(d.url.replace("https://", "http://") + "api/units", timeout=5)
            assert r.status_code >= 400 and "device_id" not in r.text
        except httpx.HTTPError:
            pass
    finally:
        stop(d)


def test_a_request_body_that_never_arrives_times_out(tmp_path: Path) -> None:
    d = start(tmp_path, request_timeout_s=1.0)
    try:
        with socket.create_connection(("127.0.0.1", d.port), timeout=10) as s:
            s.sendall(f"POST /login HTTP/1.1\r\nHost: 127.0.0.1:{d.port}\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                      "Content-Length: 100\r\n\r\nname=an".encode())
            t0 = time.monotonic()
            data = b""
            while chunk := s.recv(65536):
                data += chunk
            took = time.monotonic() - t0
        assert data.startswith(b"HTTP/1.1 503") and b"request timed out" in data, data[:200]
        assert 0.8 < took < 15.0, took
        assert _raw_get(d.port) == 200  # the server is fine afterwards
    finally:
        stop(d)
