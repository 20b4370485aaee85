"""Live state of the units from the broker (``status`` and ``session/live``), and the ``select`` command.

:class:`LiveFeed` keeps, per unit, the last status and live message in a bounded dict; every change
gets a sequence number so the Server-Sent-Events stream sends only what changed since the last
poll. Values are kept as received and turned into plain words (and escaped) only when shown.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from edgepose.dashboard import words

if TYPE_CHECKING:
    from edgepose.telemetry.settings import MqttSettings

log = logging.getLogger(__name__)

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
MAX_PAYLOAD = 16 * 1024
MAX_UNITS = 20000
LIVE_STALE_S = 10.0


@dataclass
class UnitLive:
    device_id: str
    online: bool | None = None
    firmware: str | None = None
    model: str | None = None
    program: str | None = None
    state: str | None = None     # the controller's: idle, countdown, active, summary, fault
    phase: str | None = None     # where the person is in the program: rep_down, holding, ...
    reps: int | None = None
    score: float | None = None
    hold_s: float | None = None
    cue: str | None = None
    live_at: float | None = None
    seen_at: float | None = None
    seq: int = 0
    answer: str = ""             # the unit's answer to the dashboard's last command, in words

    def view(self, now: float, titles: dict[str, str] | None = None) -> dict[str, Any]:
        """What a page shows, in plain words (strings to be set as text, never as markup)."""
        fresh = self.live_at is not None and now - self.live_at <= LIVE_STALE_S
        if self.online is False:
            status = "Offline"
        elif self.online:
            status = "Online"
        else:
            status = "Unknown"
        if fresh and self.state in ("countdown", "active", "summary"):
            doing = words.live_state(self.phase) if self.state == "active" and self.phase else words.live_state(self.state)
            parts = [words.program(self.program, titles), doing]
            if isinstance(self.reps, int):
                parts.append(f"{self.reps} reps")
            if isinstance(self.hold_s, int | float) and self.hold_s:
                parts.append(f"holding {self.hold_s:.0f} s")
            session = " · ".join(parts)
        elif fresh:
            session = words.live_state(self.state)
        elif self.online is False:
            session = "—"
        else:
            session = "No session running"
        return {"id": self.device_id, "status": status, "online": self.online, "session": session,
                "answer": self.answer,
                "cue": self.cue if fresh and isinstance(self.cue, str) else "",
                "seen": words.ago(now - self.seen_at) if self.seen_at else "", "seq": self.seq}


class LiveFeed:
    """Thread-safe live picture of the fleet, fed by :meth:`feed` (the MQTT thread)."""

    def __init__(self, base_topic: str = "edgepose", clock: Any = time.time) -> None:
        self.base = base_topic.split("/")
        self.clock = clock
        self._units: dict[str, UnitLive] = {}
        self._lock = threading.Lock()
        self._seq = 0
        self.ignored = 0
        self.changed = threading.Condition(self._lock)

    @property
    def seq(self) -> int:
        return self._seq

    def feed(self, topic: str, payload: bytes) -> bool:
        levels = topic.split("/")
        n = len(self.base)
        if levels[:n] != self.base or len(levels) < n + 2 or not _ID.match(levels[n]) or len(payload) > MAX_PAYLOAD:
            return self._ignore()
        uid, kind = levels[n], "/".join(levels[n + 1:])
        if kind not in ("status", "session/live", "cmd/result"):
            return self._ignore()
        try:
            body = json.loads(payload)
        except (ValueError, RecursionError):
            body = payload.decode("utf-8", "replace").strip() if kind == "status" else None
        now = self.clock()
        with self._lock:
            u = self._units.get(uid)
            if u is None:
                if len(self._units) >= MAX_UNITS:
                    return self._ignore()
                u = self._units[uid] = UnitLive(uid)
            if kind == "status":
                state = body.get("state") if isinstance(body, dict) else body
                if state not in ("online", "offline"):
                    return self._ignore()
                u.online = state == "online"
                if isinstance(body, dict):
                    u.firmware, u.model = _s(body.get("firmware")), _s(body.get("model"))
                if not u.online:
                    u.live_at = None
            elif kind == "cmd/result":
                if not isinstance(body, dict) or not isinstance(body.get("ok"), bool):
                    return self._ignore()
                rid = body.get("request_id")
                if not (isinstance(rid, str) and rid.startswith("dash-")):
                    return True  # an answer to someone else's command
                if body["ok"]:
                    u.answer = "The unit confirmed the next session."
                else:
                    err = body.get("error")
                    u.answer = "The unit refused: " + (err[:200] if isinstance(err, str) else "no reason given")
            else:
                if not isinstance(body, dict):
                    return self._ignore()
                u.program, u.state, u.cue = _s(body.get("program")), _s(body.get("state")), _s(body.get("cue"), 200)
                u.phase = _s(body.get("phase"))
                u.reps = body.get("reps") if isinstance(body.get("reps"), int) and not isinstance(body.get("reps"), bool) else None
                u.score = _f(body.get("score"))
                u.hold_s = _f(body.get("hold_s"))
                u.live_at = now
            u.seen_at = now
            self._seq += 1
            u.seq = self._seq
            self.changed.notify_all()
        return True

    def _ignore(self) -> bool:
        self.ignored += 1
        return False

    def note(self, uid: str, answer: str) -> None:
        """Set the words about the unit's answer to a command (shown on its page)."""
        with self._lock:
            u = self._units.get(uid)
            if u is None:
                if len(self._units) >= MAX_UNITS:
                    return
                u = self._units[uid] = UnitLive(uid)
            u.answer = answer
            self._seq += 1
            u.seq = self._seq
            self.changed.notify_all()

    def get(self, uid: str) -> UnitLive | None:
        with self._lock:
            return self._units.get(uid)

    def since(self, seq: int, ids: set[str] | None = None) -> tuple[int, list[UnitLive]]:
        """Units changed after ``seq`` (only ``ids`` when given) and the newest sequence number."""
        with self._lock:
            out = [u for u in self._units.values() if u.seq > seq and (ids is None or u.device_id in ids)]
            return self._seq, [UnitLive(**vars(u)) for u in out]


def _s(v: Any, n: int = 64) -> str | None:
    return v[:n] if isinstance(v, str) else None


def _f(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


class Broker:
    """The dashboard's MQTT connection: subscribes for :class:`LiveFeed`, publishes commands."""

    def __init__(self, settings: MqttSettings, feed: LiveFeed) -> None:
        self.settings = settings
        self.feed = feed
        self.connected = threading.Event()
        self._client: Any = None

    def start(self) -> Broker:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        s = self.settings
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"edgepose-dashboard-{secrets.token_hex(4)}",
                        protocol=mqtt.MQTTv5 if s.protocol == "5" else mqtt.MQTTv311)
        if s.username:
            c.username_pw_set(s.username, s.password)
        if s.tls_ca:
            c.tls_set(ca_certs=s.tls_ca, certfile=s.tls_cert, keyfile=s.tls_key)
        c.on_connect = self._on_connect
        c.on_disconnect = lambda *a: self.connected.clear()
        c.on_message = lambda _c, _u, m: self.feed.feed(m.topic, m.payload)
        c.reconnect_delay_set(1, 30)
        c.connect_async(s.host, s.port, keepalive=s.keepalive)
        c.loop_start()
        self._client = c
        return self

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            log.error("dashboard: broker %s:%s refused the connection: %s", self.settings.host, self.settings.port, reason)
            return
        b = self.settings.base_topic
        client.subscribe([(f"{b}/+/status", 1), (f"{b}/+/session/live", 0), (f"{b}/+/cmd/result", 1)])
        self.connected.set()

    def select(self, device_id: str, program: str, client: str | None, timeout: float = 5.0) -> str:
        """Publish ``{"action": "select", "program", "client"}`` to ``<base>/<id>/cmd`` (QoS 1).

        Returns the request id; raises RuntimeError when the broker does not take it in time.
        """
        if not _ID.match(device_id):
            raise ValueError(f"unit id {device_id[:70]!r} is not a valid topic level")
        rid = f"dash-{secrets.token_hex(6)}"
        body: dict[str, Any] = {"action": "select", "program": program, "request_id": rid}
        if client is not None:
            body["client"] = client
        self.feed.note(device_id, "Waiting for the unit to confirm…")
        if self._client is None or not self.connected.wait(timeout):
            raise RuntimeError(f"not connected to the broker {self.settings.host}:{self.settings.port}")
        info = self._client.publish(f"{self.settings.base_topic}/{device_id}/cmd", json.dumps(body), qos=1)
        info.wait_for_publish(timeout)
        if not info.is_published():
            raise RuntimeError(f"the broker {self.settings.host}:{self.settings.port} did not acknowledge the command")
        return rid

    def close(self) -> None:
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()
            self._client = None
