"""The device and ``edgepose ingest --amqp`` on a real 3-node RabbitMQ 3.10 cluster (issue 18).

One device with ``mqtt.hosts`` = [a dead port, node 0, node 1, node 2] and ``protocol = "5"``:
the dead port is skipped, node 0 closes the MQTT 5 connection without a CONNACK (RabbitMQ 3.x has
no MQTT 5) and the device falls back to 3.1.1; its retained ``status`` and its Last Will work on
the node it is connected to; when node 0 is SIGKILLed the device moves to node 1 and its outbox
delivers. ``edgepose ingest --amqp`` (the quorum queue, competing consumers) stores both sessions,
and ``edgepose history --json`` lists each exactly once.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))

import rabbitmq_cluster  # noqa: E402

pytestmark = pytest.mark.skipif(rabbitmq_cluster.available() is not None,
                                reason=str(rabbitmq_cluster.available()))


class Watcher:
    """An MQTT 3.1.1 subscriber on one node, recording (topic, payload, retain)."""

    def __init__(self, port: int, topic: str, cid: str) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        self.got: list[tuple[str, dict, bool]] = []
        self.lock = threading.Lock()
        self.subscribed = threading.Event()
        self.c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=cid, protocol=mqtt.MQTTv311)
        self.c.on_message = self._on_message
        self.c.on_subscribe = lambda *a: self.subscribed.set()
        self.c.on_connect = lambda c, *a: c.subscribe(topic, qos=1)
        self.c.connect("127.0.0.1", port, keepalive=10)
        self.c.loop_start()
        assert self.subscribed.wait(20), f"no SUBACK from 127.0.0.1:{port}"

    def _on_message(self, client, userdata, msg) -> None:  # type: ignore[no-untyped-def]
        with self.lock:
            self.got.append((msg.topic, json.loads(msg.payload), bool(msg.retain)))

    def states(self) -> list[tuple[str, bool]]:
        with self.lock:
            return [(p.get("state"), r) for _, p, r in self.got]

    def wait(self, pred, timeout: float = 20.0) -> bool:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if pred():
                return True
            time.sleep(0.05)
        return bool(pred())

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


@pytest.fixture(scope="module")
def cluster() -> Iterator[rabbitmq_cluster.RabbitCluster]:
    with rabbitmq_cluster.RabbitCluster(3, memory_mb=1024, start_timeout=600.0) as c:
        yield c


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again: nothing listens there


def test_device_and_ingest_on_a_cluster_survive_a_node_death(cluster: rabbitmq_cluster.RabbitCluster,
                                                             tmp_path: Path) -> None:
    import paho.mqtt.client as mqtt

    from edgepose.config import MqttSettings
    from edgepose.telemetry.publisher import Telemetry

    n0, n1, n2 = cluster.nodes
    db = f"sqlite:///{tmp_path / 'history.sqlite'}"
    cfg = tmp_path / "ingest.toml"
    cfg.write_text(f'[ingest]\nrejected_file = "{tmp_path / "rejected.jsonl"}"\n')
    env = dict(os.environ, EDGEPOSE_STATE=str(tmp_path / "ingest-state"))
    urls = ",".join(n.amqp_url for n in cluster.nodes)
    ingest = subprocess.Popen([sys.executable, "-m", "edgepose.cli", "ingest", "--amqp", urls, "--db", db,
                               "--config", str(cfg)], cwd=REPO, env=env, stderr=subprocess.PIPE, text=True)
    watchers: list[Watcher] = []
    t = None
    try:
        line = ""
        deadline = time.monotonic() + 60
        while "consuming quorum queue" not in line and time.monotonic() < deadline:
            line = ingest.stderr.readline()
            assert line or ingest.poll() is None, "edgepose ingest --amqp exited early"
        assert "consuming quorum queue edgepose.ingest" in line, line

        hosts = [f"127.0.0.1:{_dead_port()}", n0.mqtt, n1.mqtt, n2.mqtt]
        settings = MqttSettings(hosts=tuple(hosts), device_id="clu-dev-1", protocol="5", keepalive=5)
        t = Telemetry(settings, tmp_path / "state", min_backoff=0.2, max_backoff=2.0).start()
        assert t.wait_connected(30), t.last_error
        assert t.broker == n0.mqtt, "the dead port is skipped, node 0 is next"
        assert t._protocol == mqtt.MQTTv311, "MQTT 5 refused by closing: fell back to 3.1.1"

        # retained status: on the node it was published to (RabbitMQ 3.10 keeps retained
        # messages node-locally and only for exact topic filters; see docs/scale.md)
        w0 = Watcher(n0.mqtt_port, "edgepose/clu-dev-1/status", "w0")
        watchers.append(w0)
        assert w0.wait(lambda: ("online", True) in w0.states()), w0.states()

        t.session_started("s-1", "squat")
        mid1 = t.publish_summary({"session_id": "s-1", "program": "squat", "reps": 3, "score": 80.0,
                                  "rep_rom_deg": [85.0, 90.0, 88.0]})
        assert t.flush(20), "summary 1 acknowledged by node 0 (after the quorum queue took it)"

        # node 0 dies: the device moves to the next node and its outbox delivers there
        w1 = Watcher(n1.mqtt_port, "edgepose/clu-dev-1/status", "w1")
        watchers.append(w1)
        cluster.kill(n0)
        killed = time.monotonic()
        t.session_started("s-2", "lunge")
        mid2 = t.publish_summary({"session_id": "s-2", "program": "lunge", "reps": 2, "score": 70.0,
                                  "rep_rom_deg": [80.0, 82.0]})
        assert t.wait_connected(30) and t.flush(60), t.last_error
        failover_s = time.monotonic() - killed
        assert t.broker == n1.mqtt and failover_s < 30, (t.broker, failover_s)
        assert w1.wait(lambda: ("online", False) in w1.states()), w1.states()

        # a command published on another node (2) reaches the unit on node 1, and it answers
        got: list[str] = []
        t.on_command(lambda cmd: got.append(cmd.action) or None)
        assert t.commands_ready.wait(20)
        w2 = Watcher(n2.mqtt_port, "edgepose/clu-dev-1/cmd/result", "w2")
        watchers.append(w2)
        w2.c.publish("edgepose/clu-dev-1/cmd", json.dumps({"action": "select", "program": "squat"}), qos=1)
        assert w2.wait(lambda: bool(w2.got)), "no cmd/result"
        assert got == ["select"] and w2.got[-1][1]["ok"] is True, (got, w2.got)

        # Last Will: the device's TCP connection breaks without DISCONNECT -> node 1 says offline
        sock = t._client.socket()
        sock.shutdown(socket.SHUT_RDWR)
        assert w1.wait(lambda: "offline" in [s for s, _ in w1.states()]), w1.states()
        assert w1.wait(lambda: w1.states()[-1][0] == "online"), "the device came back and said so"
        t.close()
        t = None
        assert w1.wait(lambda: w1.states()[-1][0] == "offline"), "a clean close says offline too"

        # both sessions stored exactly once (the ingest commits before it acknowledges)
        deadline = time.monotonic() + 60
        rows: list[dict] = []
        while time.monotonic() < deadline:
            out = subprocess.run([sys.executable, "-m", "edgepose.cli", "history", "--db", db, "--json"],
                                 cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
            rows = [json.loads(x) for x in out.stdout.splitlines() if x.strip()]
            if len(rows) >= 2:
                break
            time.sleep(1.0)
        assert sorted(r["msg_id"] for r in rows) == sorted([mid1, mid2]), rows
        assert {r["session_id"]: r["reps"] for r in rows} == {"s-1": 3, "s-2": 2}
    finally:
        if t is not None:
            t.close()
        for w in watchers:
            w.close()
        if ingest.poll() is None:
            ingest.terminate()
        try:
            ingest.wait(20)
        except subprocess.TimeoutExpired:
            ingest.kill()
    assert ingest.returncode == 0, ingest.stderr.read()[-2000:] if ingest.stderr else ""
