"""The staff-side store on SQLite and on a real PostgreSQL server: schema, migrations, dedupe, forget."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest

pytest.importorskip("sqlalchemy")

from edgepose.history.errors import StoreError  # noqa: E402
from edgepose.history.store import open_store  # noqa: E402


def summary(i: int, device: str = "unit-1", client: str | None = None, reps: int = 3) -> dict:
    t = 1_790_000_000.0 + 60 * i
    p = {"schema": "edgepose.session.summary/1", "msg_id": f"msg-{device}-{i}", "device_id": device,
         "session_id": f"s-{i}", "program": "squat", "status": "completed", "started_at": t,
         "ended_at": t + 30, "duration_s": 30.0, "reps": reps, "score": 80.5,
         "rep_rom_deg": [70.0 + k for k in range(reps)], "rep_times": [5.0 * (k + 1) for k in range(reps)],
         "rep_scores": [80.0 + k for k in range(reps)], "ts": t + 30}
    if client is not None:
        p["client"] = client
    return p


def test_migrations_match_schema(db_url: str) -> None:
    """The Alembic migrations build exactly the tables of schema.py (no drift on either backend)."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from edgepose.history.schema import metadata

    store = open_store(db_url)
    try:
        with store.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
            tables = set(store.engine.dialect.get_table_names(conn))
        assert diff == []
        assert {"units", "clients", "sessions", "reps", "events", "users", "api_tokens",
                "login_sessions", "alembic_version"} <= tables
    finally:
        store.close()


def test_schema_revision_is_the_migration_head() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from edgepose.history.db import MIGRATIONS
    from edgepose.history.schema import SCHEMA_REVISION

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(cfg).get_current_head() == SCHEMA_REVISION


def test_summary_dedupe_reps_and_reopen(db_url: str) -> None:
    store = open_store(db_url)
    p = summary(1, client="C-104")
    assert store.add_summary(p) is True
    assert store.add_summary(dict(p)) is False  # a QoS 1 resend
    [s] = store.sessions()
    assert (s.device_id, s.client, s.reps, s.program) == ("unit-1", "C-104", 3, "squat")
    assert s.started_at == dt.datetime.fromtimestamp(p["started_at"], dt.UTC)
    assert s.received_at.tzinfo is not None and s.received_at.utcoffset() == dt.timedelta(0)
    reps = store.reps(s.id)
    assert [r.idx for r in reps] == [1, 2, 3]
    assert [r.rom for r in reps] == [{"primary_deg": 70.0}, {"primary_deg": 71.0}, {"primary_deg": 72.0}]
    assert [r.duration_s for r in reps] == [5.0, 5.0, 5.0]
    h = s.history_json()
    assert h["msg_id"] == p["msg_id"] and h["rep_rom_deg"] == p["rep_rom_deg"] and h["client"] == "C-104"
    store.close()
    again = open_store(db_url)  # reopening an up-to-date database migrates nothing and keeps rows
    assert again.count_sessions() == 1
    assert [u.device_id for u in again.units()] == ["unit-1"]
    again.close()


def test_rep_list_preferred(db_url: str) -> None:
    store = open_store(db_url)
    p = summary(2)
    p["rep_list"] = [{"index": 1, "t_end": 3.2, "duration_s": 2.1, "score": 77.0,
                      "rom": {"left_knee": {"min": 80.0, "max": 170.0, "range": 90.0}}, "faults": ["knees_in"]}]
    assert store.add_summary(p)
    [r] = store.reps(store.sessions()[0].id)
    assert (r.idx, r.ended_s, r.duration_s, r.score, r.faults) == (1, 3.2, 2.1, 77.0, ["knees_in"])
    assert r.rom == {"left_knee": {"min": 80.0, "max": 170.0, "range": 90.0}}
    store.close()


def test_filters_status_and_forget(db_url: str) -> None:
    store = open_store(db_url)
    batch = [("summary", summary(i, device=f"unit-{i % 2}", client="C-1" if i < 3 else "C-2")) for i in range(6)]
    batch.append(("event", {"schema": "edgepose.event/1", "msg_id": "ev-1", "device_id": "unit-0",
                            "kind": "fault", "level": "warning", "ts": 1_790_000_000.0, "client": "C-1"}))
    res = store.add_batch(batch)
    assert res.stored == [True] * 7 and sorted(res.new_units) == ["unit-0", "unit-1"]
    assert store.count_sessions() == 6
    assert {s.session_id for s in store.sessions(device="unit-0")} == {"s-0", "s-2", "s-4"}
    assert {s.session_id for s in store.sessions(client="C-1")} == {"s-0", "s-1", "s-2"}
    since = dt.datetime.fromtimestamp(1_790_000_000.0 + 60 * 4, dt.UTC)
    assert [s.session_id for s in store.sessions(since=since)] == ["s-4", "s-5"]
    assert [s.session_id for s in store.sessions(limit=2, offset=1, newest_first=True)] == ["s-4", "s-3"]
    now = time.time()
    st = {"schema": "edgepose.status/1", "device_id": "unit-0", "state": "online", "firmware": "1.2",
          "model": "lite", "ts": now}
    assert store.upsert_status(st)
    assert not store.upsert_status(dict(st, state="offline", ts=now - 100))  # an older retained copy
    u = store.unit("unit-0")
    assert u is not None and u.online and u.firmware == "1.2" and u.status["ts"] == now
    assert [x.device_id for x in store.units(search="IT-1")] == ["unit-1"]
    store.set_next("unit-0", program="squat", client="C-1")
    assert store.unit("unit-0").next_client == "C-1"
    with pytest.raises(ValueError, match="client code"):
        store.set_next("unit-0", program="squat", client="C 1; drop")
    with pytest.raises(ValueError, match="unknown unit"):
        store.set_next("nope", program="squat", client=None)
    gone = store.forget_client("C-1")
    assert (gone.client, gone.sessions, gone.reps, gone.events) == (1, 3, 9, 1)
    assert store.count_sessions() == 3 and store.sessions(client="C-1") == []
    assert store.events(client="C-1") == [] and store.unit("unit-0").next_client is None
    assert store.client("C-1") is None and store.client("C-2") is not None
    assert store.forget_client("C-1").total == 0
    store.close()


def test_unopenable_database_names_url(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match=str(blocker)):
        open_store(f"sqlite:///{blocker}/sub/history.sqlite")
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match=r"junk\.sqlite.*cannot be opened or migrated"):
        open_store(f"sqlite:///{junk}")
    with pytest.raises(StoreError, match="only sqlite"):
        open_store("mysql://x@y/z")


def test_unreachable_postgres_hides_password() -> None:
    from tests.mqtt_broker import free_port

    with pytest.raises(StoreError) as e:
        open_store(f"postgresql://u:sekret@127.0.0.1:{free_port()}/db", connect_args={"connect_timeout": 3})
    assert "sekret" not in str(e.value) and "127.0.0.1" in str(e.value)
