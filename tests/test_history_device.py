"""The unit's side of client selection: `cmd select ... client` validated, stamped in the summary,
and stored against the client by the real ingest (real Mosquitto, real session on a real video)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgepose.telemetry.commands import parse_command
from edgepose.telemetry.errors import CommandError
from tests.conftest import need_data
from tests.mqtt_broker import Broker, Subscriber, broker_fixture  # noqa: F401  (fixture)

ROOT = Path(__file__).resolve().parents[1]


def test_select_with_client_is_parsed() -> None:
    c = parse_command(json.dumps({"action": "select", "program": "squat", "client": "C-104"}))
    assert (c.action, c.program, c.client) == ("select", "squat", "C-104")
    assert parse_command(b'{"action": "start", "client": "rehab_03.b"}').client == "rehab_03.b"
    assert parse_command(b'{"action": "select", "program": "squat"}').client is None


@pytest.mark.parametrize("client", ["C 104", "C-104\n", "", "-C104", "C" * 33, "C\u2011104", 104, None, ["C-1"]])
def test_malformed_client_codes_are_refused(client: object) -> None:
    with pytest.raises(CommandError, match="client must be a pseudonymous client code"):
        parse_command(json.dumps({"action": "select", "program": "squat", "client": client}))


def test_stop_takes_no_client_and_the_schema_agrees() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((ROOT / "docs" / "schemas" / "cmd.schema.json").read_text())
    cases = [({"action": "select", "program": "squat", "client": "C-104"}, True),
             ({"action": "stop", "client": "C-104"}, False),
             ({"action": "select", "program": "squat", "client": "C 104"}, False),
             ({"action": "select", "program": "squat", "client": "C-104", "name": "Jo"}, False)]
    for cmd, ok in cases:
        try:
            parse_command(json.dumps(cmd))
            parsed = True
        except CommandError:
            parsed = False
        valid = jsonschema.Draft202012Validator(schema).is_valid(cmd)
        assert parsed is ok and valid is ok, cmd


def test_selected_client_reaches_the_database(tmp_path: Path, factory, broker: Broker) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("sqlalchemy")
    from edgepose.appliance.app import Appliance
    from edgepose.appliance.controller import State
    from edgepose.config import loads
    from tests.test_app import BASE, press, start, wait_for
    from tests.test_history_ingest import InProcessIngest, raw_client

    video = need_data("exercise", "squat_side_gym.mp4")
    ing = InProcessIngest(broker.port, f"sqlite:///{tmp_path / 'history.sqlite'}", tmp_path)
    sub = Subscriber(broker.port, ["edgepose/test-unit/cmd/result"], client_id="results")
    cfg = loads(BASE.format(state=tmp_path / "unit") + f'[mqtt]\nhost = "127.0.0.1"\nport = {broker.port}\n')
    app = Appliance(cfg, pin_factory=factory, source=str(video))
    states: list[State] = []
    app.controller.on_state_change(lambda ch: states.append(ch.state))
    t = start(app)
    pub = raw_client(broker.port, "staff")
    try:
        assert app.telemetry is not None and app.telemetry.commands_ready.wait(10)
        for body in ({"action": "select", "program": "squat", "client": "C 104", "request_id": "bad"},
                     {"action": "select", "program": "squat", "client": "C-104", "request_id": "good"}):
            pub.publish("edgepose/test-unit/cmd", json.dumps(body), qos=1).wait_for_publish(5)
        assert sub.wait_for(lambda: len(sub.json("cmd/result")) == 2, 15)
        results = {r["request_id"]: r for r in sub.json("cmd/result")}
        assert results["bad"]["ok"] is False and "pseudonymous client code" in results["bad"]["error"]
        assert results["good"]["ok"] is True
        assert app.next_client == "C-104"
        press(factory)
        assert wait_for(lambda: State.ACTIVE in states, 5)
        assert app.next_client is None  # one session per selection
        assert wait_for(lambda: State.SUMMARY in states, 180)
        assert app.last_summary is not None and app.last_summary["client"] == "C-104"
        assert wait_for(lambda: ing.store.count_sessions() == 1, 20)
        [s] = ing.store.sessions(client="C-104")
        assert s.device_id == "test-unit" and s.payload["client"] == "C-104"
        assert s.reps == app.last_summary["reps"]
        assert ing.store.client("C-104") is not None
    finally:
        pub.loop_stop()
        pub.disconnect()
        app.shutdown()
        t.join(15)
        sub.close()
        ing.close()
