"""``edgepose clients forget CODE --db URL`` (right to erasure) and ``edgepose clients list``."""

from __future__ import annotations

import argparse
import datetime as dt


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("clients", help="pseudonymous client codes in the history database: list, forget",
                       description="A client is a code such as C-104 (no name). 'forget' deletes every "
                       "row of that client: sessions, their reps, events and the client itself, and leaves "
                       "a tombstone (a one-way hash of the code, not the code) so that messages still on "
                       "their way for it are discarded, not stored.")
    csub = p.add_subparsers(dest="clients_command", metavar="ACTION", required=True)
    f = csub.add_parser("forget", help="delete every row of client CODE, say how many, discard what arrives later")
    f.add_argument("code", metavar="CODE")
    f.add_argument("--db", metavar="URL", help="sqlite:///PATH or postgresql://... (default: the state folder's)")
    f.set_defaults(func=forget_main)
    ls = csub.add_parser("list", help="list client codes with their number of sessions, and the forgotten "
                         "clients' discarded late messages")
    ls.add_argument("--db", metavar="URL", help="as for forget")
    ls.set_defaults(func=list_main)


def forget_main(args: argparse.Namespace) -> int:
    from edgepose.commands.history import open_existing

    with open_existing(args.db) as store:
        r = store.forget_client(args.code)
        where = store.url
    t = r.tombstone
    assert t is not None
    if r.already:
        late = f"; {t.late_messages} late message(s) for it discarded since" if t.late_messages else ""
        print(f"client {args.code}: already forgotten on {_t(t.forgotten_at)}{late}; "
              f"{'nothing deleted' if r.total == 0 else f'deleted {r.total} row(s)'} in {where}")
        return 0
    if r.total == 0:
        print(f"client {args.code}: nothing stored in {where}; nothing deleted")
    else:
        print(f"client {args.code}: deleted {r.total} row(s) from {where}: {r.sessions} session(s), "
              f"{r.reps} rep(s), {r.events} event(s), {r.client} client record(s)")
    print(f"tombstone {t.short} left (a one-way hash of the code): summaries and events for it that arrive "
          "later are discarded and counted (edgepose clients list)")
    return 0


def list_main(args: argparse.Namespace) -> int:
    from edgepose.commands.history import open_existing

    with open_existing(args.db) as store:
        clients = store.clients()
        for c in clients:
            n = store.count_sessions(client=c.code)
            print(f"{c.code:32}  {n:6d} session(s)  since {c.created_at:%Y-%m-%d}")
        if not clients:
            print("no clients stored")
        tot = store.tombstone_totals()
        late = store.tombstones(limit=20, only_late=True) if tot.late_messages else []
    if tot.forgotten:
        last = f", the last at {_t(tot.last_late_at)}" if tot.last_late_at else ""
        print(f"{tot.forgotten} forgotten client(s): {tot.late_messages} late message(s) discarded{last}")
        for t in late:
            print(f"  tombstone {t.short}  forgotten {_t(t.forgotten_at)}  {t.late_messages:6d} late message(s) "
                  f"discarded, the last at {_t(t.last_late_at)}")
    return 0


def _t(t: dt.datetime | None) -> str:
    return "-" if t is None else t.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
