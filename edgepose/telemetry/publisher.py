"""The device's MQTT publisher: status with a Last Will, live metrics, durable summaries and
events, Home Assistant discovery and commands.

State is reported only from what actually happened: ``online`` is published after the broker
accepted the connection (CONNACK success), and a QoS 1 message leaves the outbox only when its
PUBACK arrived.
"""

from __future__ import annotations

import collections
import errno
import json
import logging
import os
import ssl
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

import edgepose.telemetry.payloads as payloads
from edgepose import __version__
from edgepose.telemetry.commands import MAX_BYTES, RESULT_SCHEMA, Command, handle_command, request_id_of
from edgepose.telemetry.discovery import discovery_messages
from edgepose.telemetry.errors import SettingsError
from edgepose.telemetry.journal import SessionJournal
from edgepose.telemetry.outbox import Outbox, OutboxMessage
from edgepose.telemetry.probe import explain_refusal
from edgepose.telemetry.settings import MqttSettings
from edgepose.telemetry.state import state_dir as default_state_dir

log = logging.getLogger(__name__)

_SUMMARY_NS = uuid.UUID("6d1f6c2e-2b55-4c5e-9a53-0d3f5e0c9a11")
_UNSUPPORTED_PROTOCOL = 132  # MQTT 5 CONNACK reason "Unsupported Protocol Version"
# RabbitMQ 3.x answers an MQTT 5 CONNECT by closing the socket, without a CONNACK: after such a
# silent close the next attempt tries 3.1.1 once; if that is not answered either, back to 5.
_SILENT_FALLBACK_TRY, _SILENT_FALLBACK_DONE = "trying", "done"


# Largest packet the device takes from the broker (MQTT 5 Maximum Packet Size): a command is at
# most MAX_BYTES, plus topic and header.
MAX_PACKET_BYTES = MAX_BYTES + 1024
# PUBACK reasons that will not change by sending again: quarantine the message
_PERMANENT_REFUSALS = frozenset({135, 144, 149, 153})  # not authorized, topic invalid, too large, bad format


def _oserr(e: OSError) -> str:
    name = errno.errorcode.get(e.errno, "?") if e.errno is not None else None
    return f"{e.strerror or e} (errno {e.errno} {name})" if name else str(e)


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
        self._unjournaled: dict[str, tuple[str, float | None, str | None]] = {}  # journal record failed
        self._journaled_reps: dict[str, Any] = {}   # session id -> reps in its last journal checkpoint
        self._checkpoint_warned: set[tuple[str, object]] = set()
        self.outbox: Outbox | None = None
        self.journal: SessionJournal | None = None
        self.last_error: str | None = None
        self.connects = 0
        self._protocol = mqtt.MQTTv5 if settings.protocol == "5" else mqtt.MQTTv311
        self._endpoints = settings.endpoints()  # mqtt.hosts (a cluster's nodes) or mqtt.host:port
        self._ep = 0  # the one tried now; the next after a failed attempt or a lost connection
        self._silent_fallback: str | None = None
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
        if self.outbox.corruption is not None:
            c = self.outbox.corruption
            self.publish_event({"kind": "outbox_corrupt", "level": "error",
                                "message": f"outbox was corrupt ({c.error}); preserved as {c.preserved_as.name}",
                                "preserved_as": str(c.preserved_as)})
        self._check_outbox()
        # Sessions left open by a process that is gone (killed, power cut); a session another
        # running process has open is left to it.
        for summary in self.journal.recover_interrupted(skip_running=True):
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
    def session_started(self, session_id: str, program: str, started_at: float | None = None,
                        client: str | None = None) -> None:
        """Journal a session (and its client code), so a crash before its summary still reports it
        (``interrupted``, for that client)."""
        assert self.journal is not None, "call start() first"
        self._open_sessions[session_id] = float("-inf")
        try:
            self.journal.open_session(session_id, program, started_at, client)
        except OSError as e:  # e.g. the state disk is full: the session goes on, unjournaled for now
            self._unjournaled[session_id] = (program, started_at, client)
            log.error("session %s: cannot write its journal record in %s (%s); the session goes on, but a crash "
                      "before its summary would not be reported", session_id, self.journal.dir, _oserr(e))

    def session_checkpoint(self, session_id: str, partial_summary: dict[str, Any]) -> bool:
        """Store the summary so far (call every few seconds or after each rep).

        Never raises for a full or failing state disk: returns False and logs it (once per
        session and error), and the session goes on.
        """
        assert self.journal is not None, "call start() first"
        self._open_sessions[session_id] = time.monotonic()
        try:
            if session_id in self._unjournaled:
                program, started_at, client = self._unjournaled[session_id]
                self.journal.open_session(session_id, program, started_at, client)
                del self._unjournaled[session_id]
            self.journal.checkpoint(session_id, partial_summary)
            return True
        except (OSError, KeyError) as e:
            key = (session_id, getattr(e, "errno", None) or type(e).__name__)
            if key not in self._checkpoint_warned:
                self._checkpoint_warned.add(key)
                log.warning("session %s: journal checkpoint in %s failed (%s); the session goes on", session_id,
                            self.journal.dir, _oserr(e) if isinstance(e, OSError) else e)
            return False

    # --- publishing ------------------------------------------------------------------------
    def publish_live(self, data: dict[str, Any]) -> bool:
        """QoS 0, not stored: dropped (returns False) while disconnected.

        If ``data["session_id"]`` is an open session, its reps/score are also checkpointed in the
        journal, connected or not: at once when the rep count changed (before the live message
        goes out), else every ``checkpoint_every`` seconds.
        """
        sid = data.get("session_id")
        last = self._open_sessions.get(sid) if isinstance(sid, str) else None
        # A new rep is journaled before it is shown anywhere: a power cut right after the live
        # message must not report fewer reps than the client saw (other figures: every few s).
        new_rep = last is not None and data.get("reps") != self._journaled_reps.get(sid)
        if last is not None and (new_rep or time.monotonic() - last >= self.checkpoint_every):
            partial = {k: data[k] for k in _CHECKPOINT_KEYS if k in data}
            self.session_checkpoint(sid, partial)  # type: ignore[arg-type]
            # tried, even if the state disk refused it: a failing disk is retried every
            # checkpoint_every (and at the next rep), not on every frame
            self._journaled_reps[sid] = data.get("reps")  # type: ignore[index]
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
            try:
                self.journal.close_session(body["session_id"])
            except OSError as e:
                log.error("session %s: cannot remove its journal record (%s); it may be reported once more as "
                          "interrupted (same msg_id, receivers drop it)", body["session_id"], _oserr(e))
        self._open_sessions.pop(body["session_id"], None)
        self._unjournaled.pop(body["session_id"], None)
        self._journaled_reps.pop(body["session_id"], None)
        self._send_stored(mid)
        self._check_outbox()
        return mid

    def publish_event(self, data: dict[str, Any]) -> str:
        """Store an event (``kind``, ``level``, ``message``...) in the outbox and send it (QoS 1)."""
        assert self.outbox is not None, "call start() first"
        body = payloads.event(self.settings.device_id, data)
        mid = self.outbox.put(self.settings.topic("event"), body, qos=1)
        self._send_stored(mid)
        if data.get("kind") != "state_disk_full":
            self._check_outbox()
        return mid

    def _check_outbox(self) -> None:
        """Report (once per episode) that the outbox file cannot be written, e.g. a full state disk."""
        assert self.outbox is not None
        why = self.outbox.unavailable
        if why is None:
            self._disk_full_reported = False
            return
        if self._disk_full_reported:
            return
        self._disk_full_reported = True
        self.publish_event({"kind": "state_disk_full", "level": "error",
                            "message": f"outbox {why}; free space in {self.outbox.path.parent}"})

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
            try:
                c.tls_set(ca_certs=s.tls_ca, certfile=s.tls_cert, keyfile=s.tls_key)
            except (ssl.SSLError, OSError) as e:
                raise SettingsError(f"[mqtt] tls_ca/tls_cert/tls_key ({s.tls_ca}, {s.tls_cert}, {s.tls_key}) "
                                    f"cannot be used: {e}") from e
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

    @property
    def broker(self) -> str:
        """``host:port`` of the broker connected to or tried now (one of ``mqtt.hosts``)."""
        host, port = self._endpoints[self._ep]
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    def _next_broker(self) -> None:
        if len(self._endpoints) > 1:
            self._ep = (self._ep + 1) % len(self._endpoints)

    def _run_loop(self) -> None:
        backoff = self.min_backoff
        # the client and broker paho already knows: reconnect() there keeps an MQTT 5 session
        configured: tuple[mqtt.Client, int] | None = None
        while not self._stop.is_set():
            client = self._client
            assert client is not None
            try:
                if configured != (client, self._ep):
                    configured = (client, self._ep)
                    host, port = self._endpoints[self._ep]
                    client.connect(host, port, keepalive=self.settings.keepalive,
                                   properties=self._connect_properties())
                else:
                    client.reconnect()
            except (OSError, ValueError) as e:
                self.last_error = f"cannot reach {self.broker}: {e}"
                self._next_broker()
                log.warning("MQTT %s; trying %s in %.1f s", self.last_error, self.broker, backoff)
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
                self.last_error = (f"{self.broker} closed the connection before "
                                   f"accepting it ({mqtt.error_string(rc)}); check TLS files and credentials")
                log.warning("MQTT %s", self.last_error)
                self._silent_close()
            self._connected.clear()
            if self._fallback_pending():
                continue
            self._next_broker()
            if self.connects and self._connected_since_backoff:
                backoff = self.min_backoff
                self._connected_since_backoff = False
            log.info("MQTT connection lost; reconnecting in %.1f s", backoff)
            self._stop.wait(backoff)
            backoff = min(backoff * 2, self.max_backoff)

    _connected_since_backoff = False
    _answered = False
    _want_fallback = False
    _disk_full_reported = False
    _broker_max_packet: int | None = None

    def _connect_properties(self) -> Any:
        """MQTT 5: announce the largest packet we take, so the broker drops an oversized command
        instead of delivering it (the device would otherwise buffer all of it before refusing)."""
        if self._protocol != mqtt.MQTTv5:
            return None
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        props = Properties(PacketTypes.CONNECT)
        props.MaximumPacketSize = MAX_PACKET_BYTES
        return props

    def _silent_close(self) -> None:
        """A close before any CONNACK: under MQTT 5 maybe a broker without it (RabbitMQ 3.x)."""
        if self._protocol == mqtt.MQTTv5 and self._silent_fallback is None:
            self._silent_fallback = _SILENT_FALLBACK_TRY
            self._want_fallback = True
        elif self._protocol == mqtt.MQTTv311 and self._silent_fallback == _SILENT_FALLBACK_TRY:
            # 3.1.1 was not answered either: the protocol was not the reason; MQTT 5 again
            self._silent_fallback = _SILENT_FALLBACK_DONE
            log.warning("MQTT 3.1.1 was not answered either; back to MQTT 5")
            self._switch_protocol(mqtt.MQTTv5)

    def _fallback_pending(self) -> bool:
        if not self._want_fallback:
            return False
        self._want_fallback = False
        if self._silent_fallback == _SILENT_FALLBACK_TRY:
            log.warning("broker %s closed an MQTT 5 connection without answering; trying MQTT 3.1.1", self.broker)
        else:
            log.warning("broker %s refused MQTT 5; falling back to MQTT 3.1.1", self.broker)
        self._switch_protocol(mqtt.MQTTv311)
        return True

    def _switch_protocol(self, protocol: int) -> None:
        self._protocol = protocol
        with self._lock:
            self._mid_map.clear()
            self._acks.clear()
            self._inflight.clear()
        self._client = self._make_client()

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
        m = self.outbox.get(msg_id)
        if m is not None:
            self._send(m)

    def _undeliverable(self, m: OutboxMessage) -> str | None:
        """Why ``m`` can never be delivered as stored, or None."""
        t = m.topic
        if not t or len(t.encode("utf-8", "surrogatepass")) > 65535:
            return "topic is empty or longer than 65535 bytes"
        if "+" in t or "#" in t:
            return f"topic {t!r} contains an MQTT wildcard (+ or #), which a publish may not"
        if any(ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F for ch in t):
            return f"topic {t!r} contains a control character (a broker drops the connection for it)"
        limit = self._broker_max_packet
        if limit is not None and len(m.payload) + len(t) + 16 > limit:
            return f"{len(m.payload)} bytes is more than the broker's Maximum Packet Size ({limit})"
        return None

    def _send(self, m: OutboxMessage) -> None:
        assert self.outbox is not None
        why = self._undeliverable(m)
        if why is not None:
            self.outbox.quarantine(m.msg_id, why)
            return
        # Check and reserve in one step: the caller's thread (publish_summary) and the network
        # thread (resending pending messages on connect) can both reach here for one message.
        with self._lock:
            if m.msg_id in self._inflight:
                return
            self._inflight.add(m.msg_id)
        self.outbox.mark_attempt(m.msg_id)
        try:
            info = self._publish(m.topic, m.payload, m.qos, m.retain, msg_id=m.msg_id)
        except ValueError as e:  # paho refuses the topic or payload itself
            info = None
            self.outbox.quarantine(m.msg_id, f"refused by the MQTT client: {e}")
        if info is None:
            with self._lock:
                self._inflight.discard(m.msg_id)

    def _drain_acks(self) -> None:
        """Match PUBACKs collected by :meth:`_on_publish` to outbox ids (network thread)."""
        if not self._acks:
            return
        done: list[str] = []
        refused: list[tuple[str, ReasonCode]] = []
        with self._lock:
            while self._acks:
                mid, reason = self._acks.popleft()
                msg_id = self._mid_map.pop(mid, None)
                if msg_id is None:
                    continue  # QoS 0, status or discovery: not in the outbox
                if reason.is_failure:
                    self._inflight.discard(msg_id)
                    if reason.value in _PERMANENT_REFUSALS:
                        refused.append((msg_id, reason))
                    else:
                        log.warning("broker refused message %s: %s; it stays in the outbox", msg_id, reason)
                else:
                    done.append(msg_id)
        assert self.outbox is not None
        for msg_id, reason in refused:
            why = explain_refusal(reason.value, self.settings) if reason.value == 135 else str(reason)
            m = self.outbox.get(msg_id)
            if reason.value == 135 and m is not None and m.topic.startswith(self.settings.topic("")):
                # refused on the unit's own topics: the credentials or the ACL are wrong, not the
                # message; it stays queued for when they are fixed, and the cause is named
                error = f"broker refused a message on {m.topic}: {why}"
                if error != self.last_error:
                    log.error("MQTT %s; it stays in the outbox", error)
                self.last_error = error
                continue
            self.outbox.quarantine(msg_id, f"broker refused it (reason {reason.value}: {why})")
        for msg_id in done:
            self.outbox.mark_acked(msg_id)
        with self._acked:
            self._inflight.difference_update(done)
            self._acked.notify_all()

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode,
                    properties: Any) -> None:
        self._answered = True
        if reason.is_failure:
            self.last_error = (f"broker {self.broker} refused the connection: {reason} "
                               f"({explain_refusal(reason.value, self.settings)})")
            log.error("MQTT %s", self.last_error)
            if self._protocol == mqtt.MQTTv5 and reason.value in (_UNSUPPORTED_PROTOCOL, 1):
                self._want_fallback = True
            return
        self.connects += 1
        self.last_error = None
        if self._silent_fallback == _SILENT_FALLBACK_TRY:
            self._silent_fallback = _SILENT_FALLBACK_DONE
            log.warning("broker %s accepted MQTT 3.1.1 after closing an MQTT 5 connection unanswered; "
                        "staying on 3.1.1 (set mqtt.protocol = \"3.1.1\" to skip the attempt)", self.broker)
        self._connected_since_backoff = True
        self._connected.set()
        log.info("MQTT connected to %s as %s", self.broker, self.settings.device_id)
        s = self.settings
        if self.announce:
            self._publish(s.topic("status"), payloads.status(s.device_id, "online", self.firmware, self.model),
                          qos=1, retain=True)
            for topic, cfg in discovery_messages(s, self.firmware, self.model):
                self._publish(topic, cfg, qos=1, retain=True)
            if self._protocol == mqtt.MQTTv5:
                # Retain Handling 2: the broker sends no retained command on subscribe
                client.subscribe(s.topic("cmd"), options=SubscribeOptions(qos=1, retainHandling=2))
            else:
                client.subscribe(s.topic("cmd"), qos=1)
        self._broker_max_packet = getattr(properties, "MaximumPacketSize", None) if properties else None
        assert self.outbox is not None
        # whatever a previous connection or process left behind; the least tried first, so a
        # message that keeps failing never stands in front of the others
        for m in sorted(self.outbox.pending(), key=lambda m: m.attempts):
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
            log.warning("MQTT disconnected from %s: %s", self.broker, reason)

    def _on_publish(self, client: mqtt.Client, userdata: Any, mid: int, reason: ReasonCode,
                    properties: Any) -> None:
        # Called with paho's locks held: only queue it; _drain_acks matches it.
        self._acks.append((mid, reason))

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        if msg.topic != self.settings.topic("cmd"):
            return
        if msg.retain:  # a stored command (3.1.1 brokers deliver it on subscribe): never act on it
            log.warning("ignored a retained command on %s; commands must be published with retain=false "
                        "(clear it: mosquitto_pub -r -n -t %s)", msg.topic, msg.topic)
            result = {"schema": RESULT_SCHEMA, "ok": False, "request_id": request_id_of(msg.payload),
                      "error": "retained command ignored: publish commands with retain=false"}
        else:
            result = handle_command(msg.payload, self._command_cb)
        assert self.outbox is not None
        mid = self.outbox.put(self.settings.topic("cmd", "result"), result, qos=1)
        self._send_stored(mid)
