"""systemd/edgepose-dashboard.service: sandboxed like the device unit, verifies, low exposure, and the
dashboard's native code (argon2, reportlab, uvicorn, SQLAlchemy) runs under W^X memory."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.mdwe import MDWE_PREAMBLE

ROOT = Path(__file__).resolve().parents[1]
UNIT = ROOT / "systemd" / "edgepose-dashboard.service"


def _kv() -> dict[str, str]:
    out = {}
    for line in UNIT.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "[")) and "=" in line:
            k, _, v = line.partition("=")
            out[k.strip()] = v.strip()
    return out


def test_unit_settings() -> None:
    kv = _kv()
    assert kv["ExecStart"] == "/opt/edgepose/venv/bin/edgepose dashboard --config /etc/edgepose/dashboard.toml"
    for key in ("NoNewPrivileges", "PrivateTmp", "PrivateDevices", "ProtectKernelTunables", "ProtectKernelModules",
                "ProtectControlGroups", "LockPersonality", "RestrictRealtime", "MemoryDenyWriteExecute", "PrivateUsers"):
        assert kv[key] == "yes", key
    assert kv["ProtectSystem"] == "strict" and kv["CapabilityBoundingSet"] == ""
    assert set(kv["RestrictAddressFamilies"].split()) == {"AF_UNIX", "AF_INET", "AF_INET6"}
    assert kv["StateDirectory"] == "edgepose-ingest" and kv["User"] == "edgepose-ingest"


def _copy(tmp_path: Path) -> Path:
    exe = ROOT / ".venv" / "bin" / "edgepose"
    text = UNIT.read_text().replace("/opt/edgepose/venv/bin/edgepose", str(exe if exe.exists() else "/bin/true"))
    out = tmp_path / "edgepose-dashboard.service"
    out.write_text(text)
    return out


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed (apt-get install systemd)")
def test_verify_and_exposure(tmp_path: Path) -> None:
    unit = _copy(tmp_path)
    p = subprocess.run(["systemd-analyze", "verify", "--man=no", str(unit)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and "edgepose-dashboard.service" not in p.stderr, p.stderr
    p = subprocess.run(["systemd-analyze", "security", "--offline=yes", "--no-pager", str(unit)],
                       capture_output=True, text=True, timeout=60)
    if "--offline" in p.stderr and p.returncode != 0:
        pytest.skip(f"no offline security mode: {p.stderr.strip()}")
    m = re.search(r"Overall exposure level for edgepose-dashboard\.service: ([0-9.]+) (\w+)", p.stdout)
    assert m, p.stdout[-500:] + p.stderr
    print(f"systemd-analyze security: exposure {m.group(1)} {m.group(2)}")
    assert float(m.group(1)) <= 2.0


def test_dashboard_code_runs_with_write_xor_execute_memory(tmp_path: Path) -> None:
    code = r"""
import ctypes, mmap, sys
""" + MDWE_PREAMBLE + r"""import datetime as dt
from edgepose.dashboard import auth, reports
from edgepose.dashboard.web import make_env
from edgepose.history.store import open_store, ClientRecord
import uvicorn, h11, starlette.applications  # noqa
h = auth.hash_password("a long enough secret"); assert auth.verify_password(h, "a long enough secret")
now = dt.datetime.now(dt.UTC)
pdf = reports.client_pdf(ClientRecord("C-1", now, 1950, "f", None), [], {}, "", "", {}, "x")
st = open_store("sqlite:///" + sys.argv[1]); st.add_client("C-2"); st.close()
make_env().get_template("login.html")
print("OK", len(pdf))
"""
    p = subprocess.run([sys.executable, "-c", code, str(tmp_path / "h.sqlite")], capture_output=True, text=True,
                       timeout=120, cwd=ROOT)
    if p.stdout.startswith(("NO-MDWE", "NOT-ENFORCED")):
        pytest.skip(f"kernel cannot enforce W^X per process here ({p.stdout.strip()})")
    assert p.returncode == 0 and p.stdout.startswith("OK"), p.stdout + p.stderr
