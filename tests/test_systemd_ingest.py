"""systemd/edgepose-ingest.service: sandboxed like the device unit, verified, and W^X-safe."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.mdwe import MDWE_PREAMBLE

ROOT = Path(__file__).resolve().parents[1]
UNIT = ROOT / "systemd" / "edgepose-ingest.service"
needs_analyze = pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                                   reason="systemd-analyze not installed (apt-get install systemd)")


def _kv(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "[")) and "=" in line:
            k, _, v = line.partition("=")
            out.setdefault(k.strip(), []).append(v.strip())
    return out


def _copy(tmp_path: Path, text: str | None = None) -> Path:
    exe = ROOT / ".venv" / "bin" / "edgepose"
    if not exe.exists():
        exe = Path(shutil.which("python3") or "/bin/true")
    out = tmp_path / "edgepose-ingest.service"
    out.write_text((text or UNIT.read_text()).replace("/opt/edgepose/venv/bin/edgepose", str(exe)))
    return out


def test_unit_settings() -> None:
    kv = _kv(UNIT.read_text())
    one = {k: v[-1] for k, v in kv.items()}
    assert one["Type"] == "notify" and one["Restart"] == "on-failure" and one["WatchdogSec"] == "60"
    assert one["ExecStart"] == "/opt/edgepose/venv/bin/edgepose ingest --config /etc/edgepose/ingest.toml"
    assert one["User"] == "edgepose-ingest" and one["StateDirectory"] == "edgepose-ingest"
    assert "EDGEPOSE_SCHEMAS=/opt/edgepose/src/docs/schemas" in kv["Environment"]
    for key in ("ProtectHome", "NoNewPrivileges", "PrivateTmp", "PrivateDevices", "ProtectKernelTunables",
                "ProtectKernelModules", "ProtectControlGroups", "LockPersonality", "RestrictRealtime",
                "MemoryDenyWriteExecute", "PrivateUsers"):
        assert one[key] == "yes", key
    assert one["ProtectSystem"] == "strict" and one["DevicePolicy"] == "closed"
    assert one["CapabilityBoundingSet"] == "" and one["SystemCallArchitectures"] == "native"
    assert set(one["RestrictAddressFamilies"].split()) == {"AF_UNIX", "AF_INET", "AF_INET6"}
    assert "DeviceAllow" not in kv  # no hardware at all


@needs_analyze
def test_systemd_analyze_verify(tmp_path: Path) -> None:
    p = subprocess.run(["systemd-analyze", "verify", "--man=no", str(_copy(tmp_path))],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and "edgepose-ingest.service" not in p.stderr, p.stderr
    broken = _copy(tmp_path, UNIT.read_text().replace("PrivateDevices=yes", "PrivateDevice=yes"))
    p = subprocess.run(["systemd-analyze", "verify", "--man=no", str(broken)], capture_output=True, text=True,
                       timeout=60)
    assert "PrivateDevice" in p.stderr


@needs_analyze
def test_security_exposure(tmp_path: Path) -> None:
    p = subprocess.run(["systemd-analyze", "security", "--offline=yes", "--no-pager", str(_copy(tmp_path))],
                       capture_output=True, text=True, timeout=60)
    if "--offline" in p.stderr and p.returncode != 0:
        pytest.skip(f"this systemd-analyze has no offline security mode: {p.stderr.strip()}")
    m = re.search(r"Overall exposure level for edgepose-ingest\.service: ([0-9.]+) (\w+)", p.stdout)
    assert m, p.stdout[-500:] + p.stderr
    print(f"systemd-analyze security: exposure {m.group(1)} {m.group(2)}")
    assert float(m.group(1)) <= 1.5, f"exposure {m.group(1)}; docs/staff.md records 1.1 OK"


def test_store_runs_with_write_xor_execute_memory(tmp_path: Path, pg_server) -> None:
    """MemoryDenyWriteExecute=yes must not break the ingest: SQLAlchemy, psycopg, jsonschema under PR_SET_MDWE."""
    code = r"""
import ctypes, json, mmap, sys
""" + MDWE_PREAMBLE + r"""from edgepose.history.store import open_store
from edgepose.history.validate import PayloadValidator, Accepted
p = {"schema": "edgepose.session.summary/1", "msg_id": "m", "device_id": "u", "session_id": "s",
     "program": "squat", "status": "completed", "reps": 1, "ts": 1.0}
r = PayloadValidator().check("edgepose/u/session/summary", json.dumps(p).encode())
assert isinstance(r, Accepted), r
n = 0
for url in sys.argv[1:]:
    with open_store(url) as s:
        s.add_summary(r.payload)
        n += s.count_sessions()
print("OK", n)
"""
    urls = [f"sqlite:///{tmp_path / 'h.sqlite'}", pg_server.new_database()]
    p = subprocess.run([sys.executable, "-c", code, *urls], capture_output=True, text=True, timeout=120, cwd=ROOT)
    if p.stdout.startswith(("NO-MDWE", "NOT-ENFORCED")):
        pytest.skip(f"kernel cannot enforce W^X per process here ({p.stdout.strip()})")
    assert p.returncode == 0 and p.stdout.split() == ["OK", "2"], p.stdout + p.stderr
