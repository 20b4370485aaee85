"""Settings of ``edgepose ingest``: the ``[ingest]`` table of a TOML file, command-line flags on top."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from edgepose.errors import IngestSettingsError
from edgepose.history.validate import DEFAULT_MAX_BYTES

_CLIENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_GROUP = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_TOPIC_LEVELS = re.compile(r"[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*")


@dataclass
class IngestSettings:
    """Field names are the keys of the ``[ingest]`` table (docs/staff.md)."""

    mqtt: str = "localhost:1883"
    db: str | None = None  # default: sqlite history.sqlite in the state folder
    base_topic: str = "edgepose"
    client_id: str = "edgepose-ingest"
    share_group: str | None = "ingest"  # MQTT 5 shared subscription $share/<group>/...; "" for none
    protocol: str = "5"
    session_expiry_s: int = 7 * 24 * 3600
    keepalive: int = 30
    max_payload_bytes: int = DEFAULT_MAX_BYTES
    receive_maximum: int = 200
    batch_max: int = 500
    username: str | None = None
    password: str | None = None
    tls_ca: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    rejected_file: str | None = None  # default: ingest-rejected.jsonl in the state folder
    stats_every_s: float = 60.0

    def __post_init__(self) -> None:
        from edgepose.telemetry.settings import parse_hostport

        def bad(key: str, msg: str) -> IngestSettingsError:
            return IngestSettingsError(f"[ingest] {key}: {msg}")

        try:
            self.host, self.port = parse_hostport(self.mqtt)
        except ValueError as e:
            raise bad("mqtt", str(e)) from None
        if not _CLIENT_ID.fullmatch(str(self.client_id)):
            raise bad("client_id", f"{self.client_id!r}: use 1-64 of A-Z a-z 0-9 _ . - (one per ingest process)")
        if self.share_group == "":
            self.share_group = None
        if self.share_group is not None and not _GROUP.fullmatch(str(self.share_group)):
            raise bad("share_group", f"{self.share_group!r}: use 1-64 of A-Z a-z 0-9 _ -")
        if not _TOPIC_LEVELS.fullmatch(str(self.base_topic)):
            raise bad("base_topic", f"{self.base_topic!r}: topic levels of A-Z a-z 0-9 _ - separated by '/'")
        if self.protocol not in ("5", "3.1.1"):
            raise bad("protocol", f'must be "5" or "3.1.1", got {self.protocol!r}')
        if self.protocol == "3.1.1" and self.share_group is not None:
            raise bad("share_group", 'shared subscriptions need MQTT 5; set share_group = "" with protocol 3.1.1')
        for key, lo, hi in (("session_expiry_s", 60, 2**32 - 1), ("keepalive", 5, 3600),
                            ("max_payload_bytes", 1024, 64 * 1024 * 1024), ("receive_maximum", 1, 65535),
                            ("batch_max", 1, 100_000)):
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
                raise bad(key, f"must be an integer {lo}..{hi}, got {v!r}")
        if self.password is not None and self.username is None:
            raise bad("password", "is set but username is not; set both or neither")
        for key in ("tls_ca", "tls_cert", "tls_key"):
            v = getattr(self, key)
            if v is not None and not Path(v).is_file():
                raise bad(key, f"file {v} does not exist or is not a file")
        if self.tls_cert is not None and self.tls_ca is None:
            raise bad("tls_cert", "a client certificate needs tls_ca")

    def topics(self) -> list[str]:
        """Subscriptions: summaries and events shared (when MQTT 5), status plain (it is retained,
        and a shared subscription gets no retained messages)."""
        share = f"$share/{self.share_group}/" if self.share_group else ""
        b = self.base_topic
        return [f"{share}{b}/+/session/summary", f"{share}{b}/+/event", f"{b}/+/status"]


def load_settings(config: str | Path | None, **overrides: Any) -> IngestSettings:
    """The ``[ingest]`` table of ``config`` (if given) with non-None ``overrides`` on top."""
    table: dict[str, Any] = {}
    if config is not None:
        path = Path(config)
        try:
            doc = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as e:
            raise IngestSettingsError(f"config {path}: cannot be read: {e}") from None
        except tomllib.TOMLDecodeError as e:
            raise IngestSettingsError(f"config {path}: not valid TOML: {e}") from None
        raw = doc.get("ingest", {})
        if not isinstance(raw, dict):
            raise IngestSettingsError(f"config {path}: [ingest] must be a table")
        known = {f.name for f in fields(IngestSettings)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise IngestSettingsError(f"config {path}: [ingest] unknown key(s) {', '.join(unknown)}; "
                                      f"known: {', '.join(sorted(known))}")
        table.update(raw)
    table.update({k: v for k, v in overrides.items() if v is not None})
    return IngestSettings(**table)
