"""``mqtt.hosts``: several brokers in config, checked by key, tried in turn (two real Mosquittos)."""

from __future__ import annotations

from pathlib import Path

import pytest
from mqtt_broker import MOSQUITTO, Broker, Subscriber, free_port

from edgepose.config import MqttSettings, load_config
from edgepose.errors import ConfigError
from edgepose.telemetry.publisher import Telemetry
from edgepose.telemetry.settings import settings_for_cli


def _start(d: Path) -> Broker:
    """A broker on a free port; a port taken between choosing and binding is chosen again."""
    for attempt in range(5):
        try:
            return Broker(d).start()
        except RuntimeError:
            if attempt == 4:
                raise
    raise AssertionError("unreachable")


def _cfg(tmp_path: Path, body: str) -> Path:
    p = tmp_path / "edgepose.toml"
    p.write_text("[mqtt]\n" + body)
    return p


def test_hosts_in_config_are_checked_by_key(tmp_path: Path) -> None:
    cfg = load_config(_cfg(tmp_path, 'hosts = ["mq1:1884", "mq2", "[::1]:1885"]\nport = 1999\n'))
    assert cfg.mqtt.endpoints() == [("mq1", 1884), ("mq2", 1999), ("::1", 1885)]
    assert cfg.mqtt.where == "mq1:1884, mq2:1999, [::1]:1885"
    assert load_config(_cfg(tmp_path, 'host = "b"\nport = 1884\n')).mqtt.endpoints() == [("b", 1884)]
    with pytest.raises(ConfigError, match=r"mqtt\.hosts\[1\]: broker address 'mq2:99999': port"):
        load_config(_cfg(tmp_path, 'hosts = ["mq1:1883", "mq2:99999"]\n'))
    with pytest.raises(ConfigError, match=r"mqtt\.hosts\[0\]: must be a \"HOST:PORT\" string"):
        load_config(_cfg(tmp_path, "hosts = [1883]\n"))
    with pytest.raises(ConfigError, match=r"mqtt\.hosts: expected a list"):
        load_config(_cfg(tmp_path, 'hosts = "mq1:1883"\n'))
    with pytest.raises(ConfigError, match=r"mqtt\.hosts: is set together with mqtt\.host"):
        load_config(_cfg(tmp_path, 'host = "a"\nhosts = ["b:1883"]\n'))
    # --mqtt HOST:PORT names the one broker to use
    s = settings_for_cli(_cfg(tmp_path, 'hosts = ["mq1:1883", "mq2:1883"]\n'), "other:1884")
    assert s.endpoints() == [("other", 1884)]


@pytest.mark.skipif(MOSQUITTO is None, reason="mosquitto binary not found (Debian package 'mosquitto')")
def test_device_moves_to_the_next_broker_and_its_outbox_delivers(tmp_path: Path) -> None:
    a_dir, b_dir = tmp_path / "a", tmp_path / "b"
    a_dir.mkdir()
    b_dir.mkdir()
    a, b = _start(a_dir), _start(b_dir)
    sub = Subscriber(b.port, ["edgepose/+/session/summary"], client_id="sub-b")
    hosts = (f"127.0.0.1:{free_port()}", f"127.0.0.1:{a.port}", f"127.0.0.1:{b.port}")
    t = Telemetry(MqttSettings(hosts=hosts, device_id="multi-1", keepalive=5), tmp_path / "state",
                  min_backoff=0.1, max_backoff=1.0).start()
    try:
        assert t.wait_connected(10), t.last_error
        assert t.broker == f"127.0.0.1:{a.port}", "the dead first entry is skipped"
        a.stop()
        t.session_started("s-1", "squat")
        mid = t.publish_summary({"session_id": "s-1", "program": "squat", "reps": 2, "score": 75.0,
                                 "rep_rom_deg": [80.0, 82.0]})
        assert t.flush(15), t.last_error
        assert t.broker == f"127.0.0.1:{b.port}"
        assert sub.wait_for(lambda: [m["msg_id"] for m in sub.json("/session/summary")] == [mid])
    finally:
        t.close()
        sub.close()
        a.stop()
        b.stop()
