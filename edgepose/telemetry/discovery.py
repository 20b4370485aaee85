"""Home Assistant MQTT discovery: the unit appears with sensors and buttons, no setup needed.

Configs are published retained under ``homeassistant/<component>/<node>/<object>/config`` each
time the unit connects. Availability follows the unit's retained ``status`` topic (its Last Will
turns it ``offline``).
"""

from __future__ import annotations

import json
from typing import Any

from edgepose.telemetry.settings import MqttSettings

DISCOVERY_PREFIX = "homeassistant"

# object id -> (name, source topic suffix, value template, extra keys)
_SENSORS: dict[str, tuple[str, str, str, dict[str, Any]]] = {
    "state": ("State", "session/live", "{{ value_json.state }}", {"icon": "mdi:run"}),
    "program": ("Program", "session/live", "{{ value_json.program }}", {"icon": "mdi:clipboard-list"}),
    "reps": ("Reps", "session/live", "{{ value_json.reps }}",
             {"state_class": "measurement", "unit_of_measurement": "reps", "icon": "mdi:counter"}),
    "score": ("Score", "session/live", "{{ value_json.score }}",
              {"state_class": "measurement", "unit_of_measurement": "%", "icon": "mdi:star"}),
    "last_session": ("Last session", "session/summary", "{{ value_json.reps }}",
                     {"json_attributes_topic_suffix": "session/summary", "unit_of_measurement": "reps",
                      "icon": "mdi:history"}),
}


def _node(settings: MqttSettings) -> str:
    return f"edgepose_{settings.device_id}"  # HA allows [A-Za-z0-9_-] here, so ACLs can use %u


def discovery_messages(settings: MqttSettings, firmware: str, model: str | None = None
                       ) -> list[tuple[str, dict[str, Any]]]:
    """``(topic, config)`` pairs to publish retained when the unit connects."""
    node = _node(settings)
    device = {
        "identifiers": [node],
        "name": f"edgepose {settings.device_id}",
        "manufacturer": "edgepose",
        "model": model or "edgepose appliance",
        "sw_version": firmware,
    }
    availability = [{
        "topic": settings.topic("status"),
        "value_template": "{{ value_json.state }}",
        "payload_available": "online",
        "payload_not_available": "offline",
    }]
    out: list[tuple[str, dict[str, Any]]] = []
    for obj, (name, suffix, tmpl, extra) in _SENSORS.items():
        cfg: dict[str, Any] = {
            "name": name,
            "unique_id": f"{node}_{obj}",
            "object_id": f"{node}_{obj}",
            "state_topic": settings.topic(*suffix.split("/")),
            "value_template": tmpl,
            "availability": availability,
            "device": device,
        }
        extra = dict(extra)
        attrs = extra.pop("json_attributes_topic_suffix", None)
        if attrs:
            cfg["json_attributes_topic"] = settings.topic(*attrs.split("/"))
        cfg.update(extra)
        out.append((f"{DISCOVERY_PREFIX}/sensor/{node}/{obj}/config", cfg))
    for action in ("start", "stop"):
        cfg = {
            "name": action.capitalize(),
            "unique_id": f"{node}_{action}",
            "object_id": f"{node}_{action}",
            "command_topic": settings.topic("cmd"),
            "payload_press": json.dumps({"action": action, "request_id": f"ha-{action}"}),
            "retain": False,  # a retained command would replay; the unit ignores retained commands anyway
            "availability": availability,
            "device": device,
            "icon": "mdi:play" if action == "start" else "mdi:stop",
        }
        out.append((f"{DISCOVERY_PREFIX}/button/{node}/{action}/config", cfg))
    return out
