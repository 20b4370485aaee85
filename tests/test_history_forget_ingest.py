"""The outside check of forgetting: real units (the device's Telemetry and outbox), a real Mosquitto,
`edgepose ingest` and `edgepose clients forget` as processes, a real PostgreSQL. After the forget,
an old summary is resent and a unit that was offline delivers a late session of that client:
nothing of the client reappears, the ingest acknowledged them (nothing is redelivered to the
next ingest), and `edgepose clients list` says how many late messages were discarded."""

from __future__ import annotations

import ast
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.mqtt_broker import Broker, Subscriber, broker_fixture  # noqa: F401  (the "broker" fixture)

pytest.importorskip("sqlalchemy")

from edgepose.history.store import open_store  # noqa: E402
from edgepose.telemetry.publisher import Telemetry  # noqa: E402
from edgepose.telemetry.settings import MqttSettings  # noqa: E402
from tests.mqtt_broker import free_port  # noqa: E402
from tests.test_history_ingest import raw_client, wait  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CODE = "C-104"


def _ingest(broker: Broker, url: str, env: dict[str, str]) -> subprocess.Popen[str]:
    p = subprocess.Popen([sys.executable, "-m", "edgepose.cli", "ingest", "--mqtt", f"127.0.0.1:{broker.port}",
                          "--db", url], cwd=REPO, env=env, stderr=subprocess.PIPE, text=True)
    assert p.stderr is not None
    for line in p.stderr:
        if "subscribed on" in line:
            return p
    raise AssertionError(f"ingest did not subscribe (exit {p.wait()})")


def _stop(p: subprocess.Popen[str]) -> tuple[dict, str]:
    """SIGTERM; the counters it printed on the way out, and everything it logged."""
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=30)
    assert p.returncode == 0, err
    line = next(x for x in err.splitlines() if "edgepose ingest: stopped;" in x)
    return ast.literal_eval(line.split("stopped; ", 1)[1]), err


def _cli(*args: str, env: dict[str, str]) -> str:
    r = subprocess.run([sys.executable, "-m", "edgepose.cli", *args], capture_output=True, text=True, timeout=60,
                       cwd=REPO, env=env)
    assert r.returncode == 0, r.stderr
    return r.stdout


def _dump(url: str) -> str:
    """Every row of every table of the PostgreSQL database as JSON text."""
    import psycopg

    out = []
    with psycopg.connect(url) as conn:
        names = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        for n in names:
            out.extend(r[0] for r in conn.execute(f'SELECT row_to_json(t)::text FROM "{n}" AS t'))
    assert len(names) >= 10  # the schema's tables and alembic_version
    return "\n".join(out)


def test_late_resend_and_late_unit_after_forget_are_discarded_and_acknowledged(
        broker: Broker, tmp_path: Path, pg_server) -> None:  # type: ignore[no-untyped-def]
    url = pg_server.new_database()
    env = dict(os.environ, EDGEPOSE_STATE=str(tmp_path / "ingest-state"), PYTHONPATH=str(REPO))
    ing = _ingest(broker, url, env)
    wire = Subscriber(broker.port, ["edgepose/unit-a/session/summary"], client_id="wire")
    try:
        # unit-a: a session of C-104, stored; the exact bytes as they went out are kept for the resend
        with Telemetry(MqttSettings(host="127.0.0.1", port=broker.port, device_id="unit-a"),
                       tmp_path / "unit-a") as ta:
            assert ta.wait_connected(10)
            ta.publish_summary({"session_id": "a-1", "program": "squat", "reps": 3, "client": CODE,
                                "rep_rom_deg": [80.0, 81.0, 82.0]})
            ta.publish_summary({"session_id": "a-2", "program": "squat", "reps": 1, "client": "C-2"})
            assert ta.flush(10)
        assert wire.wait_for(lambda: len(wire.messages) >= 2)
        [sent] = {p for _, p, _ in wire.messages if json.loads(p)["session_id"] == "a-1"}
        wire.close()
        # unit-b: offline (no broker at its address), its session of C-104 waits in its outbox
        with Telemetry(MqttSettings(host="127.0.0.1", port=free_port(), device_id="unit-b"),
                       tmp_path / "unit-b", min_backoff=0.1, max_backoff=0.2) as tb:
            tb.publish_summary({"session_id": "b-1", "program": "lunge", "reps": 5, "client": CODE})
            assert not tb.flush(0.5) and tb.outbox.count() == 1
        with open_store(url) as s:
            assert wait(lambda: s.count_sessions() == 2)
            assert s.count_sessions(client=CODE) == 1
        out = _cli("clients", "forget", CODE, "--db", url, env=env)
        assert "1 session(s), 3 rep(s)" in out and "tombstone" in out
        assert CODE not in _dump(url)

        # the old summary again (an outbox resend after a lost PUBACK: same msg_id, same bytes) ...
        c = raw_client(broker.port, "unit-a-resend")
        try:
            c.publish("edgepose/unit-a/session/summary", sent, qos=1).wait_for_publish(10)
        finally:
            c.loop_stop()
            c.disconnect()
        # ... and unit-b comes online and delivers its late session
        with Telemetry(MqttSettings(host="127.0.0.1", port=broker.port, device_id="unit-b"),
                       tmp_path / "unit-b") as tb:
            assert tb.flush(15) and tb.outbox.count() == 0
        with open_store(url) as s:
            assert wait(lambda: (t := s.tombstone(CODE)) is not None and t.late_messages == 2, 20)
            assert s.count_sessions() == 1 and s.client(CODE) is None and s.count_sessions(client=CODE) == 0
    finally:
        stats, log = _stop(ing)
    assert stats["forgotten"] == 2 and stats["stored"] == 2, stats
    assert "for a forgotten client (tombstone" in log and CODE not in log  # logged, without the code
    assert CODE not in _dump(url)
    history = _cli("history", "--db", url, "--json", env=env)
    assert [json.loads(x)["session_id"] for x in history.splitlines()] == ["a-2"] and CODE not in history
    listed = _cli("clients", "list", "--db", url, env=env)
    assert "1 forgotten client(s): 2 late message(s) discarded" in listed and CODE not in listed
    rejected = tmp_path / "ingest-state" / "ingest-rejected.jsonl"
    assert not rejected.exists() or CODE not in rejected.read_text()

    # acknowledged: the next ingest of the same persistent session gets nothing redelivered
    ing = _ingest(broker, url, env)
    time.sleep(3)
    stats, _ = _stop(ing)
    # (what it does receive are the two units' retained status messages, sent on every subscribe)
    assert stats["received"] == stats["statuses"] == 2 and stats["forgotten"] == stats["duplicates"] == 0, stats
