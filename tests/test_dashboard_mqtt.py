"""The dashboard with a real Mosquitto: assigning a client publishes the ``select`` command, and the
live state of units reaches the page over Server-Sent Events in plain words."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from dashboard_env import start, stop
from mqtt_broker import Subscriber, broker_fixture  # noqa: F401  (fixture)

from tools.dashboard_seed import seed_demo


def _settings(port: int):  # type: ignore[no-untyped-def]
    from edgepose.telemetry.settings import MqttSettings

    return MqttSettings(host="127.0.0.1", port=port, protocol="3.1.1")


def _publish(port: int, topic: str, body: dict | str, retain: bool = False) -> None:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"unit-sim-{time.monotonic_ns()}", protocol=mqtt.MQTTv311)
    c.connect("127.0.0.1", port)
    c.loop_start()
    info = c.publish(topic, body if isinstance(body, str) else json.dumps(body), qos=1, retain=retain)
    info.wait_for_publish(5)
    c.disconnect()
    c.loop_stop()


def test_assign_publishes_select_command(tmp_path: Path, broker) -> None:  # type: ignore[no-untyped-def]
    sub = Subscriber(broker.port, ["edgepose/+/cmd"], client_id="cmd-watch", clean=True)
    d = start(tmp_path, mqtt=_settings(broker.port))
    try:
        seed_demo(d.store)
        c = d.login()
        page = c.get("/units/gym-pi-02").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        r = c.post("/units/gym-pi-02/assign", data={"client": "C-104", "program": "chair-stand-30s", "csrf": csrf})
        assert r.status_code == 303 and r.headers["location"].endswith("done=sent")
        assert sub.wait_for(lambda: sub.json("/cmd"), 10)
        (cmd,) = sub.json("/cmd")
        topic = [t for t, _, _ in sub.messages][0]
        assert topic == "edgepose/gym-pi-02/cmd"
        assert cmd["action"] == "select" and cmd["program"] == "chair-stand-30s" and cmd["client"] == "C-104"
        assert set(cmd) <= {"action", "program", "client", "request_id"}
        u = d.store.unit("gym-pi-02")
        assert (u.next_client, u.next_program) == ("C-104", "chair-stand-30s")
        assert "Sent to the unit" in c.get(r.headers["location"]).text
        assert "Waiting for the unit to confirm" in c.get("/units/gym-pi-02").text
        # the unit answers (as a device does on cmd/result); the page says so, as text
        _publish(broker.port, "edgepose/gym-pi-02/cmd/result",
                 {"schema": "edgepose.cmd.result/1", "msg_id": "r1", "ok": False,
                  "error": "unknown program <i>x</i>", "request_id": cmd["request_id"], "action": "select"})
        assert sub.wait_for(lambda: "The unit refused" in c.get("/units/gym-pi-02").text, 10)
        assert "unknown program &lt;i&gt;x&lt;/i&gt;" in c.get("/units/gym-pi-02").text
        # a malformed client code is refused and nothing is sent
        r = c.post("/units/gym-pi-02/assign", data={"client": "C 104\n", "program": "squat", "csrf": csrf})
        assert r.headers["location"].endswith("done=bad-client")
        time.sleep(0.5)
        assert len(sub.json("/cmd")) == 1
    finally:
        sub.close()
        stop(d)


def test_live_state_streams_in_plain_words(tmp_path: Path, broker) -> None:  # type: ignore[no-untyped-def]
    d = start(tmp_path, mqtt=_settings(broker.port))
    try:
        seed_demo(d.store)
        c = d.login()
        _publish(broker.port, "edgepose/gym-pi-01/status", {"schema": "edgepose.status/1", "device_id": "gym-pi-01",
                                                            "state": "online", "firmware": "1.0", "ts": time.time()})
        _publish(broker.port, "edgepose/gym-pi-01/session/live",
                 {"schema": "edgepose.session.live/1", "device_id": "gym-pi-01", "ts": time.time(), "program": "squat",
                  "state": "active", "phase": "rep_down", "reps": 7, "cue": "<b>Knees out</b>"})
        got = []
        with c.stream("GET", "/live", params={"ids": "gym-pi-01"}, timeout=10) as r:
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
            t0 = time.monotonic()
            for line in r.iter_lines():
                if line.startswith("data: "):
                    got += json.loads(line[6:])
                    if any(u.get("session", "").endswith("7 reps") for u in got):
                        break
                assert time.monotonic() - t0 < 10
        u = [u for u in got if u["id"] == "gym-pi-01"][-1]
        assert u["status"] == "Online"
        assert u["session"] == "Squat · Going down · 7 reps"
        assert "active" not in json.dumps(u) and "rep_down" not in json.dumps(u)  # no raw state names
        assert u["cue"] == "<b>Knees out</b>"  # set as text by live.js, never as markup
        # the fleet page renders the same words server-side
        html = c.get("/", params={"q": "gym-pi-01"}).text
        assert "Squat · Going down · 7 reps" in html and "&lt;b&gt;Knees out&lt;/b&gt;" in html
        # the stream needs a login
        assert d.client().get("/live").status_code == 401
    finally:
        stop(d)
