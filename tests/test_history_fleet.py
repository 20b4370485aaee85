"""tools/fleet_sim.py with the real `edgepose ingest`: every summary stored exactly once, through a SIGKILL."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.mqtt_broker import Broker, broker_fixture  # noqa: F401  (the "broker" fixture)

REPO = Path(__file__).resolve().parents[1]


def test_fleet_into_the_database_with_a_killed_ingest(broker: Broker, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'fleet.sqlite'}"
    cmd = [sys.executable, str(REPO / "tools" / "fleet_sim.py"), "--broker", f"127.0.0.1:{broker.port}",
           "--units", "30", "--seconds", "4", "--summary-every", "1", "--live-hz", "0", "--drain", "60",
           "--ingest-db", db, "--ingest-procs", "2", "--kill-ingest-after", "1.5"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["ingest"] == "edgepose ingest" and out["ingest_kills"] == 1
    assert out["sent"] >= 90 and out["acked"] == out["sent"]
    assert out["lost"] == 0 and out["received"] == out["sent"] == out["db_rows"]
    assert out["db_duplicate_rows"] == 0
    assert len(out["per_consumer"]) == 2 and min(out["per_consumer"]) > 0  # both shared the load
