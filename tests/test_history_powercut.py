"""A power cut mid-session: `edgepose serve` (a real process, a real session on a real video, started
by a `cmd` naming the client) is SIGKILLed; on the next start the unit reports the session as
`interrupted` FOR THAT CLIENT, and the real ingest stores it against the client (real Mosquitto)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import need_data
from tests.mqtt_broker import Broker, Subscriber, broker_fixture  # noqa: F401  (the "broker" fixture)
from tests.unit_config import headless_unit_toml

pytest.importorskip("sqlalchemy")

REPO = Path(__file__).resolve().parents[1]
UNIT = "pc-unit"


def _serve(cfg: Path, video: Path, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as f:  # a file, not a pipe nobody reads
        return subprocess.Popen([sys.executable, "-m", "edgepose.cli", "serve", "--config", str(cfg),
                                 "--source", str(video)], cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)),
                                stdout=f, stderr=subprocess.STDOUT)


def test_power_cut_mid_session_keeps_the_client(broker: Broker, tmp_path: Path) -> None:
    from tests.test_history_ingest import InProcessIngest, raw_client, wait

    video = need_data("exercise", "squat_side_gym.mp4")
    state = tmp_path / "unit"
    cfg = tmp_path / "edgepose.toml"
    cfg.write_text(headless_unit_toml(UNIT, state, broker.port))
    ing = InProcessIngest(broker.port, f"sqlite:///{tmp_path / 'history.sqlite'}", tmp_path)
    sub = Subscriber(broker.port, [f"edgepose/{UNIT}/#"], client_id="watch")
    staff = raw_client(broker.port, "staff")
    log = tmp_path / "serve.log"
    proc = _serve(cfg, video, log)
    again = None
    try:
        # the unit answers commands once it is subscribed: ask until it does, then start for C-7
        n = 0
        while not sub.json("cmd/result"):
            assert proc.poll() is None, log.read_text()[-3000:]
            n += 1
            staff.publish(f"edgepose/{UNIT}/cmd", json.dumps({"action": "select", "program": "squat",
                                                              "request_id": f"ping-{n}"}), qos=1)
            assert n < 120, "the unit never answered a command"
            sub.wait_for(lambda: sub.json("cmd/result"), 0.5)
        staff.publish(f"edgepose/{UNIT}/cmd", json.dumps({"action": "start", "program": "squat", "client": "C-7",
                                                          "request_id": "go"}), qos=1).wait_for_publish(5)

        def live() -> list[dict]:
            return [m for m in sub.json("/session/live") if m.get("session_id") and m.get("reps", 0) >= 1]

        assert sub.wait_for(live, 180), "no rep counted in the live session"
        reps_seen = live()[-1]["reps"]
        session_id = live()[-1]["session_id"]
        proc.send_signal(signal.SIGKILL)  # the power cut: no summary, no goodbye
        proc.wait(10)
        assert not sub.json("/session/summary"), "the session ended before the cut; nothing was interrupted"
        assert wait(lambda: [m["state"] for m in sub.json("/status")][-1:] == ["offline"])  # the Last Will
        assert ing.store.count_sessions() == 0

        again = _serve(cfg, video, log)  # the unit boots again and reports what was cut off
        assert wait(lambda: ing.store.count_sessions() == 1, 60)
        [s] = ing.store.sessions()
        assert (s.session_id, s.status, s.device_id) == (session_id, "interrupted", UNIT)
        assert s.client == "C-7" and s.payload["client"] == "C-7"
        assert s.reps >= reps_seen and s.program == "squat"
        assert ing.store.client("C-7") is not None and ing.store.count_sessions(client="C-7") == 1
        assert not list((state / "sessions").glob("*.json")), "the journal record is closed once reported"
    finally:
        for p in (proc, again):
            if p is not None and p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(20)
                except subprocess.TimeoutExpired:
                    p.kill()
        staff.loop_stop()
        staff.disconnect()
        sub.close()
        ing.close()


def test_the_journal_record_carries_the_client(tmp_path: Path) -> None:
    from edgepose.telemetry.journal import SessionJournal

    j = SessionJournal(tmp_path)
    j.open_session("s-1", "squat", started_at=100.0, client="C-7")
    j.checkpoint("s-1", {"reps": 2, "client": "C-other"})  # the record's code wins over a checkpoint's
    j.open_session("s-2", "squat", started_at=200.0)  # no client: none reported
    with pytest.raises(ValueError, match="client code"):
        j.open_session("s-3", "squat", client="C 7; x")
    # a record written before records carried the client: a checkpoint's code, if it is one, is kept
    (j.dir / "s-4.json").write_text(json.dumps({"session_id": "s-4", "program": "lunge", "started_at": 300.0,
                                                "checkpoint": {"reps": 1, "client": "C-8"}, "pid": -1}))
    got = {s["session_id"]: s for s in j.recover_interrupted()}
    assert sorted(got) == ["s-1", "s-2", "s-4"]
    assert (got["s-1"]["client"], got["s-1"]["reps"], got["s-1"]["status"]) == ("C-7", 2, "interrupted")
    assert "client" not in got["s-2"] and got["s-4"]["client"] == "C-8"
