#!/usr/bin/env python3
"""Drive N simulated edgepose units against a real MQTT broker and count what arrives.

Each unit is a real MQTT 5 client (paho, non-threaded: sockets on an asyncio event loop, one loop
per worker process). Units publish QoS 0 ``session/live`` at ``--live-hz`` and a QoS 1
``session/summary`` every ``--summary-every`` seconds (with a Last Will and a retained status).
Two ingestion consumers share ``$share/ingest/edgepose/+/session/summary`` (and ``.../live``),
de-duplicate summaries by ``msg_id`` and count them. The last line printed is one JSON object::

    {"units": ..., "sent": ..., "received": ..., "lost": ..., "sent_msgs_per_s": ...,
     "broker_cpu_pct": ..., "broker_rss_mb": ..., ...}

``sent``/``received``/``lost`` count QoS 1 summaries (unique ``msg_id``). Broker CPU and memory
come from ``/proc/<pid>`` of the broker (``--broker-pid``, else the process listening on the port).

With ``--ingest-db URL`` the consumers are instead ``--ingest-procs`` real ``edgepose ingest``
processes writing to that database, and ``received`` is what is in it (``--kill-ingest-after S``
SIGKILLs one mid-run and restarts it).

Example::

    python tools/fleet_sim.py --broker 127.0.0.1:1883 --units 1000 --seconds 30
    python tools/fleet_sim.py --broker 127.0.0.1:18870 --spawn-broker --units 10000 --seconds 30 \
        --ingest-db sqlite:////tmp/fleet.sqlite --ingest-procs 2 --kill-ingest-after 10 --drain 300
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import json
import logging
import multiprocessing as mp
import os
import random
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

log = logging.getLogger("fleet_sim")

PROGRAMS = ("squat", "lunge", "sit-to-stand", "shoulder-press", "tree-pose")


# --------------------------------------------------------------------------- helpers
def parse_hostport(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise SystemExit(f"--broker {text!r}: expected HOST:PORT, e.g. 127.0.0.1:1883")
    return host.strip("[]"), int(port)


def raise_nofile(need: int) -> tuple[int, int]:
    """Raise this process's RLIMIT_NOFILE soft limit towards ``need`` (up to the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = need if hard == resource.RLIM_INFINITY else min(need, hard)
    if soft != resource.RLIM_INFINITY and soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def find_listener_pid(port: int) -> int | None:
    """PID of the process holding the TCP listening socket on ``port`` (via /proc)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if len(parts) > 9 and parts[3] == "0A" and int(parts[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(parts[9])
    if not inodes:
        return None
    targets = {f"socket:[{i}]" for i in inodes}
    for pid_dir in Path("/proc").iterdir():
        if not pid_dir.name.isdigit():
            continue
        try:
            for fd in (pid_dir / "fd").iterdir():
                if os.readlink(fd) in targets:
                    return int(pid_dir.name)
        except OSError:
            continue
    return None


@dataclass
class ProcSample:
    cpu_s: float
    rss_kb: int
    hwm_kb: int
    t: float


def sample_proc(pid: int | None) -> ProcSample | None:
    if pid is None:
        return None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2:].split()
        ticks = os.sysconf("SC_CLK_TCK")
        cpu = (int(fields[11]) + int(fields[12])) / ticks
        rss = hwm = 0
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
            elif line.startswith("VmHWM:"):
                hwm = int(line.split()[1])
        return ProcSample(cpu, rss, hwm, time.monotonic())
    except (OSError, ValueError, IndexError):
        return None


# --------------------------------------------------------------------------- units (worker side)
@dataclass(order=True)
class _Due:
    t: float
    kind: int  # 0 live, 1 summary
    idx: int = field(compare=False)


class Unit:
    """One simulated device: a paho client whose socket lives on the asyncio loop."""

    def __init__(self, sim: WorkerSim, idx: int, device_id: str) -> None:
        self.sim = sim
        self.idx = idx
        self.device_id = device_id
        self.connected = False
        self.reps = 0
        self.session = 0
        self.sock: socket.socket | None = None
        self.writing = False
        # MQTT 5 unless the run asks for 3.1.1 (a broker without MQTT 5, e.g. RabbitMQ 3.10)
        protocol = mqtt.MQTTv311 if sim.cfg.get("protocol") == "3.1.1" else mqtt.MQTTv5
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=device_id, protocol=protocol)
        c.will_set(f"edgepose/{device_id}/status", b'{"state":"offline"}', qos=1, retain=True)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_publish = self._on_publish
        c.on_socket_open = self._on_socket_open
        c.on_socket_close = self._on_socket_close
        c.max_inflight_messages_set(100)
        self.client = c
        self.pending_qos1: dict[int, str] = {}

    # socket plumbing: reads via add_reader; writes go out directly, and only a full socket
    # buffer makes us watch for writability.
    def _on_socket_open(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        self.sock = sock
        self.sim.loop.add_reader(sock, self._readable)

    def _on_socket_close(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        self.sim.loop.remove_reader(sock)
        if self.writing:
            self.sim.loop.remove_writer(sock)
            self.writing = False
        self.sock = None

    def _readable(self) -> None:
        rc = self.client.loop_read()
        if rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_AGAIN):
            self.connected = False
        self.flush_writes()

    def _writable(self) -> None:
        self.client.loop_write()
        self.flush_writes()

    def flush_writes(self) -> None:
        if self.sock is None:
            return
        want = self.client.want_write()
        if want and not self.writing:
            self.sim.loop.add_writer(self.sock, self._writable)
            self.writing = True
        elif not want and self.writing:
            self.sim.loop.remove_writer(self.sock)
            self.writing = False

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            self.sim.connect_failures += 1
            return
        self.connected = True
        self.sim.connected += 1
        client.publish(f"edgepose/{self.device_id}/status",
                       json.dumps({"schema": "edgepose.status/1", "device_id": self.device_id,
                                   "state": "online", "firmware": "sim", "model": None,
                                   "ts": time.time()}), qos=1, retain=True)

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if self.connected:
            self.sim.disconnects += 1
        self.connected = False

    def _on_publish(self, client: mqtt.Client, userdata: Any, mid: int, reason: Any, props: Any) -> None:
        msg_id = self.pending_qos1.pop(mid, None)
        if msg_id is not None:
            if reason.is_failure:
                self.sim.refused += 1
            else:
                self.sim.acked += 1

    def publish_live(self) -> None:
        if not self.connected:
            self.sim.live_skipped += 1
            return
        self.reps += random.random() < 0.3
        body = {"schema": "edgepose.session.live/1", "device_id": self.device_id,
                "session_id": f"{self.device_id}-{self.session}", "program": PROGRAMS[self.idx % len(PROGRAMS)],
                "state": "active", "reps": self.reps, "score": round(60 + 40 * random.random(), 1),
                "ts": time.time()}
        data = json.dumps(body, separators=(",", ":")).encode()
        info = self.client.publish(f"edgepose/{self.device_id}/session/live", data, qos=0)
        if info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS:
            self.sim.live_sent += 1
            self.sim.bytes_sent += len(data)
        self.flush_writes()

    def publish_summary(self) -> None:
        msg_id = str(uuid.uuid4())
        reps = max(1, self.reps)
        body = {"schema": "edgepose.session.summary/1", "msg_id": msg_id, "device_id": self.device_id,
                "session_id": f"{self.device_id}-{self.session}", "program": PROGRAMS[self.idx % len(PROGRAMS)],
                "status": "completed", "reps": reps, "score": round(60 + 40 * random.random(), 1),
                "rep_rom_deg": [round(70 + 25 * random.random(), 1) for _ in range(min(reps, 20))],
                "started_at": time.time() - 60, "ended_at": time.time(), "duration_s": 60.0,
                "ts": time.time()}
        data = json.dumps(body, separators=(",", ":")).encode()
        # QoS 1 is queued by paho even while disconnected and resent after reconnecting.
        info = self.client.publish(f"edgepose/{self.device_id}/session/summary", data, qos=1)
        self.pending_qos1[info.mid] = msg_id
        self.sim.sent_ids.append(msg_id)
        self.sim.bytes_sent += len(data)
        self.session += 1
        self.reps = 0
        self.flush_writes()


class WorkerSim:
    def __init__(self, cfg: dict[str, Any], first: int, count: int) -> None:
        self.cfg = cfg
        self.first = first
        self.count = count
        self.loop = asyncio.get_running_loop()
        self.units: list[Unit] = []
        self.connected = 0
        self.connect_failures = 0
        self.disconnects = 0
        self.acked = 0
        self.refused = 0
        self.live_sent = 0
        self.live_skipped = 0
        self.bytes_sent = 0
        self.sent_ids: list[str] = []

    async def connect_all(self) -> float:
        host, port = self.cfg["host"], self.cfg["port"]
        t0 = time.monotonic()
        batch = self.cfg["connect_batch"]
        for i in range(self.count):
            u = Unit(self, self.first + i, f"{self.cfg['prefix']}-{self.first + i:05d}")
            self.units.append(u)
            for attempt in range(20):
                try:
                    u.client.connect(host, port, keepalive=self.cfg["keepalive"])
                    break
                except OSError as e:  # listen backlog full: let the broker catch up
                    if attempt == 19:
                        log.error("unit %s cannot connect: %s", u.device_id, e)
                        self.connect_failures += 1
                    await asyncio.sleep(0.05 * (attempt + 1))
            u.flush_writes()
            if i % batch == batch - 1:
                await asyncio.sleep(0)  # read CONNACKs as they come
        deadline = time.monotonic() + self.cfg["connect_timeout"]
        while self.connected + self.connect_failures < self.count and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return time.monotonic() - t0

    async def misc(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            for u in self.units:
                if u.sock is not None:
                    u.client.loop_misc()
                    u.flush_writes()
            try:
                await asyncio.wait_for(stop.wait(), 2.0)
            except TimeoutError:
                pass

    async def publish_phase(self, start_at: float) -> None:
        seconds, hz, every = self.cfg["seconds"], self.cfg["live_hz"], self.cfg["summary_every"]
        now = time.time()
        if start_at > now:
            await asyncio.sleep(start_at - now)
        t0 = time.monotonic()
        end = t0 + seconds
        heap: list[_Due] = []
        rnd = random.Random(self.first)
        for u in self.units:
            if hz > 0:
                heap.append(_Due(t0 + rnd.random() / hz, 0, u.idx - self.first))
            if every > 0:
                heap.append(_Due(t0 + rnd.random() * every, 1, u.idx - self.first))
        heapq.heapify(heap)
        while heap:
            now = time.monotonic()
            if now >= end:
                break
            while heap and heap[0].t <= now:
                d = heapq.heappop(heap)
                u = self.units[d.idx]
                if d.kind == 0:
                    u.publish_live()
                    nxt = d.t + 1.0 / hz
                else:
                    u.publish_summary()
                    nxt = d.t + every
                if nxt < end:
                    heapq.heappush(heap, _Due(nxt, d.kind, d.idx))
            await asyncio.sleep(max(0.0, min(0.02, (heap[0].t - time.monotonic()) if heap else 0.02)))
        self.publish_s = time.monotonic() - t0

    async def drain(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.acked + self.refused < len(self.sent_ids) and time.monotonic() < deadline:
            for u in self.units:
                if u.sock is None and u.pending_qos1:
                    try:
                        u.client.reconnect()
                    except OSError:
                        pass
                u.flush_writes()
            await asyncio.sleep(0.1)

    async def disconnect_all(self) -> None:
        for u in self.units:
            if u.sock is not None:
                u.client.disconnect()
                u.flush_writes()
        await asyncio.sleep(0.2)


async def _worker_async(cfg: dict[str, Any], first: int, count: int, conn: Any) -> None:
    sim = WorkerSim(cfg, first, count)
    stop = asyncio.Event()
    misc = asyncio.ensure_future(sim.misc(stop))
    connect_s = await sim.connect_all()
    conn.send({"connected": sim.connected, "connect_s": connect_s})
    go = asyncio.Event()
    start_box: list[float] = []

    def _go() -> None:
        start_box.append(conn.recv())
        go.set()

    sim.loop.add_reader(conn.fileno(), _go)
    await go.wait()
    sim.loop.remove_reader(conn.fileno())
    await sim.publish_phase(start_box[0])
    await sim.drain(cfg["drain"])
    stop.set()
    await misc
    conn.send({"sent_ids": sim.sent_ids, "acked": sim.acked, "refused": sim.refused,
               "live_sent": sim.live_sent, "live_skipped": sim.live_skipped, "bytes_sent": sim.bytes_sent,
               "disconnects": sim.disconnects, "connect_failures": sim.connect_failures,
               "publish_s": sim.publish_s})
    await sim.disconnect_all()


def _worker(cfg: dict[str, Any], first: int, count: int, conn: Any) -> None:
    raise_nofile(count + 256)
    asyncio.run(_worker_async(cfg, first, count, conn))


# --------------------------------------------------------------------------- ingestion (main side)
class Ingest:
    """Two MQTT 5 shared-subscription consumers that count and de-duplicate."""

    def __init__(self, host: str, port: int, prefix: str, consumers: int = 2) -> None:
        self.lock = threading.Lock()
        self.ids: set[str] = set()
        self.summary_raw = 0
        self.live = 0
        self.bytes = 0
        self.per_consumer = [0] * consumers
        self.clients: list[mqtt.Client] = []
        ready = threading.Barrier(consumers + 1)
        for k in range(consumers):
            c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{prefix}-ingest-{k}", protocol=mqtt.MQTTv5)
            c.on_message = self._make_on_message(k)
            c.on_subscribe = lambda *a: ready.wait(10)
            c.on_connect = self._on_connect
            props = Properties(PacketTypes.CONNECT)
            props.ReceiveMaximum = 1000
            c.connect(host, port, keepalive=60, properties=props)
            c.loop_start()
            self.clients.append(c)
        ready.wait(20)

    @staticmethod
    def _on_connect(client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        client.subscribe([("$share/ingest/edgepose/+/session/summary", 1),
                          ("$share/ingest/edgepose/+/session/live", 0)])

    def _make_on_message(self, k: int):  # type: ignore[no-untyped-def]
        def on_message(client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
            payload = msg.payload
            if msg.topic.endswith("/summary"):
                msg_id = json.loads(payload)["msg_id"]
                with self.lock:
                    self.summary_raw += 1
                    self.ids.add(msg_id)
                    self.bytes += len(payload)
                    self.per_consumer[k] += 1
            else:
                with self.lock:
                    self.live += 1
                    self.bytes += len(payload)
                    self.per_consumer[k] += 1
        return on_message

    def close(self) -> None:
        for c in self.clients:
            c.disconnect()
            c.loop_stop()


class DbIngest:
    """``edgepose ingest`` processes (the real one: validate, commit, then PUBACK) on the shared
    subscription, writing to ``--ingest-db``; what counts as received is what is in the database."""

    def __init__(self, host: str, port: int, prefix: str, db: str, procs: int, workdir: Path) -> None:
        self.lock = threading.Lock()
        self.summary_raw = self.live = self.bytes = 0
        self.prefix = prefix
        self.db = db
        repo = Path(__file__).resolve().parents[1]
        self.cmds = [[sys.executable, "-m", "edgepose.cli", "ingest", "--mqtt", f"{host}:{port}", "--db", db,
                      "--client-id", f"{prefix}-edgepose-ingest-{k}"] for k in range(procs)]
        self.envs = [dict(os.environ, EDGEPOSE_STATE=str(workdir / f"ingest-{k}"), PYTHONPATH=str(repo))
                     for k in range(procs)]
        self.cwd = repo
        self.procs: list[subprocess.Popen[str] | None] = [None] * procs
        self.readers: list[threading.Thread | None] = [None] * procs
        self.stats: list[dict[str, Any]] = [{} for _ in range(procs)]
        self.kills = 0
        from edgepose.history.store import open_store

        self.store = open_store(db)
        self._ids: set[str] = set()
        self._polled = 0.0
        for k in range(procs):
            self.start(k)

    def start(self, k: int) -> None:
        p = subprocess.Popen(self.cmds[k], env=self.envs[k], cwd=self.cwd, stderr=subprocess.PIPE, text=True)
        ready = threading.Event()

        def read() -> None:
            assert p.stderr is not None
            for line in p.stderr:
                if "subscribed on" in line:
                    ready.set()
                if "stopped; " in line:
                    self.stats[k] = json.loads(line.split("stopped; ", 1)[1].replace("'", '"'))
                elif " ERROR " in line or " WARNING " in line:
                    log.warning("ingest %d: %s", k, line.rstrip())
        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        self.procs[k] = p  # registered at once, so close() stops it whatever happens next
        self.readers[k] = reader
        if not ready.wait(300):
            log.error("edgepose ingest %d did not subscribe within 300 s (exit %s)", k, p.poll())

    def kill_and_restart(self, k: int, down_s: float) -> None:
        p = self.procs[k]
        assert p is not None
        p.send_signal(signal.SIGKILL)
        p.wait(10)
        self.kills += 1
        log.info("ingest %d SIGKILLed; restarting in %.1f s", k, down_s)
        time.sleep(down_s)
        self.start(k)

    @property
    def ids(self) -> set[str]:
        if time.monotonic() - self._polled > 1.0:
            with self.store.engine.connect() as conn:
                self._ids = {r[0] for r in conn.exec_driver_sql(
                    "SELECT msg_id FROM sessions WHERE device_id LIKE ?" if self.store.engine.dialect.name == "sqlite"
                    else "SELECT msg_id FROM sessions WHERE device_id LIKE %s", (f"{self.prefix}-%",))}
            self._polled = time.monotonic()
        return self._ids

    @property
    def per_consumer(self) -> list[int]:
        return [int(s.get("stored", 0)) for s in self.stats]

    def db_rows(self) -> tuple[int, int]:
        with self.store.engine.connect() as conn:
            q = ("SELECT count(*), count(*) - count(DISTINCT msg_id) FROM sessions WHERE device_id LIKE "
                 + ("?" if self.store.engine.dialect.name == "sqlite" else "%s"))
            n, d = conn.exec_driver_sql(q, (f"{self.prefix}-%",)).one()
        return int(n), int(d)

    def close(self) -> None:
        for p in self.procs:
            if p is not None and p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            if p is not None:
                try:
                    p.wait(30)
                except subprocess.TimeoutExpired:
                    p.kill()
        for r in self.readers:  # they end with the process's last line (its final stats)
            if r is not None:
                r.join(10)
        self.summary_raw = sum(int(s.get("stored", 0)) + int(s.get("duplicates", 0)) for s in self.stats)
        self.store.close()


# --------------------------------------------------------------------------- main
def run(args: argparse.Namespace) -> dict[str, Any]:
    host, port = parse_hostport(args.broker)
    procs = max(1, min(args.procs, args.units))
    nofile = raise_nofile(args.units + 1024)
    if nofile[0] != resource.RLIM_INFINITY and nofile[0] < args.units // procs + 64:
        raise SystemExit(f"RLIMIT_NOFILE is {nofile}; {args.units} units need more: raise the hard limit "
                         "(ulimit -Hn) or use more --procs")
    broker_pid = args.broker_pid or find_listener_pid(port)
    prefix = f"sim{os.getpid() % 100000}"
    cfg = {"host": host, "port": port, "seconds": args.seconds, "live_hz": args.live_hz,
           "summary_every": args.summary_every, "keepalive": 60, "connect_batch": 100,
           "connect_timeout": max(30.0, args.units / 100), "drain": args.drain, "prefix": prefix}
    ctx = mp.get_context("fork")  # workers are forked before any thread exists
    conns, workers = [], []
    per = [args.units // procs + (1 if i < args.units % procs else 0) for i in range(procs)]
    first = 0
    t_connect = time.monotonic()
    for n in per:
        parent, child = ctx.Pipe()
        w = ctx.Process(target=_worker, args=(cfg, first, n, child), name=f"fleet-sim-{first}", daemon=True)
        w.start()
        conns.append(parent)
        workers.append(w)
        first += n
    ingest_dir = tempfile.TemporaryDirectory(prefix="fleet-ingest-") if args.ingest_db else None
    ingest: Any = (DbIngest(host, port, prefix, args.ingest_db, args.ingest_procs, Path(ingest_dir.name))
                   if ingest_dir is not None else Ingest(host, port, prefix))
    hello = [c.recv() for c in conns]
    connect_s = time.monotonic() - t_connect
    connected = sum(h["connected"] for h in hello)
    log.info("%d/%d units connected in %.1f s", connected, args.units, connect_s)
    start_at = time.time() + 0.5
    b0 = sample_proc(broker_pid)
    for c in conns:
        c.send(start_at)
    if args.kill_ingest_after is not None and isinstance(ingest, DbIngest):
        killer = threading.Timer(max(0.0, start_at - time.time()) + args.kill_ingest_after,
                                 ingest.kill_and_restart, args=(0, 2.0))
        killer.daemon = True
        killer.start()
    results = [c.recv() for c in conns]
    t_published = time.monotonic()
    b1 = sample_proc(broker_pid)
    sent_ids = [i for r in results for i in r["sent_ids"]]
    sent_set = set(sent_ids)
    deadline = time.monotonic() + args.drain
    while time.monotonic() < deadline:
        with ingest.lock:
            if sent_set <= ingest.ids:
                break
        time.sleep(0.1)
    all_in_s = time.monotonic() - t_published
    time.sleep(0.5)  # late duplicates
    for w in workers:
        w.join(30)
    db_rows = ingest.db_rows() if isinstance(ingest, DbIngest) else None
    ingest.close()
    if ingest_dir is not None:
        ingest_dir.cleanup()
    with ingest.lock:
        got = ingest.ids & sent_set
        summary_raw, live_recv, bytes_recv = ingest.summary_raw, ingest.live, ingest.bytes
        per_consumer = list(ingest.per_consumer)
    publish_s = max(r["publish_s"] for r in results)
    live_sent = sum(r["live_sent"] for r in results)
    out: dict[str, Any] = {
        "units": args.units, "connected": connected, "procs": procs, "seconds": args.seconds,
        "live_hz": args.live_hz, "summary_every_s": args.summary_every, "connect_s": round(connect_s, 2),
        "sent": len(sent_set), "acked": sum(r["acked"] for r in results), "received": len(got),
        "duplicates": summary_raw - len(ingest.ids), "lost": len(sent_set - got),
        "live_sent": live_sent, "live_received": live_recv,
        "live_skipped_disconnected": sum(r["live_skipped"] for r in results),
        "sent_msgs_per_s": round((live_sent + len(sent_ids)) / publish_s, 1),
        "received_msgs_per_s": round((live_recv + summary_raw) / publish_s, 1),
        "bytes_sent": sum(r["bytes_sent"] for r in results), "bytes_received": bytes_recv,
        "per_consumer": per_consumer,
        "disconnects": sum(r["disconnects"] for r in results),
        "connect_failures": sum(r["connect_failures"] for r in results),
        "publish_s": round(publish_s, 2), "broker_pid": broker_pid,
    }
    if db_rows is not None:
        out["duplicates"] = db_rows[1]  # rows per msg_id beyond one (the ingest absorbs resends)
        out.update({"ingest": "edgepose ingest", "ingest_procs": args.ingest_procs, "db_rows": db_rows[0],
                    "db_duplicate_rows": db_rows[1], "ingest_kills": ingest.kills,
                    "stored_within_s_of_publish_end": round(all_in_s, 2),
                    "ingest_summaries_per_s": round(len(got) / (publish_s + all_in_s), 1)})
    if b0 and b1:
        out["broker_cpu_pct"] = round(100 * (b1.cpu_s - b0.cpu_s) / (b1.t - b0.t), 1)
        out["broker_rss_mb"] = round(b1.rss_kb / 1024, 1)
        out["broker_rss_peak_mb"] = round(b1.hwm_kb / 1024, 1)
    else:
        out["broker_cpu_pct"] = out["broker_rss_mb"] = out["broker_rss_peak_mb"] = None
    return out


BROKER_CONF = """\
# mosquitto for fleet_sim: loopback only, no connection limit, deep queues for the ingest consumers
listener {port} {host}
allow_anonymous true
max_connections -1
persistence false
max_queued_messages 100000
max_inflight_messages 100
log_dest stderr
log_type error
log_type warning
user root
"""


def spawn_broker(host: str, port: int, nofile: int, workdir: Path) -> subprocess.Popen[bytes]:
    """Start ``mosquitto -c <workdir>/mosquitto.conf`` with a raised open-files limit."""
    conf = workdir / "mosquitto.conf"
    conf.write_text(BROKER_CONF.format(host=host, port=port))
    exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"

    def limits() -> None:
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        want = nofile if hard == resource.RLIM_INFINITY else min(nofile, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))

    proc = subprocess.Popen([exe, "-c", str(conf)], preexec_fn=limits,
                            stderr=open(workdir / "mosquitto.log", "wb"))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"mosquitto exited: {(workdir / 'mosquitto.log').read_text()[-1000:]}")
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit(f"mosquitto did not listen on {host}:{port}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--broker", required=True, metavar="HOST:PORT")
    p.add_argument("--units", type=int, required=True)
    p.add_argument("--seconds", type=float, required=True, help="length of the publishing phase")
    p.add_argument("--live-hz", type=float, default=1.0, help="QoS 0 live messages per unit per second")
    p.add_argument("--summary-every", type=float, default=10.0, help="seconds between a unit's summaries")
    p.add_argument("--procs", type=int, default=1, help="worker processes driving the units (default 1)")
    p.add_argument("--drain", type=float, default=60.0, help="max seconds to wait for acks/deliveries")
    p.add_argument("--broker-pid", type=int, help="broker pid for CPU/RSS (default: whoever listens)")
    p.add_argument("--spawn-broker", action="store_true",
                   help="start mosquitto on --broker with a config written to a temp dir (max_connections -1)")
    p.add_argument("--ingest-db", metavar="URL",
                   help="run the real `edgepose ingest` into this database instead of the counting consumers")
    p.add_argument("--ingest-procs", type=int, default=1, help="edgepose ingest processes sharing the subscription")
    p.add_argument("--kill-ingest-after", type=float, metavar="S",
                   help="SIGKILL ingest 0 this many seconds into publishing and restart it 2 s later")
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)
    if args.units < 1 or args.seconds <= 0:
        p.error("--units must be >= 1 and --seconds > 0")
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    broker = None
    tmp = None
    if args.spawn_broker:
        tmp = tempfile.TemporaryDirectory(prefix="fleet-sim-")
        host, port = parse_hostport(args.broker)
        broker = spawn_broker(host, port, args.units + 1024, Path(tmp.name))
        args.broker_pid = broker.pid
    try:
        out = run(args)
    finally:
        if broker is not None:
            broker.terminate()
            broker.wait(10)
        if tmp is not None:
            tmp.cleanup()
    print(json.dumps(out), flush=True)
    return 0 if out["lost"] == 0 and out["connected"] == args.units else 1


if __name__ == "__main__":
    sys.exit(main())
