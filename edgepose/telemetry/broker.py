"""Where the MQTT broker is and how to reach it: :class:`MqttSettings` (the ``[mqtt]`` table,
checked here and only here) and ``HOST:PORT`` parsing.

:mod:`edgepose.config` reads the TOML table and builds :class:`MqttSettings` from it (naming
the file and the key when a value is refused); this module imports nothing of edgepose but
:mod:`edgepose.errors` (and, to check TLS files, :mod:`edgepose.telemetry.tlsfiles`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from edgepose.errors import SettingsError

__all__ = ["ID_RE", "MqttSettings", "parse_hostport"]

# A device id becomes one MQTT topic level and a Home Assistant object id: keep it plain.
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}\Z")  # \Z: "$" lets "id\n" through
_TOPIC_LEVELS = re.compile(r"^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*\Z")


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


@dataclass
class MqttSettings:
    """Everything the publisher needs to reach a broker.

    Field names match the keys of the config file's ``[mqtt]`` table.
    """

    host: str = "localhost"
    port: int = 1883
    # Several brokers (the nodes of a cluster), tried in turn: ("a:1883", "b:1883", ...). When set,
    # ``host``/``port`` are not used (a HOST without ``:PORT`` takes ``port``).
    hosts: tuple[str, ...] = ()
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
        if isinstance(self.hosts, list):
            self.hosts = tuple(self.hosts)
        if not isinstance(self.hosts, tuple):
            raise bad("hosts", f'must be a list of "HOST:PORT" strings, e.g. ["a:1883", "b:1883"], got {self.hosts!r}')
        if len(self.hosts) > 32:
            raise bad("hosts", f"lists {len(self.hosts)} brokers; at most 32 (the nodes of one cluster)")
        endpoints: list[tuple[str, int]] = []
        for i, h in enumerate(self.hosts):
            if not isinstance(h, str):
                raise bad(f"hosts[{i}]", f'must be a "HOST:PORT" string, got {h!r}')
            try:
                endpoints.append(parse_hostport(h, self.port))
            except ValueError as e:
                raise bad(f"hosts[{i}]", str(e)) from None
        if endpoints:
            # explicit HOST:PORT entries (stable under dataclasses.replace), and host/port name the
            # first node for whatever talks to one broker only (doctor's probe, outbox flush)
            self.hosts = tuple(f"[{h}]:{p}" if ":" in h else f"{h}:{p}" for h, p in endpoints)
            self.host, self.port = endpoints[0]
        if not isinstance(self.device_id, str) or not ID_RE.match(self.device_id):
            raise bad(
                "device_id",
                f"{self.device_id!r} is not usable as a topic level; use 1-64 of A-Z a-z 0-9 _ - "
                "(starting with a letter or digit), e.g. 'gym-pi-01'",
            )
        if not isinstance(self.base_topic, str) or not _TOPIC_LEVELS.match(self.base_topic):
            raise bad(
                "base_topic",
                f"{self.base_topic!r} must be topic levels of A-Z a-z 0-9 _ - separated by '/', "
                "with no '#' or '+' wildcards and no leading or trailing '/'",
            )
        for key in ("username", "password", "tls_ca", "tls_cert", "tls_key"):
            v = getattr(self, key)
            if v is not None and (not isinstance(v, str) or not v):
                raise bad(key, f"must be a non-empty string or left out, got {v!r}")
        if self.password is not None and self.username is None:
            raise bad("password", "is set but username is not; set both or neither")
        if self.tls_key is not None and self.tls_cert is None:
            raise bad("tls_key", "is set but tls_cert is not; a client key needs its certificate")
        if self.tls_cert is not None and self.tls_key is None:
            raise bad("tls_cert", "is set but tls_key is not; client certificates need both tls_cert and tls_key")
        if self.tls_cert is not None and self.tls_ca is None:
            raise bad("tls_cert", "a client certificate needs tls_ca (the CA that signed the broker's)")
        from edgepose.telemetry.tlsfiles import check_tls_files

        check_tls_files(self.tls_ca, self.tls_cert, self.tls_key)  # exist, readable, a CA, a matching key
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

    def endpoints(self) -> list[tuple[str, int]]:
        """The brokers to try, in order: ``hosts`` when set, else ``(host, port)``."""
        if self.hosts:
            return [parse_hostport(h, self.port) for h in self.hosts]
        return [(self.host, self.port)]

    @property
    def where(self) -> str:
        """The broker(s) for messages: ``host:port`` or ``a:1883, b:1883``."""
        return ", ".join(f"[{h}]:{p}" if ":" in h else f"{h}:{p}" for h, p in self.endpoints())

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
