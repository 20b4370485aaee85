"""``edgepose history --db URL [--device ID] [--client CODE] [--since ISO] [--json]``."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("history", help="list stored sessions (the history database the ingest fills)",
                       description="Without --json a table; with --json one JSON object per line: the "
                       "session summary as received plus device_id, client and received_at.")
    p.add_argument("--db", metavar="URL", help="sqlite:///PATH or postgresql://... "
                   "(default: history.sqlite in the state folder)")
    p.add_argument("--device", metavar="ID", help="only this unit")
    p.add_argument("--client", metavar="CODE", help="only this client code")
    p.add_argument("--since", metavar="ISO-8601", type=parse_since,
                   help="only sessions started at or after this time (e.g. 2026-12-01 or 2026-12-01T08:00Z; "
                   "without an offset, UTC)")
    p.add_argument("--limit", type=int, metavar="N", help="at most N sessions")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.set_defaults(func=history_main)


def parse_since(text: str) -> dt.datetime:
    try:
        t = dt.datetime.fromisoformat(text.strip().replace("z", "Z"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO-8601 time; use e.g. 2026-12-01 or "
                                         "2026-12-01T08:30:00+01:00") from None
    return t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t


def open_existing(url: str | None):  # type: ignore[no-untyped-def]
    """Open a store for reading: a SQLite file that is not there is an error, not a new database."""
    from edgepose.history.db import default_url, normalize_url, sqlite_path
    from edgepose.history.store import open_store

    u = normalize_url(url or default_url())
    path = sqlite_path(u)
    if path is not None and not path.exists():
        raise FileNotFoundError(f"no history database at {path}; run `edgepose ingest --db {url or u}` "
                                "first, or pass the right --db")
    return open_store(u)


def history_main(args: argparse.Namespace) -> int:
    if args.limit is not None and args.limit < 1:
        raise ValueError("--limit must be at least 1")
    with open_existing(args.db) as store:
        rows = store.sessions(device=args.device, client=args.client, since=args.since, limit=args.limit)
    out = sys.stdout
    if args.json:
        for r in rows:
            out.write(json.dumps(r.history_json(), separators=(",", ":"), ensure_ascii=False) + "\n")
        return 0
    if not rows:
        print("no sessions stored" + (" matching the filter" if args.device or args.client or args.since else ""))
        return 0
    head = ("started (UTC)", "device", "client", "program", "status", "reps", "score", "duration", "received (UTC)")
    table = [head]
    for r in rows:
        table.append((_t(r.started_at), r.device_id, r.client or "-", r.program, r.status, str(r.reps),
                      "-" if r.score is None else f"{r.score:.1f}",
                      "-" if r.duration_s is None else f"{r.duration_s:.0f} s", _t(r.received_at)))
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    right = {5, 6, 7}
    for row in table:
        out.write("  ".join(c.rjust(w) if i in right else c.ljust(w)
                            for i, (c, w) in enumerate(zip(row, widths, strict=True))).rstrip() + "\n")
    out.write(f"{len(rows)} session(s)\n")
    return 0


def _t(t: dt.datetime | None) -> str:
    return "-" if t is None else t.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
