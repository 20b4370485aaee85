"""Memory of a unit sent one oversized command: MQTT 5 (Maximum Packet Size announced) vs 3.1.1.

Starts a throwaway Mosquitto on a free loopback port, runs a unit (``Telemetry``) in a child
process, publishes one ``SIZE`` MiB payload on its ``cmd`` topic followed by a small ``stop``,
and prints the unit's RSS before, its peak (VmHWM) and whether the big command reached it. The
3.1.1 run is the baseline: that protocol has no Maximum Packet Size, so the broker delivers the
whole payload and the unit buffers it before its 4 KiB check refuses it.

    .venv/bin/python tools/oversize_command.py --mib 200
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

UNIT = r"""
import json, logging, sys, time
from pathlib import Path
from edgepose.telemetry.publisher import Telemetry
from edgepose.telemetry.settings import MqttSettings

def mb(key):
    line = [l for l in Path("/proc/self/status").read_text().splitlines() if l.startswith(key)][0]
    return int(line.split()[1]) // 1024

port, protocol, state = int(sys.argv[1]), sys.argv[2], sys.argv[3]
got, refused = [], []
class Seen(logging.Handler):
    def emit(self, record):
        if "payload is" in record.getMessage():
            refused.append(record.getMessage())
logging.getLogger("edgepose.telemetry.commands").addHandler(Seen())
t = Telemetry(MqttSettings(host="127.0.0.1", port=port, device_id="big-unit", protocol=protocol), state)
t.on_command(lambda c: got.append(c.action))
t.start()
assert t.wait_connected(10) and t.commands_ready.wait(10)
before = mb("VmRSS")
print("ready", flush=True)
deadline = time.time() + 300
while time.time() < deadline and "stop" not in got:
    time.sleep(0.2)
print(json.dumps({"rss_before_mb": before, "peak_mb": mb("VmHWM"), "commands": got, "refused": refused,
                  "connected": t.connected}))
t.close()
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run(protocol: str, mib: int, port: int, work: Path) -> dict:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    unit = subprocess.Popen([sys.executable, "-c", UNIT, str(port), protocol, str(work / f"state-{protocol}")],
                            stdout=subprocess.PIPE, text=True)
    assert unit.stdout is not None
    assert unit.stdout.readline().strip() == "ready"
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="oversize-pub", protocol=mqtt.MQTTv5)
    c.connect("127.0.0.1", port)
    c.loop_start()
    t0 = time.monotonic()
    c.publish("edgepose/big-unit/cmd", b'{"action":"start","pad":"' + b"x" * (mib << 20) + b'"}',
              qos=1).wait_for_publish(600)
    c.publish("edgepose/big-unit/cmd", b'{"action":"stop"}', qos=1).wait_for_publish(30)
    sent_s = time.monotonic() - t0
    c.disconnect()
    c.loop_stop()
    out = json.loads(unit.stdout.readline())
    unit.wait(30)
    out.update({"protocol": protocol, "mib": mib, "publish_s": round(sent_s, 1),
                "big_command_delivered": bool(out.pop("refused"))})
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mib", type=int, default=200, help="size of the oversized command in MiB (default 200)")
    args = ap.parse_args()
    mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    with tempfile.TemporaryDirectory(prefix="oversize-") as d:
        work = Path(d)
        port = free_port()
        conf = work / "m.conf"
        conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nuser root\n")
        broker = subprocess.Popen([mosquitto, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(0.5)
            rows = [run(p, args.mib, port, work) for p in ("5", "3.1.1")]
        finally:
            broker.terminate()
            broker.wait(10)
    for r in rows:
        print(json.dumps(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
