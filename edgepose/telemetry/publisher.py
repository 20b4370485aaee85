"""The device's MQTT publisher: status with a Last Will, live metrics, durable summaries and
events, Home Assistant discovery and commands.

State is reported only from what actually happened: ``online`` is published after the broker
accepted the connection (CONNACK success), and a QoS 1 message leaves the outbox only when its
PUBACK arrived.
"""

from __future__ import annotations

import collections
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode

import edgepose.telemetry.payloads as payloads
from edgepose import __version__
from edgepose.telemetry.commands import Command, handle_command
from edgepose.telemetry.discovery import discovery_messages
from edgepose.telemetry.journal import SessionJournal
from edgepose.telemetry.outbox import Outbox, OutboxMessage
from edgepose.telemetry.settings import MqttSettings
from edgepose.telemetry.state import state_dir as default_state_dir

log = logging.getLogger(__name__)

_SUMMARY_NS = uuid.UUID("6d1f6c2e-2b55-4c5e-9a53-0d3f5e0c9a11")
_UNSUPPORTED_PROTOCOL = 132  # MQTT 5 CONNACK reason "Unsupported Protocol Version"


_CHECKPOINT_KEYS = ("program", "reps", "score", "rep_rom_deg", "rep_scores", "rep_times", "duration_s", "hold_s")


def _no_op(*_: Any) -> None:
    pass


def summary_msg_id(device_id: str, session_id: str) -> str:
    """The one message id a session's summary ever has (so a resend after a crash dedupes)."""
    return str(uuid.uuid5(_SUMMARY_NS, f"{device_id}/{session_id}/summary"))


class Telemetry:
    """MQTT telemetry for one device.

    Parameters
    ----------
    settings
        Broker, identity and security settings.
    state_dir
        Folder for the outbox and session journal (default :func:`state_dir`).
    firmware, model
        Versions reported in the retained ``status`` message and discovery.
    announce
        False for a pure sender (``edgepose outbox flush``): no status, Last Will, discovery or
        command subscription, and a client id of its own.
    min_backoff, max_backoff
        Reconnect back-off bounds in seconds (doubles after each failure).
    checkpoint_every
        Seconds between automatic journal checkpoints taken from :meth:`publish_live` data of an
        open session (so a killed process still reports the reps so far).
    """

    def __init__(self, settings: MqttSettings, state_dir: str | os.PathLike[str] | None = None, *,
                 firmware: str = __version__, model: str | None = None, announce: bool = True,
                 min_backoff: float = 0.5, max_backoff: float = 30.0, checkpoint_every: float = 5.0) -> None:
        self.settings = settings
        self.state_dir = Path(state_dir) if state_dir is not None else default_state_dir()
        self.firmware = firmware
        self.model = model
        self.announce = announce
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff
        self.checkpoint_every = checkpoint_every
        self._open_sessions: dict[str, float] = {}  # session id -> monotonic time of last checkpoint
        self.outbox: Outbox | None = None
        self.journal: SessionJournal | None = None
        self.last_error: str | None = None
        self.connects = 0
        self._protocol = mqtt.MQTTv5 if settings.protocol == "5" else mqtt.MQTTv311
        self._client: mqtt.Client | None = None
        self._lock = threading.Lock()
        self._acked = threading.Condition(self._lock)
        self._mid_map: dict[int, str] = {}
        self._acks: collections.deque[tuple[int, ReasonCode]] = collections.deque()
        self._inflight: set[str] = set()
        self._connected = threading.Event()
        self.commands_ready = threading.Event()  # set once the broker acknowledged our cmd subscription
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._command_cb: Callable[[Command], str | None] | None = None
        self._started = False
        self._closed = False
        self.last_loop = 0.0  # monotonic time the network thread last went round (watchdog)

    # --- lifecycle -----------------------------------------------------------------------
    def start(self) -> Telemetry:
        """Open the outbox, report interrupted sessions, and connect in the background."""
        if self._started:
            return self
        self._started = True
        self.outbox = Outbox(self.state_dir)
        self.journal = SessionJournal(self.state_dir)
        if self.outbox.corruption is not None and self.announce:
            c = self.outbox.corruption
            self.publish_event({"kind": "outbox_corrupt", "level": "error",
                                "message": f"outbox was corrupt ({c.error}); preserved as {c.preserved_as.name}",
                                "preserved_as": str(c.preserved_as)})
        if self.announce:
            for summary in self.journal.recover_interrupted():
                self.publish_summary(summary)
        if not self.settings.enabled:
            log.info("MQTT disabled in config; messages stay in the outbox %s", self.outbox.path)
            return self
        self._client = self._make_client()
        self._thread = threading.Thread(target=self._run, name=f"edgepose-mqtt-{self.settings.device_id}",
                                        daemon=True)
        self._thread.start()
        return self

    def close(self, timeout: float = 5.0) -> None:
        """Say ``offline``, disconnect, join the network thread, close the outbox. Idempotent."""
        if self._closed:
            return
        self._closed = True
        client = self._client
        if client is not None and self._connected.is_set() and self.announce:
            info = self._publish(self.settings.topic("status"),
                                 payloads.status(self.settings.device_id, "offline", self.firmware, self.model),
                                 qos=1, retain=True)
            if info is not None:
                try:
                    info.wait_for_publish(timeout=min(1.0, timeout))
                except (RuntimeError, ValueError):
                    pass
        self._stop.set()
        if client is not None:
            client.disconnect()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("MQTT thread %s did not stop within %.1f s", self._thread.name, timeout)
        if self.outbox is not None:
            self.outbox.close()

    def __enter__(self) -> Telemetry:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def connected(self) -> bool:
        """True between a successful CONNACK and the next disconnect."""
        return self._connected.is_set()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    # --- sessions --------------------------------------------------------------------------
    def session_started(self, session_id: str, program: str, started_at: float | None = None) -> None:
        """Journal a session, so a crash before its summary still reports it (``interrupted``)."""
        assert self.journal is not None, "call start() first"
        self.journal.open_session(session_id, program, started_at)
        self._open_sessions[session_id] = float("-inf")

    def session_checkpoint(self, session_id: str, partial_summary: dict[str, Any]) -> None:
        """Store the summary so far (call every few seconds or after each rep)."""
        assert self.journal is not None, "call start() first"
        self.journal.checkpoint(session_id, partial_summary)
        self._open_sessions[session_id] = time.monotonic()

    # --- publishing ------------------------------------------------------------------------
    def publish_live(self, data: dict[str, Any]) -> bool:
        """QoS 0, not stored: dropped (returns False) while disconnected.

        If ``data["session_id"]`` is an open session, its reps/score are also checkpointed in the
        journal every ``checkpoint_every`` seconds, connected or not.
        """
        sid = data.get("session_id")
        last = self._open_sessions.get(sid) if isinstance(sid, str) else None
        if last is not None and time.monotonic() - last >= self.checkpoint_every:
            partial = {k: data[k] for k in _CHECKPOINT_KEYS if k in data}
            try:
                self.session_checkpoint(sid, partial)  # type: ignore[arg-type]
            except (OSError, KeyError) as e:
                log.warning("session %s checkpoint failed: %s", sid, e)
        if not self._connected.is_set():
            return False
        body = payloads.live(self.settings.device_id, data, self.settings.export_keypoints)
        info = self._publish(self.settings.topic("session", "live"), body, qos=0, retain=False)
        return info is not None and info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS

    def publish_summary(self, data: dict[str, Any]) -> str:
        """Store the session summary in the outbox, close its journal entry, send it (QoS 1)."""
        assert self.outbox is not None, "call start() first"
        body = payloads.summary(self.settings.device_id, data, self.settings.export_keypoints)
        mid = summary_msg_id(self.settings.device_id, body["session_id"])
        mid = self.outbox.put(self.settings.topic("session", "summary"), body, qos=1, msg_id=mid)
        if self.journal is not None:
            self.journal.close_session(body["session_id"])
        self._open_sessions.pop(body["session_id"], None)
        self._send_stored(mid)
        return mid

    def publish_event(self, data: dict[str, Any]) -> str:
        """Store an event (``kind``, ``level``, ``message``...) in the outbox and send it (QoS 1)."""
        assert self.outbox is not None, "call start() first"
        body = payloads.event(self.settings.device_id, data)
        mid = self.outbox.put(self.settings.topic("event"), body, qos=1)
        self._send_stored(mid)
        return mid

    def on_command(self, callback: Callable[[Command], str | None]) -> None:
        """Handle valid commands with ``callback(cmd) -> None | error string``."""
        self._command_cb = callback

    def flush(self, timeout: float) -> bool:
        """Wait until everything in the outbox was acknowledged; True only then."""
        if self.outbox is None:
            return False
        deadline = time.monotonic() + timeout
        with self._acked:
            while True:
                if self.outbox.count() == 0:
                    return True
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._acked.wait(min(left, 0.2))

    # --- internals -------------------------------------------------------------------------
    def _make_client(self) -> mqtt.Client:
        s = self.settings
        cid = f"edgepose-{s.device_id}" if self.announce else f"edgepose-{s.device_id}-sender-{os.getpid()}"
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=cid, protocol=self._protocol,
                        reconnect_on_failure=False)
        if s.username is not None:
            c.username_pw_set(s.username, s.password)
        if s.tls_ca is not None:
            c.tls_set(ca_certs=s.tls_ca, certfile=s.tls_cert, keyfile=s.tls_key)
        if self.announce:
            will = payloads.status(s.device_id, "offline", self.firmware, self.model)
            c.will_set(s.topic("status"), json.dumps(will), qos=1, retain=True)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_publish = self._on_publish
        c.on_message = self._on_message
        c.on_subscribe = self._on_subscribe
        # All socket I/O stays on our network thread: with this hook set, publish() from another
        # thread only queues the packet and wakes the loop's select() instead of writing itself.
        c.on_socket_register_write = _no_op
        c.max_inflight_messages_set(50)
        return c

    def _run(self) -> None:
        try:
            self._run_loop()
        except Exception:  # never die silently: the outbox keeps everything for the next start
            log.exception("MQTT network thread failed; messages stay in the outbox %s",
                          self.outbox.path if self.outbox else "?")
            self._connected.clear()

    def _run_loop(self) -> None:
        backoff = self.min_backoff
        configured: mqtt.Client | None = None  # the client whose host/port paho already knows
        while not self._stop.is_set():
            client = self._client
            assert client is not None
            try:
                if client is not configured:
                    configured = client
                    client.connect(self.settings.host, self.settings.port, keepalive=self.settings.keepalive)
                else:
                    client.reconnect()
            except (OSError, ValueError) as e:
                self.last_error = f"cannot reach {self.settings.host}:{self.settings.port}: {e}"
                log.warning("MQTT %s; retrying in %.1f s", self.last_error, backoff)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, self.max_backoff)
                continue
            self._answered = False
            while not self._stop.is_set():
                rc = client.loop(timeout=0.2)
                self.last_loop = time.monotonic()
                self._drain_acks()
                if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                    break
            if self._stop.is_set():
                break
            if not self._answered:
                # e.g. a TLS listener that wants a client certificate hangs up after the handshake
                self.last_error = (f"{self.settings.host}:{self.settings.port} closed the connection before "
                                   f"accepting it ({mqtt.error_string(rc)}); check TLS files and credentials")
                log.warning("MQTT %s", self.last_error)
            self._connected.clear()
            if self._fallback_pending():
                continue
            if self.connects and self._connected_since_backoff:
                backoff = self.min_backoff
                self._connected_since_backoff = False
            log.info("MQTT connection lost; reconnecting in %.1f s", backoff)
            self._stop.wait(backoff)
            backoff = min(backoff * 2, self.max_backoff)

    _connected_since_backoff = False
    _answered = False
    _want_fallback = False

    def _fallback_pending(self) -> bool:
        if not self._want_fallback:
            return False
        self._want_fallback = False
        log.warning("broker refused MQTT 5; falling back to MQTT 3.1.1")
        self._protocol = mqtt.MQTTv311
        with self._lock:
            self._mid_map.clear()
            self._acks.clear()
            self._inflight.clear()
        self._client = self._make_client()
        return True

    def _publish(self, topic: str, body: dict[str, Any] | bytes, qos: int, retain: bool,
                 msg_id: str | None = None) -> mqtt.MQTTMessageInfo | None:
        client = self._client
        if client is None:
            return None
        data = body if isinstance(body, bytes) else json.dumps(body, separators=(",", ":")).encode()
        # The mid is registered under the same lock as the publish, and acknowledgements are
        # matched (in _drain_acks) under that lock too, so a fast PUBACK always finds its id.
        with self._lock:
            info = client.publish(topic, data, qos=qos, retain=retain)
            if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
                log.warning("MQTT publish to %s failed: %s", topic, mqtt.error_string(info.rc))
                return None
            if msg_id is not None:
                self._mid_map[info.mid] = msg_id
                self._inflight.add(msg_id)
        return info

    def _send_stored(self, msg_id: str) -> None:
        assert self.outbox is not None
        if self._client is None:
            return
        for m in self.outbox.pending():
            if m.msg_id == msg_id:
                self._send(m)
                return

    def _send(self, m: OutboxMessage) -> None:
        assert self.outbox is not None
        # Check and reserve in one step: the caller's thread (publish_summary) and the network
        # thread (resending pending messages on connect) can both reach here for one message.
        with self._lock:
            if m.msg_id in self._inflight:
                return
            self._inflight.add(m.msg_id)
        self.outbox.mark_attempt(m.msg_id)
        if self._publish(m.topic, m.payload, m.qos, m.retain, msg_id=m.msg_id) is None:
            with self._lock:
                self._inflight.discard(m.msg_id)

    def _drain_acks(self) -> None:
        """Match PUBACKs collected by :meth:`_on_publish` to outbox ids (network thread)."""
        if not self._acks:
            return
        done: list[str] = []
        with self._lock:
            while self._acks:
                mid, reason = self._acks.popleft()
                msg_id = self._mid_map.pop(mid, None)
                if msg_id is None:
                    continue  # QoS 0, status or discovery: not in the outbox
                if reason.is_failure:
                    log.warning("broker refused message %s: %s; it stays in the outbox", msg_id, reason)
                    self._inflight.discard(msg_id)
                else:
                    done.append(msg_id)
        assert self.outbox is not None
        for msg_id in done:
            self.outbox.mark_acked(msg_id)
        with self._acked:
            self._inflight.difference_update(done)
            self._acked.notify_all()

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode,
                    properties: Any) -> None:
        self._answered = True
        if reason.is_failure:
            self.last_error = f"broker {self.settings.host}:{self.settings.port} refused the connection: {reason}"
            log.error("MQTT %s", self.last_error)
            if self._protocol == mqtt.MQTTv5 and reason.value in (_UNSUPPORTED_PROTOCOL, 1):
                self._want_fallback = True
            return
        self.connects += 1
        self.last_error = None
        self._connected_since_backoff = True
        self._connected.set()
        log.info("MQTT connected to %s:%s as %s", self.settings.host, self.settings.port, self.settings.device_id)
        s = self.settings
        if self.announce:
            self._publish(s.topic("status"), payloads.status(s.device_id, "online", self.firmware, self.model),
                          qos=1, retain=True)
            for topic, cfg in discovery_messages(s, self.firmware, self.model):
                self._publish(topic, cfg, qos=1, retain=True)
            client.subscribe(s.topic("cmd"), qos=1)
        assert self.outbox is not None
        for m in self.outbox.pending():  # whatever a previous connection or process left behind
            self._send(m)

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int, reasons: Any, properties: Any) -> None:
        if all(not r.is_failure for r in reasons):
            self.commands_ready.set()
        else:
            log.error("broker refused the command subscription %s: %s (check the ACL)",
                      self.settings.topic("cmd"), reasons)

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode,
                       properties: Any) -> None:
        was = self._connected.is_set()
        self._connected.clear()
        self.commands_ready.clear()
        if was and not self._stop.is_set():
            log.warning("MQTT disconnected from %s:%s: %s", self.settings.host, self.settings.port, reason)

    def _on_publish(self, client: mqtt.Client, userdata: Any, mid: int, reason: ReasonCode,
                    properties: Any) -> None:
        # Called with paho's locks held: only queue it; _drain_acks matches it.
        self._acks.append((mid, reason))

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        if msg.topic != self.settings.topic("cmd"):
            return
        result = handle_command(msg.payload, self._command_cb)
        assert self.outbox is not None
        mid = self.outbox.put(self.settings.topic("cmd", "result"), result, qos=1)
        self._send_stored(mid)
