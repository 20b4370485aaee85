"""``edgepose doctor`` against real parts: the models on disk, a real video, a real Mosquitto."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mqtt_broker import broker_fixture, free_port  # noqa: F401  (the "broker" fixture)

from edgepose.appliance.doctor import (
    _manifest_status,
    check_broker,
    check_camera,
    check_delegate,
    check_disk,
    check_state_dir,
    load_for_doctor,
)
from edgepose.cli import main
from edgepose.config import loads

ROOT = Path(__file__).resolve().parents[1]
VIDEO = ROOT / ".." / "shared" / "data" / "video" / "dance_single_office.mp4"


def models_here() -> Path:
    from edgepose.inference.models import models_dir

    d = models_dir()
    if not (d / "pose_landmark_full.tflite").exists() or not (d / "pose_detection.tflite").exists():
        pytest.skip(f"models not fetched into {d} (run `edgepose models fetch`)")
    return d


def write_config(tmp_path: Path, port: int, models: Path, camera: str) -> Path:
    p = tmp_path / "edgepose.toml"
    p.write_text(f"""
[device]
id = "doctor-test"
models_dir = "{models}"
state_dir = "{tmp_path / 'state'}"
[camera]
source = "{camera}"
[gpio]
enabled = false
[audio]
enabled = false
[mqtt]
host = "127.0.0.1"
port = {port}
""")
    return p


def test_healthy_device_exits_0_with_one_line_per_check(tmp_path, broker, capsys):
    if not VIDEO.exists():
        pytest.skip(f"test video missing: {VIDEO}")
    cfg = write_config(tmp_path, broker.port, models_here(), str(VIDEO.resolve()))
    rc = main(["doctor", "--config", str(cfg)])
    out = capsys.readouterr().out.splitlines()
    assert rc == 0, "\n".join(out)
    lines = {line.split(":")[0].split(None, 1)[1]: line.split()[0] for line in out[:-1]}
    for name in ("config", "python", "litert", "delegate", "model pose_detection", "model pose_landmark_full",
                 "camera", "display", "audio", "gpio", "broker", "state dir", "disk"):
        assert lines.get(name) == "ok", (name, out)
    assert out[-1].endswith("-- ready")
    assert any(f"127.0.0.1:{broker.port} accepted MQTT" in line for line in out)  # a real CONNECT


def test_stopped_broker_is_a_warning_not_a_failure(tmp_path, capsys):
    if not VIDEO.exists():
        pytest.skip(f"test video missing: {VIDEO}")
    port = free_port()  # nothing listens here
    cfg = write_config(tmp_path, port, models_here(), str(VIDEO.resolve()))
    rc = main(["doctor", "--config", str(cfg), "--json"])
    checks = {c["name"]: c for c in json.loads(capsys.readouterr().out)}
    assert rc == 0
    assert checks["broker"]["label"] == "warn" and f"127.0.0.1:{port}" in checks["broker"]["detail"]
    assert "mosquitto" in checks["broker"]["detail"]


def test_missing_models_fail_and_name_the_fix(tmp_path, capsys):
    cfg = write_config(tmp_path, free_port(), tmp_path / "empty-models", str(VIDEO.resolve()))
    rc = main(["doctor", "--config", str(cfg)])
    out = capsys.readouterr().out
    assert rc == 1
    line = next(x for x in out.splitlines() if "model pose_landmark_full:" in x)
    assert line.startswith("FAIL") and "edgepose models fetch" in line


def test_corrupt_model_is_caught_by_checksum(tmp_path, capsys):
    src = models_here()
    bad = tmp_path / "models"
    bad.mkdir()
    (bad / "pose_detection.tflite").write_bytes((src / "pose_detection.tflite").read_bytes())
    data = bytearray((src / "pose_landmark_full.tflite").read_bytes())
    data[5000] ^= 0xFF
    (bad / "pose_landmark_full.tflite").write_bytes(bytes(data))
    cfg = write_config(tmp_path, free_port(), bad, str(VIDEO.resolve()))
    assert main(["doctor", "--config", str(cfg)]) == 1
    out = capsys.readouterr().out
    assert "ok    model pose_detection" in out
    assert "FAIL  model pose_landmark_full" in out and "sha256" in out


def test_manifest_fallback_checks_sha256_itself(tmp_path):
    src = models_here()
    status = _manifest_status(src, ROOT / "models" / "manifest.toml")
    assert status["pose_detection"] == "ok" and status["pose_landmark_full"] == "ok"
    status = _manifest_status(tmp_path, ROOT / "models" / "manifest.toml")
    assert "edgepose models fetch" in status["pose_detection"]


def test_bad_config_fails_with_the_key_and_other_checks_still_run(tmp_path, capsys):
    p = tmp_path / "bad.toml"
    p.write_text("[gpio]\nbutton = 99\n")
    assert main(["doctor", "--config", str(p)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("FAIL  config:") and "gpio.button" in out[0]
    assert any(line.startswith("ok    python") for line in out)


def test_individual_checks(tmp_path):
    cfg = loads(f'[camera]\nsource = 7\n[model]\ndelegate = "{tmp_path}/nope.so"\n[device]\nstate_dir = "{tmp_path}"\n')
    cam = check_camera(cfg)
    assert not cam.ok and "/dev/video7" in cam.detail
    d = check_delegate(cfg)
    assert not d.ok and "does not exist" in d.detail
    s = check_state_dir(cfg)
    assert s.ok and "writable" in s.detail
    assert check_disk(cfg).ok
    bad_file = loads(f'[camera]\nsource = "{tmp_path}/x.mp4"').camera
    assert bad_file.kind == "file"
    (tmp_path / "x.mp4").write_bytes(b"not a video")
    c = check_camera(loads(f'[camera]\nsource = "{tmp_path}/x.mp4"'))
    assert not c.ok and "cannot be decoded" in c.detail
    off = check_broker(loads("[mqtt]\nenabled = false"))
    assert off.ok and "off" in off.detail


def test_unusable_state_dir_fails(tmp_path):
    f = tmp_path / "afile"
    f.write_text("x")
    under_file = check_state_dir(loads(f'[device]\nstate_dir = "{f}/state"'))
    assert not under_file.ok and "not writable" in under_file.detail
    is_file = check_state_dir(loads(f'[device]\nstate_dir = "{f}"'))
    assert not is_file.ok and "not a directory" in is_file.detail


def test_load_for_doctor_falls_back_to_defaults(tmp_path):
    cfg, check = load_for_doctor(str(tmp_path / "missing.toml"))
    assert not check.ok and "no such config file" in check.detail
    assert cfg.gpio.button == 17


def test_alsa_names_come_from_aplay():
    import shutil

    from edgepose.appliance.doctor import alsa_pcm_names

    if shutil.which("aplay") is None:
        pytest.skip("aplay not installed (apt-get install alsa-utils)")
    names = alsa_pcm_names()
    assert "null" in names, names
    assert not any(n.startswith(" ") for n in names)
