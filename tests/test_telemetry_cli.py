"""``edgepose outbox status|flush`` against a real broker, through the CLI entry point."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
from mqtt_broker import Broker, Subscriber, broker_fixture, free_port  # noqa: F401  (the "broker" fixture)

from edgepose.commands import outbox as outbox_cmd
from edgepose.telemetry.outbox import Outbox


def _run(argv: list[str]) -> int:
    p = argparse.ArgumentParser()
    sub = p.add_subparsers()
    outbox_cmd.register(sub)
    args = p.parse_args(argv)
    return int(args.func(args))


def test_outbox_status_and_flush(broker: Broker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("EDGEPOSE_STATE", str(tmp_path / "state"))
    with Outbox(tmp_path / "state") as ob:
        ids = [ob.put("edgepose/u9/session/summary", {"session_id": f"s{i}", "reps": i}) for i in range(3)]
    assert _run(["outbox", "status"]) == 0
    out = capsys.readouterr().out
    assert "3 pending" in out and all(i in out for i in ids)
    assert _run(["outbox", "status", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["msg_id"] for r in rows] == ids and all(r["attempts"] == 0 for r in rows)

    # Broker unreachable: exit 1, what is left is listed, nothing is lost.
    dead = free_port()
    assert _run(["outbox", "flush", "--mqtt", f"127.0.0.1:{dead}", "--timeout", "0.5"]) == 1
    err = capsys.readouterr().err
    assert "3 of 3" in err and all(i in err for i in ids)

    sub = Subscriber(broker.port, ["edgepose/#"])
    try:
        assert _run(["outbox", "flush", "--mqtt", f"127.0.0.1:{broker.port}", "--timeout", "10"]) == 0
        assert "all acknowledged" in capsys.readouterr().out
        assert sub.wait_for(lambda: len(sub.json("/session/summary")) == 3)
        assert sorted(m["msg_id"] for m in sub.json("/session/summary")) == sorted(ids)
        assert not sub.json("/status"), "a flush is not the device: it announces nothing"
    finally:
        sub.close()
    assert _run(["outbox", "status"]) == 0
    assert "0 pending" in capsys.readouterr().out
    assert _run(["outbox", "flush", "--mqtt", f"127.0.0.1:{broker.port}"]) == 0


def test_flush_bad_address_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGEPOSE_STATE", str(tmp_path))
    with pytest.raises(ValueError, match="HOST:PORT"):
        _run(["outbox", "flush", "--mqtt", "localhost:notaport"])
