"""``edgepose dashboard`` end to end, as checked from outside: a real Mosquitto, ``edgepose ingest``
storing what a unit publishes in SQLite, ``edgepose dashboard`` serving that database, accounts and
tokens from ``edgepose users``. Unauthenticated requests get nothing; a token lists the stored
sessions with their reps; HTML in a unit's payloads is never markup on ``/`` or ``/units/<id>``."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
from mqtt_broker import broker_fixture, free_port  # noqa: F401  (the "broker" fixture)
from test_dashboard_mqtt import _publish

from tools.dashboard_seed import status, summary

EVIL = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def _cli(*args: str, stdin: str | None = None, env: dict | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "edgepose.cli", *args], input=stdin, capture_output=True,
                          text=True, timeout=120, env=env)


def _wait_http(url: str, timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer")


def _wait_line(proc: subprocess.Popen[str], text: str, timeout: float = 120.0) -> None:
    import threading

    seen = threading.Event()
    lines: list[str] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if text in line:
                seen.set()

    threading.Thread(target=read, daemon=True).start()
    assert seen.wait(timeout), f"{text!r} not printed: {''.join(lines)[-2000:]}"


def test_dashboard_command_end_to_end(tmp_path: Path, broker) -> None:  # type: ignore[no-untyped-def]
    db = f"sqlite:///{tmp_path / 'history.sqlite'}"
    env = dict(os.environ, EDGEPOSE_STATE=str(tmp_path / "state"))
    ingest = subprocess.Popen([sys.executable, "-m", "edgepose.cli", "ingest", "--mqtt", f"127.0.0.1:{broker.port}",
                               "--db", db, "--protocol", "3.1.1", "--share-group", ""], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    port = free_port()
    dash = None
    try:
        _wait_line(ingest, "subscribed on")
        now = time.time()
        _publish(broker.port, "edgepose/ward-3/status", status("ward-3", firmware=EVIL, model="<b>m</b>"), retain=True)
        body = summary("ward-3", "squat", now - 120, client="C-104", reps=4, seed=3, cues={EVIL: 1})
        body["title"] = EVIL
        _publish(broker.port, "edgepose/ward-3/session/summary", body)
        body2 = summary("ward-3", "lunge", now - 60, reps=2, seed=4)
        _publish(broker.port, "edgepose/ward-3/session/summary", body2)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            out = _cli("history", "--db", db, "--json", env=env)
            if out.returncode == 0 and len(out.stdout.strip().splitlines()) == 2:
                break
            time.sleep(0.5)
        else:
            raise AssertionError(f"ingest did not store the sessions: {out.stdout} {out.stderr}")

        r = _cli("users", "add", "anna", "--admin", "--password-stdin", "--db", db,
                 stdin="correct horse battery\n", env=env)
        assert r.returncode == 0, r.stderr
        r = _cli("users", "token", "anna", "--db", db, env=env)
        assert r.returncode == 0, r.stderr
        token = r.stdout.strip().splitlines()[-1]
        assert _cli("users", "list", "--db", db, env=env).stdout.startswith("anna")

        dash = subprocess.Popen([sys.executable, "-m", "edgepose.cli", "dashboard", "--db", db, "--port", str(port)],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        url = f"http://127.0.0.1:{port}"
        _wait_line(dash, "edgepose dashboard: http://127.0.0.1:")
        _wait_http(url + "/login")
        c = httpx.Client(base_url=url, follow_redirects=False, timeout=10)
        r = c.get("/")
        assert r.status_code in (302, 303, 401) and "ward-3" not in r.text
        r = c.get("/api/sessions", params={"device": "ward-3"})
        assert r.status_code == 401 and "ward-3" not in r.text and "C-104" not in r.text
        r = c.get("/api/sessions", params={"device": "ward-3"}, headers={"authorization": f"Bearer {token}"})
        assert r.status_code == 200
        rows = r.json()
        assert [x["msg_id"] for x in rows] == [body["msg_id"], body2["msg_id"]]
        assert rows[0]["reps"] == 4 and len(rows[0]["rep_list"]) == 4 and rows[0]["client"] == "C-104"
        assert rows[0]["device_id"] == "ward-3" and rows[0]["received_at"]
        # the same objects as `edgepose history --json`
        hist = [json.loads(line) for line in _cli("history", "--db", db, "--device", "ward-3", "--json",
                                                  env=env).stdout.splitlines()]
        assert rows == hist
        # logged in: the markup a unit sent is text on / and /units/<id>
        page = c.get("/login").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        assert c.post("/login", data={"name": "anna", "password": "correct horse battery", "csrf": csrf}).status_code == 303
        for path in ("/", "/units/ward-3"):
            html = c.get(path).text
            assert "ward-3" in html
            assert "<script>alert" not in html and "<img src=x" not in html and "<b>m</b>" not in html, path
        assert "&lt;b&gt;m&lt;/b&gt;" in c.get("/").text
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in c.get("/units/ward-3").text
    finally:
        for p in (dash, ingest):
            if p is not None:
                p.terminate()
                try:
                    p.wait(15)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(5)


def test_dashboard_binds_loopback_by_default() -> None:
    r = _cli("dashboard", "--help")
    assert "127.0.0.1" in r.stdout and "--db" in r.stdout and "--config" in r.stdout
