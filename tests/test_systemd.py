"""systemd integration: notify over a real AF_UNIX datagram socket, the stage watchdog, and the unit."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from edgepose.appliance.watchdog import Heartbeat, SystemdNotifier, WatchdogPinger, watchdog_interval
from tests.mdwe import MDWE_PREAMBLE

ROOT = Path(__file__).resolve().parents[1]
UNIT = ROOT / "systemd" / "edgepose.service"


@pytest.fixture
def notify_socket(tmp_path, monkeypatch):
    path = tmp_path / "notify.sock"
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    srv.bind(str(path))
    srv.settimeout(2.0)
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    yield srv
    srv.close()


def _drain(srv: socket.socket) -> list[str]:
    out = []
    srv.settimeout(0.05)
    try:
        while True:
            out.append(srv.recv(4096).decode())
    except (TimeoutError, BlockingIOError):
        return out


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_notify_messages_reach_the_socket(notify_socket):
    n = SystemdNotifier()
    assert n.enabled
    assert n.ready("warming up")
    assert notify_socket.recv(4096).decode() == "READY=1\nSTATUS=warming up"
    assert n.status("running\n2 stages")
    assert notify_socket.recv(4096).decode() == "STATUS=running 2 stages"
    assert n.watchdog()
    assert notify_socket.recv(4096).decode() == "WATCHDOG=1"
    assert n.stopping()
    assert notify_socket.recv(4096).decode() == "STOPPING=1"
    n.close()


def test_abstract_namespace_socket():
    name = f"edgepose-test-{os.getpid()}"
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    srv.bind(b"\0" + name.encode())
    srv.settimeout(2.0)
    try:
        assert SystemdNotifier("@" + name).ready()
        assert srv.recv(100) == b"READY=1"
    finally:
        srv.close()


def test_without_systemd_notify_is_a_quiet_no_op(monkeypatch):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    n = SystemdNotifier()
    assert not n.enabled and n.watchdog() is False


def test_dead_socket_warns_once_and_does_not_raise(tmp_path, caplog):
    n = SystemdNotifier(str(tmp_path / "gone.sock"))
    assert n.watchdog() is False and n.watchdog() is False
    assert len([r for r in caplog.records if "cannot notify systemd" in r.message]) == 1


def test_watchdog_interval_is_half_of_watchdog_usec():
    assert watchdog_interval({"WATCHDOG_USEC": "30000000"}) == 15.0
    assert watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}) == 15.0
    assert watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}) is None
    assert watchdog_interval({}) is None


def test_pings_only_while_every_stage_checks_in(notify_socket):
    clock = Clock()
    hb = Heartbeat(clock)
    for stage, silence in (("capture", 2.0), ("infer", 2.0), ("evaluate", 2.0), ("telemetry", 10.0)):
        hb.register(stage, silence)
    pinger = WatchdogPinger(hb, SystemdNotifier(), interval=1.0)

    sent = []
    for _ in range(5):  # all four stages healthy for 5 s
        clock.t += 1.0
        for s in ("capture", "infer", "evaluate", "telemetry"):
            hb.beat(s)
        sent.append(pinger.step())
    assert sent == [True] * 5
    assert _drain(notify_socket) == ["WATCHDOG=1"] * 5

    # infer hangs: the others keep beating, but after 2 s of silence the pings stop.
    hung = []
    for _ in range(6):
        clock.t += 1.0
        for s in ("capture", "evaluate", "telemetry"):
            hb.beat(s)
        hung.append(pinger.step())
    assert hung == [True, True, False, False, False, False]
    msgs = _drain(notify_socket)
    assert msgs.count("WATCHDOG=1") == 2
    assert [m for m in msgs if m.startswith("STATUS=")] == ["STATUS=stalled: infer silent 3.0s"], msgs
    assert hb.stale() == {"infer": 6.0}

    # infer comes back: pings resume.
    hb.beat("infer")
    assert pinger.step() is True
    assert _drain(notify_socket) == ["STATUS=running", "WATCHDOG=1"]


def test_registration_grants_start_up_time_and_unregister_stops_watching():
    clock = Clock()
    hb = Heartbeat(clock)
    hb.register("capture", 5.0)
    clock.t = 4.0
    assert hb.healthy()
    clock.t = 6.0
    assert hb.stale() == {"capture": 6.0}
    hb.unregister("capture")
    assert hb.healthy() and hb.stages == ()


def test_unknown_stage_beat_is_an_error():
    hb = Heartbeat()
    hb.register("capture", 1.0)
    with pytest.raises(KeyError, match="not registered"):
        hb.beat("captrue")
    with pytest.raises(ValueError):
        hb.register("x", 0)


def test_pinger_thread_pings_and_stops(notify_socket):
    hb = Heartbeat()
    hb.register("capture", 60.0)
    got: list[bytes] = []
    done = threading.Event()

    def reader():
        notify_socket.settimeout(3.0)
        for _ in range(3):
            got.append(notify_socket.recv(100))
        done.set()

    t = threading.Thread(target=reader)
    t.start()
    with WatchdogPinger(hb, SystemdNotifier(), interval=0.02) as p:
        assert done.wait(3.0)
        assert p._thread is not None and p._thread.name == "edgepose-watchdog"
    t.join(3.0)
    assert got == [b"WATCHDOG=1"] * 3
    assert p._thread is None


# --------------------------------------------------------------------------- the unit file


def _directives(text: str) -> list[tuple[str, str]]:
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "[")) and "=" in line:
            k, _, v = line.partition("=")
            out.append((k.strip(), v.strip()))
    return out


def _verifiable_copy(tmp_path: Path) -> Path:
    """The unit with ExecStart pointed at a binary that exists here (verify checks it)."""
    exe = ROOT / ".venv" / "bin" / "edgepose"
    if not exe.exists():
        exe = Path(shutil.which("python3") or "/bin/true")
    text = UNIT.read_text().replace("/opt/edgepose/venv/bin/edgepose", str(exe))
    out = tmp_path / "edgepose.service"
    out.write_text(text)
    return out


def test_unit_has_the_required_settings():
    d = _directives(UNIT.read_text())
    kv = {}
    for k, v in d:
        kv.setdefault(k, []).append(v)
    one = {k: v[-1] for k, v in kv.items()}
    assert one["Type"] == "notify"
    assert one["ExecStart"] == "/opt/edgepose/venv/bin/edgepose serve --config /etc/edgepose/edgepose.toml"
    assert one["WatchdogSec"] == "30" and one["Restart"] == "on-failure" and one["RestartSec"] == "5"
    assert one["User"] == "edgepose"
    assert set(one["SupplementaryGroups"].split()) == {"video", "render", "gpio", "audio", "i2c"}
    for key in ("ProtectSystem", "ProtectHome", "NoNewPrivileges", "PrivateTmp", "ProtectKernelTunables",
                "ProtectKernelModules", "ProtectControlGroups", "LockPersonality", "RestrictRealtime",
                "MemoryDenyWriteExecute"):
        assert one[key] in ("yes", "strict"), key
    assert one["ProtectSystem"] == "strict"
    assert one["StateDirectory"] == "edgepose" and one["ConfigurationDirectory"] == "edgepose"
    assert one["CacheDirectory"] == "edgepose"
    assert "EDGEPOSE_MODELS=/var/lib/edgepose/models" in kv["Environment"]
    assert one["DevicePolicy"] == "closed"
    assert one["CapabilityBoundingSet"] == ""
    assert one["SystemCallArchitectures"] == "native"
    assert set(one["RestrictAddressFamilies"].split()) == {"AF_UNIX", "AF_INET", "AF_INET6", "AF_NETLINK"}
    allows = kv["DeviceAllow"]
    for want in ("char-video4linux rw", "/dev/gpiochip0 rw", "/dev/gpiochip4 rw", "/dev/i2c-1 rw",
                 "char-alsa rw", "/dev/dma_heap/vidbuf_cached rw", "/dev/dma_heap/linux,cma rw", "char-media rw",
                 "/dev/dri/card0 rw", "/dev/dri/card1 rw", "/dev/dri/renderD128 rw"):  # the live window (KMS/DRM)
        assert want in allows, want
    assert not any(c in a for a in allows for c in "*?["), "DeviceAllow names devices, never globs"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed (apt-get install systemd)")
def test_systemd_analyze_verify_passes(tmp_path):
    unit = _verifiable_copy(tmp_path)
    p = subprocess.run(["systemd-analyze", "verify", "--man=no", str(unit)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    # Nothing at all is reported: no unknown keys, no bad values.
    assert "edgepose.service" not in p.stderr, p.stderr


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed (apt-get install systemd)")
def test_systemd_analyze_verify_catches_a_broken_unit(tmp_path):
    unit = _verifiable_copy(tmp_path)
    unit.write_text(unit.read_text().replace("ProtectSystem=strict", "ProtectSytem=strict"))
    p = subprocess.run(["systemd-analyze", "verify", "--man=no", str(unit)], capture_output=True, text=True, timeout=60)
    assert "ProtectSytem" in p.stderr


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed (apt-get install systemd)")
def test_security_exposure_is_low(tmp_path):
    unit = _verifiable_copy(tmp_path)
    p = subprocess.run(["systemd-analyze", "security", "--offline=yes", "--no-pager", str(unit)],
                       capture_output=True, text=True, timeout=60)
    if "--offline" in p.stderr and p.returncode != 0:
        pytest.skip(f"this systemd-analyze has no offline security mode: {p.stderr.strip()}")
    import re

    m = re.search(r"Overall exposure level for edgepose\.service: ([0-9.]+) (\w+)", p.stdout)
    assert m, p.stdout[-500:] + p.stderr
    level = float(m.group(1))
    print(f"systemd-analyze security: exposure {level} {m.group(2)}")
    assert level <= 2.0, f"exposure {level} ({m.group(2)}); docs/device.md records 1.6 OK"


def test_litert_runs_with_write_xor_execute_memory():
    """MemoryDenyWriteExecute=yes must not break inference: run XNNPACK under PR_SET_MDWE."""
    try:
        from edgepose.inference.models import models_dir
    except ImportError:
        pytest.skip("edgepose.inference.models is not there yet")
    model = models_dir() / "pose_landmark_full.tflite"
    if not model.is_file():
        pytest.skip(f"{model} not present (run `edgepose models fetch`)")
    code = r"""
import ctypes, mmap, sys
import numpy as np
""" + MDWE_PREAMBLE + r"""from edgepose.inference.runtime import load
m = load(sys.argv[1], threads=2)
out = m.run(np.random.default_rng(0).random((1, 256, 256, 3), dtype=np.float32))
print("OK", sum(o.size for o in out))
"""
    p = subprocess.run([sys.executable, "-c", code, str(model)], capture_output=True, text=True, timeout=120,
                       cwd=ROOT)
    if p.stdout.startswith(("NO-MDWE", "NOT-ENFORCED")):
        pytest.skip(f"kernel cannot enforce W^X per process here ({p.stdout.strip()})")
    assert p.returncode == 0 and p.stdout.startswith("OK"), p.stdout + p.stderr
    assert int(p.stdout.split()[1]) > 33 * 5
