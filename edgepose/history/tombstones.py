"""Tombstones of forgotten clients: what keeps a forgotten code from coming back.

Forgetting a client deletes its rows, but messages for it can still arrive afterwards: a unit's
outbox resends a summary whose acknowledgement it never saw, or a unit that was offline delivers
a session of that client days later. Without a trace of the forgetting, the ingest would store
them and create the client again.

So :meth:`edgepose.history.store.Store.forget_client` leaves a tombstone in ``forgotten_clients``:
``HMAC-SHA256(key, code)`` (hex) and when, never the code itself. ``key`` is 256 random bits made
once per database (``history_meta``), so the same code forgotten in two databases gives unrelated
hashes. The ingest hashes the client code of every incoming summary and event, discards those
with a tombstone (they are still acknowledged, so the unit stops resending) and counts them on
the tombstone (``late_messages``, ``last_late_at``), which ``edgepose clients list`` and the
dashboard show.

What the hash does not do: client codes are short (``C-104``), so whoever holds the database and
its key can test candidate codes against the tombstones. It keeps the code out of every row,
listing and dump; it is no encryption.

On PostgreSQL, forgetting and storing are serialized per code with a transaction-level advisory
lock (the ingest takes it shared, forgetting exclusive), so a batch committed while a client is
being forgotten is either deleted with it or discarded after it; SQLite writers are serialized
already (``BEGIN IMMEDIATE``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

KEY_NAME = "client_tombstone_key"
_LOCK_CLASS = 0x65704643  # "epFC": the first key of the two-key advisory locks, one per client code


@dataclass(frozen=True)
class Tombstone:
    """One forgotten client, as much as is kept of it."""

    code_hash: str
    forgotten_at: dt.datetime
    late_messages: int
    last_late_at: dt.datetime | None

    @property
    def short(self) -> str:
        """The first 12 hex digits of the hash: enough to tell tombstones apart in a listing."""
        return self.code_hash[:12]


@dataclass(frozen=True)
class TombstoneTotals:
    forgotten: int
    late_messages: int
    last_late_at: dt.datetime | None


def code_hash(key: bytes, code: str) -> str:
    """The tombstone of ``code``: hex HMAC-SHA256 under the database's key."""
    return hmac.new(key, code.encode("utf-8"), hashlib.sha256).hexdigest()


def database_key(conn: Connection) -> bytes:
    """This database's tombstone key (made by migration 0002; made here should it be missing)."""
    from sqlalchemy import select

    from edgepose.history.schema import history_meta as t

    value = conn.execute(select(t.c.value).where(t.c.name == KEY_NAME)).scalar()
    if value is None:
        ins = _insert(conn, t).values(name=KEY_NAME, value=secrets.token_hex(32))
        conn.execute(ins.on_conflict_do_nothing(index_elements=["name"]))
        value = conn.execute(select(t.c.value).where(t.c.name == KEY_NAME)).scalar_one()
    return bytes.fromhex(value)


def lock_codes(conn: Connection, hashes: Iterable[str], *, exclusive: bool = False) -> None:
    """PostgreSQL: take the per-code advisory locks for the rest of the transaction (no-op elsewhere).

    Take them before touching any row, so a waiting transaction holds nothing another one needs.
    """
    if conn.dialect.name != "postgresql":
        return
    from sqlalchemy import text

    fn = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
    ids = sorted({_lock_id(h) for h in hashes})
    if not ids:
        return
    # One round trip for all of a batch's codes. The order cannot deadlock: shared locks never
    # wait for each other, and forgetting takes one exclusive lock (one code) at a time.
    conn.execute(text(f"SELECT {fn}(:c, o) FROM unnest(CAST(:ids AS integer[])) AS o"),
                 {"c": _LOCK_CLASS, "ids": ids}).all()


def _lock_id(h: str) -> int:
    v = int(h[:8], 16)
    return v - (1 << 32) if v >= 1 << 31 else v  # a signed int4


def tombstoned(conn: Connection, hashes: Iterable[str]) -> set[str]:
    """Which of ``hashes`` have a tombstone."""
    from sqlalchemy import select

    from edgepose.history.schema import forgotten_clients as t

    wanted = sorted(set(hashes))
    if not wanted:
        return set()
    return set(conn.execute(select(t.c.code_hash).where(t.c.code_hash.in_(wanted))).scalars())


def count_late(conn: Connection, late: Counter[str], at: dt.datetime) -> None:
    """Add ``late[hash]`` discarded messages to each tombstone, in hash order."""
    from sqlalchemy import bindparam

    from edgepose.history.schema import forgotten_clients as t

    if not late:
        return
    stmt = (t.update().where(t.c.code_hash == bindparam("b_hash"))
            .values(late_messages=t.c.late_messages + bindparam("b_n"), last_late_at=bindparam("b_at")))
    conn.execute(stmt, [{"b_hash": h, "b_n": n, "b_at": at} for h, n in sorted(late.items())])


def add(conn: Connection, h: str, at: dt.datetime) -> Tombstone:
    """Leave a tombstone for hash ``h`` (kept as it is if there is one) and return it."""
    ins = _insert(conn, _table()).values(code_hash=h, forgotten_at=at, late_messages=0, last_late_at=None)
    conn.execute(ins.on_conflict_do_nothing(index_elements=["code_hash"]))
    got = get(conn, h)
    assert got is not None
    return got


def get(conn: Connection, h: str) -> Tombstone | None:
    from sqlalchemy import select

    t = _table()
    r = conn.execute(select(t).where(t.c.code_hash == h)).first()
    return Tombstone(**r._mapping) if r is not None else None


def listing(conn: Connection, *, limit: int | None = None, only_late: bool = False) -> list[Tombstone]:
    """Tombstones, those with the latest late message first, then the most recently forgotten."""
    from sqlalchemy import select

    t = _table()
    q = select(t)
    if only_late:
        q = q.where(t.c.late_messages > 0)
    q = q.order_by(t.c.last_late_at.desc().nulls_last(), t.c.forgotten_at.desc(), t.c.code_hash).limit(limit)
    return [Tombstone(**r._mapping) for r in conn.execute(q)]


def totals(conn: Connection) -> TombstoneTotals:
    from sqlalchemy import func, select

    t = _table()
    n, late, last = conn.execute(select(func.count(), func.coalesce(func.sum(t.c.late_messages), 0),
                                        func.max(t.c.last_late_at))).one()
    if isinstance(last, str):  # SQLite returns the aggregate as text, past the column's type
        last = dt.datetime.fromisoformat(last)
    if last is not None and last.tzinfo is None:
        last = last.replace(tzinfo=dt.UTC)
    return TombstoneTotals(int(n), int(late), last)


def _table():  # type: ignore[no-untyped-def]
    from edgepose.history.schema import forgotten_clients

    return forgotten_clients


def _insert(conn: Connection, table: object):  # type: ignore[no-untyped-def]
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)  # type: ignore[arg-type]
