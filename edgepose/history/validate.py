"""Parse and validate one incoming MQTT payload against docs/schemas (no database, no transport).

A payload is accepted only when: the topic is one the ingest knows (``<base>/<unit>/session/summary``,
``.../event``, ``.../status``), it is at most ``max_bytes``, UTF-8 JSON (no duplicate keys, no
NaN/Infinity), an object valid against its JSON Schema, its ``device_id`` equals the unit in the
topic, and its strings fit the database columns. Anything else is a :class:`Rejection` naming why.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from edgepose.telemetry.client_code import CLIENT_CODE_HELP, is_client_code

Kind = Literal["summary", "event", "status"]
SCHEMA_FILES: dict[str, str] = {"summary": "session.summary.schema.json", "event": "event.schema.json",
                                "status": "status.schema.json"}
TOPIC_SUFFIX: dict[str, tuple[str, ...]] = {"summary": ("session", "summary"), "event": ("event",),
                                            "status": ("status",)}
DEFAULT_MAX_BYTES = 256 * 1024
# What the columns hold (schema.py); longer strings are refused here, never truncated in the DB.
_LIMITS = {"msg_id": 64, "session_id": 128, "program": 64, "kind": 64, "firmware": 64, "model": 128}


@dataclass(frozen=True)
class Accepted:
    kind: Kind
    device_id: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class Rejection:
    """Why a message was refused; ``reason`` is ``oversized``, ``topic``, ``json`` or ``schema``."""

    reason: str
    kind: str
    device_id: str
    detail: str


def schema_dir() -> Path:
    """``$EDGEPOSE_SCHEMAS``, else ``docs/schemas`` beside the installed package's source tree."""
    env = os.environ.get("EDGEPOSE_SCHEMAS")
    if env:
        return Path(env)
    import edgepose

    return Path(edgepose.__file__).resolve().parents[1] / "docs" / "schemas"


class PayloadValidator:
    """Validates payloads of the three stored kinds (schemas loaded once)."""

    def __init__(self, base_topic: str = "edgepose", max_bytes: int = DEFAULT_MAX_BYTES,
                 schemas: Path | None = None) -> None:
        self.base = tuple(base_topic.split("/"))
        self.max_bytes = max_bytes
        folder = schemas or schema_dir()
        self.validators: dict[str, Any] = {}
        for kind, name in SCHEMA_FILES.items():
            path = folder / name
            try:
                schema = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as e:
                raise FileNotFoundError(f"payload schema {path} cannot be read ({e}); set EDGEPOSE_SCHEMAS "
                                        "to the folder holding docs/schemas/*.schema.json") from None
            self.validators[kind] = _compile(schema, path)

    def route(self, topic: str) -> tuple[str, str] | None:
        """``(kind, device_id)`` of a topic the ingest stores, else None."""
        levels = tuple(topic.split("/"))
        n = len(self.base)
        if levels[:n] != self.base or len(levels) < n + 2:
            return None
        device, rest = levels[n], levels[n + 1:]
        for kind, suffix in TOPIC_SUFFIX.items():
            if rest == suffix:
                return kind, device
        return None

    def check(self, topic: str, raw: bytes) -> Accepted | Rejection:
        routed = self.route(topic)
        if routed is None:
            return Rejection("topic", "?", "?", f"topic {topic[:200]!r} is not one the ingest stores")
        kind, device = routed
        if len(raw) > self.max_bytes:
            return Rejection("oversized", kind, device, f"{len(raw)} bytes; the limit is {self.max_bytes}")
        try:
            obj = json.loads(bytes(raw).decode("utf-8"), object_pairs_hook=_no_duplicates,
                             parse_constant=_no_constant)
        except (ValueError, RecursionError) as e:
            return Rejection("json", kind, device, f"not UTF-8 JSON: {str(e)[:160]}")
        if not isinstance(obj, dict):
            return Rejection("json", kind, device, f"a JSON {type(obj).__name__}, not an object")
        v = self.validators[kind]
        if not v.is_valid(obj):
            errors = sorted(v.iter_errors(obj), key=lambda e: [str(p) for p in _path(e)])
            e = errors[0]
            where = "/".join(str(p) for p in _path(e)) or "(top level)"
            more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
            return Rejection("schema", kind, device,
                             f"{SCHEMA_FILES[kind]}: at {where}: {e.message[:200]}{more}")
        if obj.get("device_id") != device:
            return Rejection("schema", kind, device,
                             f"device_id {str(obj.get('device_id'))[:64]!r} differs from the topic's unit {device!r}")
        for key, limit in _LIMITS.items():
            v = obj.get(key)
            if isinstance(v, str) and len(v) > limit:
                return Rejection("schema", kind, device, f"{key} is {len(v)} characters; the limit is {limit}")
        if "client" in obj and obj["client"] is not None and not is_client_code(obj["client"]):
            return Rejection("schema", kind, device, f"client {str(obj['client'])[:40]!r}: {CLIENT_CODE_HELP}")
        return Accepted(kind, device, obj)  # type: ignore[arg-type]


def _compile(schema: dict[str, Any], path: Path) -> Any:
    """A Draft 2020-12 validator: jsonschema-rs (compiled, ~200x faster: docs/benchmarks.md), else
    the pure-Python jsonschema where no jsonschema-rs wheel exists."""
    try:
        import jsonschema_rs
    except ImportError:
        from jsonschema import Draft202012Validator

        Draft202012Validator.check_schema(schema)
        return Draft202012Validator(schema)
    try:
        return jsonschema_rs.validator_for(schema)
    except Exception as e:  # a broken schema file: say which
        raise ValueError(f"payload schema {path} is not a valid JSON Schema: {e}") from None


def _path(e: Any) -> list[Any]:
    p = getattr(e, "instance_path", None)
    return list(p if p is not None else e.path)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"duplicate key {k!r}")
        out[k] = v
    return out


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")
