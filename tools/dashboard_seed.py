"""Realistic test data for the staff dashboard: units, clients and session summaries in a store.

Summaries follow docs/schemas/session.summary.schema.json and the fields of docs/formats.md
("Session summary"), with the per-rep list, range of motion per joint, cues, faults and the
clinical block a unit sends. Used by tests/test_dashboard_*.py and tools/bench_dashboard.py.

    .venv/bin/python tools/dashboard_seed.py sqlite:////tmp/demo.sqlite   # a demo database
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from typing import Any

DAY = 86400.0


def summary(device: str, program: str, started: float, *, client: str | None = None, reps: int = 8,
            rom: dict[str, float] | None = None, seed: int = 0, clinical: dict[str, Any] | None = None,
            hold_s: float | None = None, cues: dict[str, int] | None = None, status: str = "completed",
            kind: str = "reps") -> dict[str, Any]:
    """One session summary as a unit publishes it."""
    rng = random.Random(seed)
    rom = rom or {"left_knee": 95.0, "left_hip": 80.0}
    sid = f"s-{uuid.UUID(int=rng.getrandbits(128)).hex[:12]}"
    rep_list, t = [], 1.5
    for i in range(reps):
        d = round(rng.uniform(1.8, 3.2), 2)
        faults = []
        if rng.random() < 0.2:
            faults.append("trunk_lean:high")
        if rng.random() < 0.1:
            faults.append("incomplete")
        rep_list.append({
            "index": i + 1, "t_start": round(t, 2), "t_far": round(t + d / 2, 2), "t_end": round(t + d, 2),
            "duration_s": d, "amplitude": 0.5,
            "rom": {k: {"min": 180 - v, "max": 180.0, "range": round(v + rng.uniform(-8, 8), 1)} for k, v in rom.items()},
            "faults": faults, "complete": "incomplete" not in faults, "counted_on": "signal",
            "score": round(rng.uniform(65, 95), 1)})
        t += d + rng.uniform(0.3, 1.0)
    dur = round(t + 1.0, 2)
    body: dict[str, Any] = {
        "schema": "edgepose.session.summary/1", "msg_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{device}/{sid}")),
        "device_id": device, "session_id": sid, "program": program, "title": program.replace("-", " "),
        "kind": kind, "status": status, "started_at": started, "ended_at": started + dur, "duration_s": dur,
        "tracked_s": dur - 0.5, "reps": reps, "ts": started + dur,
        "cue_counts": cues if cues is not None else {"Keep your chest up": rng.randint(0, 3)},
    }
    if kind == "reps":
        firsts = list(rom)[0]
        body.update({
            "rep_list": rep_list,
            "rom": {k: {"min": min(r["rom"][k]["range"] for r in rep_list), "max": max(r["rom"][k]["range"] for r in rep_list),
                        "mean": round(sum(r["rom"][k]["range"] for r in rep_list) / len(rep_list), 1), "unit": "deg"}
                    for k in rom} if rep_list else {},
            "rep_rom_deg": [r["rom"][firsts]["range"] for r in rep_list],
            "rep_times": [r["t_end"] for r in rep_list], "rep_scores": [r["score"] for r in rep_list],
            "tempo": {"mean_rep_s": round(sum(r["duration_s"] for r in rep_list) / max(1, reps), 2),
                      "reps_per_min": round(60 * reps / dur, 1)},
            "form_faults": {"trunk_lean:high": rng.randint(0, 40)},
            "score": round(sum(r["score"] for r in rep_list) / max(1, reps), 1) if rep_list else 0.0,
        })
    else:
        body.update({"hold_s": hold_s or 0.0, "holds": [{"t_start": 2.0, "hold_s": hold_s or 0.0, "side": "as-written"}],
                     "score": 70.0})
    if client is not None:
        body["client"] = client
    if clinical is not None:
        body["clinical"] = clinical
        if "score" in clinical:
            body["score"] = clinical["score"]
    return body


def status(device: str, online: bool = True, firmware: str = "0.1.0", model: str | None = "blazepose-full",
           ts: float | None = None) -> dict[str, Any]:
    return {"schema": "edgepose.status/1", "device_id": device, "state": "online" if online else "offline",
            "firmware": firmware, "model": model, "ts": ts if ts is not None else dt.datetime.now(dt.UTC).timestamp()}


def seed_demo(store: Any, now: float | None = None) -> dict[str, Any]:
    """A small clinic: 6 units, 3 clients with weeks of squats and the three clinical tests."""
    now = now or dt.datetime.now(dt.UTC).timestamp()
    units = ["clinic-room-1", "clinic-room-2", "gym-pi-01", "gym-pi-02", "home-kit-07", "spare-unit"]
    for i, u in enumerate(units):
        store.upsert_status(status(u, online=i < 4, firmware=f"0.{i}.2", model="blazepose-full" if i % 2 else "blazepose-lite"))
    store.add_client("C-104", birth_year=1954, sex="f", note="knee rehab, right side")
    store.add_client("C-221", birth_year=1948, sex="m")
    store.add_client("K17", birth_year=1990)
    n = 0
    for w in range(8):
        t = now - (8 - w) * 7 * DAY + 10 * 3600
        store.add_summary(summary("clinic-room-1", "squat", t, client="C-104", reps=6 + w, seed=w,
                                  rom={"left_knee": 70 + 4 * w, "left_hip": 60 + 3 * w}))
        store.add_summary(summary("clinic-room-2", "chair-stand-30s", t + 3600, client="C-104", reps=8 + w // 2,
                                  seed=100 + w, rom={"knee": 85.0, "hip": 70.0},
                                  clinical={"test": "chair-stand-30s", "stands": 8 + w // 2, "duration_s": 30,
                                            "completed": True}))
        tug = round(14.5 - 0.5 * w, 1)
        store.add_summary(summary("clinic-room-2", "timed-up-and-go", t + 7200, client="C-104", reps=1, seed=200 + w,
                                  clinical={"test": "timed-up-and-go", "time_s": tug, "distance_m": 3,
                                            "fall_risk": tug >= 12}))
        hold = round(9 + 2.2 * w, 1)
        store.add_summary(summary("clinic-room-1", "single-leg-stance", t + 9000, client="C-104", reps=0, seed=300 + w,
                                  kind="pose", hold_s=hold,
                                  clinical={"test": "single-leg-stance", "best_hold_s": hold, "trials": 3,
                                            "best_hold_by_standing_leg_s": {"left": hold}, "max_hold_s": 30}))
        store.add_summary(summary("gym-pi-01", "bicep-curl", t + 3 * DAY, client="C-221", reps=10 + w % 3, seed=400 + w,
                                  rom={"left_elbow": 110 + 2 * w}))
        n += 5
    store.add_summary(summary("gym-pi-02", "lunge", now - 3600, client="K17", reps=12, seed=999,
                              rom={"left_knee": 88.0, "right_knee": 84.0}))
    store.add_summary(summary("gym-pi-02", "squat", now - 1800, reps=5, seed=998))
    return {"units": units, "sessions": n + 2, "client": "C-104"}


def seed_fleet(store: Any, n: int, batch: int = 1000) -> None:
    """``n`` units with a status each (for the fleet-page benchmark)."""
    now = dt.datetime.now(dt.UTC).timestamp()
    for start in range(0, n, batch):
        store.add_batch([("status", status(f"unit-{i:05d}", online=i % 3 != 0, ts=now)) for i in range(start, min(n, start + batch))])


if __name__ == "__main__":
    import argparse

    from edgepose.history.store import open_store

    ap = argparse.ArgumentParser(description="Seed a history store with demo units, clients and sessions.")
    ap.add_argument("store", help="store URL, e.g. sqlite:////tmp/demo.sqlite or postgresql://user@host/db")
    with open_store(ap.parse_args().store) as st:
        print(seed_demo(st))
