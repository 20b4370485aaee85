"""Forgetting a client for good: the tombstone (a keyed hash of the code, never the code) makes the
store discard what arrives for that client later, on SQLite and a real PostgreSQL; migration 0002
upgrades a database of revision 0001 in place with its data intact."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

pytest.importorskip("sqlalchemy")

from edgepose.history.store import open_store  # noqa: E402


def summary(i: int, device: str = "unit-1", client: str | None = "C-104", reps: int = 2) -> dict:
    t = 1_790_000_000.0 + 60 * i
    p = {"schema": "edgepose.session.summary/1", "msg_id": f"msg-{device}-{i}", "device_id": device,
         "session_id": f"s-{device}-{i}", "program": "squat", "status": "completed", "started_at": t,
         "ended_at": t + 30, "duration_s": 30.0, "reps": reps, "rep_rom_deg": [80.0] * reps, "ts": t + 30}
    if client is not None:
        p["client"] = client
    return p


def event(i: int, device: str = "unit-1", client: str | None = "C-104") -> dict:
    return {"schema": "edgepose.event/1", "msg_id": f"ev-{device}-{i}", "device_id": device, "kind": "fault",
            "level": "warning", "ts": 1_790_000_000.0 + i, "client": client}


def every_row_text(store) -> str:  # type: ignore[no-untyped-def]
    """Every row of every table as text (what a dump of the database would show)."""
    from sqlalchemy import select

    from edgepose.history.schema import metadata

    out = []
    with store.engine.connect() as conn:
        for table in metadata.sorted_tables:
            out.extend(repr(tuple(r)) for r in conn.execute(select(table)))
    return "\n".join(out)


def test_forgotten_client_stays_forgotten(db_url: str) -> None:
    store = open_store(db_url)
    try:
        old = summary(1)
        res = store.add_batch([("summary", old), ("summary", summary(2, client="C-2")), ("event", event(1))])
        assert res.stored == [True, True, True] and res.forgotten == [None, None, None]
        gone = store.forget_client("C-104")
        assert (gone.sessions, gone.reps, gone.events, gone.client, gone.already) == (1, 2, 1, 1, False)
        t = gone.tombstone
        assert t is not None and len(t.code_hash) == 64 and t.late_messages == 0 and t.last_late_at is None
        # keyed: not the plain hash of the code, and the code is in no row of any table
        assert t.code_hash != hashlib.sha256(b"C-104").hexdigest()
        assert "C-104" not in every_row_text(store)

        # the outbox resends the old summary (same msg_id), another unit delivers a late session and an
        # event of that client, while another client's session arrives in the same batch
        late = store.add_batch([("summary", dict(old)), ("summary", summary(3, device="unit-2")),
                                ("event", event(2, device="unit-2")), ("summary", summary(4, client="C-2"))])
        assert late.stored == [False, False, False, True]
        assert late.forgotten == [t.short, t.short, t.short, None]
        assert store.client("C-104") is None and store.count_sessions(client="C-104") == 0
        assert store.events(client="C-104") == [] and store.count_sessions(client="C-2") == 2
        assert "C-104" not in every_row_text(store)
        after = store.tombstone("C-104")
        assert after is not None and after.late_messages == 3 and after.last_late_at is not None
        tot = store.tombstone_totals()
        assert (tot.forgotten, tot.late_messages) == (1, 3) and tot.last_late_at == after.last_late_at
        assert store.tombstone("C-2") is None

        # a forgotten code is not given out again (its late messages would land on someone new)
        with pytest.raises(ValueError, match="was forgotten"):
            store.add_client("C-104")
        store.upsert_status({"schema": "edgepose.status/1", "device_id": "unit-1", "state": "online", "ts": 1.0})
        with pytest.raises(ValueError, match="was forgotten"):
            store.set_next("unit-1", program="squat", client="C-104")
        assert store.unit("unit-1").next_client is None and store.client("C-104") is None
        again = store.forget_client("C-104")
        assert again.already and again.total == 0 and again.tombstone.late_messages == 3

        # a code forgotten before anything of it arrived: its first session is discarded too
        assert store.forget_client("K-9").total == 0
        first = store.add_batch([("summary", summary(5, client="K-9"))])
        assert first.stored == [False] and first.forgotten[0] is not None and store.client("K-9") is None
        assert [x.late_messages for x in store.tombstones(only_late=True)] in ([3, 1], [1, 3])
    finally:
        store.close()


def test_each_database_has_its_own_tombstone_key(tmp_path: Path) -> None:
    a = open_store(f"sqlite:///{tmp_path / 'a.sqlite'}")
    b = open_store(f"sqlite:///{tmp_path / 'b.sqlite'}")
    try:
        ha, hb = a.forget_client("C-104").tombstone, b.forget_client("C-104").tombstone
        assert ha is not None and hb is not None and ha.code_hash != hb.code_hash
    finally:
        a.close()
        b.close()
    reopened = open_store(f"sqlite:///{tmp_path / 'a.sqlite'}")  # the key is the database's: stable
    try:
        assert reopened.tombstone("C-104") == ha
    finally:
        reopened.close()


def test_migration_0002_upgrades_a_0001_database_with_data_intact(db_url: str) -> None:
    """A database made and filled at revision 0001 (before tombstones) opens at 0002 with every row."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import func, insert, select

    from edgepose.history import rows
    from edgepose.history.db import MIGRATIONS, make_engine
    from edgepose.history.schema import clients, events, reps, sessions, units, users

    engine = make_engine(db_url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    at = rows.now()
    payloads = [summary(i, client="C-104" if i % 2 else "C-7", reps=3) for i in range(6)]
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
        assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == "0001"
        conn.execute(insert(units), [{"device_id": "unit-1", "first_seen": at, "last_seen": at, "online": True}])
        conn.execute(insert(clients), [{"code": c, "created_at": at} for c in ("C-104", "C-7")])
        for p in payloads:
            pk = conn.execute(insert(sessions).values(**rows.session_row(p, at)).returning(sessions.c.id)).scalar_one()
            conn.execute(insert(reps), [dict(r, session_pk=pk) for r in rows.rep_rows(p)])
        conn.execute(insert(events).values(**rows.event_row(event(1), at)))
        conn.execute(insert(users).values(name="anna", password_hash="x", role="admin", created_at=at, disabled=False))
        tables = set(engine.dialect.get_table_names(conn))
    assert "forgotten_clients" not in tables and "sessions" in tables
    engine.dispose()

    store = open_store(db_url)  # migrates in place
    try:
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == "0002"
            assert conn.execute(select(func.count()).select_from(reps)).scalar_one() == 18
            assert conn.execute(select(func.count()).select_from(users)).scalar_one() == 1
        got = store.sessions()
        assert [s.msg_id for s in got] == [p["msg_id"] for p in payloads]
        assert [s.payload for s in got] == payloads and {s.client for s in got} == {"C-104", "C-7"}
        assert len(store.events(client="C-104")) == 1 and store.unit("unit-1").online
        assert store.tombstone_totals().forgotten == 0
        # and the upgraded database forgets for good
        assert store.forget_client("C-104").sessions == 3
        assert store.add_batch([("summary", payloads[1])]).stored == [False]
        assert store.client("C-104") is None and store.count_sessions() == 3
    finally:
        store.close()



def test_migration_0002_downgrades_and_upgrades_again_with_sessions_intact(db_url: str) -> None:
    """0002's downgrade (the store never runs it; an operator going back a release would): the two
    tombstone tables go, and with them every tombstone and the key, while sessions, reps, events,
    clients and users stay; upgrading again gives schema.py's tables exactly and a new key."""
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import func, select

    from edgepose.history.db import MIGRATIONS, make_engine
    from edgepose.history.schema import history_meta, metadata, reps

    payloads = [summary(i, client="C-104" if i % 2 else "C-7", reps=3) for i in range(6)]
    store = open_store(db_url)  # at the head, 0002
    try:
        assert store.add_batch([("summary", p) for p in payloads] + [("event", event(1))]).stored == [True] * 7
        assert store.forget_client("K-9").tombstone is not None  # a tombstone for the downgrade to drop
        with store.engine.connect() as conn:
            key = conn.execute(select(history_meta.c.value)).scalar_one()
    finally:
        store.close()

    engine = make_engine(db_url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))

    def migrate(step, target: str) -> None:  # type: ignore[no-untyped-def]
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            step(cfg, target)

    def state() -> tuple[str, set[str], list, int, int]:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
            return (conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar_one(),
                    set(engine.dialect.get_table_names(conn)), diff,
                    conn.exec_driver_sql("SELECT count(*) FROM sessions").scalar_one(),
                    conn.execute(select(func.count()).select_from(reps)).scalar_one())

    try:
        migrate(command.downgrade, "0001")
        version, tables, diff, n_sessions, n_reps = state()
        assert version == "0001" and (n_sessions, n_reps) == (6, 18)
        assert not {"forgotten_clients", "history_meta"} & tables
        assert {"units", "clients", "sessions", "reps", "events", "users", "api_tokens", "login_sessions"} <= tables
        # what 0001 lacks against schema.py is exactly the two tables 0002 adds
        assert sorted((d[0], d[1].name) for d in diff) == [("add_table", "forgotten_clients"),
                                                          ("add_table", "history_meta")], diff

        migrate(command.upgrade, "head")
        version, tables, diff, n_sessions, n_reps = state()
        assert version == "0002" and diff == [] and (n_sessions, n_reps) == (6, 18)
        with engine.connect() as conn:
            assert conn.execute(select(history_meta.c.value)).scalar_one() != key  # a new random key
    finally:
        engine.dispose()

    store = open_store(db_url)
    try:
        got = store.sessions()
        assert [s.payload for s in got] == payloads and len(store.events(client="C-104")) == 1
        assert store.tombstone_totals().forgotten == 0  # the downgrade forgot the forgetting
        assert store.forget_client("C-104").sessions == 3
        assert store.add_batch([("summary", payloads[1])]).stored == [False]
    finally:
        store.close()

def test_clients_cli_reports_late_messages(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[1]
    url = f"sqlite:///{tmp_path / 'h.sqlite'}"
    with open_store(url) as s:
        s.add_batch([("summary", summary(1)), ("summary", summary(2, client="C-2"))])
    env = dict(os.environ, PYTHONPATH=str(repo))

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        r = subprocess.run([sys.executable, "-m", "edgepose.cli", "clients", *args, "--db", url],
                           capture_output=True, text=True, timeout=60, cwd=repo, env=env)
        assert r.returncode == 0, r.stderr
        return r

    out = cli("forget", "C-104").stdout
    assert "1 session(s), 2 rep(s)" in out and "tombstone" in out and "discarded" in out
    listed = cli("list").stdout
    assert "1 forgotten client(s): 0 late message(s) discarded\n" in listed and "tombstone" not in listed
    with open_store(url) as s:
        assert s.add_batch([("summary", summary(1)), ("summary", summary(7, device="u9"))]).stored == [False, False]
    listed = cli("list").stdout
    assert "C-2" in listed and "C-104" not in listed
    assert "1 forgotten client(s): 2 late message(s) discarded, the last at" in listed
    again = cli("forget", "C-104").stdout
    assert "already forgotten on" in again and "2 late message(s) for it discarded since" in again
    assert "nothing deleted" in again


def test_dashboard_shows_discarded_late_messages(tmp_path: Path) -> None:
    import re

    from tests import dashboard_env

    code = "K-31"  # (the new-client form's placeholder shows "e.g. C-104" on every page)
    d = dashboard_env.start(tmp_path)
    try:
        d.store.add_batch([("summary", summary(1, client=code)), ("summary", summary(2, client="C-2"))])
        c = d.login()
        page = c.get(f"/clients/{code}").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        r = c.post(f"/clients/{code}/forget", data={"confirm": code, "csrf": csrf})
        assert r.status_code == 200 and 'id="tombstone"' in r.text and "discarded" in r.text
        assert 'id="forgotten"' in c.get("/clients").text  # 1 forgotten client, nothing late yet
        assert "0 late messages" in c.get("/clients").text
        d.store.add_batch([("summary", summary(1, client=code)), ("event", event(3, "unit-2", code))])
        listing = c.get("/clients").text
        assert "1 forgotten client:" in listing and "2 late messages for them discarded" in listing
        assert code not in listing
        r = c.post("/clients", data={"code": code, "csrf": csrf})
        assert r.status_code == 303 and r.headers["location"].endswith("m=forgotten")
        assert "was forgotten" in c.get(r.headers["location"]).text
        assert d.store.client(code) is None
    finally:
        dashboard_env.stop(d)


def test_payload_of_a_forgotten_client_is_not_kept_as_rejected(tmp_path: Path) -> None:
    """Discarded is not refused: the payload (with the code) goes into no file."""
    from edgepose.history.ingest import Incoming, IngestCore, RejectedLog
    from edgepose.history.validate import PayloadValidator

    store = open_store(f"sqlite:///{tmp_path / 'h.sqlite'}")
    try:
        store.forget_client("C-104")
        rejected = tmp_path / "rejected.jsonl"
        core = IngestCore(store, PayloadValidator(), RejectedLog(rejected))
        core.process([Incoming("edgepose/unit-1/session/summary", json.dumps(summary(1)).encode()),
                      Incoming("edgepose/unit-1/event", json.dumps(event(1)).encode()),
                      Incoming("edgepose/unit-1/session/summary", json.dumps(summary(2, client=None)).encode())])
        assert (core.stats.forgotten, core.stats.stored, core.stats.duplicates) == (2, 1, 0)
        assert sum(core.stats.rejected.values()) == 0 and not rejected.exists()
        assert store.count_sessions() == 1 and store.client("C-104") is None
    finally:
        store.close()


def test_forgetting_while_a_batch_of_that_client_commits_postgresql(pg_url: str) -> None:
    """The race the advisory locks close: a batch has looked for tombstones (none yet) when the client
    is forgotten, before the batch inserts its rows. Forgetting must wait for that batch and delete
    what it stored; without the locks it would finish first and the batch would bring the code back."""
    import threading

    from sqlalchemy import event as sa_event

    store = open_store(pg_url)
    other = open_store(pg_url)
    try:
        store.add_summary(summary(1))
        done = threading.Event()
        got: dict = {}

        def forget() -> None:
            got["r"] = other.forget_client("C-104")
            done.set()

        fired: list[bool] = []

        @sa_event.listens_for(store.engine, "before_cursor_execute")
        def _between_lookup_and_insert(conn, cursor, statement, params, context, executemany):  # type: ignore[no-untyped-def]
            if "INSERT INTO clients" in statement and not fired:
                fired.append(True)
                threading.Thread(target=forget, daemon=True).start()
                assert not done.wait(2), "forgetting did not wait for the batch that was committing"

        assert store.add_batch([("summary", summary(2, device="unit-2"))]).stored == [True]
        assert fired and done.wait(30)
        assert got["r"].sessions == 2  # the one before and the one of the racing batch
        assert store.client("C-104") is None and store.count_sessions(client="C-104") == 0
        assert store.add_batch([("summary", summary(3))]).stored == [False]  # and after it: discarded
    finally:
        store.close()
        other.close()
