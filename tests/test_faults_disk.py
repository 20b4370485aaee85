"""Issue 12, items 1, 2 and 7: a full disk on a real 2 MiB tmpfs (mounted by the test) and a real
Mosquitto. Nothing is lost, a healthy outbox is never moved aside, and a failing output (recording,
poses, summary file, journal checkpoint) does not throw the session away."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from mqtt_broker import Broker, Subscriber, broker_fixture, free_port  # noqa: F401  (the "broker" fixture)

from edgepose.telemetry.journal import SessionJournal
from edgepose.telemetry.outbox import Outbox
from edgepose.telemetry.publisher import Telemetry
from edgepose.telemetry.settings import MqttSettings
from tests.conftest import need_data

ROOT = Path(__file__).resolve().parents[1]
EXE = [sys.executable, "-c", "import sys; from edgepose.cli import main; sys.exit(main())"]
TOPIC = "edgepose/unit-d/session/summary"


class SmallDisk:
    """A 2 MiB tmpfs; :meth:`fill` takes every free byte with a ballast file, :meth:`free` gives it back."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.ballast = path / "ballast"

    def fill(self, leave: int = 0) -> None:
        fd = os.open(self.ballast, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        try:
            for block in (1 << 16, 4096, 512, 1):
                try:
                    while os.statvfs(self.path).f_bavail * os.statvfs(self.path).f_frsize > leave + block:
                        os.write(fd, b"\0" * block)
                    if leave == 0:
                        while True:
                            os.write(fd, b"\0" * block)
                except OSError:
                    pass
        finally:
            os.close(fd)

    def free(self) -> None:
        self.ballast.unlink(missing_ok=True)

    def free_bytes(self) -> int:
        st = os.statvfs(self.path)
        return st.f_bavail * st.f_frsize


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[SmallDisk]:
    d = tmp_path / "disk"
    d.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting the 2 MiB tmpfs for the disk-full tests needs root; running as an ordinary user")
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(d)], capture_output=True, text=True)
    if p.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({p.stderr.strip() or p.returncode}); the disk-full tests need it")
    try:
        yield SmallDisk(d)
    finally:
        subprocess.run(["umount", "-l", str(d)], capture_output=True)


def _settings(port: int, device_id: str = "unit-d") -> MqttSettings:
    return MqttSettings(host="127.0.0.1", port=port, device_id=device_id, keepalive=5)


# --------------------------------------------------------------------------- item 1: the outbox

def test_full_state_disk_is_not_corruption_and_loses_nothing(small_disk: SmallDisk) -> None:
    state = small_disk.path / "state"
    with Outbox(state) as ob:
        ids = [ob.put(TOPIC, {"session_id": f"s{i}", "program": "squat", "reps": i}) for i in range(2)]
    small_disk.fill()
    ob = Outbox(state, retry_s=0.0)
    try:
        assert ob.corruption is None, "a full disk is not corruption"
        assert ob.unavailable is not None and "full" in ob.unavailable.lower(), ob.unavailable
        assert not [n for n in os.listdir(state) if "corrupt" in n], os.listdir(state)
        assert [m.msg_id for m in ob.pending()] == ids, "the stored summaries are still readable and sendable"
        mid3 = ob.put(TOPIC, {"session_id": "s2", "program": "squat", "reps": 2})  # held in memory meanwhile
        assert [m.msg_id for m in ob.pending()] == [*ids, mid3]
        assert ob.mark_acked(ids[0])  # acknowledged while the disk is full: not offered again
        assert [m.msg_id for m in ob.pending()] == [ids[1], mid3]
        small_disk.free()
        assert ob.count() == 2
        assert ob.unavailable is None, "back on the file once space is back"
    finally:
        ob.close()
    with Outbox(state) as again:
        assert [m.msg_id for m in again.pending()] == [ids[1], mid3], "the ack and the new summary reached the file"
    db = sqlite3.connect(state / "outbox.db")
    assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    db.close()


def test_two_summaries_pending_when_the_state_disk_fills_are_flushed_once_space_is_back(
        small_disk: SmallDisk, broker: Broker, tmp_path: Path) -> None:
    state = small_disk.path / "state"
    dead = free_port()
    # two sessions end while the broker is unreachable: both wait in the outbox
    with Telemetry(_settings(dead), state, min_backoff=0.2) as t:
        ids = [t.publish_summary({"session_id": f"s{i}", "program": "squat", "reps": 3 + i}) for i in range(2)]
        assert t.outbox.count() == 2
    small_disk.fill()
    # the next start, with the disk full: it runs, reports the fault, and moves nothing aside
    with Telemetry(_settings(dead), state, min_backoff=0.2) as t:
        assert t.outbox.corruption is None and t.outbox.unavailable
        assert {m.msg_id for m in t.outbox.pending()} >= set(ids)
    assert not [n for n in os.listdir(state) if "corrupt" in n]
    env = {**os.environ, "EDGEPOSE_STATE": str(state)}
    st = subprocess.run([*EXE, "outbox", "status"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert st.returncode == 0, st.stderr
    assert all(i in st.stdout for i in ids) and "full" in (st.stdout + st.stderr).lower(), st.stdout + st.stderr
    small_disk.free()
    sub = Subscriber(broker.port, ["edgepose/#"])
    try:
        p = subprocess.run([*EXE, "outbox", "flush", "--mqtt", f"127.0.0.1:{broker.port}", "--timeout", "20"],
                           cwd=ROOT, env=env, capture_output=True, text=True, timeout=90)
        assert p.returncode == 0, p.stdout + p.stderr
        assert sub.wait_for(lambda: {m["msg_id"] for m in sub.json("/session/summary")} >= set(ids), 10)
        got = {m["msg_id"]: m for m in sub.json("/session/summary")}
        assert sorted(got[i]["reps"] for i in ids) == [3, 4]
    finally:
        sub.close()


def test_real_corruption_is_moved_aside_and_reported_to_the_broker(broker: Broker, tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "outbox.db").write_bytes(b"this is not an sqlite database, just garbage " * 100)
    sub = Subscriber(broker.port, ["edgepose/#"])
    try:
        with Telemetry(_settings(broker.port, "unit-c"), state) as t:
            assert t.outbox.corruption is not None
            assert t.flush(10), t.outbox.pending()
        assert sub.wait_for(lambda: [e for e in sub.json("/event") if e["kind"] == "outbox_corrupt"], 10)
        [ev] = [e for e in sub.json("/event") if e["kind"] == "outbox_corrupt"]
        assert ev["level"] == "error" and "preserved" in ev["message"]
    finally:
        sub.close()
    [kept] = [p for p in state.iterdir() if ".corrupt-" in p.name and not p.name.endswith(("-wal", "-shm"))]
    assert kept.read_bytes().startswith(b"this is not an sqlite database")


def test_state_disk_filling_while_the_outbox_is_open_still_delivers(small_disk: SmallDisk, broker: Broker) -> None:
    state = small_disk.path / "state"
    sub = Subscriber(broker.port, ["edgepose/#"])
    try:
        with Telemetry(_settings(broker.port), state) as t:
            assert t.wait_connected(10)
            t.session_started("s-full", "squat")
            small_disk.fill()
            # a checkpoint on a full disk is a warning, not an exception in the evaluate stage
            assert t.session_checkpoint("s-full", {"reps": 2}) is False
            mid = t.publish_summary({"session_id": "s-full", "program": "squat", "reps": 4, "rep_rom_deg": [1.0] * 2000})
            assert t.flush(10), t.outbox.pending()
        assert sub.wait_for(lambda: [m for m in sub.json("/session/summary") if m["msg_id"] == mid], 10)
        assert not list((state / "sessions").glob("*.tmp")), "no half-written journal file left"
        faults = [e for e in sub.json("/event") if e["kind"] == "state_disk_full"]
        assert len(faults) == 1 and "full" in faults[0]["message"].lower(), faults
    finally:
        sub.close()
        small_disk.free()


# --------------------------------------------------------------------------- item 2: outputs

def _run_cli(args: list[str], state: Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "EDGEPOSE_STATE": str(state)}
    return subprocess.run([*EXE, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def test_recording_and_summary_on_a_full_disk_the_summary_still_reaches_the_broker(
        small_disk: SmallDisk, broker: Broker, tmp_path: Path) -> None:
    video = need_data("exercise", "jump_rope_quva023.mp4")
    small_disk.fill()
    rec, summ = small_disk.path / "r.mp4", small_disk.path / "s.json"
    sub = Subscriber(broker.port, ["edgepose/#"])
    try:
        p = _run_cli(["run", "--source", str(video), "--program", "jump-rope", "--record", str(rec),
                      "--summary", str(summ), "--mqtt", f"127.0.0.1:{broker.port}", "--device-id", "unit-d",
                      "--quiet"], tmp_path / "state")
        assert p.returncode == 1, p.stderr  # an output failed: said, and the exit code says so too
        assert f"recording {rec}" in p.stderr and f"summary file {summ}" in p.stderr, p.stderr
        assert f"recording {rec}: No space left on device" in p.stderr, p.stderr
        assert f"summary file {summ}: No space left on device (errno 28 ENOSPC)" in p.stderr, p.stderr
        assert "Traceback" not in p.stderr, p.stderr
        assert "jump-rope: " in p.stderr and " reps" in p.stderr, "the session itself completed"
        assert not summ.exists() and not summ.with_name("s.json.part").exists(), os.listdir(small_disk.path)
        assert sub.wait_for(lambda: sub.json("/session/summary"), 15)
        [s] = {m["msg_id"]: m for m in sub.json("/session/summary")}.values()
        assert s["status"] == "completed" and s["program"] == "jump-rope" and s["reps"] >= 5, s
        failed = [e for e in sub.json("/event") if e["kind"] == "output_failed"]
        assert {Path(e["path"]).name for e in failed} >= {"r.mp4", "s.json"}, failed
    finally:
        sub.close()


def test_poses_file_filling_the_disk_mid_session_keeps_what_was_written(
        small_disk: SmallDisk, broker: Broker, tmp_path: Path) -> None:
    video = need_data("exercise", "jump_rope_quva023.mp4")
    small_disk.fill(leave=120 << 10)  # room for about a third of the poses file
    poses = small_disk.path / "p.jsonl"
    sub = Subscriber(broker.port, ["edgepose/#"])
    try:
        p = _run_cli(["run", "--source", str(video), "--program", "jump-rope", "--poses", str(poses),
                      "--mqtt", f"127.0.0.1:{broker.port}", "--device-id", "unit-d", "--quiet"], tmp_path / "state")
        assert p.returncode == 1 and f"poses file {poses}" in p.stderr and "ENOSPC" in p.stderr, p.stderr
        assert sub.wait_for(lambda: sub.json("/session/summary"), 15)
        s = sub.json("/session/summary")[0]
        assert s["pipeline"]["frames_out"] == 124, "every frame was still evaluated"
        lines = poses.read_text().splitlines()
        assert 0 < len(lines) < 124
        json.loads(lines[-1]) if lines[-1].endswith("}") else None  # the last full line parses
    finally:
        sub.close()


def test_state_disk_filling_mid_session_the_session_and_summary_go_on(small_disk: SmallDisk, broker: Broker) -> None:
    from edgepose.inference.engine import EngineConfig
    from edgepose.live.runner import RunOptions, run_session

    video = need_data("exercise", "jump_rope_quva023.mp4")
    state = small_disk.path / "state"

    def fill_at_frame_20(res) -> None:  # type: ignore[no-untyped-def]
        if res.frame.seq == 20:
            small_disk.fill()

    sub = Subscriber(broker.port, ["edgepose/#"])
    try:
        out = run_session(RunOptions(source=str(video), program="jump-rope", engine=EngineConfig(),
                                     mqtt=_settings(broker.port), state_dir=state, extra_sinks=[fill_at_frame_20]))
        assert out.summary is not None and out.summary["reps"] >= 5
        assert out.published, "the summary reached the broker although the state disk is full"
        assert sub.wait_for(lambda: sub.json("/session/summary"), 10)
        assert sub.json("/session/summary")[0]["session_id"] == out.session_id
    finally:
        sub.close()
    small_disk.free()
    assert SessionJournal(state).open_sessions() == [], "nothing left to be reported as interrupted"
    with Outbox(state) as ob:
        assert [m for m in ob.pending() if m.topic.endswith("/session/summary")] == []


def test_session_start_on_a_full_state_disk_still_reports_the_session(small_disk: SmallDisk, broker: Broker) -> None:
    state = small_disk.path / "state"
    with Telemetry(_settings(broker.port), state) as t:
        assert t.wait_connected(10)
        small_disk.fill()
        t.session_started("s-nojournal", "squat")  # the journal cannot be written: warned, not raised
        assert t.flush(5)
        t.publish_summary({"session_id": "s-nojournal", "program": "squat", "reps": 1})
        assert t.flush(10)
    assert not list((state / "sessions").glob("*.tmp"))
    small_disk.free()


# --------------------------------------------------------------------------- item 7: the journal in outbox status/flush

def test_outbox_status_and_flush_report_an_interrupted_session(broker: Broker, tmp_path: Path) -> None:
    state = tmp_path / "state"
    j = SessionJournal(state)
    j.open_session("s-killed", "squat", started_at=time.time() - 60)
    j.checkpoint("s-killed", {"reps": 4})
    # the journal record of a process that was SIGKILLed: its pid is gone
    rec = json.loads((state / "sessions" / "s-killed.json").read_text())
    rec["pid"] = 2 ** 22 + 12345
    (state / "sessions" / "s-killed.json").write_text(json.dumps(rec))
    st = _run_cli(["outbox", "status"], state, 60)
    assert st.returncode == 0 and "s-killed" in st.stdout and "interrupted" in st.stdout, st.stdout
    assert "0 pending" not in st.stdout
    sub = Subscriber(broker.port, ["edgepose/#"])
    try:
        p = _run_cli(["outbox", "flush", "--mqtt", f"127.0.0.1:{broker.port}", "--timeout", "20"], state, 90)
        assert p.returncode == 0, p.stdout + p.stderr
        assert sub.wait_for(lambda: sub.json("/session/summary"), 10)
        [s] = sub.json("/session/summary")
        assert (s["session_id"], s["status"], s["reps"]) == ("s-killed", "interrupted", 4)
    finally:
        sub.close()
    assert SessionJournal(state).open_sessions() == []


def test_a_session_of_a_running_process_is_not_flushed_as_interrupted(broker: Broker, tmp_path: Path) -> None:
    state = tmp_path / "state"
    SessionJournal(state).open_session("s-live", "squat")  # written by this (running) process
    p = _run_cli(["outbox", "flush", "--mqtt", f"127.0.0.1:{broker.port}", "--timeout", "5"], state, 90)
    assert p.returncode == 0, p.stdout + p.stderr
    assert SessionJournal(state).open_sessions() == ["s-live"], "a live session is left to its process"
