#!/usr/bin/env python3
"""What the forgotten-client check costs the ingest: ``Store.add_batch`` of summaries that carry a
client code, with the tombstone lookup (hash every code, advisory locks on PostgreSQL, one
``SELECT ... IN``) against the same batches with the lookup switched off, in one process,
alternating rounds (so the machine's load hits both alike).

``--tombstones N`` forgotten clients are in the table; ``--late F`` is the fraction of each batch
that belongs to a forgotten client (discarded, counted). ``--pg`` starts a throw-away PostgreSQL
server (tests/pg_server.py, fsync on), else SQLite in a temp folder.

The last line printed is one JSON object: per mode the median seconds per batch and summaries/s,
and the ratio with/without.

Example::

    python tools/tombstone_bench.py --batches 20 --batch 500 --tombstones 1000
    python tools/tombstone_bench.py --pg --batches 20 --batch 500 --tombstones 1000 --late 0.02
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def summary(n: int, code: str) -> dict:
    t = 1_790_000_000.0 + n
    return {"schema": "edgepose.session.summary/1", "msg_id": f"m-{n}", "device_id": f"unit-{n % 40}",
            "session_id": f"s-{n}", "program": "squat", "status": "completed", "started_at": t, "ended_at": t + 30,
            "reps": 3, "rep_rom_deg": [80.0, 81.0, 82.0], "client": code, "ts": t + 30}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batches", type=int, default=20, help="batches per mode")
    ap.add_argument("--batch", type=int, default=500, help="summaries per batch (the ingest's batch_max)")
    ap.add_argument("--clients", type=int, default=200, help="distinct live client codes")
    ap.add_argument("--tombstones", type=int, default=1000, help="forgotten clients in the table")
    ap.add_argument("--late", type=float, default=0.0, help="fraction of each batch for forgotten clients")
    ap.add_argument("--pg", action="store_true", help="a throw-away PostgreSQL server instead of SQLite")
    args = ap.parse_args()

    from edgepose.history import store as store_mod
    from edgepose.history.store import open_store

    srv = None
    if args.pg:
        from tests.pg_server import running_server

        srv = running_server(fsync=True)
        url = srv.new_database()
    else:
        url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='tomb-bench-')) / 'h.sqlite'}"
    real = store_mod._drop_forgotten

    def off(conn, items, at, key_of, result):  # type: ignore[no-untyped-def]
        return list(items)

    try:
        st = open_store(url)
        for i in range(args.tombstones):
            st.forget_client(f"F-{i}")
        n = 0
        times: dict[str, list[float]] = {"with_lookup": [], "without": []}
        for r in range(2 * args.batches):
            mode = "with_lookup" if r % 2 == 0 else "without"
            store_mod._drop_forgotten = real if mode == "with_lookup" else off
            n_late = int(args.batch * args.late) if mode == "with_lookup" else 0
            batch = [("summary", summary(n + k, f"F-{k % max(1, args.tombstones)}" if k < n_late
                                         else f"C-{k % args.clients}")) for k in range(args.batch)]
            n += args.batch
            t0 = time.perf_counter()
            st.add_batch(batch)
            times[mode].append(time.perf_counter() - t0)
        store_mod._drop_forgotten = real
        tot = st.tombstone_totals()
        st.close()
    finally:
        if srv is not None:
            srv.stop()
    med = {m: statistics.median(v) for m, v in times.items()}
    out = {"db": "postgresql" if args.pg else "sqlite", "batch": args.batch, "batches_per_mode": args.batches,
           "tombstones": args.tombstones, "late_fraction": args.late, "late_discarded": tot.late_messages,
           **{f"{m}_s_per_batch": round(v, 4) for m, v in med.items()},
           **{f"{m}_summaries_per_s": round(args.batch / v) for m, v in med.items()},
           "ratio_with_over_without": round(med["with_lookup"] / med["without"], 3)}
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
