"""MQTT connection settings, validated as data before anything connects."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from edgepose.telemetry.errors import SettingsError

# A device id becomes one MQTT topic level and a Home Assistant object id: keep it plain.
_DEVICE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_TOPIC_LEVELS = re.compile(r"^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$")


@dataclass
class MqttSettings:
    """Everything the publisher needs to reach a broker.

    Field names match the keys of the config file's ``[mqtt]`` table.
    """

    host: str = "localhost"
    port: int = 1883
    device_id: str = "edgepose"
    base_topic: str = "edgepose"
    username: str | None = None
    password: str | None = None
    tls_ca: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    keepalive: int = 30
    protocol: str = "5"
    enabled: bool = True
    export_keypoints: bool = False

    def __post_init__(self) -> None:
        def bad(key: str, msg: str) -> SettingsError:
            return SettingsError(f"[mqtt] {key}: {msg}")

        if not isinstance(self.host, str) or not self.host.strip():
            raise bad("host", f"must be a non-empty host name or address, got {self.host!r}")
        if isinstance(self.port, bool) or not isinstance(self.port, int) or not 1 <= self.port <= 65535:
            raise bad("port", f"must be an integer 1..65535, got {self.port!r}")
        if not isinstance(self.device_id, str) or not _DEVICE_ID.match(self.device_id):
            raise bad(
                "device_id",
                f"{self.device_id!r} is not usable as a topic level; use 1-64 of A-Z a-z 0-9 _ - "
                "(starting with a letter or digit), e.g. 'gym-pi-01'",
            )
        if not isinstance(self.base_topic, str) or not _TOPIC_LEVELS.match(self.base_topic):
            raise bad(
                "base_topic",
                f"{self.base_topic!r} must be topic levels of A-Z a-z 0-9 _ - separated by '/', "
                "with no wildcards (+ #) and no leading or trailing '/'",
            )
        for key in ("username", "password", "tls_ca", "tls_cert", "tls_key"):
            v = getattr(self, key)
            if v is not None and (not isinstance(v, str) or not v):
                raise bad(key, f"must be a non-empty string or left out, got {v!r}")
        if self.password is not None and self.username is None:
            raise bad("password", "is set but username is not; set both or neither")
        if self.tls_key is not None and self.tls_cert is None:
            raise bad("tls_key", "is set but tls_cert is not; a client key needs its certificate")
        if self.tls_cert is not None and self.tls_ca is None:
            raise bad("tls_cert", "a client certificate needs tls_ca (the CA that signed the broker's)")
        for key in ("tls_ca", "tls_cert", "tls_key"):
            v = getattr(self, key)
            if v is not None and not Path(v).is_file():
                raise bad(key, f"file {v} does not exist or is not a file")
        if isinstance(self.keepalive, bool) or not isinstance(self.keepalive, int) or not 5 <= self.keepalive <= 3600:
            raise bad("keepalive", f"must be an integer number of seconds 5..3600, got {self.keepalive!r}")
        if self.protocol not in ("5", "3.1.1"):
            raise bad("protocol", f'must be "5" or "3.1.1", got {self.protocol!r}')
        for key in ("enabled", "export_keypoints"):
            if not isinstance(getattr(self, key), bool):
                raise bad(key, f"must be true or false, got {getattr(self, key)!r}")

    @property
    def tls(self) -> bool:
        """True when a CA file is configured, i.e. the connection is encrypted."""
        return self.tls_ca is not None

    def topic(self, *levels: str) -> str:
        """``<base_topic>/<device_id>/<levels...>``."""
        return "/".join((self.base_topic, self.device_id, *levels))

    @classmethod
    def from_mapping(cls, table: Mapping[str, Any]) -> MqttSettings:
        """Build from a TOML ``[mqtt]`` table, refusing unknown keys by name."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(table) - known)
        if unknown:
            raise SettingsError(
                f"[mqtt] unknown key(s) {', '.join(unknown)}; known keys are {', '.join(sorted(known))}"
            )
        return cls(**dict(table))


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
        from edgepose.config import load_config

        cfg = load_config(config).mqtt
        if isinstance(cfg, MqttSettings):
            base = cfg
        elif cfg is not None:
            base = MqttSettings(**dict(cfg))
    changes: dict[str, Any] = {}
    if mqtt:
        changes["host"], changes["port"] = parse_hostport(mqtt)
    if device_id:
        changes["device_id"] = device_id
    return dataclasses.replace(base, **changes) if changes else base
