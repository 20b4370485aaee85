#!/usr/bin/env python3
"""Measure ``edgepose ingest``: throughput (summaries/s), database growth, kill/restart, sharing.

Against a real Mosquitto (started here on a free loopback port unless ``--broker``) and a real
database (``--db sqlite:///PATH`` or ``postgresql://...``; ``--pg`` starts a throw-away PostgreSQL
server with tests/pg_server.py, fsync on). Phases:

1. the ingest process(es) start once so the broker knows their persistent sessions, then stop;
2. ``--sessions N`` summaries (``--units`` devices, ``--reps`` reps each) are published at QoS 1
   while no ingest runs: the broker queues them for the ingest's session (the downtime case);
3. ``--ingests K`` ingest processes start; the time from their start until every summary is in the
   database is the drain throughput. ``--kill-at F`` SIGKILLs ingest 0 when a fraction F of the
   sessions is stored and restarts it.

The last line printed is one JSON object: sent, stored, missing, duplicates (rows per msg_id > 1),
summaries_per_s, db_bytes, bytes_per_session, mb_per_million_sessions, per-ingest counts.

``--micro`` times only the payload validation: pure-Python jsonschema (the baseline) against
jsonschema-rs on the same payloads in one process.

Example::

    python tools/ingest_bench.py --micro --sessions 2000
    python tools/ingest_bench.py --db sqlite:////tmp/bench.sqlite --sessions 20000
    python tools/ingest_bench.py --pg --sessions 20000 --ingests 2 --kill-at 0.5
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.mqtt_broker import Broker  # noqa: E402


def summary(device: str, i: int, reps: int) -> dict[str, Any]:
    t = time.time()
    return {"schema": "edgepose.session.summary/1", "msg_id": str(uuid.uuid4()), "device_id": device,
            "session_id": f"{device}-{i}", "program": "squat", "status": "completed", "reps": reps,
            "score": 81.5, "started_at": t - 60, "ended_at": t, "duration_s": 60.0,
            "rep_rom_deg": [round(70 + (k * 7) % 25, 1) for k in range(reps)],
            "rep_scores": [round(60 + (k * 11) % 40, 1) for k in range(reps)],
            "rep_times": [round(5.0 * (k + 1), 1) for k in range(reps)], "ts": t}


def publish(port: int, n: int, units: int, reps: int) -> list[str]:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{os.getpid()}", protocol=mqtt.MQTTv5)
    c.max_inflight_messages_set(200)
    c.max_queued_messages_set(0)
    acked = threading.Semaphore(0)
    c.on_publish = lambda *a: acked.release()
    c.connect("127.0.0.1", port)
    c.loop_start()
    ids = []
    for i in range(n):
        dev = f"bench-{i % units:05d}"
        p = summary(dev, i, reps)
        ids.append(p["msg_id"])
        c.publish(f"edgepose/{dev}/session/summary", json.dumps(p, separators=(",", ":")), qos=1)
    for _ in range(n):
        if not acked.acquire(timeout=120):
            raise SystemExit("publisher: PUBACKs stopped arriving")
    c.disconnect()
    c.loop_stop()
    return ids


class IngestProc:
    def __init__(self, port: int, db: str, client_id: str, state: Path) -> None:
        self.args = [sys.executable, "-m", "edgepose.cli", "ingest", "--mqtt", f"127.0.0.1:{port}", "--db", db,
                     "--client-id", client_id]
        self.env = dict(os.environ, EDGEPOSE_STATE=str(state), PYTHONPATH=str(REPO))
        self.proc: subprocess.Popen[str] | None = None
        self.stats: dict[str, Any] = {}
        self._lines: list[str] = []

    def start(self) -> IngestProc:
        self.proc = subprocess.Popen(self.args, env=self.env, cwd=REPO, stderr=subprocess.PIPE, text=True)
        ready = threading.Event()

        def read() -> None:
            assert self.proc is not None and self.proc.stderr is not None
            for line in self.proc.stderr:
                self._lines.append(line)
                if "subscribed on" in line:
                    ready.set()
                m = re.search(r"stopped; (\{.*\})", line)
                if m:
                    self.stats = json.loads(m.group(1).replace("'", '"'))
        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(60):
            raise SystemExit("ingest did not subscribe:\n" + "".join(self._lines[-20:]))
        return self

    def cpu_s(self) -> float:
        """utime + stime of the ingest process so far (0 when it is gone)."""
        try:
            assert self.proc is not None
            stat = Path(f"/proc/{self.proc.pid}/stat").read_text()
            f = stat[stat.rindex(")") + 2:].split()
            return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, AssertionError):
            return 0.0

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(30)
            time.sleep(0.2)


def db_size(store: Any) -> int:
    from edgepose.history.db import sqlite_path

    path = sqlite_path(str(store.engine.url))
    if path is not None:
        with store.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        return sum(p.stat().st_size for p in path.parent.glob(path.name + "*") if p.is_file()
                   and not p.name.endswith("migrate-lock"))
    with store.engine.connect() as conn:
        return int(conn.exec_driver_sql("SELECT pg_database_size(current_database())").scalar())


def counts(store: Any) -> tuple[int, int]:
    with store.engine.connect() as conn:
        n = conn.exec_driver_sql("SELECT count(*) FROM sessions").scalar()
        d = conn.exec_driver_sql("SELECT count(*) - count(DISTINCT msg_id) FROM sessions").scalar()
    return int(n), int(d)


def micro(n: int, reps: int) -> dict[str, Any]:
    """Validation alone, both validators on the same payloads in this process (baseline: jsonschema)."""
    from jsonschema import Draft202012Validator

    from edgepose.history.validate import PayloadValidator

    v = PayloadValidator()
    objs = [summary(f"bench-{i % 100:05d}", i, reps) for i in range(n)]
    raws = [(f"edgepose/{o['device_id']}/session/summary", json.dumps(o).encode()) for o in objs]
    py = Draft202012Validator(json.loads((REPO / "docs" / "schemas" / "session.summary.schema.json").read_text()))
    t = time.perf_counter()
    assert all(py.is_valid(o) for o in objs)
    py_s = time.perf_counter() - t
    t = time.perf_counter()
    assert all(v.validators["summary"].is_valid(o) for o in objs)
    rs_s = time.perf_counter() - t
    t = time.perf_counter()
    for topic, raw in raws:
        v.check(topic, raw)
    check_s = time.perf_counter() - t
    return {"payloads": n, "reps_per_session": reps, "validator": type(v.validators["summary"]).__module__,
            "jsonschema_per_s": round(n / py_s), "jsonschema_rs_per_s": round(n / rs_s),
            "ratio": round(py_s / rs_s, 1), "full_check_per_s": round(n / check_s),
            "load_avg": os.getloadavg()[0]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", help="database URL (sqlite:///PATH or postgresql://...)")
    ap.add_argument("--pg", action="store_true", help="start a throw-away PostgreSQL server (fsync on)")
    ap.add_argument("--sessions", type=int, default=20000)
    ap.add_argument("--units", type=int, default=1000)
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--ingests", type=int, default=1, help="ingest processes on the shared subscription")
    ap.add_argument("--kill-at", type=float, help="SIGKILL ingest 0 when this fraction is stored, restart it")
    ap.add_argument("--timeout", type=float, default=900)
    ap.add_argument("--micro", action="store_true", help="only time payload validation (jsonschema vs jsonschema-rs)")
    args = ap.parse_args(argv)
    if args.micro:
        print(json.dumps(micro(min(args.sessions, 5000), args.reps)))
        return 0
    if bool(args.db) == bool(args.pg):
        ap.error("give exactly one of --db URL or --pg")

    from edgepose.history.store import open_store

    work = Path(tempfile.mkdtemp(prefix="ingest-bench-"))
    pg = None
    if args.pg:
        from tests.pg_server import running_server

        pg = running_server(fsync=True)
        args.db = pg.new_database()
    (work / "broker").mkdir()
    broker = Broker(work / "broker", persistence=False,
                    extra="max_queued_messages 1000000\nmax_inflight_messages 100\n").start()
    procs = [IngestProc(broker.port, args.db, f"bench-ingest-{k}", work / f"state-{k}") for k in range(args.ingests)]
    try:
        store = open_store(args.db)
        size0 = db_size(store)
        for p in procs:  # register the persistent sessions with the broker
            p.start()
        for p in procs:
            p.stop()
        t0 = time.monotonic()
        ids = publish(broker.port, args.sessions, args.units, args.reps)
        pub_s = time.monotonic() - t0
        t_start = time.monotonic()
        for p in procs:
            p.start()
        t_ready = time.monotonic()
        killed = False
        deadline = time.monotonic() + args.timeout
        n = 0
        while time.monotonic() < deadline:
            n, _ = counts(store)
            if args.kill_at is not None and not killed and n >= args.kill_at * args.sessions:
                procs[0].kill()
                killed = True
                killed_at = n
                time.sleep(1.0)
                procs[0].start()
            if n >= args.sessions:
                break
            time.sleep(0.2)
        drain_s = time.monotonic() - t_start
        cpu = sum(p.cpu_s() for p in procs)
        time.sleep(1.0)  # late duplicates would show now
        for p in procs:
            p.stop()
        n, dup = counts(store)
        with store.engine.connect() as conn:
            stored_ids = {r[0] for r in conn.exec_driver_sql("SELECT msg_id FROM sessions")}
            reps = int(conn.exec_driver_sql("SELECT count(*) FROM reps").scalar())
        missing = len(set(ids) - stored_ids)
        size1 = db_size(store)
        store.close()
        out = {
            "db": "postgresql" if args.db.startswith("postgres") else "sqlite", "sessions_sent": len(ids),
            "stored": n, "missing": missing, "duplicates": dup, "reps_stored": reps, "reps_per_session": args.reps,
            "ingests": args.ingests, "killed_at_stored": killed_at if killed else None,
            "publish_s": round(pub_s, 2), "ingest_start_s": round(t_ready - t_start, 2),
            "drain_s": round(drain_s, 2), "summaries_per_s": round(n / (drain_s - (t_ready - t_start)), 1),
            "ingest_cpu_s": round(cpu, 2), "summaries_per_cpu_s": round(n / cpu, 1) if cpu and not killed else None,
            "load_avg": os.getloadavg()[0],
            "db_bytes": size1 - size0, "bytes_per_session": round((size1 - size0) / max(1, n), 1),
            "mb_per_million_sessions": round((size1 - size0) / max(1, n) * 1e6 / 2**20, 1),
            "per_ingest_stored": [p.stats.get("stored") for p in procs],
            "per_ingest_duplicates": [p.stats.get("duplicates") for p in procs],
        }
    finally:
        for p in procs:
            try:
                p.stop()
            except Exception:
                pass
        broker.stop()
        if pg is not None:
            pg.stop()
    print(json.dumps(out), flush=True)
    return 0 if out["missing"] == 0 and out["duplicates"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
