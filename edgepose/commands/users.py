"""``edgepose users add|list|remove|token``: staff accounts of the dashboard."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("users", help="manage the staff dashboard's accounts and API tokens",
                       description="Accounts live in the history database (the one `edgepose ingest` fills). "
                       "Passwords are stored as argon2id hashes, API tokens as SHA-256 hashes.")
    ss = p.add_subparsers(dest="users_cmd", metavar="ACTION")

    def db(q: argparse.ArgumentParser) -> None:
        q.add_argument("--db", metavar="URL", help="database: sqlite:///PATH or postgresql://... "
                       "(default: history.sqlite in the state folder)")

    a = ss.add_parser("add", help="add a user (password read from stdin)")
    a.add_argument("name")
    a.add_argument("--admin", action="store_true", help="administrator (users, units) instead of staff")
    a.add_argument("--password-stdin", action="store_true", required=True,
                   help="read the password from the first line of stdin (required: never on the command line)")
    db(a)
    a.set_defaults(func=_add)
    ls = ss.add_parser("list", help="list users")
    db(ls)
    ls.set_defaults(func=_list)
    r = ss.add_parser("remove", help="remove a user with its tokens and login sessions")
    r.add_argument("name")
    db(r)
    r.set_defaults(func=_remove)
    t = ss.add_parser("token", help="make a new API token for a user (printed once, as the last line)")
    t.add_argument("name")
    db(t)
    t.set_defaults(func=_token)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def _store(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from edgepose.history.store import open_store

    return open_store(args.db)


def _add(args: argparse.Namespace) -> int:
    from edgepose.dashboard import accounts

    line = sys.stdin.readline()
    password = line[:-1] if line.endswith("\n") else line
    password = password.rstrip("\r")
    if not password:
        raise ValueError("no password on stdin; e.g. printf '%s\\n' \"$PW\" | edgepose users add NAME --password-stdin")
    with _store(args) as st:
        u = accounts.add_user(st, args.name, password, "admin" if args.admin else "staff")
    print(f"added {u.role} {u.name}")
    return 0


def _list(args: argparse.Namespace) -> int:
    from edgepose.dashboard import accounts

    with _store(args) as st:
        users = accounts.list_users(st)
    if not users:
        print("no users; add one with: edgepose users add NAME --admin --password-stdin")
        return 0
    w = max(len(u.name) for u in users)
    for u in users:
        print(f"{u.name:<{w}}  {u.role:<5}  since {u.created_at:%Y-%m-%d}{'  disabled' if u.disabled else ''}")
    return 0


def _remove(args: argparse.Namespace) -> int:
    from edgepose.dashboard import accounts

    with _store(args) as st:
        if not accounts.remove_user(st, args.name):
            raise ValueError(f"no user {args.name!r} (edgepose users list shows them)")
    print(f"removed {args.name}")
    return 0


def _token(args: argparse.Namespace) -> int:
    from edgepose.dashboard import accounts

    with _store(args) as st:
        token = accounts.new_token(st, args.name)
    print(f"new API token for {args.name} (shown once; send it as 'Authorization: Bearer TOKEN'):", file=sys.stderr)
    print(token)
    return 0
