"""tools/fleet_sim.py against a real Mosquitto: 50 units for 3 s lose no QoS 1 summary."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from mqtt_broker import Broker, broker_fixture  # noqa: F401  (the "broker" fixture)

REPO = Path(__file__).resolve().parents[1]


def test_fleet_sim_50_units_loses_nothing(broker: Broker) -> None:
    cmd = [sys.executable, str(REPO / "tools" / "fleet_sim.py"), "--broker", f"127.0.0.1:{broker.port}",
           "--units", "50", "--seconds", "3", "--summary-every", "1", "--procs", "2", "--drain", "20"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["connected"] == 50 and out["procs"] == 2
    # every unit sends ~3 summaries (first one at a random phase within the first second)
    assert 100 <= out["sent"] <= 200
    assert out["lost"] == 0 and out["received"] == out["sent"] == out["acked"]
    assert out["live_sent"] >= 100 and out["live_received"] == out["live_sent"]
    assert sum(out["per_consumer"]) == out["live_received"] + out["received"] + out["duplicates"]
    assert min(out["per_consumer"]) > 0, "the shared subscription spreads work over both consumers"
    assert out["broker_pid"] == broker.pid and out["broker_rss_mb"] > 0
    assert out["sent_msgs_per_s"] > 50
