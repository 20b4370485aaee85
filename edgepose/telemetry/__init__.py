"""MQTT telemetry: publisher, durable outbox, session journal, HA discovery, commands.

Import the pieces from their modules; the most used names are re-exported here lazily so that
importing :mod:`edgepose.telemetry.settings` alone does not import paho.
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
