"""The documented ACL, passwords and TLS client certificates, enforced by a real Mosquitto."""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from mqtt_broker import MOSQUITTO, Broker
from paho.mqtt.enums import CallbackAPIVersion

from edgepose.telemetry.publisher import Telemetry
from edgepose.telemetry.settings import MqttSettings

DOC = Path(__file__).resolve().parents[1] / "docs" / "mosquitto-acl.md"
PASSWD = shutil.which("mosquitto_passwd")
OPENSSL = shutil.which("openssl")

pytestmark = pytest.mark.skipif(MOSQUITTO is None, reason="mosquitto binary not found (Debian 'mosquitto')")


def _documented_acl() -> str:
    m = re.search(r"```acl\n(.*?)```", DOC.read_text(), re.S)
    assert m, f"{DOC} has no ```acl block"
    return m.group(1)


def _client(port: int, user: str, password: str | None = None, **tls: str) -> tuple[mqtt.Client, list]:
    acks: list = []
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{user}-probe", protocol=mqtt.MQTTv5)
    if password is not None:
        c.username_pw_set(user, password)
    if tls:
        c.tls_set(**tls)
    ready = threading.Event()
    c.on_connect = lambda *a: ready.set()
    c.on_publish = lambda _c, _u, mid, reason, props: acks.append((mid, reason.value))
    c.connect("127.0.0.1", port)
    c.loop_start()
    assert ready.wait(10)
    return c, acks


def test_password_and_documented_acl_confine_a_unit(tmp_path: Path) -> None:
    if PASSWD is None:
        pytest.skip("mosquitto_passwd not found (Debian 'mosquitto'); needed to write the password file")
    pw = tmp_path / "passwd"
    users = {"unit-a": "pa", "unit-b": "pb", "dashboard": "pd"}
    for i, (u, p) in enumerate(users.items()):
        subprocess.run([PASSWD, "-b"] + (["-c"] if i == 0 else []) + [str(pw), u, p], check=True)
    acl = tmp_path / "acl"
    acl.write_text(_documented_acl())
    d = tmp_path / "broker"
    d.mkdir()
    b = Broker(d, persistence=False)
    b.conf.write_text(b.conf.read_text().replace("allow_anonymous true\n", "allow_anonymous false\n")
                      + f"password_file {pw}\nacl_file {acl}\n")
    b.start()
    try:
        # wrong password: refused, and the publisher says so instead of claiming to be online
        bad = Telemetry(MqttSettings(host="127.0.0.1", port=b.port, device_id="unit-a", username="unit-a",
                                     password="wrong"), tmp_path / "bad", min_backoff=0.2).start()
        time.sleep(1.0)
        assert not bad.connected and "refused" in (bad.last_error or "")
        bad.close()

        watcher = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="dash", protocol=mqtt.MQTTv311)
        seen: list[str] = []
        watcher.username_pw_set("dashboard", "pd")
        watcher.on_message = lambda _c, _u, m: seen.append(m.topic)
        watcher.on_connect = lambda c, *a: c.subscribe("edgepose/#", qos=1)
        watcher.connect("127.0.0.1", b.port)
        watcher.loop_start()
        time.sleep(0.3)

        s = MqttSettings(host="127.0.0.1", port=b.port, device_id="unit-a", username="unit-a", password="pa")
        with Telemetry(s, tmp_path / "a") as t:
            assert t.wait_connected(10)
            t.publish_summary({"session_id": "s1", "program": "squat", "reps": 3})
            assert t.flush(10), "own topics are allowed"
        # unit-b tries to forge a summary for unit-a: the broker refuses (MQTT 5 reason 135)
        c, acks = _client(b.port, "unit-b", "pb")
        info = c.publish("edgepose/unit-a/session/summary", b'{"forged":true}', qos=1)
        deadline = time.monotonic() + 5
        while not acks and time.monotonic() < deadline:
            time.sleep(0.05)
        c.disconnect()
        c.loop_stop()
        assert acks == [(info.mid, 135)], acks
        time.sleep(0.3)
        watcher.disconnect()
        watcher.loop_stop()
        assert seen.count("edgepose/unit-a/session/summary") == 1
        assert "edgepose/unit-a/status" in seen
    finally:
        b.stop()


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run([OPENSSL, *args], cwd=cwd, check=True, capture_output=True)


def test_tls_with_client_certificate_as_identity(tmp_path: Path) -> None:
    if OPENSSL is None:
        pytest.skip("openssl not found; needed to make a throwaway CA for the TLS test")
    c = tmp_path / "pki"
    c.mkdir()
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=edgepose test CA", cwd=c)
    for name, cn in (("broker", "localhost"), ("unit", "unit-t")):
        _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                 "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={cn}", cwd=c)
        ext = c / f"{name}.ext"
        ext.write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n" if name == "broker" else
                       "extendedKeyUsage=clientAuth\n")
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                 "-out", f"{name}.crt", "-days", "2", "-extfile", str(ext), cwd=c)
    acl = tmp_path / "acl"
    acl.write_text(_documented_acl())
    d = tmp_path / "broker"
    d.mkdir()
    b = Broker(d, persistence=False)
    tls_port = b.port
    b.conf.write_text(
        f"listener {tls_port} 127.0.0.1\nallow_anonymous false\nrequire_certificate true\n"
        f"use_identity_as_username true\ncafile {c / 'ca.crt'}\ncertfile {c / 'broker.crt'}\n"
        f"keyfile {c / 'broker.key'}\nacl_file {acl}\npersistence false\nuser root\n")
    b.start()
    try:
        s = MqttSettings(host="127.0.0.1", port=tls_port, device_id="unit-t", tls_ca=str(c / "ca.crt"),
                         tls_cert=str(c / "unit.crt"), tls_key=str(c / "unit.key"))
        assert s.tls
        with Telemetry(s, tmp_path / "state") as t:
            assert t.wait_connected(10), t.last_error
            t.publish_summary({"session_id": "s-tls", "program": "squat", "reps": 1})
            assert t.flush(10)
            assert t.outbox.count() == 0
        # without a client certificate the TLS listener refuses the connection
        nocert = Telemetry(MqttSettings(host="127.0.0.1", port=tls_port, device_id="unit-t",
                                        tls_ca=str(c / "ca.crt")), tmp_path / "nocert", min_backoff=0.2).start()
        time.sleep(1.0)
        assert not nocert.connected and "before accepting" in (nocert.last_error or "")
        nocert.close()
    finally:
        b.stop()
