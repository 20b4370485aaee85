"""The session-history ingest over AMQP 0-9-1, for a RabbitMQ cluster (competing consumers).

RabbitMQ's MQTT plugin publishes every MQTT message to the topic exchange ``amq.topic`` with the
topic's ``/`` turned into ``.`` (``edgepose/gym-01/session/summary`` →
``edgepose.gym-01.session.summary``). One durable **quorum queue** (Raft-replicated over the
cluster's nodes) bound with ``edgepose.*.session.summary``, ``edgepose.*.event`` and
``edgepose.*.status`` collects what the units send while or before any ingest runs, survives the
death of a node (a new leader is elected from the replicas that have every acknowledged
message) and hands each message to one of the consumers attached to it: several ingest workers on
different nodes split the load the way an MQTT 5 shared subscription would.

Every worker consumes with manual acknowledgements and a prefetch window and hands a batch to
the transport-free core of ``edgepose ingest`` (:class:`edgepose.history.ingest.IngestCore`:
validate against ``docs/schemas`` -> commit in one transaction), and only then acknowledges the
batch (``basic.ack`` with ``multiple``). A worker or node that dies before the ack leaves its messages unacknowledged; the
queue delivers them again (``redelivered``) to a surviving consumer, and the store's unique key on
``msg_id`` turns the second copy into a no-op. The queue must exist before units publish (a
message routed to no queue is dropped): :func:`declare` creates it and is idempotent.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

QUEUE = "edgepose.ingest"
EXCHANGE = "amq.topic"  # the MQTT plugin's default (``mqtt.exchange``)
SUFFIXES = ("session/summary", "event", "status")


def routing_keys(base_topic: str = "edgepose") -> list[str]:
    """The bindings of the ingest queue: every unit's summaries, events and status."""
    base = base_topic.replace("/", ".")
    return [f"{base}.*.{suffix.replace('/', '.')}" for suffix in SUFFIXES]


def topic_of(routing_key: str) -> str:
    """The MQTT topic a routing key came from (the plugin maps ``/`` to ``.``; device ids have no dots)."""
    return routing_key.replace(".", "/")


@dataclass
class TransportStats:
    """What the AMQP side saw (the core counts stored, duplicates and refused)."""

    received: int = 0
    redelivered: int = 0
    acked: int = 0
    batches: int = 0
    reconnects: int = 0
    per_worker: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {k: (list(v) if isinstance(v, list) else v) for k, v in self.__dict__.items() if k != "lock"}


def declare(channel: Any, queue: str = QUEUE, base_topic: str = "edgepose") -> None:
    """Create (idempotently) the durable quorum queue and bind it to the MQTT plugin's exchange."""
    channel.queue_declare(queue=queue, durable=True, arguments={"x-queue-type": "quorum"})
    for key in routing_keys(base_topic):
        channel.queue_bind(queue=queue, exchange=EXCHANGE, routing_key=key)


class AmqpIngest:
    """``workers`` competing consumers of one quorum queue, each trying ``urls`` in turn.

    Worker ``k`` starts at ``urls[k % len(urls)]`` (so the workers sit on different nodes) and,
    when its connection fails, moves to the next URL with back-off (0.5 s doubling to 30 s,
    reset once it consumes again).
    """

    def __init__(self, urls: Sequence[str], core: Any, *, workers: int = 2, queue: str = QUEUE,
                 base_topic: str = "edgepose", prefetch: int = 500, batch: int = 200,
                 batch_wait_s: float = 0.05) -> None:
        if not urls:
            raise ValueError("at least one AMQP URL is needed")
        self.urls = list(urls)
        self.core = core  # edgepose.history.ingest.IngestCore (not thread-safe: one batch at a time)
        self.queue = queue
        self.base_topic = base_topic
        self.prefetch = prefetch
        self.batch = batch
        self.batch_wait_s = batch_wait_s
        self.stats = TransportStats(per_worker=[0] * workers)
        self._consuming: set[int] = set()
        self._ready = threading.Condition()
        self._stop = threading.Event()
        self._commit_lock = threading.Lock()
        self._threads = [threading.Thread(target=self._worker, args=(k,), name=f"amqp-ingest-{k}", daemon=True)
                         for k in range(workers)]
        self.last_error: str | None = None

    def start(self, timeout: float = 60.0) -> AmqpIngest:
        """Start the workers; returns once each has declared the queue and consumes."""
        for t in self._threads:
            t.start()
        with self._ready:
            ok = self._ready.wait_for(lambda: len(self._consuming) == len(self._threads), timeout)
        if not ok:
            self.stop()
            raise RuntimeError(f"ingest workers not consuming after {timeout:.0f} s: {self.last_error}")
        return self

    def run(self, on_ready: Callable[[], None] | None = None, on_alive: Callable[[], None] | None = None,
            stats_every_s: float = 60.0) -> None:
        """Start, then block until :meth:`stop` (from a signal handler), logging counters."""
        self.start()
        if on_ready:
            on_ready()
        last = time.monotonic()
        while not self._stop.wait(1.0):
            if on_alive:
                on_alive()
            if time.monotonic() - last >= stats_every_s:
                last = time.monotonic()
                log.info("ingest: amqp %s; core %s", self.stats.snapshot(), self.core.stats.as_dict())
        self.stop()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        for t in self._threads:
            if t.is_alive():
                t.join(timeout)

    # --- one worker -------------------------------------------------------------------------
    def _worker(self, k: int) -> None:
        import pika
        from pika.exceptions import AMQPError

        backoff, i, first = 0.5, k % len(self.urls), True
        while not self._stop.is_set():
            url = self.urls[i]
            conn = None
            try:
                params = pika.URLParameters(url)
                params.heartbeat = 30
                params.blocked_connection_timeout = 120
                params.connection_attempts = 1
                params.socket_timeout = 10
                params.stack_timeout = 60  # a node busy with a reconnect storm handshakes slowly
                conn = pika.BlockingConnection(params)
                ch = conn.channel()
                declare(ch, self.queue, self.base_topic)
                ch.basic_qos(prefetch_count=self.prefetch)
                log.info("ingest worker %d consuming %s at %s", k, self.queue, _safe(url))
                if first:
                    first = False
                    with self._ready:
                        self._consuming.add(k)
                        self._ready.notify_all()
                else:
                    with self.stats.lock:
                        self.stats.reconnects += 1
                backoff = 0.5
                self._consume(k, ch)
            except (AMQPError, OSError) as e:
                self.last_error = f"{_safe(url)}: {type(e).__name__}: {e}"
                log.warning("ingest worker %d: %s; next broker in %.1f s", k, self.last_error, backoff)
            except Exception as e:  # never die silently: what was not acknowledged comes again
                self.last_error = f"{_safe(url)}: {type(e).__name__}: {e}"
                log.exception("ingest worker %d failed; reconnecting in %.1f s", k, backoff)
            finally:
                if conn is not None and conn.is_open:
                    try:
                        conn.close()
                    except Exception:  # already broken: the broker redelivers what was not acked
                        pass
            if self._stop.is_set():
                break
            i = (i + 1) % len(self.urls)
            self._stop.wait(backoff)
            backoff = min(backoff * 2, 30.0)

    def _consume(self, k: int, ch: Any) -> None:
        from edgepose.history.ingest import Incoming

        pending: list[Incoming] = []
        redelivered = 0
        oldest = 0.0
        for method, _props, body in ch.consume(self.queue, inactivity_timeout=self.batch_wait_s):
            if method is not None:
                if not pending:
                    oldest = time.monotonic()
                pending.append(Incoming(topic_of(method.routing_key), body, token=method.delivery_tag))
                redelivered += bool(method.redelivered)
            if pending and (len(pending) >= self.batch or time.monotonic() - oldest >= self.batch_wait_s
                            or method is None):
                self._flush(k, ch, pending, redelivered)
                pending, redelivered = [], 0
            if self._stop.is_set() and not pending:
                ch.cancel()  # unacknowledged prefetched messages go back to the queue
                return

    def _flush(self, k: int, ch: Any, batch: list[Any], redelivered: int) -> None:
        from edgepose.history.errors import StoreUnavailable

        delay = 0.2
        while True:
            try:
                with self._commit_lock:
                    self.core.process(batch)  # every message settled: committed or refused (kept)
                break
            except StoreUnavailable as e:  # disk full, database locked or gone: keep, retry
                if self._stop.is_set():
                    log.warning("ingest worker %d: %s; stopping with %d messages unacknowledged "
                                "(the queue delivers them again)", k, e, len(batch))
                    return
                log.warning("ingest worker %d: %s; batch of %d kept unacknowledged, retrying in %.1f s",
                            k, e, len(batch), delay)
                ch.connection.sleep(delay)  # keeps the AMQP heartbeats going
                delay = min(delay * 2, 10.0)
        ch.basic_ack(delivery_tag=batch[-1].token, multiple=True)  # only after the commit
        with self.stats.lock:
            s = self.stats
            s.received += len(batch)
            s.redelivered += redelivered
            s.acked += len(batch)
            s.batches += 1
            s.per_worker[k] += len(batch)


def parse_urls(text: str) -> list[str]:
    """``--amqp URL[,URL...]``: one AMQP URL per node, each checked for its form."""
    urls = [u.strip() for u in text.split(",") if u.strip()]
    if not urls:
        raise ValueError("--amqp: give at least one URL, e.g. amqp://USER:PASS@node1:5672/%2F")
    from urllib.parse import urlsplit

    for u in urls:
        try:
            parts = urlsplit(u)
            ok = parts.scheme in ("amqp", "amqps") and bool(parts.hostname) and (parts.port or 1) > 0
        except ValueError:
            ok = False
        if not ok:
            raise ValueError(f"--amqp {_safe(u)!r}: expected amqp://USER:PASS@HOST:PORT/VHOST "
                             "(amqps:// for TLS); separate the nodes' URLs with commas")
    return urls


def run_cli(amqp: str, core: Any, store_url: str, notifier: Any, alive: Callable[[], None],
            base_topic: str = "edgepose", workers: int = 2) -> int:
    """``edgepose ingest --amqp URL[,URL...]``: the ingest against a RabbitMQ cluster."""
    import signal
    import sys

    urls = parse_urls(amqp)
    logging.getLogger("pika").setLevel(logging.CRITICAL)  # lost connections are reported by us
    ingest = AmqpIngest(urls, core, workers=workers, base_topic=base_topic)

    def on_signal(signum: int, _frame: object) -> None:
        ingest._stop.set()

    def ready() -> None:
        notifier.ready(f"ingesting queue {QUEUE} on {len(urls)} node(s) -> {store_url}")
        print(f"edgepose ingest: consuming quorum queue {QUEUE} ({', '.join(routing_keys(base_topic))}) "
              f"with {workers} workers over {', '.join(_safe(u) for u in urls)}", file=sys.stderr, flush=True)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    ingest.run(on_ready=ready, on_alive=alive)
    return 0


def _safe(url: str) -> str:
    """The URL without its password."""
    head, sep, tail = url.partition("@")
    if not sep or "//" not in head:
        return url
    scheme, _, cred = head.partition("//")
    user = cred.split(":", 1)[0]
    return f"{scheme}//{user}@{tail}"
