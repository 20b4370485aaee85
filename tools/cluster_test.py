#!/usr/bin/env python3
"""edgepose on a real clustered broker: N RabbitMQ nodes on loopback, simulated units spread over
them, the session-history ingest consuming a replicated quorum queue, one node SIGKILLed mid-run.

The cluster (``tools/rabbitmq_cluster.py``) runs in a temporary folder and is always stopped
(also on Ctrl-C or an error). The units are ``tools/fleet_sim.py``'s simulated units, speaking
MQTT 3.1.1 (RabbitMQ 3.10 has no MQTT 5): unit ``i`` starts on node ``i % N`` and, when its
connection drops, tries the next node in the list with back-off (0.25 s doubling to 5 s), the way
a device with ``mqtt.hosts`` does. QoS 1 summaries that got no PUBACK are resent after the
reconnect. The ingest (``edgepose.cluster.amqp_ingest``, two competing AMQP consumers on
different nodes, commit then ack) writes into an ``edgepose.history`` SQLite database in the
temporary folder. ``--kill-one`` SIGKILLs the node that leads the ingest queue (the hardest one
to lose) at ``--kill-at`` of the publishing phase.

The last line printed is one JSON object: ``broker``, ``nodes``, ``units``, ``sent`` (unique
summary ``msg_id``), ``stored`` (of those, rows in the database), ``lost``,
``duplicates_stored`` (rows beyond one per ``msg_id``), ``failover_s`` (the longest time any unit
was without a broker connection), ``max_ack_delay_s`` (the longest a summary waited for its
PUBACK) and per node ``cpu_pct`` (utime+stime of the node's VM over the publishing phase,
100 % = one core) and ``rss_mb``.

Example (the outside check)::

    python tools/cluster_test.py --nodes 3 --units 1000 --seconds 60 --kill-one
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import json
import logging
import multiprocessing as mp
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import fleet_sim  # noqa: E402  (tools/fleet_sim.py: the simulated units)
import rabbitmq_cluster  # noqa: E402

log = logging.getLogger("cluster_test")


# --------------------------------------------------------------------------- units with failover
class ClusterUnit(fleet_sim.Unit):
    """A fleet_sim unit that knows every node and moves to the next one when its own goes away."""

    def __init__(self, sim: ClusterWorkerSim, idx: int, device_id: str) -> None:
        super().__init__(sim, idx, device_id)
        # a Last Will the ingest accepts (docs/schemas/status.schema.json), like a real unit's
        self.client.will_set(f"edgepose/{device_id}/status", json.dumps(
            {"schema": "edgepose.status/1", "device_id": device_id, "state": "offline", "firmware": "sim",
             "model": None, "ts": time.time()}), qos=1, retain=True)
        self.host_i = idx % len(sim.hosts)
        self.down_since: float | None = None
        self.next_try = 0.0
        self.backoff = 0.5
        self.sent_at: dict[int, float] = {}
        self.tcp_at: float | None = None
        self.connecting = False

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        super()._on_connect(client, userdata, flags, reason, props)
        if self.connected:
            if self.tcp_at is not None:
                self.sim.connack_s = max(self.sim.connack_s, time.monotonic() - self.tcp_at)
                self.tcp_at = None
            if self.down_since is not None:
                gap = time.monotonic() - self.down_since
                self.sim.gaps.append(gap)
                self.down_since = None
            self.backoff = 0.5

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        super()._on_disconnect(client, userdata, flags, reason, props)
        now = time.monotonic()
        if self.down_since is None:
            self.down_since = now
        # like the device: the next node after a back-off (0.5 s doubling to 30 s), spread by jitter
        self.next_try = now + random.uniform(0.5, 1.0) * self.backoff
        self.backoff = min(self.backoff * 2, 30.0)
        self.host_i = (self.host_i + 1) % len(self.sim.hosts)

    def _on_publish(self, client: Any, userdata: Any, mid: int, reason: Any, props: Any) -> None:
        t = self.sent_at.pop(mid, None)
        if t is not None:
            self.sim.max_ack_delay = max(self.sim.max_ack_delay, time.monotonic() - t)
        super()._on_publish(client, userdata, mid, reason, props)

    def publish_summary(self) -> None:
        super().publish_summary()
        self.sent_at[next(reversed(self.pending_qos1))] = time.monotonic()

    # paho's connect() blocks until the TCP handshake is done (seconds, when a node is busy
    # accepting a reconnect storm); it runs in a thread pool so one unit's wait does not hold
    # up the event loop of thousands. The socket callbacks it triggers come back to the loop.
    def _on_socket_open(self, client: Any, userdata: Any, sock: Any) -> None:
        if threading.get_ident() == self.sim.loop_thread:
            super()._on_socket_open(client, userdata, sock)
        else:
            self.sim.loop.call_soon_threadsafe(super()._on_socket_open, client, userdata, sock)

    def _on_socket_close(self, client: Any, userdata: Any, sock: Any) -> None:
        if threading.get_ident() == self.sim.loop_thread:
            super()._on_socket_close(client, userdata, sock)
        else:
            self.sim.loop.call_soon_threadsafe(super()._on_socket_close, client, userdata, sock)

    def try_reconnect(self, now: float) -> None:
        """Connect to the next node once the back-off has passed (a dead node refuses at once)."""
        host, port = self.sim.hosts[self.host_i]
        self.sim.attempts += 1
        self.connecting = True
        self.next_try = now + 120.0  # CONNACK or a close decides from here

        def blocking() -> float:
            t0 = time.monotonic()
            self.client.connect(host, port, keepalive=self.sim.cfg["keepalive"])
            return time.monotonic() - t0

        fut = self.sim.loop.run_in_executor(self.sim.pool, blocking)
        fut.add_done_callback(self._connect_done)

    def _connect_done(self, fut: Any) -> None:
        self.connecting = False
        now = time.monotonic()
        if fut.exception() is not None:
            self.host_i = (self.host_i + 1) % len(self.sim.hosts)
            self.next_try = now + random.uniform(0.5, 1.0) * self.backoff
            self.backoff = min(self.backoff * 2, 30.0)
            return
        self.sim.block_s = max(self.sim.block_s, fut.result())
        self.tcp_at = now
        self.flush_writes()


class ClusterWorkerSim(fleet_sim.WorkerSim):
    def __init__(self, cfg: dict[str, Any], first: int, count: int) -> None:
        super().__init__(cfg, first, count)
        self.hosts: list[tuple[str, int]] = [tuple(h) for h in cfg["hosts"]]  # type: ignore[misc]
        self.gaps: list[float] = []
        self.max_ack_delay = 0.0
        self.attempts = 0  # reconnect attempts
        self.block_s = 0.0  # longest connect() call (TCP handshake; in the pool)
        self.connack_s = 0.0  # longest wait from TCP connect to CONNACK on a reconnect
        self.loop_thread = threading.get_ident()
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=32, thread_name_prefix="reconnect")

    async def connect_all(self) -> float:
        t0 = time.monotonic()
        batch = self.cfg["connect_batch"]
        for i in range(self.count):
            u = ClusterUnit(self, self.first + i, f"{self.cfg['prefix']}-{self.first + i:05d}")
            self.units.append(u)
            host, port = self.hosts[u.host_i]
            for attempt in range(20):
                try:
                    u.client.connect(host, port, keepalive=self.cfg["keepalive"])
                    break
                except OSError as e:
                    if attempt == 19:
                        log.error("unit %s cannot connect to %s:%d: %s", u.device_id, host, port, e)
                        self.connect_failures += 1
                    await asyncio.sleep(0.05 * (attempt + 1))
            u.flush_writes()
            if i % batch == batch - 1:
                await asyncio.sleep(0)
        deadline = time.monotonic() + self.cfg["connect_timeout"]
        while self.connected + self.connect_failures < self.count and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return time.monotonic() - t0

    async def failover(self, stop: asyncio.Event) -> None:
        """Reconnect units whose node went away, a slice at a time so the loop keeps publishing."""
        while not stop.is_set():
            now = time.monotonic()
            budget = 200
            for u in self.units:
                if (u.down_since is not None and not u.connected and not u.connecting  # type: ignore[attr-defined]
                        and now >= u.next_try):  # type: ignore[attr-defined]
                    u.try_reconnect(now)  # type: ignore[attr-defined]
                    budget -= 1
                    if budget == 0:
                        await asyncio.sleep(0)
                        budget = 200
                        now = time.monotonic()
            await asyncio.sleep(0.05)

    async def drain(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.acked + self.refused < len(self.sent_ids) and time.monotonic() < deadline:
            for u in self.units:
                u.flush_writes()
            await asyncio.sleep(0.1)


async def _worker_async(cfg: dict[str, Any], first: int, count: int, conn: Any) -> None:
    sim = ClusterWorkerSim(cfg, first, count)
    stop = asyncio.Event()
    misc = asyncio.ensure_future(sim.misc(stop))
    fo = asyncio.ensure_future(sim.failover(stop))
    connect_s = await sim.connect_all()
    conn.send({"connected": sim.connected, "connect_s": connect_s})
    go = asyncio.Event()
    box: list[float] = []

    def _go() -> None:
        box.append(conn.recv())
        go.set()

    sim.loop.add_reader(conn.fileno(), _go)
    await go.wait()
    sim.loop.remove_reader(conn.fileno())
    await sim.publish_phase(box[0])
    await sim.drain(cfg["drain"])
    stop.set()
    await misc
    await fo
    still_down = [u.device_id for u in sim.units if not u.connected]
    conn.send({"sent_ids": sim.sent_ids, "acked": sim.acked, "refused": sim.refused,
               "live_sent": sim.live_sent, "live_skipped": sim.live_skipped, "disconnects": sim.disconnects,
               "connect_failures": sim.connect_failures, "publish_s": sim.publish_s, "gaps": sim.gaps,
               "max_ack_delay": sim.max_ack_delay, "still_down": len(still_down),
               "attempts": sim.attempts, "block_s": sim.block_s, "connack_s": sim.connack_s,
               "unacked": sum(len(u.pending_qos1) for u in sim.units)})
    await sim.disconnect_all()


def _worker(cfg: dict[str, Any], first: int, count: int, conn: Any) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops everything on Ctrl-C
    fleet_sim.raise_nofile(count + 256)
    asyncio.run(_worker_async(cfg, first, count, conn))


# --------------------------------------------------------------------------- measurement
def _node_sample(node: rabbitmq_cluster.Node) -> fleet_sim.ProcSample | None:
    return fleet_sim.sample_proc(node.beam_pid())


def _queue_leader(cluster: rabbitmq_cluster.RabbitCluster, queue: str) -> rabbitmq_cluster.Node | None:
    try:
        out = cluster.ctl(cluster.nodes[0], "list_queues", "name", "leader", "--formatter", "json", timeout=120)
        leader = next((q.get("leader") for q in json.loads(out) if q.get("name") == queue), None)
    except (RuntimeError, ValueError, subprocess.TimeoutExpired) as e:
        log.warning("cannot find the queue leader: %s", e)
        return None
    return next((n for n in cluster.nodes if n.name == leader), None)


def _queue_depth(cluster: rabbitmq_cluster.RabbitCluster, queue: str) -> dict[str, Any]:
    """Messages still in the ingest queue (ready / delivered but unacknowledged), from a live node."""
    for n in cluster.nodes:
        if not n.alive:
            continue
        try:
            out = cluster.ctl(n, "list_queues", "name", "messages_ready", "messages_unacknowledged", "consumers",
                              "leader", "--formatter", "json", timeout=60)
            q = next((q for q in json.loads(out) if q.get("name") == queue), None)
            if q is not None:
                return {"ready": q.get("messages_ready"), "unacked": q.get("messages_unacknowledged"),
                        "consumers": q.get("consumers"), "leader": q.get("leader")}
        except (RuntimeError, ValueError, OSError, subprocess.TimeoutExpired) as e:
            log.warning("queue depth from %s: %s", n.name, e)
    return {}


def _stored_counts(store: Any, sent: set[str]) -> tuple[int, int, int]:
    """(rows whose msg_id was sent, rows beyond one per msg_id, all summary rows)."""
    from sqlalchemy import func, select

    from edgepose.history.schema import sessions

    with store.engine.connect() as c:
        ids = list(c.execute(select(sessions.c.msg_id)).scalars())
        total = c.execute(select(func.count()).select_from(sessions)).scalar_one()
    return len(sent & set(ids)), total - len(set(ids)), total


def run(args: argparse.Namespace, cluster: rabbitmq_cluster.RabbitCluster, workdir: Path) -> dict[str, Any]:
    import pika

    from edgepose.cluster.amqp_ingest import QUEUE, AmqpIngest, declare
    from edgepose.history.ingest import IngestCore, RejectedLog
    from edgepose.history.store import open_store
    from edgepose.history.validate import PayloadValidator

    nodes = cluster.nodes
    # The ingest queue must exist before any unit publishes (unrouted messages are dropped).
    conn = pika.BlockingConnection(pika.URLParameters(nodes[0].amqp_url))
    declare(conn.channel())
    conn.close()
    try:
        members = cluster.ctl(nodes[0], "list_queues", "name", "type", "members", "--formatter", "json",
                              timeout=120)
        queue_info = next((q for q in json.loads(members) if q.get("name") == QUEUE), {})
    except (RuntimeError, ValueError, subprocess.TimeoutExpired) as e:
        log.warning("cannot list the queue's members: %s", e)
        queue_info = {}

    procs = max(1, min(args.procs, args.units))
    fleet_sim.raise_nofile(args.units + 1024)
    prefix = f"cl{int(time.time()) % 100000}"
    cfg = {"hosts": [("127.0.0.1", n.mqtt_port) for n in nodes], "host": "127.0.0.1", "port": nodes[0].mqtt_port,
           "protocol": "3.1.1", "seconds": args.seconds, "live_hz": args.live_hz,
           "summary_every": args.summary_every, "keepalive": 30, "connect_batch": 100,
           "connect_timeout": max(60.0, args.units / 50), "drain": args.drain, "prefix": prefix}
    ctx = mp.get_context("fork")  # forked before the ingest's threads exist
    pipes, workers = [], []
    per = [args.units // procs + (1 if i < args.units % procs else 0) for i in range(procs)]
    first = 0
    t_connect = time.monotonic()
    for n in per:
        parent, child = ctx.Pipe()
        w = ctx.Process(target=_worker, args=(cfg, first, n, child), name=f"cluster-sim-{first}", daemon=True)
        w.start()
        pipes.append(parent)
        workers.append(w)
        first += n
    store = open_store(f"sqlite:///{workdir / 'history.sqlite'}")
    core = IngestCore(store, PayloadValidator("edgepose"), RejectedLog(workdir / "rejected.jsonl"))
    ingest = AmqpIngest([n.amqp_url for n in nodes], core, workers=args.ingest_workers).start()
    try:
        hello = [p.recv() for p in pipes]
        connect_s = time.monotonic() - t_connect
        connected = sum(h["connected"] for h in hello)
        log.info("%d/%d units connected over %d nodes in %.1f s", connected, args.units, len(nodes), connect_s)
        # the queue's leader (the node it was declared on, when the CLI cannot tell in time)
        victim = (_queue_leader(cluster, QUEUE) or nodes[0]) if args.kill_one else None
        start_at = time.time() + 0.5
        t_start = time.monotonic() + 0.5
        s0 = {n.name: _node_sample(n) for n in nodes}
        for p in pipes:
            p.send(start_at)
        s1: dict[str, fleet_sim.ProcSample | None] = {}
        killed_t = None
        if victim is not None:
            kill_at = t_start + args.kill_at * args.seconds
            while time.monotonic() < kill_at:
                time.sleep(0.05)
            s1[victim.name] = _node_sample(victim)
            cluster.kill(victim)
            killed_t = time.monotonic() - t_start
            log.warning("SIGKILLed %s (queue leader) at %.1f s", victim.name, killed_t)
        results = [p.recv() for p in pipes]
        for n in nodes:
            if n.name not in s1:
                s1[n.name] = _node_sample(n)
        sent_ids = [i for r in results for i in r["sent_ids"]]
        sent = set(sent_ids)
        # wait for the rows while they keep coming (up to --drain s without progress)
        stored = dup_rows = rows = 0
        last_progress, last_stored = time.monotonic(), -1
        while time.monotonic() - last_progress < args.drain:
            stored, dup_rows, rows = _stored_counts(store, sent)
            if stored >= len(sent):
                break
            if stored != last_stored:
                last_progress, last_stored = time.monotonic(), stored
            time.sleep(0.5)
        left = _queue_depth(cluster, QUEUE)
        time.sleep(1.0)  # redeliveries still under way
        stored, dup_rows, rows = _stored_counts(store, sent)
    finally:
        ingest.stop()
        for w in workers:
            w.join(30)
            if w.is_alive():
                w.kill()
    stats = ingest.stats.snapshot()
    cstats = core.stats.as_dict()
    store.close()
    gaps = [g for r in results for g in r["gaps"]]
    publish_s = max(r["publish_s"] for r in results)
    per_node = []
    for n in nodes:
        a, b = s0.get(n.name), s1.get(n.name)
        per_node.append({
            "node": n.name, "mqtt": n.mqtt, "killed": victim is n,
            "cpu_pct": round(100 * (b.cpu_s - a.cpu_s) / (b.t - a.t), 1) if a and b and b.t > a.t else None,
            "rss_mb": round(b.rss_kb / 1024, 1) if b else None,
            "rss_peak_mb": round(b.hwm_kb / 1024, 1) if b else None,
        })
    return {
        "broker": f"RabbitMQ {args.version} (MQTT 3.1.1 plugin, quorum queue)", "nodes": len(nodes),
        "units": args.units, "connected": connected, "procs": procs, "seconds": args.seconds,
        "summary_every_s": args.summary_every, "live_hz": args.live_hz, "connect_s": round(connect_s, 2),
        "sent": len(sent), "acked": sum(r["acked"] for r in results), "stored": stored,
        "lost": len(sent) - stored, "duplicates_stored": dup_rows, "rows": rows,
        "duplicates_absorbed": cstats["duplicates"], "redelivered": stats["redelivered"],
        "unacked_at_end": sum(r["unacked"] for r in results),
        "killed": victim.name if victim else None, "killed_at_s": round(killed_t, 2) if killed_t else None,
        "failover_s": round(max(gaps), 2) if gaps else 0.0, "reconnected_units": len(gaps),
        "failover_p50_s": round(sorted(gaps)[len(gaps) // 2], 2) if gaps else 0.0,
        "failover_p90_s": round(sorted(gaps)[int(len(gaps) * 0.9)], 2) if gaps else 0.0,
        "still_disconnected": sum(r["still_down"] for r in results),
        "reconnect_attempts": sum(r["attempts"] for r in results),
        "reconnect_connack_max_s": round(max(r["connack_s"] for r in results), 2),
        "reconnect_connect_call_max_s": round(max(r["block_s"] for r in results), 3),
        "max_ack_delay_s": round(max(r["max_ack_delay"] for r in results), 2),
        "live_sent": sum(r["live_sent"] for r in results),
        "live_skipped_disconnected": sum(r["live_skipped"] for r in results),
        "sent_msgs_per_s": round((sum(r["live_sent"] for r in results) + len(sent_ids)) / publish_s, 1),
        "publish_s": round(publish_s, 2), "disconnects": sum(r["disconnects"] for r in results),
        "ingest": {"workers": args.ingest_workers, "received": stats["received"], "stored": cstats["stored"],
                   "statuses": cstats["statuses"], "rejected": cstats["rejected"],
                   "per_worker": stats["per_worker"], "reconnects": stats["reconnects"]},
        "queue": {"name": QUEUE, "type": queue_info.get("type"), "members": len(queue_info.get("members", []))},
        "queue_at_end": left,
        "per_node": per_node,
    }


def _rabbit_version() -> str:
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "rabbitmq-server"], capture_output=True,
                             text=True, timeout=10).stdout.strip()
    except OSError:
        out = ""
    return out.split("-")[0] or "?"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nodes", type=int, default=3, help="cluster nodes (default 3)")
    p.add_argument("--units", type=int, required=True, help="simulated units, spread over the nodes")
    p.add_argument("--seconds", type=float, required=True, help="length of the publishing phase")
    p.add_argument("--kill-one", action="store_true", help="SIGKILL the ingest queue's leader node mid-run")
    p.add_argument("--kill-at", type=float, default=0.4, help="when to kill, as a fraction of --seconds")
    p.add_argument("--summary-every", type=float, default=10.0, help="seconds between a unit's summaries")
    p.add_argument("--live-hz", type=float, default=1.0, help="QoS 0 live messages per unit per second")
    p.add_argument("--procs", type=int, default=0, help="simulator processes (default: 1 per 5,000 units)")
    p.add_argument("--ingest-workers", type=int, default=2, help="competing ingest consumers (default 2)")
    p.add_argument("--drain", type=float, default=120.0, help="max seconds to wait for acks and rows")
    p.add_argument("--keep", metavar="DIR", help="run the cluster in DIR and keep it (logs) afterwards")
    p.add_argument("--attach", metavar="JSON", help="use the running cluster this file describes (written by "
                   "RabbitCluster.describe() of the process that started it and stops it; --nodes is its size)")
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)
    attach = json.loads(Path(args.attach).read_text()) if args.attach else None
    if attach is not None:
        args.nodes = len(attach["nodes"])
    if args.units < 1 or args.seconds <= 0 or args.nodes < 1:
        p.error("--units and --nodes must be >= 1 and --seconds > 0")
    if args.kill_one and args.nodes < 3:
        p.error("--kill-one needs --nodes 3 or more (a quorum must survive)")
    if not 0 < args.kill_at < 1:
        p.error("--kill-at must be between 0 and 1")
    if args.procs <= 0:
        args.procs = max(1, -(-args.units // 5000))
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    logging.getLogger("pika").setLevel(logging.CRITICAL)  # its own tracebacks of lost connections
    why = rabbitmq_cluster.available()
    if why:
        print(f"cluster_test: {why}", file=sys.stderr)
        return 2
    args.version = _rabbit_version()
    tmp = None if args.keep else tempfile.TemporaryDirectory(prefix="edgepose-cluster-")
    workdir = Path(args.keep or tmp.name)  # type: ignore[union-attr]
    workdir.mkdir(parents=True, exist_ok=True)
    if attach is not None:
        cluster = rabbitmq_cluster.RabbitCluster.attach(attach)
    else:
        cluster = rabbitmq_cluster.RabbitCluster(args.nodes, workdir=workdir / "rabbit", nofile=args.units + 4096,
                                                 memory_mb=max(1024, 2048 + args.units // args.nodes),
                                                 start_timeout=600.0)  # a loaded machine boots slowly
    try:
        t0 = time.monotonic()
        if attach is None:
            cluster.start()
        start_s = time.monotonic() - t0
        log.info("%d-node cluster up in %.1f s", args.nodes, start_s)
        out = run(args, cluster, workdir)
        out["cluster_start_s"] = round(start_s, 1)
        out["workdir"] = str(workdir)
    except KeyboardInterrupt:
        print("cluster_test: interrupted; cluster stopped", file=sys.stderr)
        return 130
    finally:
        cluster.stop()
        if tmp is not None:
            tmp.cleanup()
    print(json.dumps(out), flush=True)
    ok = out["lost"] == 0 and out["duplicates_stored"] == 0 and out["connected"] == args.units
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
