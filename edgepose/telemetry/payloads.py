"""Versioned JSON payloads: one ``schema`` string per message kind (JSON Schemas in docs/schemas)."""

from __future__ import annotations

import time
from typing import Any

from edgepose.telemetry.errors import PayloadError

STATUS = "edgepose.status/1"
LIVE = "edgepose.session.live/1"
SUMMARY = "edgepose.session.summary/1"
EVENT = "edgepose.event/1"
CMD_RESULT = "edgepose.cmd.result/1"

SUMMARY_STATUSES = ("completed", "stopped", "interrupted")
LIVE_STATES = ("idle", "countdown", "active", "summary")
EVENT_LEVELS = ("info", "warning", "error")
# Keys that would carry images or keypoint streams off the device.
_IMAGE_KEYS = frozenset({"image", "frame", "jpeg", "png", "thumbnail", "snapshot"})
_KEYPOINT_KEYS = frozenset({"keypoints", "poses", "landmarks"})


def _strip_private(d: dict[str, Any], export_keypoints: bool) -> dict[str, Any]:
    out = {}
    for k, v in d.items():
        if k in _IMAGE_KEYS:
            raise PayloadError(f"payload key {k!r}: images never leave the device")
        if k in _KEYPOINT_KEYS and not export_keypoints:
            continue  # dropped unless [mqtt] export_keypoints = true
        out[k] = v
    return out


def status(device_id: str, state: str, firmware: str, model: str | None) -> dict[str, Any]:
    return {"schema": STATUS, "device_id": device_id, "state": state, "firmware": firmware,
            "model": model, "ts": time.time()}


def live(device_id: str, data: dict[str, Any], export_keypoints: bool) -> dict[str, Any]:
    body = _strip_private(data, export_keypoints)
    body.update({"schema": LIVE, "device_id": device_id})
    body.setdefault("ts", time.time())
    return body


def summary(device_id: str, data: dict[str, Any], export_keypoints: bool) -> dict[str, Any]:
    body = _strip_private(data, export_keypoints)
    for key in ("session_id", "program"):
        if not isinstance(body.get(key), str) or not body[key]:
            raise PayloadError(f"session summary needs a non-empty string {key!r}")
    body.setdefault("status", "completed")
    if body["status"] not in SUMMARY_STATUSES:
        raise PayloadError(f"session summary status {body['status']!r} is not one of {SUMMARY_STATUSES}")
    reps = body.setdefault("reps", 0)
    if isinstance(reps, bool) or not isinstance(reps, int) or reps < 0:
        raise PayloadError(f"session summary reps must be a non-negative integer, got {reps!r}")
    body.update({"schema": SUMMARY, "device_id": device_id})
    body.setdefault("ts", time.time())
    return body


def event(device_id: str, data: dict[str, Any]) -> dict[str, Any]:
    body = _strip_private(data, False)
    if not isinstance(body.get("kind"), str) or not body["kind"]:
        raise PayloadError("event needs a non-empty string 'kind'")
    body.setdefault("level", "info")
    if body["level"] not in EVENT_LEVELS:
        raise PayloadError(f"event level {body['level']!r} is not one of {EVENT_LEVELS}")
    body.update({"schema": EVENT, "device_id": device_id})
    body.setdefault("ts", time.time())
    return body
