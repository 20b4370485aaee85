"""Read queries the dashboard needs beyond :class:`edgepose.history.store.Store`'s own."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from edgepose.history.store import SessionRecord, Store


def _like(s: str) -> str:
    return "%" + s.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def count_units(store: Store, search: str | None = None, online: bool | None = None) -> int:
    """How many units match the fleet page's search and filter."""
    from sqlalchemy import func, select

    from edgepose.history.schema import units as t

    q = select(func.count()).select_from(t)
    if search:
        q = q.where(t.c.device_id.ilike(_like(search), escape="\\"))
    if online is not None:
        q = q.where(t.c.online == online)
    with store.engine.connect() as conn:
        return int(conn.execute(q).scalar_one())


def fleet_counts(store: Store) -> tuple[int, int]:
    """(all units, online units) in one scan."""
    from sqlalchemy import Integer, cast, func, select

    from edgepose.history.schema import units as t

    with store.engine.connect() as conn:
        n, on = conn.execute(select(func.count(), func.coalesce(func.sum(cast(t.c.online, Integer)), 0))).one()
    return int(n), int(on)


def last_sessions(store: Store, device_ids: list[str]) -> dict[str, SessionRecord]:
    """The newest stored session of each of ``device_ids`` (one query)."""
    from sqlalchemy import func, select

    from edgepose.history.schema import sessions as t
    from edgepose.history.store import SessionRecord

    if not device_ids:
        return {}
    newest = (select(t.c.device_id, func.max(t.c.id).label("pk"))
              .where(t.c.device_id.in_(device_ids)).group_by(t.c.device_id).subquery())
    q = select(t).join(newest, newest.c.pk == t.c.id)
    with store.engine.connect() as conn:
        return {r.device_id: SessionRecord(**r._mapping) for r in conn.execute(q)}


def client_sessions_count(store: Store, codes: list[str]) -> dict[str, tuple[int, dt.datetime | None]]:
    """Per client code: number of sessions and the time of the last one."""
    from sqlalchemy import func, select

    from edgepose.history.schema import sessions as t

    if not codes:
        return {}
    when = func.coalesce(t.c.started_at, t.c.received_at)
    q = select(t.c.client, func.count(), func.max(when)).where(t.c.client.in_(codes)).group_by(t.c.client)
    with store.engine.connect() as conn:
        out: dict[str, tuple[int, Any]] = {}
        for code, n, last in conn.execute(q):
            if isinstance(last, str):  # SQLite returns text for an aggregate over the column
                last = dt.datetime.fromisoformat(last).replace(tzinfo=dt.UTC)
            elif isinstance(last, dt.datetime) and last.tzinfo is None:
                last = last.replace(tzinfo=dt.UTC)
            out[code] = (int(n), last)
        return out


def count_clients(store: Store, search: str | None = None) -> int:
    from sqlalchemy import func, select

    from edgepose.history.schema import clients as t

    q = select(func.count()).select_from(t)
    if search:
        q = q.where(t.c.code.ilike(_like(search), escape="\\"))
    with store.engine.connect() as conn:
        return int(conn.execute(q).scalar_one())


def update_client(store: Store, code: str, birth_year: int | None, sex: str | None, note: str | None) -> bool:
    from sqlalchemy import update

    from edgepose.history.schema import clients as t

    with store.engine.execution_options(write=True).begin() as conn:
        return bool(conn.execute(update(t).where(t.c.code == code)
                                 .values(birth_year=birth_year, sex=sex, note=note)).rowcount)


def remove_unit(store: Store, device_id: str) -> str:
    """Delete a unit that has no stored sessions (and its events); returns what happened, in words."""
    from sqlalchemy import delete, func, select

    from edgepose.history.schema import events, sessions, units

    with store.engine.execution_options(write=True).begin() as conn:
        n = conn.execute(select(func.count()).select_from(sessions).where(sessions.c.device_id == device_id)).scalar_one()
        if n:
            return f"kept: it has {n} stored sessions (forget their clients first, or keep the unit)"
        conn.execute(delete(events).where(events.c.device_id == device_id))
        gone = conn.execute(delete(units).where(units.c.device_id == device_id)).rowcount
    return "removed" if gone else "no such unit"
