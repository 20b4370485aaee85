"""Telemetry pieces without a broker: settings, state dir, outbox, journal, commands, discovery."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgepose.telemetry.commands import MAX_BYTES, Command, handle_command, parse_command
from edgepose.telemetry.discovery import discovery_messages
from edgepose.telemetry.errors import CommandError, PayloadError, SettingsError
from edgepose.telemetry.journal import SessionJournal
from edgepose.telemetry.outbox import Outbox
from edgepose.telemetry.payloads import live, summary
from edgepose.telemetry.settings import MqttSettings, parse_hostport
from edgepose.telemetry.state import state_dir


# --- settings ------------------------------------------------------------------------------
def test_settings_defaults_and_topics() -> None:
    s = MqttSettings(host="broker.lan", device_id="gym-pi-01")
    assert (s.port, s.keepalive, s.protocol, s.enabled, s.export_keypoints) == (1883, 30, "5", True, False)
    assert s.topic("session", "summary") == "edgepose/gym-pi-01/session/summary"


@pytest.mark.parametrize("kwargs, key", [
    ({"port": 0}, "port"), ({"port": "1883"}, "port"), ({"device_id": "a/b"}, "device_id"),
    ({"device_id": "+"}, "device_id"), ({"base_topic": "edge/#"}, "base_topic"),
    ({"base_topic": "/x"}, "base_topic"), ({"protocol": "4"}, "protocol"), ({"keepalive": 1}, "keepalive"),
    ({"password": "p"}, "password"), ({"tls_ca": "/nonexistent/ca.pem"}, "tls_ca"),
    ({"enabled": "yes"}, "enabled"), ({"host": ""}, "host"),
])
def test_settings_refuse_bad_values_naming_the_key(kwargs: dict, key: str) -> None:
    with pytest.raises(SettingsError, match=rf"\[mqtt\] {key}:"):
        MqttSettings(**kwargs)


def test_settings_from_mapping_refuses_unknown_keys() -> None:
    with pytest.raises(SettingsError, match="unknown key.*hostname"):
        MqttSettings.from_mapping({"hostname": "x"})
    assert MqttSettings.from_mapping({"host": "h", "port": 8883}).port == 8883


@pytest.mark.parametrize("text, expect", [
    ("localhost:1883", ("localhost", 1883)), ("10.0.0.2:8883", ("10.0.0.2", 8883)),
    ("[::1]:1884", ("::1", 1884)), ("broker", ("broker", 1883)),
])
def test_parse_hostport(text: str, expect: tuple[str, int]) -> None:
    assert parse_hostport(text) == expect


@pytest.mark.parametrize("text", ["", ":1883", "host:", "host:99999", "host:x", "::1:1883", "[::1"])
def test_parse_hostport_errors(text: str) -> None:
    with pytest.raises(ValueError, match="HOST:PORT"):
        parse_hostport(text)


# --- state dir -----------------------------------------------------------------------------
def test_state_dir_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGEPOSE_STATE", str(tmp_path / "a"))
    monkeypatch.setenv("STATE_DIRECTORY", str(tmp_path / "b"))
    assert state_dir() == tmp_path / "a" and (tmp_path / "a").is_dir()
    monkeypatch.delenv("EDGEPOSE_STATE")
    assert state_dir() == tmp_path / "b" and (tmp_path / "b").is_dir()
    monkeypatch.delenv("STATE_DIRECTORY")
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert state_dir() == tmp_path / "xdg" / "edgepose"


# --- outbox --------------------------------------------------------------------------------
def test_outbox_put_pending_ack_survives_reopen(tmp_path: Path) -> None:
    ob = Outbox(tmp_path)
    a = ob.put("t/a", {"x": 1})
    b = ob.put("t/b", {"y": 2}, retain=True)
    ob.mark_attempt(a)
    ob.close()
    ob = Outbox(tmp_path)  # written before any send: still there after a "power cut"
    pend = ob.pending()
    assert [m.msg_id for m in pend] == [a, b]
    assert json.loads(pend[0].payload) == {"x": 1, "msg_id": a}
    assert pend[0].attempts == 1 and pend[1].attempts == 0 and pend[1].retain
    assert ob.mark_acked(a) and not ob.mark_acked(a)
    assert [m.msg_id for m in ob.pending()] == [b]
    mode = ob._db.execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    ob.close()
    ob.close()  # idempotent


def test_outbox_put_with_same_id_is_idempotent(tmp_path: Path) -> None:
    with Outbox(tmp_path) as ob:
        assert ob.put("t", {"a": 1}, msg_id="m1") == "m1"
        assert ob.put("t", {"a": 2}, msg_id="m1") == "m1"
        assert ob.count() == 1


def test_corrupt_outbox_is_preserved_and_replaced(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    junk = b"this is not a database" * 100
    (tmp_path / "outbox.db").write_bytes(junk)
    ob = Outbox(tmp_path)
    assert ob.corruption is not None
    kept = ob.corruption.preserved_as
    assert kept.name.startswith("outbox.db.corrupt-") and kept.read_bytes() == junk
    assert "corrupt" in caplog.text and str(kept) in caplog.text
    ob.put("t", {"ok": True})
    assert ob.count() == 1
    ob.close()


def test_damaged_sqlite_pages_are_detected(tmp_path: Path) -> None:
    ob = Outbox(tmp_path)
    for i in range(300):
        ob.put("t", {"i": i, "pad": "x" * 200})
    ob._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    ob.close()
    raw = bytearray((tmp_path / "outbox.db").read_bytes())
    page = 4096
    for off in range(2 * page, len(raw) - page, page):  # scribble over b-tree pages, keep the header
        raw[off:off + 64] = b"\xff" * 64
    (tmp_path / "outbox.db").write_bytes(bytes(raw))
    ob = Outbox(tmp_path)
    assert ob.corruption is not None and ob.corruption.preserved_as.exists()
    assert ob.count() == 0
    ob.close()


# --- journal -------------------------------------------------------------------------------
def test_journal_recovers_only_open_sessions_with_checkpoint(tmp_path: Path) -> None:
    j = SessionJournal(tmp_path)
    j.open_session("s1", "squat", started_at=100.0)
    j.checkpoint("s1", {"reps": 4, "rep_rom_deg": [80.0, 82.5, 90.0, 88.0]})
    j.open_session("s2", "lunge", started_at=200.0)
    j.close_session("s2", {"reps": 1})
    rec = SessionJournal(tmp_path).recover_interrupted()
    assert len(rec) == 1
    r = rec[0]
    assert (r["session_id"], r["program"], r["status"], r["reps"], r["started_at"]) == (
        "s1", "squat", "interrupted", 4, 100.0)
    assert r["rep_rom_deg"] == [80.0, 82.5, 90.0, 88.0]
    with pytest.raises(KeyError, match="not open"):
        j.checkpoint("nope", {})
    with pytest.raises(ValueError, match="session_id"):
        j.open_session("../etc", "x")


# --- payloads ------------------------------------------------------------------------------
def test_payloads_keep_images_and_keypoints_on_device() -> None:
    body = live("u1", {"reps": 2, "keypoints": [[1, 2, 0.9]]}, export_keypoints=False)
    assert "keypoints" not in body and body["reps"] == 2
    assert "keypoints" in live("u1", {"keypoints": [[1, 2, 0.9]]}, export_keypoints=True)
    with pytest.raises(PayloadError, match="images never leave"):
        live("u1", {"image": "..."}, export_keypoints=True)
    with pytest.raises(PayloadError, match="session_id"):
        summary("u1", {"program": "x"}, False)
    with pytest.raises(PayloadError, match="reps"):
        summary("u1", {"session_id": "s", "program": "x", "reps": -1}, False)


# --- commands ------------------------------------------------------------------------------
def test_valid_commands() -> None:
    assert parse_command(b'{"action":"start"}') == Command("start")
    assert parse_command(b'{"action":"select","program":"squat","request_id":"r-1"}') == Command(
        "select", "squat", "r-1")
    assert parse_command('{"action":"stop","request_id":"x"}') == Command("stop", None, "x")


@pytest.mark.parametrize("raw, why", [
    (b"", "not JSON"), (b"\xff\xfe", "not UTF-8"), (b"[]", "JSON object"), (b'"start"', "JSON object"),
    (b'{"action":"fly"}', "unknown action"), (b'{"action":1}', "unknown action"),
    (b'{"program":"squat"}', "missing key 'action'"), (b'{"action":"select"}', "needs a program"),
    (b'{"action":"stop","program":"x"}', "takes no program"),
    (b'{"action":"select","program":"../../etc"}', "program must be"),
    (b'{"action":"select","program":7}', "program must be"),
    (b'{"action":"start","extra":1}', "unknown key"), (b'{"action":"start","action":"stop"}', "duplicate key"),
    (b'{"action":"start","request_id":5}', "request_id"), (b'{"action":NaN}', "not valid JSON"),
    (b'{"action":"start","program":"' + b"a" * MAX_BYTES + b'"}', "limit"),
    (b"[" * 5000, "limit"),
])
def test_refused_commands_name_the_reason(raw: bytes, why: str) -> None:
    with pytest.raises(CommandError, match=why):
        parse_command(raw)


class _Device:
    """A tiny stand-in for the controller state a command may change."""

    def __init__(self) -> None:
        self.program = "squat"
        self.running = False
        self.calls = 0

    def apply(self, cmd: Command) -> str | None:
        self.calls += 1
        if cmd.action == "select":
            if cmd.program not in ("squat", "lunge"):
                raise ValueError(f"unknown program {cmd.program!r}")
            self.program = cmd.program
        elif cmd.action == "start":
            self.running = True
        else:
            self.running = False
        return None


def test_handle_command_results() -> None:
    dev = _Device()
    r = handle_command(b'{"action":"select","program":"lunge","request_id":"a"}', dev.apply)
    assert r["ok"] and r["error"] is None and r["request_id"] == "a" and dev.program == "lunge"
    r = handle_command(b'{"action":"select","program":"yoga","request_id":"b"}', dev.apply)
    assert not r["ok"] and "unknown program" in r["error"] and r["request_id"] == "b" and dev.program == "lunge"
    r = handle_command(b'{"action":"jump","request_id":"c"}', dev.apply)
    assert not r["ok"] and r["request_id"] == "c" and dev.calls == 2


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=10), kids, max_size=4),
    max_leaves=10,
)
_cmd_like = st.dictionaries(
    st.sampled_from(["action", "program", "request_id", "extra", ""]) | st.text(max_size=8),
    st.sampled_from(["start", "stop", "select", "squat", "", "x" * 70]) | _json_values, max_size=4)


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.binary(max_size=300), _json_values.map(lambda v: json.dumps(v).encode()),
                 _cmd_like.map(lambda v: json.dumps(v).encode())))
def test_fuzz_commands_never_crash_and_refusals_change_nothing(raw: bytes) -> None:
    dev = _Device()
    before = (dev.program, dev.running, dev.calls)
    result = handle_command(raw, dev.apply)
    assert set(result) >= {"ok", "error", "request_id"}
    assert isinstance(result["ok"], bool)
    if result["ok"]:
        cmd = parse_command(raw)
        assert dev.calls == 1 and cmd.action in ("start", "stop", "select")
    else:
        assert isinstance(result["error"], str) and result["error"]
        if "action" not in result:  # refused before reaching the device
            assert (dev.program, dev.running, dev.calls) == before


# --- Home Assistant discovery --------------------------------------------------------------
def test_discovery_configs() -> None:
    s = MqttSettings(device_id="gym-pi-01")
    msgs = dict(discovery_messages(s, firmware="0.1.0", model="blazepose-full"))
    sensors = {t.split("/")[3] for t in msgs if t.startswith("homeassistant/sensor/")}
    buttons = {t.split("/")[3] for t in msgs if t.startswith("homeassistant/button/")}
    assert sensors == {"state", "program", "reps", "score", "last_session"}
    assert buttons == {"start", "stop"}
    ids = set()
    for topic, cfg in msgs.items():
        assert topic.startswith("homeassistant/") and topic.endswith("/config")
        assert topic.split("/")[2] == "edgepose_gym-pi-01"
        for key in ("name", "unique_id", "availability", "device"):
            assert key in cfg, (topic, key)
        av = cfg["availability"][0]
        assert av["topic"] == "edgepose/gym-pi-01/status"
        assert (av["payload_available"], av["payload_not_available"]) == ("online", "offline")
        assert cfg["device"]["identifiers"] == ["edgepose_gym-pi-01"] and cfg["device"]["sw_version"] == "0.1.0"
        ids.add(cfg["unique_id"])
        if "/sensor/" in topic:
            assert cfg["state_topic"].startswith("edgepose/gym-pi-01/session/")
            assert "value_json" in cfg["value_template"]
        else:
            assert cfg["command_topic"] == "edgepose/gym-pi-01/cmd"
            assert parse_command(cfg["payload_press"]).action == topic.split("/")[3]
    assert len(ids) == len(msgs)



def test_live_updates_checkpoint_open_sessions_without_a_broker(tmp_path: Path) -> None:
    from edgepose.telemetry.publisher import Telemetry

    s = MqttSettings(device_id="u-cp", enabled=False)  # no broker at all: the journal still works
    t = Telemetry(s, tmp_path, checkpoint_every=0.0).start()
    t.session_started("s-cp", "squat", started_at=5.0)
    for reps in (1, 2, 3):
        assert not t.publish_live({"session_id": "s-cp", "program": "squat", "reps": reps, "score": 70.0,
                                   "state": "active"})
    t.publish_live({"session_id": "other", "reps": 99})  # not an open session: ignored
    # the process "dies" here (no summary); the next start reports the session with 3 reps
    t2 = Telemetry(s, tmp_path).start()
    [msg] = t2.outbox.pending()
    body = json.loads(msg.payload)
    assert (body["session_id"], body["status"], body["reps"], body["score"]) == ("s-cp", "interrupted", 3, 70.0)
    assert msg.topic == "edgepose/u-cp/session/summary"
    t2.close()
    t.close()


def test_a_new_rep_is_journaled_before_the_live_message_even_between_checkpoints(tmp_path: Path) -> None:
    """A power cut right after the client saw rep 2 must report 2 reps, however long the
    checkpoint interval; other figures (score) wait for the interval."""
    from edgepose.telemetry.publisher import Telemetry

    s = MqttSettings(device_id="u-rep", enabled=False)
    t = Telemetry(s, tmp_path, checkpoint_every=3600.0).start()
    t.session_started("s-rep", "squat", started_at=5.0)
    t.publish_live({"session_id": "s-rep", "program": "squat", "reps": 0, "score": 50.0, "state": "active"})
    t.publish_live({"session_id": "s-rep", "program": "squat", "reps": 1, "score": 60.0, "state": "active"})
    t.publish_live({"session_id": "s-rep", "program": "squat", "reps": 2, "score": 65.0, "state": "active"})
    t.publish_live({"session_id": "s-rep", "program": "squat", "reps": 2, "score": 99.0, "state": "active"})
    t2 = Telemetry(s, tmp_path).start()        # the cut: no summary; the next boot reports it
    [msg] = t2.outbox.pending()
    body = json.loads(msg.payload)
    assert (body["status"], body["reps"], body["score"]) == ("interrupted", 2, 65.0)
    t2.close()
    t.close()
