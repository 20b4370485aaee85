"""Issue 12, items 3, 4, 5 and 7: retained commands never act, full-match names, an undeliverable
message never blocks the others, and config checks that refuse what would stop the device.
Real Mosquitto, real config files, the real CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from mqtt_broker import Broker, Subscriber, broker_fixture  # noqa: F401  (the "broker" fixture)
from paho.mqtt.enums import CallbackAPIVersion

from edgepose.config import ConfigError, loads
from edgepose.telemetry.commands import parse_command
from edgepose.telemetry.errors import CommandError, SettingsError
from edgepose.telemetry.outbox import Outbox
from edgepose.telemetry.publisher import Telemetry
from edgepose.telemetry.settings import MqttSettings
from tests.conftest import need_data
from tests.conftest import wait_for as _wait_for
from tests.unit_config import headless_unit_toml

ROOT = Path(__file__).resolve().parents[1]
EXE = [sys.executable, "-c", "import sys; from edgepose.cli import main; sys.exit(main())"]


def _cli(args: list[str], env_extra: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run([*EXE, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


# --------------------------------------------------------------------------- item 4: full-match names

@pytest.mark.parametrize("payload", [
    {"action": "select", "program": "squat\n"},
    {"action": "start", "program": "squat\n"},
    {"action": "start", "request_id": "r1\n"},
    {"action": "start", "request_id": None},   # the schema wants a string
    {"action": "stop", "request_id": None},
])
def test_commands_with_a_trailing_newline_or_a_null_request_id_are_refused(payload: dict) -> None:
    with pytest.raises(CommandError):
        parse_command(json.dumps(payload))


def test_valid_commands_still_pass() -> None:
    assert parse_command('{"action":"select","program":"squat","request_id":"r-1"}').program == "squat"
    assert parse_command('{"action":"stop"}').request_id is None


@pytest.mark.parametrize("toml, key", [
    ('[device]\nid = "nl1\\n"\n', "device.id"),
    ('[mqtt]\ndevice_id = "nl1\\n"\n', "mqtt.device_id"),
    ('[program]\ncycle = ["squat\\n"]\n', "program.cycle[0]"),
    ('[mqtt]\nbase_topic = "edgepose\\n"\n', "mqtt.base_topic"),
])
def test_config_names_with_a_trailing_newline_are_refused(toml: str, key: str) -> None:
    with pytest.raises(ConfigError, match=key.replace(".", r"\.").replace("[", r"\[").replace("]", r"\]")):
        loads(toml)


def test_settings_refuse_a_trailing_newline() -> None:
    with pytest.raises(SettingsError, match="device_id"):
        MqttSettings(device_id="nl1\n")
    with pytest.raises(SettingsError, match="base_topic"):
        MqttSettings(base_topic="edgepose\n")


def test_serve_validate_config_refuses_a_device_id_with_a_trailing_newline(tmp_path: Path) -> None:
    cfg = tmp_path / "edgepose.toml"
    cfg.write_text('[device]\nid = "nl1\\n"\n')
    p = _cli(["serve", "--config", str(cfg), "--validate-config"])
    assert p.returncode != 0 and "device.id" in p.stderr and str(cfg) in p.stderr, p.stdout + p.stderr


def test_serve_validate_config_refuses_a_tls_ca_that_is_not_a_certificate(tmp_path: Path) -> None:
    ca = tmp_path / "ca.crt"
    ca.write_text("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n")
    cfg = tmp_path / "edgepose.toml"
    cfg.write_text(f'[mqtt]\nhost = "localhost"\nport = 8883\ntls_ca = "{ca}"\n')
    p = _cli(["serve", "--config", str(cfg), "--validate-config"])
    assert p.returncode != 0, p.stdout
    assert "mqtt.tls_ca" in p.stderr and str(ca) in p.stderr and "not a CA certificate" in p.stderr, p.stderr


def test_unknown_default_program_is_refused_by_validate_config_and_doctor(tmp_path: Path) -> None:
    cfg = tmp_path / "edgepose.toml"
    cfg.write_text(f'[device]\nstate_dir = "{tmp_path}/state"\n[program]\ndefault = "nosuch"\n[mqtt]\nenabled = false\n')
    p = _cli(["serve", "--config", str(cfg), "--validate-config"])
    assert p.returncode != 0 and "program.default" in p.stderr and "nosuch" in p.stderr, p.stdout + p.stderr
    d = _cli(["doctor", "--config", str(cfg)], timeout=120)
    assert d.returncode != 0 and "program.default" in d.stdout and "nosuch" in d.stdout, d.stdout
    cfg.write_text(f'[device]\nstate_dir = "{tmp_path}/state"\n[program]\ncycle = ["squat", "nosuch"]\n'
                   '[mqtt]\nenabled = false\n')
    p = _cli(["serve", "--config", str(cfg), "--validate-config"])
    assert p.returncode != 0 and "program.cycle" in p.stderr and "nosuch" in p.stderr, p.stderr


def test_doctor_refuses_a_tls_ca_that_is_not_a_certificate(tmp_path: Path) -> None:
    ca = tmp_path / "ca.crt"
    ca.write_text("hello\n")
    cfg = tmp_path / "edgepose.toml"
    cfg.write_text(f'[device]\nstate_dir = "{tmp_path}/state"\n[mqtt]\nport = 8883\ntls_ca = "{ca}"\n')
    d = _cli(["doctor", "--config", str(cfg)], timeout=120)
    assert d.returncode != 0 and "mqtt.tls_ca" in d.stdout and str(ca) in d.stdout, d.stdout


# --------------------------------------------------------------------------- item 4: the poisoned queue

def test_an_undeliverable_message_is_quarantined_and_never_blocks_the_others(broker: Broker, tmp_path: Path) -> None:
    state = tmp_path / "state"
    with Outbox(state) as ob:
        # stored by an earlier version that let "nl1\n" through as a device id
        bad = ob.put("edgepose/nl1\n/session/summary", {"session_id": "s-bad", "program": "squat", "reps": 1})
        wild = ob.put("edgepose/+/event", {"kind": "x"})
        good = [ob.put("edgepose/unit-q/session/summary", {"session_id": f"s{i}", "program": "squat", "reps": i})
                for i in range(2)]
    sub = Subscriber(broker.port, ["edgepose/#"])
    try:
        env = {"EDGEPOSE_STATE": str(state)}
        p = _cli(["outbox", "flush", "--mqtt", f"127.0.0.1:{broker.port}", "--timeout", "15"], env, 90)
        assert p.returncode == 0, p.stdout + p.stderr
        assert "quarantined" in p.stdout + p.stderr
        assert sub.wait_for(lambda: {m["msg_id"] for m in sub.json("/session/summary")} >= set(good), 10)
        st = _cli(["outbox", "status"], env)
        assert "0 pending" in st.stdout and "2 quarantined" in st.stdout, st.stdout
        assert bad in st.stdout and wild in st.stdout and "topic" in st.stdout
        st = _cli(["outbox", "status", "--json"], env)
        rows = [json.loads(line) for line in st.stdout.splitlines()]
        q = {r["msg_id"]: r for r in rows if r.get("quarantined")}
        assert set(q) == {bad, wild} and all(r["reason"] for r in q.values())
    finally:
        sub.close()
    # and the device itself: a live summary behind the quarantined ones goes out at once
    with Telemetry(MqttSettings(host="127.0.0.1", port=broker.port, device_id="unit-q"), state) as t:
        assert t.wait_connected(10)
        t.publish_summary({"session_id": "s-next", "program": "squat", "reps": 5})
        assert t.flush(10)
        assert len(t.outbox.quarantined()) == 2


def test_a_message_refused_by_the_broker_is_quarantined_with_its_reason(tmp_path: Path) -> None:
    """MQTT 5 PUBACK 135 (the ACL refuses the topic): quarantined, the next message still goes."""
    if shutil.which("mosquitto_passwd") is None:
        pytest.skip("mosquitto_passwd not found (Debian 'mosquitto')")
    import re

    pw = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(pw), "unit-r", "pr"], check=True)
    acl = tmp_path / "acl"
    doc = (ROOT / "docs" / "mosquitto-acl.md").read_text()
    acl.write_text(re.search(r"```acl\n(.*?)```", doc, re.S).group(1))  # type: ignore[union-attr]
    d = tmp_path / "broker"
    d.mkdir()
    b = Broker(d, persistence=False)
    b.conf.write_text(b.conf.read_text().replace("allow_anonymous true\n", "allow_anonymous false\n")
                      + f"password_file {pw}\nacl_file {acl}\n")
    b.start()
    try:
        state = tmp_path / "state"
        with Outbox(state) as ob:
            foreign = ob.put("edgepose/someone-else/event", {"kind": "forged"})
        s = MqttSettings(host="127.0.0.1", port=b.port, device_id="unit-r", username="unit-r", password="pr")
        with Telemetry(s, state) as t:
            assert t.wait_connected(10)
            t.publish_summary({"session_id": "s-own", "program": "squat", "reps": 2})
            assert t.flush(10), t.outbox.pending()
            [q] = t.outbox.quarantined()
            assert q.msg_id == foreign and ("135" in q.reason or "authorized" in q.reason.lower()), q
    finally:
        b.stop()


# --------------------------------------------------------------------------- item 3: retained commands

def _publish(port: int, topic: str, payload: str, retain: bool) -> None:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"pub-{time.monotonic_ns()}", protocol=mqtt.MQTTv311)
    c.connect("127.0.0.1", port)
    c.loop_start()
    c.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)
    c.disconnect()
    c.loop_stop()


@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
def test_a_retained_start_does_not_start_a_session_when_serve_comes_up(broker: Broker, tmp_path: Path,
                                                                        protocol: str) -> None:
    from edgepose.appliance.app import Appliance
    from edgepose.appliance.controller import State

    video = need_data("exercise", "jump_rope_quva023.mp4")
    # e.g. a dashboard that published its start button with the retain flag
    _publish(broker.port, "edgepose/unit-rt/cmd", '{"action": "start", "request_id": "stale"}', retain=True)
    cfg = loads(headless_unit_toml("unit-rt", tmp_path, broker.port, ("jump-rope", "squat"), protocol))
    sub = Subscriber(broker.port, ["edgepose/unit-rt/cmd/result"])
    app = Appliance(cfg, source=str(video))
    states: list[State] = []
    app.controller.on_state_change(lambda ch: states.append(ch.state))
    t = threading.Thread(target=app.run, daemon=True)
    t.start()
    try:
        assert _wait_for(lambda: app.telemetry is not None and app.telemetry.commands_ready.is_set(), 10, 0.02)
        time.sleep(1.5)
        assert State.COUNTDOWN not in states and State.ACTIVE not in states, states
        assert app.controller.state is State.IDLE
        # a live (not retained) start still works
        _publish(broker.port, "edgepose/unit-rt/cmd", '{"action": "start", "request_id": "live"}', retain=False)
        assert _wait_for(lambda: State.ACTIVE in states, 10, 0.02)
        assert sub.wait_for(lambda: [r for r in sub.json("cmd/result") if r.get("request_id") == "live"], 10)
        assert all(r.get("request_id") != "stale" or not r["ok"] for r in sub.json("cmd/result"))
    finally:
        app.shutdown()
        t.join(20)
        sub.close()
    assert not t.is_alive()
