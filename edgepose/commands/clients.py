"""``edgepose clients forget CODE --db URL`` (right to erasure) and ``edgepose clients list``."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("clients", help="pseudonymous client codes in the history database: list, forget",
                       description="A client is a code such as C-104 (no name). 'forget' deletes every "
                       "row of that client: sessions, their reps, events and the client itself.")
    csub = p.add_subparsers(dest="clients_command", metavar="ACTION", required=True)
    f = csub.add_parser("forget", help="delete every row of client CODE and say how many")
    f.add_argument("code", metavar="CODE")
    f.add_argument("--db", metavar="URL", help="sqlite:///PATH or postgresql://... (default: the state folder's)")
    f.set_defaults(func=forget_main)
    ls = csub.add_parser("list", help="list client codes with their number of sessions")
    ls.add_argument("--db", metavar="URL", help="as for forget")
    ls.set_defaults(func=list_main)


def forget_main(args: argparse.Namespace) -> int:
    from edgepose.commands.history import open_existing

    with open_existing(args.db) as store:
        r = store.forget_client(args.code)
        where = store.url
    if r.total == 0:
        print(f"client {args.code}: nothing stored in {where}; nothing deleted")
        return 0
    print(f"client {args.code}: deleted {r.total} row(s) from {where}: {r.sessions} session(s), "
          f"{r.reps} rep(s), {r.events} event(s), {r.client} client record(s)")
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
    return 0
