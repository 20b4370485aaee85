"""Every command resolves the state folder from ``[device] state_dir`` of the config it is given
(``edgepose.config.device_dirs``), not from the environment's default."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from mqtt_broker import free_port

from edgepose.cli import main
from edgepose.config import device_dirs, loads
from edgepose.telemetry.outbox import Outbox
from tests.conftest import need_data


def _config(tmp_path: Path, state: Path) -> Path:
    cfg = tmp_path / "edgepose.toml"
    cfg.write_text(f'[device]\nid = "unit-s"\nstate_dir = "{state}"\n')
    return cfg


def test_device_dirs_honours_the_config_and_creates_the_state_folder(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGEPOSE_STATE", str(tmp_path / "env"))
    assert device_dirs(loads("", "<t>")).state == tmp_path / "env"
    dirs = device_dirs(_config(tmp_path, tmp_path / "cfg" / "state"))
    assert dirs.state == tmp_path / "cfg" / "state" and dirs.state.is_dir()
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ValueError, match="device.state_dir"):
        device_dirs(_config(tmp_path, blocker / "state"))


def test_outbox_status_and_flush_read_the_configs_state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("EDGEPOSE_STATE", str(tmp_path / "env"))
    state = tmp_path / "cfgstate"
    cfg = _config(tmp_path, state)
    with Outbox(state) as ob:
        ids = [ob.put("edgepose/unit-s/session/summary", {"session_id": f"s{i}"}) for i in range(2)]
    assert main(["outbox", "status", "--config", str(cfg)]) == 0
    out = capsys.readouterr().out
    assert "2 pending" in out and str(state / "outbox.db") in out and all(i in out for i in ids)
    assert main(["outbox", "flush", "--config", str(cfg), "--mqtt", f"127.0.0.1:{free_port()}",
                 "--timeout", "0.5"]) == 1
    assert "2 of 2" in capsys.readouterr().err
    assert main(["outbox", "status"]) == 0  # without --config: the environment's folder, empty
    assert "0 pending" in capsys.readouterr().out


def test_run_keeps_its_unsent_summary_in_the_configs_state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    env_state = tmp_path / "env"
    monkeypatch.setenv("EDGEPOSE_STATE", str(env_state))
    frames = tmp_path / "frames"
    frames.mkdir()
    for p in sorted(need_data("yoga").rglob("*.jpg"))[:3]:
        shutil.copy(p, frames / p.name)
    state = tmp_path / "cfgstate"
    cfg = _config(tmp_path, state)
    # no broker listens: the summary must wait in the outbox of the config's state folder
    assert main(["run", "--config", str(cfg), "--source", str(frames), "--mqtt", f"127.0.0.1:{free_port()}",
                 "--quiet"]) == 0
    assert "kept in the outbox" in capsys.readouterr().err
    with Outbox(state) as ob:
        pending = ob.pending()
    assert [m.topic for m in pending] == ["edgepose/unit-s/session/summary"]
    assert not (env_state / "outbox.db").exists()
