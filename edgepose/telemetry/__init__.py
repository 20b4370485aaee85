"""MQTT telemetry: publisher, durable outbox, session journal, HA discovery, commands.

Import the pieces from their modules; the most used names are re-exported here lazily so that
importing :mod:`edgepose.telemetry.settings` alone does not import paho.

Use from the appliance::

    with Telemetry(cfg.mqtt, state_dir(), model="pose_landmark_full") as tel:   # start(): connect in bg
        tel.on_command(controller.apply_command)        # Command -> None | error string
        tel.session_started(session_id, program)        # journaled: a crash reports "interrupted"
        tel.publish_live({"session_id": ..., "program": ..., "state": "active", "reps": n, "score": s})
        tel.publish_summary({**session.summary(), "session_id": session_id, "status": "completed"})
        tel.publish_event({"kind": "camera_lost", "level": "error", "message": "..."})
    # close(): offline status, disconnect; anything unacknowledged stays in the outbox
"""

from __future__ import annotations

from typing import Any

from edgepose.telemetry.settings import MqttSettings, parse_hostport
from edgepose.telemetry.state import state_dir

__all__ = ["MqttSettings", "parse_hostport", "state_dir", "Telemetry", "Outbox", "SessionJournal"]


def __getattr__(name: str) -> Any:
    if name == "Telemetry":
        from edgepose.telemetry.publisher import Telemetry
        return Telemetry
    if name == "Outbox":
        from edgepose.telemetry.outbox import Outbox
        return Outbox
    if name == "SessionJournal":
        from edgepose.telemetry.journal import SessionJournal
        return SessionJournal
    raise AttributeError(name)
