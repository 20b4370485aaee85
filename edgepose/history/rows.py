"""Turn validated payloads into table rows (pure functions, no database)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from edgepose.telemetry.client_code import is_client_code


def utc(ts: Any) -> dt.datetime | None:
    """Unix seconds -> aware UTC datetime (None for None or a value out of range)."""
    if ts is None or isinstance(ts, bool) or not isinstance(ts, int | float):
        return None
    try:
        return dt.datetime.fromtimestamp(float(ts), dt.UTC)
    except (OverflowError, OSError, ValueError):
        return None


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def client_of(payload: dict[str, Any]) -> str | None:
    c = payload.get("client")
    return c if is_client_code(c) else None


def session_row(p: dict[str, Any], received_at: dt.datetime) -> dict[str, Any]:
    ended = utc(p.get("ended_at"))
    return {
        "msg_id": p["msg_id"], "session_id": p["session_id"], "device_id": p["device_id"],
        "client": client_of(p), "program": p["program"], "status": p["status"],
        "started_at": utc(p.get("started_at")), "ended_at": ended if ended is not None else utc(p.get("ts")),
        "duration_s": _num(p.get("duration_s")), "reps": int(p["reps"]), "score": _num(p.get("score")),
        "received_at": received_at, "payload": p,
    }


def rep_rows(p: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per rep: from ``rep_list`` when the device sent it, else the ``rep_*`` arrays."""
    rep_list = p.get("rep_list")
    if isinstance(rep_list, list) and rep_list and all(isinstance(r, dict) for r in rep_list):
        out = []
        for i, r in enumerate(rep_list):
            idx = r.get("index")
            faults = r.get("faults")
            out.append({
                "idx": idx if isinstance(idx, int) and not isinstance(idx, bool) else i + 1,
                "ended_s": _num(r.get("t_end")), "duration_s": _num(r.get("duration_s")),
                "score": _num(r.get("score")),
                "rom": r.get("rom") if isinstance(r.get("rom"), dict) else None,
                "faults": [str(f) for f in faults] if isinstance(faults, list) else None,
            })
        return out
    roms, times, scores = (_list(p.get(k)) for k in ("rep_rom_deg", "rep_times", "rep_scores"))
    n = max(len(roms), len(times), len(scores))
    out = []
    prev = 0.0
    for i in range(n):
        t = times[i] if i < len(times) else None
        out.append({
            "idx": i + 1, "ended_s": t,
            "duration_s": round(t - prev, 3) if t is not None and prev is not None else None,
            "score": scores[i] if i < len(scores) else None,
            "rom": {"primary_deg": roms[i]} if i < len(roms) and roms[i] is not None else None,
            "faults": None,
        })
        prev = t  # type: ignore[assignment]
    return out


def event_row(p: dict[str, Any], received_at: dt.datetime) -> dict[str, Any]:
    return {
        "msg_id": p["msg_id"], "device_id": p["device_id"], "client": client_of(p),
        "kind": p["kind"][:64], "level": p["level"], "at": utc(p.get("ts")) or received_at,
        "received_at": received_at, "payload": p,
    }


def status_row(p: dict[str, Any], received_at: dt.datetime) -> dict[str, Any]:
    return {
        "device_id": p["device_id"], "online": p["state"] == "online",
        "firmware": str(p.get("firmware"))[:64] if p.get("firmware") is not None else None,
        "model": str(p.get("model"))[:128] if p.get("model") is not None else None,
        "status": p, "status_ts": _num(p.get("ts")), "last_seen": received_at,
    }


def _num(v: Any) -> float | None:
    if v is None or isinstance(v, bool) or not isinstance(v, int | float):
        return None
    f = float(v)
    return f if f == f and abs(f) != float("inf") else None


def _list(v: Any) -> list[float | None]:
    return [_num(x) for x in v] if isinstance(v, list) else []
