"""The config of a headless unit for tests that run `edgepose serve` or the Appliance on a real
broker: no GPIO, display or audio, no countdown or summary pause, MQTT on a loopback port."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path


def headless_unit_toml(unit: str, state: Path | str, port: int, cycle: Sequence[str] = ("squat",),
                       protocol: str | None = None) -> str:
    """``edgepose.toml`` text for unit ``unit`` keeping its state in ``state``; ``protocol``
    ("5" or "3.1.1") only when the test picks the MQTT version."""
    toml = f"""
[device]
id = "{unit}"
state_dir = "{state}"
cache_dir = "{state}/cache"
[program]
countdown_s = 0
summary_s = 0
cycle = {json.dumps(list(cycle))}
[gpio]
enabled = false
[display]
kind = "none"
[audio]
enabled = false
[mqtt]
host = "127.0.0.1"
port = {port}
"""
    return toml + (f'protocol = "{protocol}"\n' if protocol is not None else "")
