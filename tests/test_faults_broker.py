"""Issue 12, items 5-7 against a real Mosquitto: TLS files checked at load, a real MQTT CONNECT in
the broker check naming what was refused, and the MQTT 5 Maximum Packet Size on the client."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from mqtt_broker import MOSQUITTO, Broker, free_port

from edgepose.telemetry.errors import SettingsError
from edgepose.telemetry.probe import probe_broker
from edgepose.telemetry.settings import MqttSettings

PASSWD = shutil.which("mosquitto_passwd")
OPENSSL = shutil.which("openssl")
ACL = Path(__file__).resolve().parents[1] / "docs" / "mosquitto-acl.md"

pytestmark = pytest.mark.skipif(MOSQUITTO is None or PASSWD is None or OPENSSL is None,
                                reason="needs mosquitto, mosquitto_passwd and openssl (Debian 'mosquitto', 'openssl')")


def _openssl(cwd: Path, *args: str) -> None:
    subprocess.run([OPENSSL, *args], cwd=cwd, check=True, capture_output=True)


def make_ca(d: Path, name: str) -> None:
    _openssl(d, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", f"{name}.key", "-out", f"{name}.crt", "-days", "2", "-subj", f"/CN={name}")


def make_cert(d: Path, ca: str, name: str, ext: str) -> None:
    _openssl(d, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}")
    (d / f"{name}.ext").write_text(ext + "\n")
    _openssl(d, "x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key",
             "-CAcreateserial", "-out", f"{name}.crt", "-days", "2", "-extfile", f"{name}.ext")


@dataclass
class Site:
    pki: Path
    plain: int
    tls: int
    broker: Broker

    def settings(self, **kw: object) -> MqttSettings:
        base: dict[str, object] = {"host": "localhost", "port": self.tls, "device_id": "unit-a", "username": "unit-a",
                                   "password": "pa", "tls_ca": str(self.pki / "ca.crt")}
        base.update(kw)
        return MqttSettings(**base)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("site")
    pki = root / "pki"
    pki.mkdir()
    make_ca(pki, "ca")
    make_ca(pki, "other-ca")
    # the broker's certificate names only "localhost": 127.0.0.1 is a host name mismatch
    make_cert(pki, "ca", "broker", "subjectAltName=DNS:localhost")
    make_cert(pki, "ca", "unit-c", "extendedKeyUsage=clientAuth")
    pw = root / "passwd"
    subprocess.run([PASSWD, "-b", "-c", str(pw), "unit-a", "pa"], check=True)
    acl = root / "acl"
    import re

    acl.write_text(re.search(r"```acl\n(.*?)```", ACL.read_text(), re.S).group(1))  # type: ignore[union-attr]
    d = root / "broker"
    d.mkdir()
    b = Broker(d, persistence=False)
    plain, tls = b.port, free_port()
    b.conf.write_text(
        f"per_listener_settings false\nallow_anonymous false\npassword_file {pw}\nacl_file {acl}\n"
        "persistence false\nuser root\n"
        f"listener {plain} 127.0.0.1\n"
        f"listener {tls} 127.0.0.1\ncafile {pki / 'ca.crt'}\ncertfile {pki / 'broker.crt'}\n"
        f"keyfile {pki / 'broker.key'}\n")
    b.start()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # the TLS listener comes up with the plain one; be sure
        try:
            import socket

            socket.create_connection(("127.0.0.1", tls), 0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    try:
        yield Site(pki, plain, tls, b)
    finally:
        b.stop()


# --------------------------------------------------------------------------- TLS files at load

def test_tls_ca_that_is_not_a_certificate_is_refused_naming_key_and_file(tmp_path: Path) -> None:
    junk = tmp_path / "ca.crt"
    junk.write_text("this is not a certificate\n")
    with pytest.raises(SettingsError, match=r"tls_ca: .*ca\.crt is not a CA certificate"):
        MqttSettings(tls_ca=str(junk))
    empty = tmp_path / "empty.pem"
    empty.write_bytes(b"")
    with pytest.raises(SettingsError, match="tls_ca"):
        MqttSettings(tls_ca=str(empty))


def test_unreadable_and_mismatched_client_files_are_refused(site: Site, tmp_path: Path) -> None:
    ca = str(site.pki / "ca.crt")
    # a key that is not the certificate's
    with pytest.raises(SettingsError, match=r"tls_key: .*broker\.key is not the private key"):
        MqttSettings(tls_ca=ca, tls_cert=str(site.pki / "unit-c.crt"), tls_key=str(site.pki / "broker.key"))
    # a certificate file that is not one
    bad = tmp_path / "cert.pem"
    bad.write_text("nope")
    with pytest.raises(SettingsError, match=r"tls_cert: .*cert\.pem"):
        MqttSettings(tls_ca=ca, tls_cert=str(bad), tls_key=str(site.pki / "unit-c.key"))
    # a key with a passphrase: the device cannot type it, so it is refused now, not at connect
    enc = tmp_path / "enc.key"
    _openssl(tmp_path, "pkey", "-in", str(site.pki / "unit-c.key"), "-out", str(enc), "-aes256",
             "-passout", "pass:secret")
    with pytest.raises(SettingsError, match="passphrase"):
        MqttSettings(tls_ca=ca, tls_cert=str(site.pki / "unit-c.crt"), tls_key=str(enc))
    # missing file
    with pytest.raises(SettingsError, match=r"tls_key: file .*absent\.key does not exist"):
        MqttSettings(tls_ca=ca, tls_cert=str(site.pki / "unit-c.crt"), tls_key=str(tmp_path / "absent.key"))


def test_unreadable_ca_is_refused_for_the_service_user(site: Site, tmp_path: Path) -> None:
    """Check as user nobody in a forked child (as root every file is readable)."""
    import os

    locked = tmp_path / "locked.crt"
    shutil.copy(site.pki / "ca.crt", locked)
    locked.chmod(0o600)
    for d in (tmp_path, *tmp_path.parents):  # nobody must reach the file to be refused by its mode
        if d != Path("/"):
            d.chmod(d.stat().st_mode | 0o011)
    if os.geteuid() != 0:  # already not root: the mode alone makes it unreadable
        locked.chmod(0)
        with pytest.raises(SettingsError, match="cannot read"):
            MqttSettings(tls_ca=str(locked))
        return
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: drop to nobody and run the check
        code = 1
        try:
            os.setgid(65534)
            os.setuid(65534)
            try:
                MqttSettings(tls_ca=str(locked))
                os.write(w, b"accepted")
            except SettingsError as e:
                os.write(w, str(e).encode())
                code = 3
        finally:
            os._exit(code)
    os.close(w)
    _, status = os.waitpid(pid, 0)
    msg = os.read(r, 4096).decode()
    os.close(r)
    assert os.waitstatus_to_exitcode(status) == 3, msg
    assert "tls_ca" in msg and "cannot read" in msg and str(locked) in msg, msg


# --------------------------------------------------------------------------- the probe

def test_probe_accepts_the_right_settings(site: Site) -> None:
    r = probe_broker(site.settings())
    assert r.ok, r.detail
    assert "accepted MQTT 5 CONNECT" in r.detail and "TLS" in r.detail


def test_probe_names_a_wrong_ca(site: Site) -> None:
    r = probe_broker(site.settings(tls_ca=str(site.pki / "other-ca.crt")))
    assert not r.ok and "not signed by the CA in mqtt.tls_ca" in r.detail and "other-ca.crt" in r.detail, r.detail


def test_probe_names_a_host_name_mismatch(site: Site) -> None:
    r = probe_broker(site.settings(host="127.0.0.1"))
    assert not r.ok and "does not cover the host name '127.0.0.1'" in r.detail, r.detail


def test_probe_names_tls_to_a_plain_port(site: Site) -> None:
    r = probe_broker(site.settings(port=site.plain), timeout=3)
    assert not r.ok and "does not seem to speak TLS" in r.detail, r.detail


def test_probe_names_plain_to_a_tls_port(site: Site) -> None:
    r = probe_broker(site.settings(tls_ca=None), timeout=3)
    assert not r.ok and "may expect TLS" in r.detail, r.detail


def test_probe_names_a_bad_password(site: Site) -> None:
    r = probe_broker(site.settings(password="wrong"))
    # Mosquitto answers a wrong password with "Not authorized" (MQTT 5 reason 135)
    assert not r.ok and "refused user 'unit-a'" in r.detail and "mqtt.password" in r.detail, r.detail


def test_probe_names_a_username_that_differs_from_the_device_id(site: Site) -> None:
    r = probe_broker(site.settings(device_id="unit-x"))
    assert not r.ok and "not authorized" in r.detail, r.detail
    assert "differs from the device id 'unit-x'" in r.detail and "edgepose/unit-x/event" in r.detail


def test_publisher_names_the_likely_cause_of_not_authorized(site: Site, tmp_path: Path) -> None:
    """Mosquitto accepts the CONNECT and refuses each message (PUBACK 135): the summary stays
    queued (the message is fine, the username is not) and the error names the likely cause."""
    from edgepose.telemetry.publisher import Telemetry

    t = Telemetry(site.settings(device_id="unit-x"), tmp_path / "state", min_backoff=0.2).start()
    try:
        assert t.wait_connected(10)
        mid = t.publish_summary({"session_id": "s-acl", "program": "squat", "reps": 2})
        assert not t.flush(3)
        assert "differs from the device id 'unit-x'" in (t.last_error or ""), t.last_error
        assert [m.msg_id for m in t.outbox.pending()] == [mid] and t.outbox.quarantined() == []
    finally:
        t.close()


# --------------------------------------------------------------------------- maximum packet size

_PUBLISH = """
import sys, paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
port, topic, payload = int(sys.argv[1]), sys.argv[2], sys.argv[3]
data = open(payload[1:], "rb").read() if payload.startswith("@") else payload.encode()
c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="big-pub", protocol=mqtt.MQTTv5)
c.connect("127.0.0.1", port)
c.loop_start()
c.publish(topic, data, qos=1).wait_for_publish(60)
c.disconnect()
c.loop_stop()
"""


# The device in a process of its own, so that its memory is only its own (measured in the test
# process, the other tests' threads and caches moved it by 11 MiB in a full run). It prints its
# peak RSS (VmHWM) once connected, waits for a line on stdin, then prints the commands it got,
# its peak RSS and whether it is still connected.
_DEVICE = """
import json, sys
from pathlib import Path
from edgepose.telemetry.publisher import Telemetry
from edgepose.telemetry.settings import MqttSettings

def hwm():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])

port, state = int(sys.argv[1]), Path(sys.argv[2])
t = Telemetry(MqttSettings(host="127.0.0.1", port=port, device_id="unit-m"), state)
got = []
t.on_command(lambda cmd: got.append(cmd.action))
t.start()
ok = t.wait_connected(10) and t.commands_ready.wait(10)
print(json.dumps({"ready": bool(ok), "hwm_kib": hwm()}), flush=True)
sys.stdin.readline()
print(json.dumps({"got": got, "hwm_kib": hwm(), "connected": t.connected}), flush=True)
t.close()
"""


@pytest.mark.parametrize("size_mib", [32])
def test_oversized_command_never_reaches_the_device(tmp_path: Path, size_mib: int) -> None:
    """The client announces Maximum Packet Size in CONNECT: Mosquitto drops a bigger PUBLISH for
    it instead of delivering, so the device neither buffers it nor answers it; a normal command
    right after still works."""
    import json

    from mqtt_broker import Subscriber

    d = tmp_path / "broker"
    d.mkdir()
    b = Broker(d, persistence=False).start()
    sub = Subscriber(b.port, ["edgepose/unit-m/cmd/result"])
    dev = subprocess.Popen([sys.executable, "-c", _DEVICE, str(b.port), str(tmp_path / "state")],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                           cwd=Path(__file__).resolve().parents[1])
    try:
        first = json.loads(dev.stdout.readline())
        assert first["ready"], "the device did not connect and subscribe to its commands"
        big = tmp_path / "big.json"
        with open(big, "wb") as fh:
            fh.write(b'{"action":"start","pad":"' + b"x" * (size_mib << 20) + b'"}')
        for payload in (f"@{big}", '{"action":"stop","request_id":"after"}'):
            subprocess.run([sys.executable, "-c", _PUBLISH, str(b.port), "edgepose/unit-m/cmd", payload],
                           check=True, timeout=120)
        assert sub.wait_for(lambda: sub.json("cmd/result"), 10)
        time.sleep(0.5)
        results = sub.json("cmd/result")
        assert [r.get("request_id") for r in results] == ["after"], results
        dev.stdin.write("done\n")
        dev.stdin.flush()
        last = json.loads(dev.stdout.readline())
        assert last["got"] == ["stop"], last
        grew = (last["hwm_kib"] - first["hwm_kib"]) / 1024
        assert grew < size_mib / 4, f"device's peak memory grew {grew:.1f} MiB for a {size_mib} MiB command"
        assert last["connected"], "the device stays connected"
        assert dev.wait(15) == 0
    finally:
        if dev.poll() is None:
            dev.kill()
        sub.close()
        b.stop()


def test_broker_check_in_doctor_does_a_real_connect(site: Site, tmp_path: Path) -> None:
    """doctor's broker line comes from the probe: a wrong password is a warning naming it."""
    from edgepose.appliance.doctor import check_broker
    from edgepose.config import loads

    cfg = loads(f'[device]\nid = "unit-a"\nstate_dir = "{tmp_path}"\n[mqtt]\nhost = "localhost"\n'
                f'port = {site.tls}\nusername = "unit-a"\npassword = "wrong"\ntls_ca = "{site.pki / "ca.crt"}"\n')
    c = check_broker(cfg)
    assert not c.ok and "mqtt.password" in c.detail, c.detail
    cfg = loads(f'[device]\nid = "unit-a"\nstate_dir = "{tmp_path}"\n[mqtt]\nhost = "localhost"\n'
                f'port = {site.tls}\nusername = "unit-a"\npassword = "pa"\ntls_ca = "{site.pki / "ca.crt"}"\n')
    c = check_broker(cfg)
    assert c.ok and "CONNECT" in c.detail, c.detail

