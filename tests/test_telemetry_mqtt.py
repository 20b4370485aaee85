"""Telemetry against a real Mosquitto on loopback: delivery, outages, crashes, corruption, commands."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from mqtt_broker import Broker, Subscriber, broker_fixture  # noqa: F401  (the "broker" fixture)

from edgepose.telemetry.commands import Command
from edgepose.telemetry.publisher import Telemetry
from edgepose.telemetry.settings import MqttSettings

REPO = Path(__file__).resolve().parents[1]


def _settings(b: Broker, device_id: str = "unit-1") -> MqttSettings:
    return MqttSettings(host="127.0.0.1", port=b.port, device_id=device_id, keepalive=5)


def _unique(msgs: list[dict]) -> dict[str, dict]:
    return {m["msg_id"]: m for m in msgs}


def test_summary_arrives_exactly_once_and_status_reports_what_happened(broker: Broker, tmp_path: Path) -> None:
    sub = Subscriber(broker.port, ["edgepose/#", "homeassistant/#"])
    try:
        with Telemetry(_settings(broker), tmp_path / "state", model="pose_landmark_full") as t:
            assert t.wait_connected(10)
            assert sub.wait_for(lambda: sub.json("/status"))
            online = sub.json("/status")[-1]
            assert online["state"] == "online" and online["model"] == "pose_landmark_full"
            t.session_started("s-1", "squat")
            assert t.publish_live({"session_id": "s-1", "program": "squat", "state": "active", "reps": 1})
            summary = {"session_id": "s-1", "program": "squat", "reps": 3, "score": 87.5,
                       "rep_rom_deg": [85.0, 90.0, 88.0]}
            mid = t.publish_summary(summary)
            assert t.publish_summary(summary) == mid  # a resend of the same session keeps its id
            assert t.flush(10)
            assert t.outbox.count() == 0
            assert t.journal.open_sessions() == []
        assert sub.wait_for(lambda: sub.json("/status")[-1]["state"] == "offline")
        got = sub.json("/session/summary")
        assert len(got) >= 1 and {m["msg_id"] for m in got} == {mid}
        [s] = _unique(got).values()
        assert (s["reps"], s["score"], s["status"], s["device_id"]) == (3, 87.5, "completed", "unit-1")
        assert sub.wait_for(lambda: len([t for t, _, _ in sub.messages if t.startswith("homeassistant/")]) == 7)
    finally:
        sub.close()


def test_broker_down_mid_session_summary_arrives_after_restart(broker: Broker, tmp_path: Path) -> None:
    sub = Subscriber(broker.port, ["edgepose/+/session/summary"], client_id="ingest-persistent")
    t = Telemetry(_settings(broker), tmp_path / "state", min_backoff=0.2, max_backoff=1.0).start()
    try:
        assert t.wait_connected(10)
        t.session_started("s-outage", "lunge")
        broker.stop()
        assert sub.wait_for(lambda: not t.connected, 10)
        mid = t.publish_summary({"session_id": "s-outage", "program": "lunge", "reps": 7})
        assert not t.flush(0.5), "nothing can be acknowledged while the broker is down"
        assert [m.msg_id for m in t.outbox.pending()] == [mid]
        broker.start()
        assert t.flush(20), f"still pending after restart: {t.outbox.pending()}"
        assert sub.wait_for(lambda: sub.json("/session/summary"), 20)
        got = _unique(sub.json("/session/summary"))
        assert list(got) == [mid] and got[mid]["reps"] == 7
    finally:
        t.close()
        sub.close()


_KILLED = textwrap.dedent("""
    import sys, time
    from edgepose.telemetry.publisher import Telemetry
    from edgepose.telemetry.settings import MqttSettings
    t = Telemetry(MqttSettings(host="127.0.0.1", port=int(sys.argv[1]), device_id="unit-k", keepalive=5),
                  sys.argv[2]).start()
    assert t.wait_connected(10)
    t.session_started("s-kill", "squat", started_at=1000.0)
    t.session_checkpoint("s-kill", {"reps": 4, "rep_rom_deg": [80.0, 84.0, 86.0, 90.0]})
    print("READY", flush=True)
    time.sleep(120)
""")


def test_sigkill_mid_session_is_reported_once_as_interrupted(broker: Broker, tmp_path: Path) -> None:
    state = tmp_path / "state"
    sub = Subscriber(broker.port, ["edgepose/unit-k/#"])
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-c", _KILLED, str(broker.port), str(state)],
                            stdout=subprocess.PIPE, env=env, cwd=REPO)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"READY"
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        # The broker publishes the Last Will: the unit is offline, reported from what happened.
        assert sub.wait_for(lambda: [m["state"] for m in sub.json("/status")][-1:] == ["offline"])
        for _ in range(2):  # restart twice: reported on the first, never again
            with Telemetry(_settings(broker, "unit-k"), state) as t:
                assert t.flush(10)
        assert sub.wait_for(lambda: sub.json("/session/summary"))
        time.sleep(0.3)
        got = _unique(sub.json("/session/summary"))
        assert len(got) == 1
        [s] = got.values()
        assert (s["session_id"], s["status"], s["reps"], s["started_at"]) == ("s-kill", "interrupted", 4, 1000.0)
        assert s["rep_rom_deg"] == [80.0, 84.0, 86.0, 90.0]
    finally:
        if proc.poll() is None:
            proc.kill()
        sub.close()


def test_corrupt_outbox_is_reported_preserved_and_replaced(broker: Broker, tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    junk = os.urandom(8192)
    (state / "outbox.db").write_bytes(junk)
    sub = Subscriber(broker.port, ["edgepose/unit-c/#"])
    try:
        with Telemetry(_settings(broker, "unit-c"), state) as t:
            kept = list(state.glob("outbox.db.corrupt-*"))
            assert len(kept) == 1 and kept[0].read_bytes() == junk
            t.publish_summary({"session_id": "s-c", "program": "squat", "reps": 2})
            assert t.flush(10)
        assert sub.wait_for(lambda: sub.json("/event") and sub.json("/session/summary"))
        [ev] = _unique(sub.json("/event")).values()
        assert ev["kind"] == "outbox_corrupt" and ev["level"] == "error" and kept[0].name in ev["message"]
        assert kept[0].exists(), "the corrupt file is never deleted"
    finally:
        sub.close()


def test_garbage_commands_get_errors_and_change_nothing(broker: Broker, tmp_path: Path) -> None:
    state = {"program": "squat", "running": False}

    def apply(cmd: Command) -> str | None:
        if cmd.action == "select":
            if cmd.program not in ("squat", "lunge"):
                return f"unknown program {cmd.program}"
            state["program"] = cmd.program
        else:
            state["running"] = cmd.action == "start"
        return None

    sub = Subscriber(broker.port, ["edgepose/unit-x/cmd/result"])
    garbage = [b"", b"\x00\xff", b"not json", b"[1,2]", b'{"action":"reboot","request_id":"g1"}',
               b'{"action":"select","program":5,"request_id":"g2"}', b'{"action":"start","rm":"-rf"}',
               b'{"action":"select","program":"' + b"x" * 5000 + b'"}']
    with Telemetry(_settings(broker, "unit-x"), tmp_path / "state") as t:
        t.on_command(apply)
        assert t.wait_connected(10) and t.commands_ready.wait(10)
        for raw in garbage:
            sub.client.publish("edgepose/unit-x/cmd", raw, qos=1)
        assert sub.wait_for(lambda: len(sub.json("/cmd/result")) >= len(garbage), 10)
        results = sub.json("/cmd/result")
        assert all(not r["ok"] and r["error"] for r in results)
        assert {r["request_id"] for r in results} >= {"g1", "g2"}
        assert state == {"program": "squat", "running": False}
        sub.client.publish("edgepose/unit-x/cmd", b'{"action":"select","program":"lunge","request_id":"ok1"}', qos=1)
        assert sub.wait_for(lambda: any(r["request_id"] == "ok1" for r in sub.json("/cmd/result")), 10)
        ok = [r for r in sub.json("/cmd/result") if r["request_id"] == "ok1"][0]
        assert ok["ok"] and ok["error"] is None and state["program"] == "lunge"
        assert t.flush(5)
    sub.close()


def test_run_with_broker_down_ends_normally_keeping_the_summary(tmp_path: Path) -> None:
    from mqtt_broker import free_port
    s = MqttSettings(host="127.0.0.1", port=free_port(), device_id="unit-d")
    t0 = time.monotonic()
    with Telemetry(s, tmp_path / "state", min_backoff=0.1) as t:
        t.session_started("s-d", "squat")
        t.publish_summary({"session_id": "s-d", "program": "squat", "reps": 1})
        assert not t.flush(0.3)
        assert "cannot reach" in (t.last_error or "")
    assert time.monotonic() - t0 < 5
    with Telemetry(s, tmp_path / "state", announce=False) as t2:
        pend = t2.outbox.pending()
        assert len(pend) == 1 and json.loads(pend[0].payload)["session_id"] == "s-d"


def test_concurrent_publishers_across_a_broker_restart_lose_nothing(broker: Broker, tmp_path: Path) -> None:
    import threading

    sub = Subscriber(broker.port, ["edgepose/unit-s/event"], client_id="ingest-stress")
    t = Telemetry(_settings(broker, "unit-s"), tmp_path / "state", min_backoff=0.1, max_backoff=0.5).start()
    assert t.wait_connected(10)
    ids: list[str] = []
    lock = threading.Lock()

    def worker(k: int) -> None:
        for i in range(40):
            mid = t.publish_event({"kind": "stress", "message": f"{k}-{i}"})
            with lock:
                ids.append(mid)
            time.sleep(0.005)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(3)]
    try:
        for th in threads:
            th.start()
        time.sleep(0.1)
        broker.stop()  # mid-stream
        time.sleep(0.3)
        broker.start()
        for th in threads:
            th.join(30)
        assert t.flush(20), f"{t.outbox.count()} still pending"
        assert sub.wait_for(lambda: {m["msg_id"] for m in sub.json("/event")} >= set(ids), 20)
        assert len(ids) == 120 and len(set(ids)) == 120
        assert {m["message"] for m in sub.json("/event")} == {f"{k}-{i}" for k in range(3) for i in range(40)}
    finally:
        t.close()
        sub.close()


def test_mqtt311_setting_and_fallback_from_mqtt5(broker: Broker, tmp_path: Path) -> None:
    from mqtt_broker import V311OnlyProxy

    sub = Subscriber(broker.port, ["edgepose/+/session/summary"])
    # configured for 3.1.1 straight away
    s311 = MqttSettings(host="127.0.0.1", port=broker.port, device_id="unit-311", protocol="3.1.1")
    with Telemetry(s311, tmp_path / "a") as t:
        t.publish_summary({"session_id": "s-311", "program": "squat", "reps": 1})
        assert t.flush(10)
    # configured for 5, but the broker only speaks 3.1.1: falls back and delivers
    proxy = V311OnlyProxy(broker.port)
    try:
        s5 = MqttSettings(host="127.0.0.1", port=proxy.port, device_id="unit-fb")
        with Telemetry(s5, tmp_path / "b", min_backoff=0.1) as t:
            t.publish_summary({"session_id": "s-fb", "program": "squat", "reps": 2})
            assert t.flush(10), t.last_error
            assert t.connected and proxy.refused_v5 >= 1
        assert sub.wait_for(lambda: {m["session_id"] for m in sub.json("/session/summary")} == {"s-311", "s-fb"})
    finally:
        proxy.close()
        sub.close()
