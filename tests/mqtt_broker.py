"""A real Mosquitto broker on a free loopback port, for tests (``mosquitto -c <tmpconf>``)."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

MOSQUITTO = shutil.which("mosquitto") or next(
    (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if Path(p).exists()), None)


def wait_until(pred, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    """Poll ``pred`` every 50 ms until it holds or ``timeout`` seconds pass; its last answer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return bool(pred())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Broker:
    """A mosquitto process; ``stop()``/``start()`` keep the same port and persistence file."""

    def __init__(self, workdir: Path, port: int | None = None, persistence: bool = True,
                 extra: str = "") -> None:
        self.dir = workdir
        self.port = port or free_port()
        self.conf = workdir / "mosquitto.conf"
        self.log = workdir / "mosquitto.log"
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            "max_connections -1\n"
            f"persistence {'true' if persistence else 'false'}\n"
            f"persistence_location {workdir}/\n"
            "autosave_interval 0\n"
            "user root\n"
            + extra
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10.0) -> Broker:
        assert MOSQUITTO is not None
        self._logf = open(self.log, "ab")
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)], stdout=self._logf,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited ({self.proc.returncode}): {self.log.read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"mosquitto did not listen on {self.port}: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: mosquitto saves its persistence file
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None
        if getattr(self, "_logf", None):
            self._logf.close()

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None


@pytest.fixture(name="broker")
def broker_fixture(tmp_path: Path) -> Iterator[Broker]:
    """A running broker; skipped (with the reason) when mosquitto is not installed."""
    if MOSQUITTO is None:
        pytest.skip("mosquitto binary not found (Debian package 'mosquitto'); broker tests need it")
    d = tmp_path / "broker"
    d.mkdir()
    b = Broker(d).start()
    try:
        yield b
    finally:
        b.stop()


class Subscriber:
    """A paho subscriber that records what arrives; persistent session so it survives restarts."""

    def __init__(self, port: int, topics: list[str], client_id: str = "test-sub",
                 clean: bool = False) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        self.messages: list[tuple[str, bytes, bool]] = []
        self.lock = threading.Lock()
        self.topics = topics
        self.subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                                  protocol=mqtt.MQTTv311, clean_session=clean)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *a: self.subscribed.set()
        self.client.reconnect_delay_set(0.2, 1)
        self.client.connect("127.0.0.1", port, keepalive=10)
        self.client.loop_start()
        assert self.subscribed.wait(10), "subscriber did not subscribe"

    def _on_connect(self, client, userdata, flags, reason, props):  # type: ignore[no-untyped-def]
        for t in self.topics:
            client.subscribe(t, qos=1)

    def _on_message(self, client, userdata, msg):  # type: ignore[no-untyped-def]
        with self.lock:
            self.messages.append((msg.topic, bytes(msg.payload), bool(msg.retain)))

    def json(self, suffix: str) -> list[dict]:
        with self.lock:
            return [json.loads(p) for t, p, _ in self.messages if t.endswith(suffix)]

    def wait_for(self, pred, timeout: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
        return wait_until(pred, timeout)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class V311OnlyProxy:
    """A TCP relay in front of a real broker that behaves like a broker without MQTT 5.

    A CONNECT with protocol level 5 is answered the way an MQTT 3.1.1 broker answers an unknown
    level (CONNACK return code 1, then close); anything else is relayed to the real broker.
    """

    def __init__(self, upstream_port: int) -> None:
        self.upstream = upstream_port
        self.refused_v5 = 0
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = int(self.sock.getsockname()[1])
        self._stop = False
        self._t = threading.Thread(target=self._accept, name="v311-proxy", daemon=True)
        self._t.start()

    def _accept(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    @staticmethod
    def _read(conn: socket.socket, n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = conn.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("closed")
            buf += chunk
        return buf

    def _serve(self, conn: socket.socket) -> None:
        try:
            head = self._read(conn, 1)
            length_bytes, mult, length = b"", 1, 0
            while True:  # remaining length varint
                b = self._read(conn, 1)
                length_bytes += b
                length += (b[0] & 0x7F) * mult
                mult *= 128
                if not b[0] & 0x80:
                    break
            body = self._read(conn, length)
            level = body[6] if len(body) > 6 else 0
            if head[0] >> 4 == 1 and level == 5:
                self.refused_v5 += 1
                conn.sendall(b"\x20\x02\x00\x01")
                conn.close()
                return
            up = socket.create_connection(("127.0.0.1", self.upstream))
            up.sendall(head + length_bytes + body)
        except OSError:
            conn.close()
            return

        def pump(a: socket.socket, b: socket.socket) -> None:
            try:
                while True:
                    data = a.recv(65536)
                    if not data:
                        break
                    b.sendall(data)
            except OSError:
                pass
            finally:
                for s in (a, b):
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

        threading.Thread(target=pump, args=(up, conn), daemon=True).start()
        pump(conn, up)

    def close(self) -> None:
        self._stop = True
        self.sock.close()
