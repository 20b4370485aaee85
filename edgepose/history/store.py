"""The typed store API over the staff-side database (used by the ingest, the CLI and the dashboard).

Open with :func:`open_store` (creates or upgrades the schema in place). Writes are one transaction
each (:meth:`Store.add_batch` takes many messages in one); a duplicate ``msg_id`` is skipped, not
an error. Reads return frozen dataclasses.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from edgepose.history import rows, tombstones
from edgepose.history.db import default_url, make_engine, migrate, normalize_url, safe_url
from edgepose.history.errors import StoreError, StoreUnavailable
from edgepose.history.tombstones import Tombstone, TombstoneTotals
from edgepose.telemetry.client_code import CLIENT_CODE_HELP, is_client_code

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

log = logging.getLogger(__name__)

Kind = Literal["summary", "event", "status"]


@dataclass(frozen=True)
class RepRecord:
    idx: int
    ended_s: float | None
    duration_s: float | None
    score: float | None
    rom: dict[str, Any] | None
    faults: list[str] | None


@dataclass(frozen=True)
class SessionRecord:
    id: int
    msg_id: str
    session_id: str
    device_id: str
    client: str | None
    program: str
    status: str
    started_at: dt.datetime | None
    ended_at: dt.datetime | None
    duration_s: float | None
    reps: int
    score: float | None
    received_at: dt.datetime
    payload: dict[str, Any]

    def history_json(self) -> dict[str, Any]:
        """The summary as received plus ``device_id``, ``client`` and ``received_at`` (ISO 8601)."""
        out = dict(self.payload)
        out.update({"device_id": self.device_id, "client": self.client,
                    "received_at": self.received_at.isoformat()})
        return out


@dataclass(frozen=True)
class EventRecord:
    id: int
    msg_id: str
    device_id: str
    client: str | None
    kind: str
    level: str
    at: dt.datetime
    received_at: dt.datetime
    payload: dict[str, Any]


@dataclass(frozen=True)
class UnitRecord:
    device_id: str
    first_seen: dt.datetime
    last_seen: dt.datetime
    online: bool
    firmware: str | None
    model: str | None
    status: dict[str, Any] | None
    next_client: str | None
    next_program: str | None


@dataclass(frozen=True)
class ClientRecord:
    code: str
    created_at: dt.datetime
    birth_year: int | None
    sex: str | None
    note: str | None


@dataclass(frozen=True)
class ForgetResult:
    """What :meth:`Store.forget_client` deleted, and the tombstone it left (``already``: it was
    forgotten before; ``tombstone.late_messages`` were discarded since)."""

    code: str
    client: int = 0
    sessions: int = 0
    reps: int = 0
    events: int = 0
    tombstone: Tombstone | None = None
    already: bool = False

    @property
    def total(self) -> int:
        return self.client + self.sessions + self.reps + self.events


@dataclass
class BatchResult:
    """Per message of :meth:`Store.add_batch`: True stored, False duplicate (or older status) or
    discarded: ``forgotten[i]`` is then the short tombstone hash of its forgotten client."""

    stored: list[bool] = field(default_factory=list)
    new_units: list[str] = field(default_factory=list)
    forgotten: list[str | None] = field(default_factory=list)


def open_store(url: str | None = None, *, migrate_schema: bool = True, **engine_kw: Any) -> Store:
    """Open (and create or upgrade in place) the database at ``url`` (default: SQLite in the state folder).

    Raises
    ------
    StoreError
        naming the URL (password hidden) and why it cannot be opened or migrated.
    """
    url = normalize_url(url or default_url())
    engine = make_engine(url, **engine_kw)
    if migrate_schema:
        try:
            migrate(engine)
        except Exception:
            engine.dispose()
            raise
    return Store(engine)


class Store:
    """Typed access to the staff-side tables of one database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.url = safe_url(str(engine.url))
        self._writer = engine.execution_options(write=True)
        self._key: bytes | None = None  # the tombstone key, read once

    def _tomb_key(self, conn: Connection) -> bytes:
        if self._key is None:
            self._key = tombstones.database_key(conn)
        return self._key

    def _hash(self, conn: Connection, code: str) -> str:
        return tombstones.code_hash(self._tomb_key(conn), code)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- writes --------------------------------------------------------------------------
    def add_summary(self, payload: dict[str, Any], received_at: dt.datetime | None = None) -> bool:
        """Store a validated session summary with its reps; False if its ``msg_id`` is already stored."""
        return self.add_batch([("summary", payload)], received_at).stored[0]

    def add_event(self, payload: dict[str, Any], received_at: dt.datetime | None = None) -> bool:
        """Store a validated event; False if its ``msg_id`` is already stored."""
        return self.add_batch([("event", payload)], received_at).stored[0]

    def upsert_status(self, payload: dict[str, Any], received_at: dt.datetime | None = None) -> bool:
        """Record a unit's status; False if a newer status (by ``ts``) is already stored."""
        return self.add_batch([("status", payload)], received_at).stored[0]

    def add_batch(self, items: Sequence[tuple[Kind, dict[str, Any]]],
                  received_at: dt.datetime | None = None) -> BatchResult:
        """Store validated payloads in ONE transaction (all or nothing).

        Raises
        ------
        StoreUnavailable
            for what may pass (disk full, locked, server gone): nothing of the batch is stored.
        StoreError
            for anything else.
        """
        from sqlalchemy.exc import DBAPIError, OperationalError

        at = received_at or rows.now()
        try:
            with self._writer.begin() as conn:
                return _write_batch(conn, items, at, self._tomb_key)
        except OperationalError as e:
            raise StoreUnavailable(f"database {self.url}: write failed: {_reason(e)}") from e
        except DBAPIError as e:
            if e.connection_invalidated or _is_transient(e):
                raise StoreUnavailable(f"database {self.url}: write failed: {_reason(e)}") from e
            raise StoreError(f"database {self.url}: write refused: {_reason(e)}") from e

    def add_client(self, code: str, *, birth_year: int | None = None, sex: str | None = None,
                   note: str | None = None) -> ClientRecord:
        """Create a client code (ValueError if it is malformed or exists)."""
        from sqlalchemy.exc import IntegrityError

        from edgepose.history.schema import clients

        _check_code(code)
        if birth_year is not None and (isinstance(birth_year, bool) or not 1900 <= int(birth_year) <= 2100):
            raise ValueError(f"birth_year {birth_year!r} must be a year 1900..2100")
        if sex not in (None, "f", "m"):
            raise ValueError(f"sex {sex!r} must be 'f', 'm' or empty")
        row = {"code": code, "created_at": rows.now(), "birth_year": birth_year, "sex": sex, "note": note}
        try:
            with self._writer.begin() as conn:
                self._refuse_forgotten(conn, code)
                conn.execute(clients.insert().values(**row))
        except IntegrityError:
            raise ValueError(f"client {code!r} already exists") from None
        return ClientRecord(**row)

    def _refuse_forgotten(self, conn: Connection, code: str) -> None:
        """A forgotten code is never given out again: its late messages would land on someone new."""
        h = self._hash(conn, code)
        tombstones.lock_codes(conn, [h])
        t = tombstones.get(conn, h)
        if t is not None:
            raise ValueError(f"client code {code!r} was forgotten on {t.forgotten_at:%Y-%m-%d}; "
                             "a forgotten code is not used again: choose a new code")

    def set_next(self, device_id: str, *, program: str | None, client: str | None) -> None:
        """Remember what staff chose for a unit's next session (the dashboard sends the ``cmd``)."""
        from sqlalchemy import update

        from edgepose.history.schema import clients, units

        if client is not None:
            _check_code(client)
        with self._writer.begin() as conn:
            if client is not None:
                self._refuse_forgotten(conn, client)
                conn.execute(_insert(conn, clients).values(code=client, created_at=rows.now())
                             .on_conflict_do_nothing(index_elements=["code"]))
            n = conn.execute(update(units).where(units.c.device_id == device_id)
                             .values(next_program=program, next_client=client)).rowcount
            if not n:
                raise ValueError(f"unknown unit {device_id!r}")  # (rolls the new client back too)

    def forget_client(self, code: str) -> ForgetResult:
        """Delete every row of client ``code`` (sessions, their reps, events, the client itself) and
        leave its tombstone (:mod:`edgepose.history.tombstones`), in one transaction; also for a code
        that has nothing stored yet (its sessions may still be on their way)."""
        from sqlalchemy import delete, func, select, update

        from edgepose.history.schema import clients, events, reps, sessions, units

        _check_code(code)
        with self._writer.begin() as conn:
            h = self._hash(conn, code)
            tombstones.lock_codes(conn, [h], exclusive=True)
            before = tombstones.get(conn, h)
            pks = select(sessions.c.id).where(sessions.c.client == code)
            n_reps = conn.execute(select(func.count()).select_from(reps).where(reps.c.session_pk.in_(pks))).scalar_one()
            conn.execute(delete(reps).where(reps.c.session_pk.in_(pks)))
            n_sessions = conn.execute(delete(sessions).where(sessions.c.client == code)).rowcount
            n_events = conn.execute(delete(events).where(events.c.client == code)).rowcount
            conn.execute(update(units).where(units.c.next_client == code).values(next_client=None))
            n_client = conn.execute(delete(clients).where(clients.c.code == code)).rowcount
            tomb = before or tombstones.add(conn, h, rows.now())
        log.info("client forgotten: %d session(s), %d event(s) deleted; tombstone %s", n_sessions, n_events,
                 tomb.short)
        return ForgetResult(code=code, client=n_client, sessions=n_sessions, reps=int(n_reps), events=n_events,
                            tombstone=tomb, already=before is not None)

    # --- tombstones (forgotten clients) ----------------------------------------------------
    def tombstone(self, code: str) -> Tombstone | None:
        """The tombstone of ``code`` if it was forgotten (the code itself is not stored)."""
        _check_code(code)
        with self.engine.connect() as conn:
            return tombstones.get(conn, self._hash(conn, code))

    def tombstones(self, *, limit: int | None = None, only_late: bool = False) -> list[Tombstone]:
        with self.engine.connect() as conn:
            return tombstones.listing(conn, limit=limit, only_late=only_late)

    def tombstone_totals(self) -> TombstoneTotals:
        """How many clients were forgotten and how many late messages for them were discarded."""
        with self.engine.connect() as conn:
            return tombstones.totals(conn)

    # --- reads ---------------------------------------------------------------------------
    def sessions(self, *, device: str | None = None, client: str | None = None,
                 since: dt.datetime | None = None, until: dt.datetime | None = None,
                 program: str | None = None, limit: int | None = None, offset: int = 0,
                 newest_first: bool = False) -> list[SessionRecord]:
        """Stored sessions, filtered, ordered by start time (received time when unknown)."""
        from sqlalchemy import func, select

        from edgepose.history.schema import sessions as t

        when = func.coalesce(t.c.started_at, t.c.received_at)
        q = _filter_sessions(select(t), device, client, since, until, program)
        q = q.order_by(when.desc(), t.c.id.desc()) if newest_first else q.order_by(when, t.c.id)
        q = q.limit(limit).offset(offset) if limit is not None else q.offset(offset)
        with self.engine.connect() as conn:
            return [SessionRecord(**r._mapping) for r in conn.execute(q)]

    def count_sessions(self, *, device: str | None = None, client: str | None = None,
                       since: dt.datetime | None = None, until: dt.datetime | None = None,
                       program: str | None = None) -> int:
        from sqlalchemy import func, select

        from edgepose.history.schema import sessions as t

        q = _filter_sessions(select(func.count()).select_from(t), device, client, since, until, program)
        with self.engine.connect() as conn:
            return int(conn.execute(q).scalar_one())

    def session(self, pk: int) -> SessionRecord | None:
        from sqlalchemy import select

        from edgepose.history.schema import sessions as t

        with self.engine.connect() as conn:
            r = conn.execute(select(t).where(t.c.id == pk)).first()
        return SessionRecord(**r._mapping) if r is not None else None

    def reps(self, session_pk: int) -> list[RepRecord]:
        from sqlalchemy import select

        from edgepose.history.schema import reps as t

        q = select(t.c.idx, t.c.ended_s, t.c.duration_s, t.c.score, t.c.rom, t.c.faults) \
            .where(t.c.session_pk == session_pk).order_by(t.c.idx, t.c.id)
        with self.engine.connect() as conn:
            return [RepRecord(**r._mapping) for r in conn.execute(q)]

    def events(self, *, device: str | None = None, client: str | None = None, kind: str | None = None,
               since: dt.datetime | None = None, limit: int | None = None, offset: int = 0) -> list[EventRecord]:
        from sqlalchemy import select

        from edgepose.history.schema import events as t

        q = select(t)
        for col, val in ((t.c.device_id, device), (t.c.client, client), (t.c.kind, kind)):
            if val is not None:
                q = q.where(col == val)
        if since is not None:
            q = q.where(t.c.at >= since)
        q = q.order_by(t.c.at.desc(), t.c.id.desc()).limit(limit).offset(offset)
        with self.engine.connect() as conn:
            return [EventRecord(**r._mapping) for r in conn.execute(q)]

    def units(self, *, search: str | None = None, online: bool | None = None,
              limit: int | None = None, offset: int = 0) -> list[UnitRecord]:
        """Units by device id; ``search`` matches a part of the id (case-insensitive)."""
        from sqlalchemy import select

        from edgepose.history.schema import units as t

        q = select(*[t.c[f.name] for f in _fields(UnitRecord)])
        if search:
            q = q.where(t.c.device_id.ilike(f"%{_like_escape(search)}%", escape="\\"))
        if online is not None:
            q = q.where(t.c.online == online)
        q = q.order_by(t.c.device_id).limit(limit).offset(offset)
        with self.engine.connect() as conn:
            return [UnitRecord(**r._mapping) for r in conn.execute(q)]

    def unit(self, device_id: str) -> UnitRecord | None:
        from sqlalchemy import select

        from edgepose.history.schema import units as t

        q = select(*[t.c[f.name] for f in _fields(UnitRecord)]).where(t.c.device_id == device_id)
        with self.engine.connect() as conn:
            r = conn.execute(q).first()
        return UnitRecord(**r._mapping) if r is not None else None

    def count_units(self, *, online: bool | None = None) -> int:
        from sqlalchemy import func, select

        from edgepose.history.schema import units as t

        q = select(func.count()).select_from(t)
        if online is not None:
            q = q.where(t.c.online == online)
        with self.engine.connect() as conn:
            return int(conn.execute(q).scalar_one())

    def clients(self, *, search: str | None = None, limit: int | None = None, offset: int = 0) -> list[ClientRecord]:
        from sqlalchemy import select

        from edgepose.history.schema import clients as t

        q = select(t)
        if search:
            q = q.where(t.c.code.ilike(f"%{_like_escape(search)}%", escape="\\"))
        q = q.order_by(t.c.code).limit(limit).offset(offset)
        with self.engine.connect() as conn:
            return [ClientRecord(**r._mapping) for r in conn.execute(q)]

    def client(self, code: str) -> ClientRecord | None:
        from sqlalchemy import select

        from edgepose.history.schema import clients as t

        with self.engine.connect() as conn:
            r = conn.execute(select(t).where(t.c.code == code)).first()
        return ClientRecord(**r._mapping) if r is not None else None

    def device_ids(self) -> set[str]:
        from sqlalchemy import select

        from edgepose.history.schema import units as t

        with self.engine.connect() as conn:
            return set(conn.execute(select(t.c.device_id)).scalars())


# --- helpers ---------------------------------------------------------------------------------
LAST_SEEN_GRANULARITY = dt.timedelta(seconds=60)


def _write_batch(conn: Connection, items: Sequence[tuple[Kind, dict[str, Any]]], at: dt.datetime,
                 key_of: Callable[[Connection], bytes]) -> BatchResult:
    """One transaction's worth of rows. Rows of ``units`` are touched only when something changes
    (a new unit, ``last_seen`` older than a minute, a newer status), always in device-id order, so
    several ingests on one PostgreSQL database do not queue on (or deadlock over) unit rows.
    Summaries and events of a forgotten client are discarded and counted on its tombstone."""
    from sqlalchemy import select

    from edgepose.history.schema import units

    for kind, _ in items:
        if kind not in ("summary", "event", "status"):
            raise ValueError(f"unknown kind {kind!r}")
    result = BatchResult(stored=[False] * len(items), forgotten=[None] * len(items))
    items = _drop_forgotten(conn, items, at, key_of, result)
    devices = sorted({p["device_id"] for _, p in items})
    current = {d: (seen, ts) for d, seen, ts in conn.execute(
        select(units.c.device_id, units.c.last_seen, units.c.status_ts).where(units.c.device_id.in_(devices)))}
    result.new_units = [d for d in devices if d not in current]
    st = _statements(conn.dialect.name)
    if result.new_units:
        conn.execute(st["new_unit"], [{"device_id": d, "first_seen": at, "last_seen": at, "online": False}
                                      for d in result.new_units])
    stale = [d for d, (seen, _) in current.items() if seen is None or seen < at - LAST_SEEN_GRANULARITY]
    if stale:
        conn.execute(st["seen"], [{"b_device": d, "b_at": at} for d in sorted(stale)])
    codes = sorted({c for k, p in items if k and (c := rows.client_of(p)) is not None})
    if codes:
        conn.execute(st["client"], [{"code": c, "created_at": at} for c in codes])
    # Summaries and events: one multi-row INSERT ... ON CONFLICT (msg_id) DO NOTHING RETURNING each;
    # what comes back was new, what does not was already stored (a resend).
    for kind, make, key in (("summary", rows.session_row, "session"), ("event", rows.event_row, "event")):
        first: dict[str, int] = {}
        for i, (k, p) in enumerate(items):
            if k == kind and p["msg_id"] not in first:  # a discarded item's kind is "" here
                first[p["msg_id"]] = i
        if not first:
            continue
        got = conn.execute(st[key], [make(items[i][1], at) for i in first.values()]).all()
        new = {m: pk for pk, m in got}
        for m, i in first.items():
            result.stored[i] = m in new
        if kind == "summary":
            rep_rows = [dict(r, session_pk=new[m]) for m, i in first.items() if m in new
                        for r in rows.rep_rows(items[i][1])]
            if rep_rows:
                _insert_reps(conn, st, rep_rows)
    # Statuses: only the newest per unit, only when newer than the stored one (the retained copy
    # arrives again on every reconnect, and at every ingest), in one executemany; the WHERE keeps
    # a race between two ingests honest.
    newest: dict[str, tuple[float, int]] = {}
    for i, (kind, p) in enumerate(items):
        if kind == "status":
            ts = rows.status_row(p, at)["status_ts"] or 0.0
            stored_ts = current.get(p["device_id"], (None, None))[1]
            if (stored_ts is None or stored_ts < ts) and (p["device_id"] not in newest
                                                           or newest[p["device_id"]][0] <= ts):
                newest[p["device_id"]] = (ts, i)
    if newest:
        params = []
        for d in sorted(newest):
            ts, i = newest[d]
            row = rows.status_row(items[i][1], at)
            params.append({"b_device": d, "b_ts": ts, **{f"b_{k}": v for k, v in row.items() if k != "device_id"}})
            result.stored[i] = True
        conn.execute(st["status"], params)
    return result


def _drop_forgotten(conn: Connection, items: Sequence[tuple[Kind, dict[str, Any]]], at: dt.datetime,
                    key_of: Callable[[Connection], bytes], result: BatchResult) -> list[tuple[Any, dict[str, Any]]]:
    """``items`` with the kind of each summary or event of a forgotten client blanked (``""``, so
    nothing stores it), marked in ``result.forgotten`` and counted on its tombstone. First thing in
    the transaction: on PostgreSQL the per-code locks are taken before any row is touched."""
    codes = {c for k, p in items if k != "status" and (c := rows.client_of(p)) is not None}
    if not codes:
        return list(items)
    key = key_of(conn)
    hashes = {c: tombstones.code_hash(key, c) for c in codes}
    tombstones.lock_codes(conn, hashes.values())
    dead = tombstones.tombstoned(conn, hashes.values())
    if not dead:
        return list(items)
    out: list[tuple[Any, dict[str, Any]]] = []
    late: Counter[str] = Counter()
    for i, (k, p) in enumerate(items):
        c = rows.client_of(p) if k != "status" else None
        if c is not None and hashes[c] in dead:
            late[hashes[c]] += 1
            result.forgotten[i] = hashes[c][:12]
            out.append(("", p))
        else:
            out.append((k, p))
    tombstones.count_late(conn, late, at)
    return out


_REP_COLUMNS = ("session_pk", "idx", "ended_s", "duration_s", "score", "rom", "faults")


def _insert_reps(conn: Connection, st: dict[str, Any], rep_rows: list[dict[str, Any]]) -> None:
    """Reps of a batch: PostgreSQL COPY (one stream, in the same transaction), else executemany."""
    if conn.dialect.name != "postgresql" or conn.dialect.driver != "psycopg":
        conn.execute(st["reps"], rep_rows)
        return
    from psycopg.types.json import Jsonb

    raw = conn.connection.driver_connection
    with raw.cursor() as cur, cur.copy(f"COPY reps ({', '.join(_REP_COLUMNS)}) FROM STDIN") as copy:
        for r in rep_rows:
            copy.write_row([r["session_pk"], r["idx"], r["ended_s"], r["duration_s"], r["score"],
                            None if r["rom"] is None else Jsonb(r["rom"]),
                            None if r["faults"] is None else Jsonb(r["faults"])])


_STATEMENTS: dict[str, dict[str, Any]] = {}


def _statements(dialect: str) -> dict[str, Any]:
    """The batch statements, built once per dialect (SQLAlchemy then reuses their compiled form)."""
    if dialect not in _STATEMENTS:
        from edgepose.history.schema import clients, events, reps, sessions, units

        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        from sqlalchemy import bindparam, or_

        status_cols = ("online", "firmware", "model", "status", "status_ts", "last_seen")
        _STATEMENTS[dialect] = {
            "new_unit": insert(units).on_conflict_do_nothing(index_elements=["device_id"]),
            "seen": units.update().where(units.c.device_id == bindparam("b_device"))
            .where(units.c.last_seen < bindparam("b_at")).values(last_seen=bindparam("b_at")),
            "status": units.update().where(units.c.device_id == bindparam("b_device"))
            .where(or_(units.c.status_ts.is_(None), units.c.status_ts < bindparam("b_ts")))
            .values(**{c: bindparam(f"b_{c}") for c in status_cols}),
            "client": insert(clients).on_conflict_do_nothing(index_elements=["code"]),
            "session": insert(sessions).on_conflict_do_nothing(index_elements=["msg_id"])
            .returning(sessions.c.id, sessions.c.msg_id),
            "event": insert(events).on_conflict_do_nothing(index_elements=["msg_id"])
            .returning(events.c.id, events.c.msg_id),
            "reps": reps.insert(),
        }
    return _STATEMENTS[dialect]


def _insert(conn: Connection, table: Any) -> Any:
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)


def _filter_sessions(q: Any, device: str | None, client: str | None, since: dt.datetime | None,
                     until: dt.datetime | None, program: str | None) -> Any:
    from sqlalchemy import func

    from edgepose.history.schema import sessions as t

    when = func.coalesce(t.c.started_at, t.c.received_at)
    for col, val in ((t.c.device_id, device), (t.c.client, client), (t.c.program, program)):
        if val is not None:
            q = q.where(col == val)
    if since is not None:
        q = q.where(when >= _aware(since))
    if until is not None:
        q = q.where(when < _aware(until))
    return q


def _aware(t: dt.datetime) -> dt.datetime:
    return t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t


def _fields(cls: type) -> Iterable[Any]:
    import dataclasses

    return dataclasses.fields(cls)


def _like_escape(s: str) -> str:
    return s.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _check_code(code: str) -> None:
    if not is_client_code(code):
        raise ValueError(f"client code {str(code)[:40]!r} is malformed: {CLIENT_CODE_HELP}")


def _is_transient(e: Exception) -> bool:
    text = str(getattr(e, "orig", e)).lower()
    return any(w in text for w in ("disk", "full", "locked", "busy", "no space", "connection", "terminat"))


def _reason(e: BaseException) -> str:
    orig = getattr(e, "orig", None)
    lines = str(orig if orig is not None else e).strip().splitlines()
    return (lines[0] if lines else type(e).__name__)[:300]


__all__ = ["BatchResult", "ClientRecord", "EventRecord", "ForgetResult", "RepRecord", "SessionRecord",
           "Store", "StoreError", "StoreUnavailable", "Tombstone", "TombstoneTotals", "UnitRecord", "open_store"]
