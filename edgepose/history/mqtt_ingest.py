"""The MQTT transport of the ingest (paho-mqtt 2): persistent session, shared subscription, manual acks.

Only this module knows MQTT; validation and storage are :class:`~edgepose.history.ingest.IngestCore`.
One thread does everything (network loop, commit, PUBACK), so a PUBACK is sent only after the
commit of its message returned, and in the order the messages arrived.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from edgepose.history.errors import StoreUnavailable
from edgepose.history.ingest import Incoming, IngestCore, log_stats_every
from edgepose.history.settings import IngestSettings

log = logging.getLogger(__name__)


class MqttIngest:
    """Feeds an :class:`IngestCore` from a broker until :meth:`stop`.

    ``on_ready`` is called once the broker accepted every subscription (systemd READY=1);
    ``on_alive`` after every turn of the loop (systemd WATCHDOG=1).
    """

    def __init__(self, settings: IngestSettings, core: IngestCore, *,
                 on_ready: Callable[[], None] | None = None, on_alive: Callable[[], None] | None = None,
                 min_backoff: float = 0.5, max_backoff: float = 30.0) -> None:
        self.s = settings
        self.core = core
        self.on_ready = on_ready
        self.on_alive = on_alive
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff
        self.subscribed = threading.Event()
        self.last_error: str | None = None
        self.connects = 0
        self._stop = threading.Event()
        self._pending: list[Incoming] = []
        self._new = 0
        self._sub_mids: dict[int, list[str]] = {}
        self._resubscribe_at: float | None = None
        self._shared_ok = True
        self._client = self._make_client()

    # --- lifecycle ---------------------------------------------------------------------------
    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        """Connect (retrying with back-off), ingest, reconnect on loss, until :meth:`stop`."""
        backoff = self.min_backoff
        first = True
        stats_last = [time.monotonic()]
        while not self._stop.is_set():
            try:
                if first:
                    kw: dict[str, Any] = ({"clean_start": False, "properties": self._connect_props()}
                                          if self.s.protocol == "5" else {})
                    self._client.connect(self.s.host, self.s.port, keepalive=self.s.keepalive, **kw)
                    first = False
                else:
                    self._client.reconnect()
            except (OSError, ValueError) as e:
                self.last_error = f"cannot reach broker {self.s.host}:{self.s.port}: {e}"
                log.warning("%s; retrying in %.1f s", self.last_error, backoff)
                self._stop.wait(backoff)
                backoff = min(2 * backoff, self.max_backoff)
                continue
            connected_at = time.monotonic()
            self._serve(stats_last)
            self._pending.clear()  # unacknowledged: the broker sends them again on the next connection
            self.subscribed.clear()
            if self._stop.is_set():
                break
            if time.monotonic() - connected_at > 10:
                backoff = self.min_backoff
            log.warning("connection to %s:%s lost; reconnecting in %.1f s", self.s.host, self.s.port, backoff)
            self._stop.wait(backoff)
            backoff = min(2 * backoff, self.max_backoff)
        try:
            self._client.disconnect()  # the session (and what arrives meanwhile) stays on the broker
        except Exception:  # pragma: no cover - best effort at shutdown
            pass

    def _serve(self, stats_last: list[float]) -> None:
        c = self._client
        store_backoff = self.min_backoff
        retry_at = 0.0
        outage_logged = 0.0
        while not self._stop.is_set():
            self._new = 0
            rc = c.loop(timeout=0.02 if self._pending else 0.2)
            # Drain what is already readable, up to a batch, before committing.
            while rc == MQTTErrorCode.MQTT_ERR_SUCCESS and self._new and len(self._pending) < self.s.batch_max:
                self._new = 0
                rc = c.loop(timeout=0)
            if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                return
            now = time.monotonic()
            if self._pending and now >= retry_at:
                batch = self._pending[: self.s.batch_max]
                try:
                    self.core.process(batch)
                except StoreUnavailable as e:
                    retry_at = now + store_backoff
                    if now - outage_logged > 60:
                        outage_logged = now
                        log.error("%s; %d message(s) held unacknowledged, retrying every <= %.0f s "
                                  "(the broker keeps them)", e, len(self._pending), self.max_backoff)
                    store_backoff = min(2 * store_backoff, self.max_backoff)
                else:
                    for m in batch:
                        mid, qos = m.token
                        if qos > 0:
                            c.ack(mid, qos)
                    del self._pending[: len(batch)]
                    if outage_logged:
                        log.warning("database writable again; ingest resumed")
                        outage_logged = 0.0
                    store_backoff = self.min_backoff
            if self._resubscribe_at is not None and now >= self._resubscribe_at:
                self._resubscribe_at = None
                self._subscribe(c)
            log_stats_every(self.core, self.s.stats_every_s, stats_last)
            if self.on_alive is not None:
                self.on_alive()

    # --- paho --------------------------------------------------------------------------------
    def _make_client(self) -> mqtt.Client:
        s = self.s
        v5 = s.protocol == "5"
        kw: dict[str, Any] = {} if v5 else {"clean_session": False}
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=s.client_id,
                        protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311, manual_ack=True,
                        reconnect_on_failure=False, **kw)
        if s.username is not None:
            c.username_pw_set(s.username, s.password)
        if s.tls_ca is not None:
            c.tls_set(ca_certs=s.tls_ca, certfile=s.tls_cert, keyfile=s.tls_key)
        c.max_queued_messages_set(0)
        c.on_connect = self._on_connect
        c.on_subscribe = self._on_subscribe
        c.on_message = self._on_message
        c.on_disconnect = self._on_disconnect
        return c

    def _connect_props(self) -> Properties | None:
        if self.s.protocol != "5":
            return None
        p = Properties(PacketTypes.CONNECT)
        p.SessionExpiryInterval = self.s.session_expiry_s
        p.ReceiveMaximum = self.s.receive_maximum
        # Larger packets than this are dropped by the broker (memory guard); between the payload
        # limit and this they arrive and are counted as oversized.
        p.MaximumPacketSize = 2 * self.s.max_payload_bytes + 64 * 1024
        return p

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            self.last_error = f"broker {self.s.host}:{self.s.port} refused the connection: {reason}"
            log.error("%s (client id %s)", self.last_error, self.s.client_id)
            return
        self.connects += 1
        self.last_error = None
        shared = getattr(props, "SharedSubscriptionAvailable", 1) if props is not None else 1
        if self.s.share_group and shared == 0 and self._shared_ok:
            self._shared_ok = False
            log.warning("broker %s:%s does not offer shared subscriptions; subscribing without $share "
                        "(run one ingest only)", self.s.host, self.s.port)
        log.info("connected to %s:%s as %s (session present: %s)", self.s.host, self.s.port,
                 self.s.client_id, bool(getattr(flags, "session_present", False)))
        self._subscribe(client)

    def _topics(self) -> list[str]:
        if self._shared_ok:
            return self.s.topics()
        return [t.split("/", 2)[2] if t.startswith("$share/") else t for t in self.s.topics()]

    def _subscribe(self, client: mqtt.Client) -> None:
        topics = self._topics()
        if self.s.protocol == "5":
            rc, mid = client.subscribe([(t, SubscribeOptions(qos=1)) for t in topics])
        else:
            rc, mid = client.subscribe([(t, 1) for t in topics])
        if rc == MQTTErrorCode.MQTT_ERR_SUCCESS and mid is not None:
            self._sub_mids[mid] = topics

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int, reasons: Any, props: Any) -> None:
        topics = self._sub_mids.pop(mid, [])
        failed = []
        for t, r in zip(topics, reasons, strict=False):
            if r.is_failure:
                failed.append(f"{t} ({r})")
            elif r.value == 0:
                log.warning("broker granted only QoS 0 for %s: messages sent while the ingest is down "
                            "may be lost (check the broker's max QoS)", t)
        if failed:
            self.last_error = (f"broker {self.s.host}:{self.s.port} refused the subscription to "
                               f"{', '.join(failed)} for client id {self.s.client_id}"
                               f"{' user ' + self.s.username if self.s.username else ''}; check its ACL")
            log.error("%s; retrying in 30 s", self.last_error)
            self._resubscribe_at = time.monotonic() + 30
            return
        first = not self.subscribed.is_set()
        self.subscribed.set()
        if first and self.on_ready is not None:
            self.on_ready()

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        self._pending.append(Incoming(msg.topic, msg.payload, (msg.mid, msg.qos)))
        self._new += 1

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if not self._stop.is_set():
            self.last_error = f"disconnected from {self.s.host}:{self.s.port}: {reason}"
