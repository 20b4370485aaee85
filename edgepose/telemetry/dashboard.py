"""A LAN dashboard fed from the broker: every unit, its live session, recent summaries, plots.

:class:`FleetState` folds MQTT messages (``<base>/<id>/status|session/live|session/summary|event``)
into a bounded picture of the fleet; :class:`Dashboard` serves it as one self-contained HTML page
(no network assets) and as JSON at ``/api/state``, from a stdlib HTTP server.
"""

from __future__ import annotations

import collections
import json
import logging
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edgepose.telemetry.settings import MqttSettings

log = logging.getLogger(__name__)

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
MAX_PAYLOAD = 64 * 1024
MAX_UNITS = 20000
LIVE_POINTS = 600
SUMMARIES = 20
EVENTS = 10


class FleetState:
    """Thread-safe, bounded view of all units seen on the broker."""

    def __init__(self, base_topic: str = "edgepose", clock: Any = time.time) -> None:
        self.base = base_topic.split("/")
        self.clock = clock
        self._lock = threading.Lock()
        self._units: dict[str, dict[str, Any]] = {}
        self._seen_ids: dict[str, collections.OrderedDict[str, None]] = {}
        self.ignored = 0

    def _unit(self, uid: str) -> dict[str, Any] | None:
        u = self._units.get(uid)
        if u is None:
            if len(self._units) >= MAX_UNITS:
                return None
            u = {"id": uid, "status": "unknown", "firmware": None, "model": None, "live": None,
                 "live_at": None, "reps_series": [], "series_session": None,
                 "summaries": collections.deque(maxlen=SUMMARIES), "events": collections.deque(maxlen=EVENTS),
                 "last_seen": None}
            self._units[uid] = u
            self._seen_ids[uid] = collections.OrderedDict()
        return u

    def feed(self, topic: str, payload: bytes) -> bool:
        """Fold one message in; returns False (and counts it) when it is ignored."""
        levels = topic.split("/")
        n = len(self.base)
        if levels[:n] != self.base or len(levels) < n + 2 or not _ID.match(levels[n]):
            return self._ignore()
        uid, kind = levels[n], "/".join(levels[n + 1:])
        if kind not in ("status", "session/live", "session/summary", "event") or len(payload) > MAX_PAYLOAD:
            return self._ignore()
        try:
            body = json.loads(payload)
        except (ValueError, RecursionError):
            body = payload.decode("utf-8", "replace").strip() if kind == "status" else None
        now = self.clock()
        with self._lock:
            u = self._unit(uid)
            if u is None:
                return self._ignore()
            if kind == "status":
                state = body.get("state") if isinstance(body, dict) else body
                if state not in ("online", "offline"):
                    return self._ignore()
                u["status"] = state
                if isinstance(body, dict):
                    u["firmware"] = _short(body.get("firmware"))
                    u["model"] = _short(body.get("model"))
            elif not isinstance(body, dict):
                return self._ignore()
            elif kind == "session/live":
                live = {k: body.get(k) for k in ("session_id", "program", "state", "reps", "score", "rom_deg", "cue")}
                u["live"], u["live_at"] = live, now
                if live["session_id"] != u["series_session"]:
                    u["series_session"], u["reps_series"] = live["session_id"], []
                if isinstance(live["reps"], int | float):
                    u["reps_series"].append([now, live["reps"]])
                    del u["reps_series"][:-LIVE_POINTS]
            else:
                mid = body.get("msg_id")
                seen = self._seen_ids[uid]
                if isinstance(mid, str):
                    if mid in seen:
                        return True  # a duplicate delivery: already counted
                    seen[mid] = None
                    while len(seen) > 200:
                        seen.popitem(last=False)
                if kind == "event":
                    u["events"].append({k: body.get(k) for k in ("kind", "level", "message", "ts")})
                else:
                    u["summaries"].append({k: body.get(k) for k in (
                        "msg_id", "session_id", "program", "status", "reps", "score", "rep_rom_deg",
                        "rep_scores", "duration_s", "started_at", "ended_at", "ts")})
            u["last_seen"] = now
        return True

    def _ignore(self) -> bool:
        self.ignored += 1
        return False

    def snapshot(self) -> dict[str, Any]:
        """JSON-ready picture: units sorted by id; live older than 10 s is marked stale."""
        now = self.clock()
        with self._lock:
            units = []
            for uid in sorted(self._units):
                u = self._units[uid]
                d = {k: (list(v) if isinstance(v, collections.deque | list) else v) for k, v in u.items()}
                d["live_stale"] = u["live_at"] is None or now - u["live_at"] > 10
                units.append(d)
        return {"generated_at": now, "units": units,
                "online": sum(u["status"] == "online" for u in units), "total": len(units)}


def _short(v: Any) -> str | None:
    return v[:64] if isinstance(v, str) else None


def page_html(state: dict[str, Any]) -> bytes:
    """The dashboard page with the current state embedded (so it renders without a fetch)."""
    template = resources.files("edgepose.telemetry").joinpath("dashboard.html").read_text(encoding="utf-8")
    blob = json.dumps(state).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return template.replace("/*__STATE__*/null", blob).encode("utf-8")


_CSP = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
        "connect-src 'self'; img-src data:")


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        path = self.path.split("?", 1)[0]
        if path == "/":
            self._send(200, "text/html; charset=utf-8", page_html(self.server.fleet.snapshot()))
        elif path == "/api/state":
            self._send(200, "application/json", json.dumps(self.server.fleet.snapshot()).encode())
        else:
            self._send(404, "text/plain; charset=utf-8", b"not found\n")

    def _send(self, code: int, ctype: str, body: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Security-Policy", _CSP)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt: str, *args: Any) -> None:
        log.debug("http %s " + fmt, self.client_address[0], *args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fleet: FleetState


class Dashboard:
    """Subscriber + HTTP server. ``start()``, then ``url``; ``close()`` is idempotent.

    Parameters
    ----------
    settings
        Broker and credentials (``device_id`` is not used; the dashboard has its own client id).
    bind, port
        HTTP address; port 0 picks a free one.
    """

    def __init__(self, settings: MqttSettings, bind: str = "0.0.0.0", port: int = 8080) -> None:
        self.settings = settings
        self.fleet = FleetState(settings.base_topic)
        self.bind = bind
        self.port = port
        self.subscribed = threading.Event()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None
        self._client: mqtt.Client | None = None
        self._closed = False

    @property
    def url(self) -> str:
        assert self._httpd is not None
        host = "127.0.0.1" if self.bind in ("0.0.0.0", "") else self.bind
        return f"http://{host}:{self._httpd.server_address[1]}/"

    def start(self) -> Dashboard:
        s = self.settings
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"edgepose-dashboard-{id(self) & 0xffffff:x}",
                        protocol=mqtt.MQTTv5 if s.protocol == "5" else mqtt.MQTTv311)
        if s.username:
            c.username_pw_set(s.username, s.password)
        if s.tls_ca:
            c.tls_set(ca_certs=s.tls_ca, certfile=s.tls_cert, keyfile=s.tls_key)
        c.on_connect = self._on_connect
        c.on_message = lambda _c, _u, m: self.fleet.feed(m.topic, m.payload)
        c.on_subscribe = lambda *a: self.subscribed.set()
        c.reconnect_delay_set(1, 30)
        c.connect_async(s.host, s.port, keepalive=s.keepalive)
        c.loop_start()
        self._client = c
        self._httpd = _Server((self.bind, self.port), _Handler)
        self._httpd.fleet = self.fleet
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="edgepose-dashboard-http",
                                        daemon=True)
        self._thread.start()
        log.info("dashboard on %s (broker %s:%s)", self.url, s.host, s.port)
        return self

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            log.error("dashboard: broker refused the connection: %s", reason)
            return
        b = self.settings.base_topic
        client.subscribe([(f"{b}/+/status", 1), (f"{b}/+/session/live", 0),
                          (f"{b}/+/session/summary", 1), (f"{b}/+/event", 1)])

    def close(self, timeout: float = 5.0) -> None:
        if self._closed:
            return
        self._closed = True
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()

    def __enter__(self) -> Dashboard:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
