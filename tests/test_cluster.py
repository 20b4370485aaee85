"""edgepose on a real 3-node RabbitMQ cluster (issue 18): a node SIGKILLed mid-run loses nothing.

``tools/cluster_test.py`` starts the cluster on loopback in a temp folder, spreads 30 simulated
units over the nodes (MQTT 3.1.1), runs the AMQP ingest (quorum queue, two competing consumers,
commit then ack, history database), SIGKILLs the queue's leader node mid-run, and counts rows.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))

import rabbitmq_cluster  # noqa: E402

pytestmark = pytest.mark.skipif(rabbitmq_cluster.available() is not None,
                                reason=str(rabbitmq_cluster.available()))


def test_cluster_node_killed_mid_run_loses_and_duplicates_nothing() -> None:
    cmd = [sys.executable, str(REPO / "tools" / "cluster_test.py"), "--nodes", "3", "--units", "30",
           "--seconds", "20", "--summary-every", "2", "--kill-one", "--drain", "60"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=420, cwd=REPO)
    assert proc.stdout.strip(), proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert proc.returncode == 0, (out, proc.stderr[-3000:])
    assert out["nodes"] == 3 and out["connected"] == 30 and "RabbitMQ" in out["broker"]
    # 30 units x one summary every 2 s for 20 s (first at a random phase): ~300
    assert 240 <= out["sent"] <= 330
    assert out["lost"] == 0 and out["duplicates_stored"] == 0
    assert out["stored"] == out["sent"] == out["acked"] == out["rows"]
    assert out["killed"] is not None and out["killed_at_s"] > 0
    # every unit of the killed node (10) lost its connection and came back on another node
    assert out["reconnected_units"] >= 10 and out["still_disconnected"] == 0
    assert 0 < out["failover_s"] < 30
    assert out["queue"] == {"name": "edgepose.ingest", "type": "quorum", "members": 3}
    assert out["ingest"]["rejected"] == {} and min(out["ingest"]["per_worker"]) > 0  # wills valid too
    assert out["ingest"]["reconnects"] >= 0 and out["ingest"]["statuses"] > 0
    nodes = out["per_node"]
    assert len(nodes) == 3 and sum(n["killed"] for n in nodes) == 1
    assert all(n["rss_mb"] and n["rss_mb"] > 20 and n["cpu_pct"] is not None for n in nodes)
    # nothing of the cluster is left: no process runs from its folder, and the folder is gone
    assert out["workdir"] not in subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert not Path(out["workdir"]).exists()
