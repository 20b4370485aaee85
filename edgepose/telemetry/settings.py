"""Broker settings for the commands: ``HOST:PORT`` parsing and the ``[mqtt]`` table of a config
with ``--mqtt`` / ``--device-id`` on top. :class:`MqttSettings` itself is defined (and checked,
once) in :mod:`edgepose.config`; it is re-exported here.
"""

from __future__ import annotations

import os
from typing import Any

from edgepose.config import MqttSettings, load_config
from edgepose.errors import SettingsError

__all__ = ["MqttSettings", "SettingsError", "parse_hostport", "settings_for_cli"]


def parse_hostport(text: str, default_port: int = 1883) -> tuple[str, int]:
    """Split ``HOST:PORT`` (``[v6addr]:PORT`` for IPv6; port optional) into ``(host, port)``.

    Raises
    ------
    ValueError
        With the text and the expected form when it does not parse.
    """
    s = (text or "").strip()
    form = "expected HOST:PORT, e.g. 'localhost:1883' or '[::1]:1883'"
    if not s:
        raise ValueError(f"empty broker address; {form}")
    if s.startswith("["):
        end = s.find("]")
        if end < 0:
            raise ValueError(f"broker address {text!r}: missing ']'; {form}")
        host, rest = s[1:end], s[end + 1 :]
        if rest and not rest.startswith(":"):
            raise ValueError(f"broker address {text!r}: junk after ']'; {form}")
        port_s = rest[1:] if rest else ""
    elif s.count(":") == 1:
        host, port_s = s.split(":")
    elif ":" in s:
        raise ValueError(f"broker address {text!r}: put an IPv6 address in brackets; {form}")
    else:
        host, port_s = s, ""
    if not host:
        raise ValueError(f"broker address {text!r} has no host; {form}")
    if port_s == "":
        if s.endswith(":"):
            raise ValueError(f"broker address {text!r} has an empty port; {form}")
        return host, default_port
    if not port_s.isdigit() or not 1 <= int(port_s) <= 65535:
        raise ValueError(f"broker address {text!r}: port {port_s!r} is not 1..65535; {form}")
    return host, int(port_s)


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
    if device_id:
        changes["device_id"] = device_id
    return dataclasses.replace(base, **changes) if changes else base
