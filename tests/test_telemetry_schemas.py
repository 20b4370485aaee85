"""Real payloads, as they arrive at a subscriber, validate against docs/schemas."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from mqtt_broker import Broker, Subscriber, broker_fixture  # noqa: F401  (the "broker" fixture)

from edgepose.evaluate.feedback import Phase
from edgepose.telemetry.commands import parse_command
from edgepose.telemetry.publisher import Telemetry
from edgepose.telemetry.settings import MqttSettings
from tests.conftest import need_data

jsonschema = pytest.importorskip("jsonschema", reason="jsonschema (dev extra) validates the payload schemas")

SCHEMAS = Path(__file__).resolve().parents[1] / "docs" / "schemas"


def _validators() -> dict[str, object]:
    out = {}
    for p in SCHEMAS.glob("*.schema.json"):
        schema = json.loads(p.read_text())
        jsonschema.Draft202012Validator.check_schema(schema)
        out[schema["$id"]] = jsonschema.Draft202012Validator(schema)
    return out


def test_published_payloads_match_their_schemas(broker: Broker, tmp_path: Path) -> None:
    v = _validators()
    assert set(v) == {"edgepose.status/1", "edgepose.session.live/1", "edgepose.session.summary/1",
                      "edgepose.event/1", "edgepose.cmd/1", "edgepose.cmd.result/1"}
    sub = Subscriber(broker.port, ["edgepose/#"])
    s = MqttSettings(host="127.0.0.1", port=broker.port, device_id="schema-1")
    with Telemetry(s, tmp_path / "state", model="pose_landmark_full") as t:
        t.on_command(lambda cmd: None)
        assert t.wait_connected(10) and t.commands_ready.wait(10)
        # session/live is checked on the payloads of a real run below
        t.publish_summary({"session_id": "s", "program": "squat", "reps": 2, "score": 91.0,
                           "rep_rom_deg": [87.0, 90.0], "rep_scores": [90.0, 92.0], "rep_times": [2.1, 4.3],
                           "started_at": 1.0, "ended_at": 5.0, "duration_s": 4.0})
        t.publish_event({"kind": "cue", "level": "info", "message": "knees out"})
        sub.client.publish("edgepose/schema-1/cmd", b'{"action":"start","request_id":"r1"}', qos=1)
        sub.client.publish("edgepose/schema-1/cmd", b'{"action":"nope","request_id":"r2"}', qos=1)
        assert sub.wait_for(lambda: len(sub.json("/cmd/result")) == 2)
        assert t.flush(10)
    assert sub.wait_for(lambda: sub.json("/status")[-1]["state"] == "offline")
    seen = set()
    with sub.lock:
        msgs = [(tp, json.loads(p)) for tp, p, _ in sub.messages if not tp.endswith("/cmd")]
    for topic, body in msgs:
        errors = list(v[body["schema"]].iter_errors(body))
        assert not errors, (topic, [e.message for e in errors])
        seen.add(body["schema"])
    assert seen == set(v) - {"edgepose.cmd/1", "edgepose.session.live/1"}
    sub.close()
    cmd_v = v["edgepose.cmd/1"]
    for good in (b'{"action":"select","program":"squat"}', b'{"action":"stop","request_id":"a"}'):
        parse_command(good)
        assert cmd_v.is_valid(json.loads(good))
    for bad in ({"action": "stop", "program": "x"}, {"action": "select"}, {"action": "start", "x": 1}):
        assert not cmd_v.is_valid(bad)


def test_live_payloads_of_a_real_run_match_the_schema(broker: Broker, tmp_path: Path) -> None:
    """``edgepose run --mqtt`` on a real squat video, against a real Mosquitto: every payload
    the session publishes (live, summary, status) is valid against its schema."""
    v = _validators()
    video = need_data("exercise", "squat_side_gym.mp4")
    cfg = tmp_path / "edgepose.toml"
    cfg.write_text(f'[device]\nid = "schema-run"\nstate_dir = "{tmp_path / "state"}"\n')
    sub = Subscriber(broker.port, ["edgepose/#"])
    try:
        r = subprocess.run([sys.executable, "-m", "edgepose.cli", "run", "--config", str(cfg), "--source", str(video),
                            "--program", "squat", "--mqtt", f"127.0.0.1:{broker.port}", "--quiet"],
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr
        assert sub.wait_for(lambda: len(sub.json("/session/summary")) == 1)
        with sub.lock:
            msgs = [(tp, json.loads(p)) for tp, p, _ in sub.messages]
    finally:
        sub.close()
    live = [b for tp, b in msgs if tp.endswith("/session/live")]
    assert len(live) >= 3, f"a {video.name} session lasts several seconds: {len(live)} live messages"
    for topic, body in msgs:
        errors = list(v[body["schema"]].iter_errors(body))
        assert not errors, (topic, body, [e.message for e in errors])
    assert {b["state"] for b in live} == {"active"} and {b["program"] for b in live} == {"squat"}
    phases = {b["phase"] for b in live}
    assert phases <= {p.value for p in Phase} and phases & {"rep_down", "rep_up", "rep_rest"}, phases
    assert max(b["reps"] for b in live) >= 1


def test_live_schema_names_every_phase() -> None:
    schema = json.loads((SCHEMAS / "session.live.schema.json").read_text())
    assert schema["properties"]["phase"]["enum"] == [p.value for p in Phase]
