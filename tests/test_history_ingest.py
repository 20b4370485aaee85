"""``edgepose ingest`` against a real Mosquitto: ack only after commit, dedupe, kills, bad input, sharing."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.mqtt_broker import Broker, broker_fixture  # noqa: F401  (the "broker" fixture)

pytest.importorskip("sqlalchemy")

from edgepose.history.ingest import IngestCore, RejectedLog  # noqa: E402
from edgepose.history.mqtt_ingest import MqttIngest  # noqa: E402
from edgepose.history.settings import IngestSettings  # noqa: E402
from edgepose.history.store import open_store  # noqa: E402
from edgepose.history.validate import PayloadValidator  # noqa: E402
from edgepose.telemetry.publisher import Telemetry  # noqa: E402
from edgepose.telemetry.settings import MqttSettings  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def wait(pred, timeout: float = 15.0, step: float = 0.05) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)
    return bool(pred())


class InProcessIngest:
    """The ingest's core and MQTT transport on a thread (what `edgepose ingest` runs)."""

    def __init__(self, port: int, url: str, tmp: Path, client_id: str = "edgepose-ingest", **kw) -> None:  # type: ignore[no-untyped-def]
        settings = IngestSettings(mqtt=f"127.0.0.1:{port}", client_id=client_id, **kw)
        self.store = open_store(url)
        self.core = IngestCore(self.store, PayloadValidator(settings.base_topic, settings.max_payload_bytes),
                               RejectedLog(tmp / f"{client_id}-rejected.jsonl"))
        self.ingest = MqttIngest(settings, self.core, min_backoff=0.1, max_backoff=0.5)
        self.thread = threading.Thread(target=self.ingest.run, daemon=True)
        self.thread.start()
        assert self.ingest.subscribed.wait(15), self.ingest.last_error

    def close(self) -> None:
        self.ingest.stop()
        self.thread.join(10)
        self.store.close()


def raw_client(port: int, cid: str = "raw-pub"):  # type: ignore[no-untyped-def]
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=cid, protocol=mqtt.MQTTv5)
    c.connect("127.0.0.1", port)
    c.loop_start()
    return c


def summary(device: str, i: int, reps: int = 2, **extra) -> dict:  # type: ignore[no-untyped-def]
    p = {"schema": "edgepose.session.summary/1", "msg_id": f"{device}-m{i}", "device_id": device,
         "session_id": f"{device}-s{i}", "program": "squat", "status": "completed", "reps": reps,
         "rep_rom_deg": [80.0] * reps, "ts": 1_790_000_000.0 + i}
    p.update(extra)
    return p


def publish_all(c, msgs: list[tuple[str, bytes]]) -> None:  # type: ignore[no-untyped-def]
    infos = [c.publish(t, p, qos=1) for t, p in msgs]
    for info in infos:
        info.wait_for_publish(10)


def run_cli(*args: str, env: dict | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "edgepose.cli", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO, env=env)


def test_outside_check_sigkill_and_downtime_lose_nothing(broker: Broker, tmp_path: Path) -> None:
    """The issue's check: a session while it runs, SIGKILL, a session while down, restart ->
    `edgepose history --json` lists each session exactly once with the reps of its summary."""
    url = f"sqlite:///{tmp_path / 'history.sqlite'}"
    env = dict(os.environ, EDGEPOSE_STATE=str(tmp_path / "ingest-state"), PYTHONPATH=str(REPO))

    def start() -> subprocess.Popen[str]:
        p = subprocess.Popen([sys.executable, "-m", "edgepose.cli", "ingest", "--mqtt", f"127.0.0.1:{broker.port}",
                              "--db", url], cwd=REPO, env=env, stderr=subprocess.PIPE, text=True)
        assert p.stderr is not None
        for line in p.stderr:  # wait for "subscribed"
            if "subscribed on" in line:
                return p
        raise AssertionError(f"ingest did not subscribe (exit {p.wait()})")

    def stored() -> list[dict]:
        r = run_cli("history", "--db", url, "--json", env=env)
        assert r.returncode == 0, r.stderr
        return [json.loads(line) for line in r.stdout.splitlines()]

    ing = start()
    try:
        with Telemetry(MqttSettings(host="127.0.0.1", port=broker.port, device_id="unit-7"),
                       tmp_path / "device") as t:
            assert t.wait_connected(10)
            t.publish_summary({"session_id": "while-up", "program": "squat", "reps": 4,
                               "rep_rom_deg": [81.0, 82.0, 83.0, 84.0]})
            assert t.flush(10)
            assert wait(lambda: len(stored()) == 1)
            ing.send_signal(signal.SIGKILL)
            ing.wait(10)
            t.publish_summary({"session_id": "while-down", "program": "lunge", "reps": 2,
                               "rep_rom_deg": [60.0, 61.0]})
            assert t.flush(10)  # the broker holds it for the ingest's persistent session
            ing = start()
            assert wait(lambda: len(stored()) == 2)
        time.sleep(0.5)
        rows = stored()
        assert sorted(r["session_id"] for r in rows) == ["while-down", "while-up"]
        by = {r["session_id"]: r for r in rows}
        assert by["while-up"]["reps"] == 4 and by["while-up"]["rep_rom_deg"] == [81.0, 82.0, 83.0, 84.0]
        assert by["while-down"]["reps"] == 2 and by["while-down"]["program"] == "lunge"
        assert all(r["device_id"] == "unit-7" and r["client"] is None and "received_at" in r for r in rows)
        table = run_cli("history", "--db", url, "--device", "unit-7", env=env)
        assert table.returncode == 0 and "lunge" in table.stdout and "2 session(s)" in table.stdout
    finally:
        ing.send_signal(signal.SIGTERM)
        try:
            ing.wait(15)
        except subprocess.TimeoutExpired:
            ing.kill()
    assert ing.returncode == 0


def test_full_disk_holds_acks_and_loses_nothing(broker: Broker, tmp_path: Path) -> None:
    """A database that cannot grow (SQLite max_page_count = a full disk): nothing is acknowledged,
    the ingest keeps running, and everything is stored once there is room again."""
    from sqlalchemy import event

    url = f"sqlite:///{tmp_path / 'h.sqlite'}"
    ing = InProcessIngest(broker.port, url, tmp_path)
    limit = {"pages": None}

    @event.listens_for(ing.store.engine, "connect")
    def _cap(dbapi_conn, _rec):  # type: ignore[no-untyped-def]
        if limit["pages"]:
            dbapi_conn.execute(f"PRAGMA max_page_count={limit['pages']}")

    with ing.store.engine.connect() as conn:
        pages = conn.exec_driver_sql("PRAGMA page_count").scalar()
    limit["pages"] = pages + 1
    ing.store.engine.dispose()  # new connections get the cap
    c = raw_client(broker.port)
    try:
        big = "x" * 3000
        publish_all(c, [("edgepose/u1/session/summary", json.dumps(summary("u1", i, note=big)).encode())
                        for i in range(30)])
        assert wait(lambda: ing.core.stats.store_failures >= 2)
        assert ing.thread.is_alive()
        stored_while_full = ing.store.count_sessions()
        assert stored_while_full < 30
        limit["pages"] = None
        ing.store.engine.dispose()
        assert wait(lambda: ing.core.stats.stored == 30, timeout=30)
        assert ing.store.count_sessions() == 30
    finally:
        c.loop_stop()
        c.disconnect()
        ing.close()


def test_bad_payloads_are_counted_logged_once_and_kept_out(broker: Broker, tmp_path: Path,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="edgepose.history")
    ing = InProcessIngest(broker.port, f"sqlite:///{tmp_path / 'h.sqlite'}", tmp_path, max_payload_bytes=4096)
    c = raw_client(broker.port)
    try:
        bad = [
            ("edgepose/u1/session/summary", b"{not json"),
            ("edgepose/u1/session/summary", json.dumps(summary("u1", 1, reps=-1)).encode()),  # schema
            ("edgepose/u1/session/summary", json.dumps(dict(summary("u1", 2), reps="3")).encode()),  # schema again
            ("edgepose/u2/session/summary", json.dumps(summary("u1", 3)).encode()),  # device_id != topic
            ("edgepose/u1/session/summary", json.dumps(summary("u1", 4, note="y" * 5000)).encode()),  # oversized
            ("edgepose/u1/event", json.dumps({"schema": "edgepose.event/1", "msg_id": "e1", "device_id": "u1",
                                              "kind": "fault", "level": "panic", "ts": 1.0}).encode()),
            ("edgepose/u1/session/summary", json.dumps(summary("u1", 5, client="C 104\n")).encode()),
            ("edgepose/u1/session/summary", b"[1, 2]"),
        ]
        good = [("edgepose/u1/session/summary", json.dumps(summary("u1", 9)).encode())]
        publish_all(c, bad + good)
        assert wait(lambda: ing.core.stats.received >= len(bad) + 1)
        assert [s.session_id for s in ing.store.sessions()] == ["u1-s9"] and ing.store.events() == []
        assert ing.core.stats.rejected["oversized"] == 1
        assert sum(ing.core.stats.rejected.values()) == len(bad)
        # logged once per unit and kind: (u1, summary), (u2, summary), (u1, event)
        refused = [r for r in caplog.records if r.getMessage().startswith("refused ")]
        assert len(refused) == 3, [r.getMessage() for r in refused]
        assert any("differs from the topic's unit" in r.getMessage() for r in refused)
        kept = (tmp_path / "edgepose-ingest-rejected.jsonl").read_text().splitlines()
        assert len(kept) == len(bad)
        assert {json.loads(line)["reason"] for line in kept} == {"json", "schema", "oversized"}
        assert ing.thread.is_alive()
    finally:
        c.loop_stop()
        c.disconnect()
        ing.close()


def test_postgres_dedupes_resends_and_stores_status(broker: Broker, tmp_path: Path, pg_server) -> None:
    pg_url = pg_server.new_database()
    ing = InProcessIngest(broker.port, pg_url, tmp_path)
    c = raw_client(broker.port)
    try:
        msgs = [("edgepose/u1/session/summary", json.dumps(summary("u1", i, client="C-104")).encode())
                for i in range(20)]
        publish_all(c, msgs + msgs[:5])  # five resends of the same msg_id
        status = {"schema": "edgepose.status/1", "device_id": "u1", "state": "online", "firmware": "9.9",
                  "ts": time.time()}
        c.publish("edgepose/u1/status", json.dumps(status), qos=1, retain=True).wait_for_publish(10)
        assert wait(lambda: ing.core.stats.stored + ing.core.stats.duplicates == 25 and ing.core.stats.statuses)
        assert ing.store.count_sessions() == 20 and ing.core.stats.duplicates == 5
        assert ing.store.count_sessions(client="C-104") == 20
        u = ing.store.unit("u1")
        assert u is not None and u.online and u.firmware == "9.9"
        r = run_cli("clients", "forget", "C-104", "--db", pg_url)
        assert r.returncode == 0, r.stderr
        assert "20 session(s), 40 rep(s)" in r.stdout
        assert ing.store.count_sessions() == 0
    finally:
        c.loop_stop()
        c.disconnect()
        ing.close()


def test_two_ingests_share_the_subscription(broker: Broker, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'h.sqlite'}"
    a = InProcessIngest(broker.port, url, tmp_path, client_id="ingest-a")
    b = InProcessIngest(broker.port, url, tmp_path, client_id="ingest-b")
    c = raw_client(broker.port)
    try:
        publish_all(c, [(f"edgepose/u{i % 7}/session/summary", json.dumps(summary(f"u{i % 7}", i)).encode())
                        for i in range(200)])
        assert wait(lambda: a.core.stats.stored + b.core.stats.stored == 200)
        assert a.store.count_sessions() == 200
        assert a.core.stats.stored > 20 and b.core.stats.stored > 20  # both took a share
        assert a.core.stats.duplicates == b.core.stats.duplicates == 0
    finally:
        c.loop_stop()
        c.disconnect()
        a.close()
        b.close()


def test_refused_subscription_is_named_and_ingest_keeps_running(tmp_path: Path) -> None:
    from tests.mqtt_broker import MOSQUITTO

    if MOSQUITTO is None:
        pytest.skip("mosquitto binary not found (Debian package 'mosquitto')")
    import glob

    plugin = next(iter(glob.glob("/usr/lib/*/mosquitto_dynamic_security.so")), None)
    if plugin is None:
        pytest.skip("mosquitto's dynamic-security plugin is not installed (it is what refuses subscriptions)")
    # Mosquitto's acl_file grants every SUBACK and filters at delivery; the dynamic-security plugin
    # refuses the subscription itself (SUBACK "Not authorized"), like a locked-down broker does.
    dynsec = tmp_path / "dynsec.json"
    dynsec.write_text(json.dumps({
        "defaultACLAccess": {"publishClientSend": True, "publishClientReceive": True, "subscribe": False,
                             "unsubscribe": True},
        "clients": [], "groups": [{"groupname": "anon", "roles": []}], "roles": [], "anonymousGroup": "anon"}))
    d = tmp_path / "broker"
    d.mkdir()
    b = Broker(d, extra=f"plugin {plugin}\nplugin_opt_config_file {dynsec}\n").start()
    store = open_store(f"sqlite:///{tmp_path / 'h.sqlite'}")
    core = IngestCore(store, PayloadValidator())
    ing = MqttIngest(IngestSettings(mqtt=f"127.0.0.1:{b.port}"), core)
    th = threading.Thread(target=ing.run, daemon=True)
    th.start()
    try:
        assert wait(lambda: ing.last_error is not None and "refused the subscription" in ing.last_error)
        assert "edgepose/+/session/summary" in ing.last_error and "check its ACL" in ing.last_error
        assert th.is_alive() and not ing.subscribed.is_set()
    finally:
        ing.stop()
        th.join(10)
        store.close()
        b.stop()


def test_cli_bad_input_messages(tmp_path: Path) -> None:
    env = dict(os.environ, EDGEPOSE_STATE=str(tmp_path / "state"), PYTHONPATH=str(REPO))
    r = run_cli("ingest", "--mqtt", "localhost:99999", "--db", f"sqlite:///{tmp_path}/h.sqlite", env=env)
    assert r.returncode == 1 and "[ingest] mqtt" in r.stderr and "99999" in r.stderr
    cfg = tmp_path / "ingest.toml"
    cfg.write_text('[ingest]\nmqtt = "127.0.0.1:1883"\nbrokr = "x"\n')
    r = run_cli("ingest", "--config", str(cfg), env=env)
    assert r.returncode == 1 and "unknown key(s) brokr" in r.stderr and str(cfg) in r.stderr
    (tmp_path / "junk.sqlite").write_bytes(b"not a database at all" * 50)
    r = run_cli("ingest", "--mqtt", "127.0.0.1:1", "--db", f"sqlite:///{tmp_path}/junk.sqlite", env=env)
    assert r.returncode == 1 and "junk.sqlite" in r.stderr and "cannot be opened or migrated" in r.stderr
    r = run_cli("history", "--db", f"sqlite:///{tmp_path}/missing.sqlite", env=env)
    assert r.returncode == 1 and "no history database at" in r.stderr
    r = run_cli("history", "--db", f"sqlite:///{tmp_path}/h.sqlite", "--since", "yesterday", env=env)
    assert r.returncode == 2 and "ISO-8601" in r.stderr
    r = run_cli("clients", "forget", "C 1", "--db", f"sqlite:///{tmp_path}/junk2.sqlite", env=env)
    assert r.returncode == 1


def test_history_filters_and_forget_cli(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'h.sqlite'}"
    with open_store(url) as s:
        for i in range(4):
            s.add_summary(summary("u1" if i < 2 else "u2", i, client="C-1" if i % 2 else None,
                                  started_at=1_790_000_000.0 + 3600 * i))
    env = dict(os.environ, PYTHONPATH=str(REPO))
    r = run_cli("history", "--db", url, "--json", "--since", "2026-09-21T15:13:20Z", env=env)
    got = [json.loads(x)["session_id"] for x in r.stdout.splitlines()]
    assert r.returncode == 0 and got == ["u1-s1", "u2-s2", "u2-s3"], (r.stdout, r.stderr)
    r = run_cli("history", "--db", url, "--json", "--client", "C-1", env=env)
    assert [json.loads(x)["session_id"] for x in r.stdout.splitlines()] == ["u1-s1", "u2-s3"]
    r = run_cli("clients", "forget", "C-1", "--db", url, env=env)
    assert r.returncode == 0 and "deleted 7 row(s)" in r.stdout and "2 session(s), 4 rep(s)" in r.stdout
    r = run_cli("clients", "forget", "C-1", "--db", url, env=env)
    assert r.returncode == 0 and "nothing deleted" in r.stdout
    r = run_cli("history", "--db", url, env=env)
    assert "2 session(s)" in r.stdout and "C-1" not in r.stdout


_READ_ONLY_INGEST = r"""
import sys, threading
from sqlalchemy import event
from edgepose.history.ingest import IngestCore
from edgepose.history.mqtt_ingest import MqttIngest
from edgepose.history.settings import IngestSettings
from edgepose.history.store import open_store
from edgepose.history.validate import PayloadValidator
store = open_store(sys.argv[2])
@event.listens_for(store.engine, "connect")
def _ro(dbapi_conn, _rec):
    dbapi_conn.execute("PRAGMA query_only=ON")  # every write fails: received, never committed
store.engine.dispose()
core = IngestCore(store, PayloadValidator())
ing = MqttIngest(IngestSettings(mqtt=f"127.0.0.1:{sys.argv[1]}"), core, min_backoff=0.1, max_backoff=0.2)
def report():
    ing.subscribed.wait(30)
    print("subscribed", flush=True)
    while True:
        threading.Event().wait(0.2)
        print("failures", core.stats.store_failures, flush=True)
threading.Thread(target=report, daemon=True).start()
ing.run()
"""


def test_killed_between_receipt_and_commit_loses_nothing(broker: Broker, tmp_path: Path) -> None:
    """Messages received but never committed (every write fails) are not acknowledged: after a
    SIGKILL the broker hands them to the next ingest of the same session, which stores them."""
    url = f"sqlite:///{tmp_path / 'h.sqlite'}"
    open_store(url).close()
    p = subprocess.Popen([sys.executable, "-c", _READ_ONLY_INGEST, str(broker.port), url], cwd=REPO,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=dict(os.environ, PYTHONPATH=str(REPO)))
    try:
        assert p.stdout is not None
        assert p.stdout.readline().strip() == "subscribed"
        c = raw_client(broker.port)
        publish_all(c, [("edgepose/u1/session/summary", json.dumps(summary("u1", i)).encode()) for i in range(10)])
        c.loop_stop()
        c.disconnect()
        for line in p.stdout:  # it received them and failed to commit at least twice
            if line.startswith("failures") and int(line.split()[1]) >= 2:
                break
    finally:
        p.kill()
        p.wait(10)
    with open_store(url) as s:
        assert s.count_sessions() == 0
    ing = InProcessIngest(broker.port, url, tmp_path)  # same client id: same broker session
    try:
        # the stats are counted just after the commit: wait for them, then check the rows
        assert wait(lambda: ing.core.stats.stored == 10)
        assert ing.store.count_sessions() == 10
    finally:
        ing.close()
