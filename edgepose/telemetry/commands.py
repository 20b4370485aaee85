"""Strict validation of ``cmd`` payloads.

Accepted: a UTF-8 JSON object of at most :data:`MAX_BYTES` bytes with exactly these keys::

    {"action": "start" | "stop" | "select", "program": "<name>", "request_id": "<id>",
     "client": "<code>"}

``action`` is required; ``program`` is required for ``select``, optional for ``start`` and
refused for ``stop``; ``client`` (a pseudonymous client code, matched in full, see
:mod:`edgepose.telemetry.client_code`) names who the next session is for, with ``select`` or
``start`` only; ``request_id`` is optional and echoed in the result. Anything else is
refused with a reason, and a refused command changes nothing.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from edgepose.telemetry.client_code import CLIENT_CODE_HELP, is_client_code
from edgepose.telemetry.errors import CommandError

log = logging.getLogger(__name__)

MAX_BYTES = 4096
ACTIONS = ("start", "stop", "select")
KEYS = frozenset({"action", "program", "request_id", "client"})
# Used with fullmatch: "$" would also match before a final newline ("squat\n").
_PROGRAM = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_REQUEST_ID = re.compile(r"[\x21-\x7e]{1,128}")  # printable ASCII, no spaces
RESULT_SCHEMA = "edgepose.cmd.result/1"


@dataclass(frozen=True)
class Command:
    """A validated command."""

    action: str
    program: str | None = None
    request_id: str | None = None
    client: str | None = None  # pseudonymous client code for the next session


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise CommandError(f"duplicate key {k!r}")
        out[k] = v
    return out


def _no_constants(name: str) -> Any:
    raise CommandError(f"{name} is not valid JSON")


def parse_command(raw: bytes | bytearray | str) -> Command:
    """Validate a raw ``cmd`` payload.

    Raises
    ------
    CommandError
        (a ``ValueError``) naming what is wrong.
    """
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogatepass")
    if not isinstance(raw, bytes | bytearray):
        raise CommandError(f"payload must be bytes, got {type(raw).__name__}")
    if len(raw) > MAX_BYTES:
        raise CommandError(f"payload is {len(raw)} bytes; the limit is {MAX_BYTES}")
    try:
        text = bytes(raw).decode("utf-8")
    except UnicodeDecodeError as e:
        raise CommandError(f"payload is not UTF-8 ({e.reason} at byte {e.start})") from None
    try:
        obj = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
    except CommandError:
        raise
    except (ValueError, RecursionError) as e:
        raise CommandError(f"payload is not JSON: {e}"[:200]) from None
    if not isinstance(obj, dict):
        raise CommandError(f"payload must be a JSON object, got {type(obj).__name__}")
    unknown = sorted(set(obj) - KEYS)
    if unknown:
        shown = ", ".join(repr(k)[:40] for k in unknown[:5])
        raise CommandError(f"unknown key(s) {shown}; allowed: action, program, request_id, client")
    request_id = obj.get("request_id")
    if "request_id" in obj and (not isinstance(request_id, str) or not _REQUEST_ID.fullmatch(request_id)):
        raise CommandError("request_id must be a string of 1-128 printable ASCII characters")
    if "action" not in obj:
        raise CommandError("missing key 'action' (one of start, stop, select)")
    action = obj["action"]
    if not isinstance(action, str) or action not in ACTIONS:
        raise CommandError(f"unknown action {str(action)[:40]!r}; use one of start, stop, select")
    program = obj.get("program")
    if "program" in obj:
        if action == "stop":
            raise CommandError("'stop' takes no program")
        if not isinstance(program, str) or not _PROGRAM.fullmatch(program):
            raise CommandError("program must be a name of 1-64 of A-Z a-z 0-9 _ . - "
                               "(starting with a letter or digit)")
    elif action == "select":
        raise CommandError("'select' needs a program")
    client = obj.get("client")
    if "client" in obj:
        if action == "stop":
            raise CommandError("'stop' takes no client")
        if not is_client_code(client):
            raise CommandError(f"client must be a pseudonymous client code: {CLIENT_CODE_HELP}")
    return Command(action=action, program=program, request_id=request_id, client=client)


def request_id_of(raw: bytes | bytearray | str) -> str | None:
    """Best-effort ``request_id`` of a payload that may be refused (for the error result)."""
    try:
        if len(raw) > MAX_BYTES:
            return None
        obj = json.loads(raw)
    except (ValueError, TypeError, RecursionError):
        return None
    rid = obj.get("request_id") if isinstance(obj, dict) else None
    return rid if isinstance(rid, str) and _REQUEST_ID.fullmatch(rid) else None


def handle_command(raw: bytes | bytearray | str,
                   apply: Callable[[Command], str | None] | None) -> dict[str, Any]:
    """Validate ``raw`` and hand a valid command to ``apply``; return the ``cmd/result`` payload.

    ``apply`` returns None on success or an error string (it may also raise ``ValueError`` for a
    refusal such as an unknown program); it is never called for a refused payload.
    """
    try:
        cmd = parse_command(raw)
    except CommandError as e:
        log.warning("refused command: %s", e)
        return {"schema": RESULT_SCHEMA, "ok": False, "error": str(e), "request_id": request_id_of(raw)}
    if apply is None:
        return {"schema": RESULT_SCHEMA, "ok": False, "error": "this device does not accept commands",
                "request_id": cmd.request_id, "action": cmd.action}
    try:
        err = apply(cmd)
    except ValueError as e:
        err = str(e) or type(e).__name__
    except Exception as e:  # the device must not crash on a command; report it instead
        log.exception("command %s failed", cmd)
        err = f"internal error: {type(e).__name__}: {e}"
    result: dict[str, Any] = {"schema": RESULT_SCHEMA, "ok": err is None, "error": err,
                              "request_id": cmd.request_id, "action": cmd.action}
    return result
