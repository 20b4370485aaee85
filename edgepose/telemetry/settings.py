"""Broker settings for the commands: ``HOST:PORT`` parsing and the ``[mqtt]`` table of a config
with ``--mqtt`` / ``--device-id`` on top. :class:`MqttSettings` and :func:`parse_hostport` are
defined (and checked, once) in :mod:`edgepose.telemetry.broker`; they are re-exported here.
"""

from __future__ import annotations

import os
from typing import Any

from edgepose.config import load_config
from edgepose.errors import SettingsError
from edgepose.telemetry.broker import MqttSettings, parse_hostport

__all__ = ["MqttSettings", "SettingsError", "parse_hostport", "settings_for_cli"]


def settings_for_cli(config: str | os.PathLike[str] | None, mqtt: str | None,
                     device_id: str | None = None) -> MqttSettings:
    """The broker settings a command uses: the config file's ``[mqtt]`` table, with ``--mqtt
    HOST:PORT`` and ``--device-id`` on top. The config is read when it is named, or when no
    ``--mqtt`` is given (then its defaults apply)."""
    import dataclasses

    base = MqttSettings()
    if config is not None or mqtt is None:
        base = load_config(config).mqtt or base
    changes: dict[str, Any] = {}
    if mqtt:
        changes["host"], changes["port"] = parse_hostport(mqtt)
        changes["hosts"] = ()  # --mqtt names the one broker to use
    if device_id:
        changes["device_id"] = device_id
    return dataclasses.replace(base, **changes) if changes else base
