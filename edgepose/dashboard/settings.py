"""The dashboard's settings: its own TOML file (``--config``), then the command-line flags.

The file has a ``[dashboard]`` table (keys below) and optionally ``[mqtt]`` (the same keys as the
device's ``[mqtt]``). Anything else is refused with the file, the key and the fix.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import socket
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgepose.errors import DashboardConfigError

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class DashboardSettings:
    db: str | None = None                  # database URL (None: the state folder's SQLite)
    bind: str = "127.0.0.1"
    port: int = 8080
    allowed_hosts: tuple[str, ...] = ()    # Host header values accepted (empty: derived from bind)
    tls_cert: str | None = None
    tls_key: str | None = None
    behind_proxy: bool = False             # TLS ends at a reverse proxy on this machine
    proxy_ips: tuple[str, ...] = ("127.0.0.1",)
    session_hours: float = 12.0
    login_attempts: int = 5                # failures per name (and 4x per address) ...
    login_window_s: float = 300.0          # ... within this window, then 429
    workers: int = 8                       # threads for database work
    limit_concurrency: int = 256           # open connections + tasks; beyond it: 503
    header_timeout_s: float = 10.0         # a request's head must arrive within this
    request_timeout_s: float = 30.0        # a request (body + answer) must finish within this
    keep_alive_s: int = 5
    sse_clients: int = 64                  # live-update streams at once
    page_size: int = 50
    mqtt: Any = None                       # MqttSettings or None (no live view, no commands)
    extra_hosts: tuple[str, ...] = field(default=(), repr=False)

    @property
    def tls(self) -> bool:
        return self.tls_cert is not None

    @property
    def secure_cookies(self) -> bool:
        return self.tls or self.behind_proxy

    def hosts(self) -> list[str]:
        """Host header values to accept: configured ones, else what the bind address implies."""
        if self.allowed_hosts:
            return list(self.allowed_hosts) + list(self.extra_hosts)
        b = self.bind
        if b in ("0.0.0.0", "::", ""):
            name = socket.gethostname()
            return [*LOOPBACK_HOSTS, name, f"{name}.local", socket.getfqdn(), *self.extra_hosts]
        try:
            if ipaddress.ip_address(b).is_loopback:
                return [*LOOPBACK_HOSTS, *self.extra_hosts]
        except ValueError:
            pass
        return [b, *LOOPBACK_HOSTS, *self.extra_hosts]


_INTS = {"port": (0, 65535), "login_attempts": (1, 1000), "workers": (1, 256), "limit_concurrency": (8, 100000),
         "keep_alive_s": (1, 600), "sse_clients": (1, 10000), "page_size": (10, 500)}
_FLOATS = {"session_hours": (0.05, 24 * 30), "login_window_s": (1, 86400), "header_timeout_s": (0.2, 600),
           "request_timeout_s": (1, 3600)}
_STRS = ("db", "bind", "tls_cert", "tls_key")
_LISTS = ("allowed_hosts", "proxy_ips")
_BOOLS = ("behind_proxy",)


def from_table(table: dict[str, Any], where: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    known = (*_INTS, *_FLOATS, *_STRS, *_LISTS, *_BOOLS)
    for k, v in table.items():
        def bad(expect: str, k: str = k, v: Any = v) -> DashboardConfigError:
            return DashboardConfigError(f"{where}: dashboard.{k}: {expect}, got {v!r}")

        if k in _INTS:
            lo, hi = _INTS[k]
            if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
                raise bad(f"must be an integer {lo}..{hi}")
        elif k in _FLOATS:
            lo, hi = _FLOATS[k]
            if isinstance(v, bool) or not isinstance(v, int | float) or not lo <= v <= hi:
                raise bad(f"must be a number {lo}..{hi}")
            v = float(v)
        elif k in _STRS:
            if not isinstance(v, str) or not v:
                raise bad("must be a non-empty string")
        elif k in _LISTS:
            if not isinstance(v, list) or not all(isinstance(x, str) and x for x in v):
                raise bad('must be a list of strings, e.g. ["clinic-pi.local"]')
            v = tuple(v)
        elif k in _BOOLS:
            if not isinstance(v, bool):
                raise bad("must be true or false")
        else:
            raise DashboardConfigError(f"{where}: dashboard.{k}: unknown key; known keys are {', '.join(sorted(known))}")
        out[k] = v
    return out


def load(path: str | None, overrides: dict[str, Any], mqtt: str | None) -> DashboardSettings:
    """Settings from ``path`` (may be None) with the command-line ``overrides`` (None values skipped)."""
    from edgepose.telemetry.settings import MqttSettings, parse_hostport

    values: dict[str, Any] = {}
    mqtt_table: dict[str, Any] | None = None
    if path is not None:
        p = Path(path)
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise DashboardConfigError(f"{p}: no such config file; create it (see docs/dashboard.md) or leave out --config") from None
        except (OSError, UnicodeDecodeError) as e:
            raise DashboardConfigError(f"{p}: cannot read: {e}") from e
        except tomllib.TOMLDecodeError as e:
            raise DashboardConfigError(f"{p}: TOML syntax error ({e}); fix the syntax there") from e
        for k in data:
            if k not in ("dashboard", "mqtt"):
                raise DashboardConfigError(f"{p}: [{k}]: unknown section; a dashboard config has [dashboard] and [mqtt]")
        if not isinstance(data.get("dashboard", {}), dict):
            raise DashboardConfigError(f"{p}: dashboard must be a table")
        values = from_table(data.get("dashboard", {}), str(p))
        mqtt_table = data.get("mqtt")
    values.update({k: v for k, v in overrides.items() if v is not None})
    ms = None
    if mqtt_table is not None or mqtt:
        try:
            ms = MqttSettings.from_mapping(mqtt_table or {})
        except ValueError as e:
            raise DashboardConfigError(f"{path}: {e}") from e
        if mqtt:
            host, port = parse_hostport(mqtt)
            ms = dataclasses.replace(ms, host=host, port=port)
    values["mqtt"] = ms
    s = DashboardSettings(**values)
    if (s.tls_cert is None) != (s.tls_key is None):
        raise DashboardConfigError(f"{path or '<flags>'}: dashboard.tls_cert and dashboard.tls_key go together; set both or neither")
    for k in ("tls_cert", "tls_key"):
        v = getattr(s, k)
        if v is not None and not Path(v).is_file():
            raise DashboardConfigError(f"{path or '<flags>'}: dashboard.{k}: file {v} does not exist")
    return s
