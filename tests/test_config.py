"""The device config: defaults, the shipped examples, and one clear error per kind of mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgepose.config import Config, ConfigError, load_config, loads

ROOT = Path(__file__).resolve().parents[1]
WHERE = "/etc/edgepose/edgepose.toml"


def _err(text: str) -> str:
    with pytest.raises(ConfigError) as ei:
        loads(text, WHERE)
    assert isinstance(ei.value, ValueError)
    return str(ei.value)


def test_empty_file_gives_working_pi_defaults():
    cfg = loads("", WHERE)
    assert isinstance(cfg, Config)
    assert cfg.camera.source == "picam" and cfg.camera.kind == "picam"
    assert cfg.model.delegate == "xnnpack" and cfg.model.landmark == "default"
    assert cfg.gpio.button == 17
    pins = [cfg.gpio.button, *cfg.gpio.leds.as_dict().values()]
    assert len(set(pins)) == len(pins), "default pins must not collide"
    assert not {2, 3} & set(pins), "defaults keep the I2C pins free for an OLED"
    assert cfg.display.kind == "auto"  # the live window when a desktop or KMS screen exists, else headless
    assert cfg.mqtt.device_id == cfg.device.id and cfg.mqtt.port == 1883


@pytest.mark.parametrize("rel", ["firmware/edgepose.example.toml", "firmware/jetson/edgepose.toml"])
def test_shipped_examples_load(rel):
    cfg = load_config(ROOT / rel)
    assert cfg.path == ROOT / rel
    assert cfg.device.id.startswith("gym-")
    assert cfg.gpio.leds.fault == 26
    assert cfg.mqtt.base_topic == "edgepose"


def test_jetson_example_uses_a_gstreamer_csi_source():
    cfg = load_config(ROOT / "firmware/jetson/edgepose.toml")
    assert cfg.camera.kind == "gstreamer"
    assert cfg.camera.source.startswith("nvarguscamerasrc") and "appsink" in cfg.camera.source


def test_config_is_frozen():
    cfg = loads("", WHERE)
    with pytest.raises(AttributeError):
        cfg.gpio.button = 4  # type: ignore[misc]


def test_values_are_read():
    cfg = loads(
        """
[device]
id = "clinic-3"
models_dir = "/srv/models"
[camera]
source = "2"
fps = 15
[model]
landmark = "int8"
threads = 2
delegate = "/usr/lib/libedgetpu.so.1"
[program]
default = "squat"
cycle = ["squat", "tree"]
[gpio]
long_press_s = 1.5
[gpio.leds]
ready = 21
[display]
kind = "ssd1306"
i2c_address = 0x3D
[mqtt]
host = "broker.lan"
username = "u"
password = "p"
""",
        WHERE,
    )
    assert cfg.device.id == "clinic-3" and cfg.device.models_dir == Path("/srv/models")
    assert cfg.camera.source == 2 and cfg.camera.kind == "index" and cfg.camera.fps == 15.0
    assert cfg.model.delegate.endswith(".so.1") and cfg.model.threads == 2
    assert cfg.program.cycle == ("squat", "tree")
    assert cfg.gpio.leds.ready == 21 and cfg.gpio.long_press_s == 1.5
    assert cfg.display.i2c_address == 0x3D
    assert cfg.mqtt.host == "broker.lan" and cfg.mqtt.device_id == "clinic-3"


@pytest.mark.parametrize(
    "text, key, fix",
    [
        ("[camera]\nfps = -1", "camera.fps", "greater than 0"),
        ("[camera]\nfps = \"fast\"", "camera.fps", "a number"),
        ("[camera]\nwidth = 6.5", "camera.width", "an integer"),
        ("[camera]\nsource = -1", "camera.source", "0 for /dev/video0"),
        ("[gpio]\nbutton = 40", "gpio.button", "from 0 to 27"),
        ("[gpio]\nbuton = 3", "gpio.buton", "did you mean 'button'"),
        ("[gpio.leds]\nready = 17", "gpio.leds.ready", "own pin"),
        ("[gpio.leds]\nfix = -2", "gpio.leds.fix", "from 0 to 27"),
        ("[gpio]\nenabled = 1", "gpio.enabled", "true or false"),
        ("[model]\ndelegate = \"gpu\"", "model.delegate", "\"xnnpack\", \"edgetpu\""),
        ("[model]\nlandmark = \"heavy\"", "model.landmark", ".tflite"),
        ("[model]\nlandmark = \"movenet\"", "model.landmark", "\"movenet-lightning\""),
        ("[model]\nthreads = 0", "model.threads", "from 1"),
        ("[display]\nkind = \"lcd\"", "display.kind", "'ssd1306'"),
        ("[display]\nkind = \"ssd1306\"\n[gpio.leds]\nfault = 3", "gpio.leds.fault", "I2C"),
        ("[display]\nkind = \"ssd1306\"\nwidth = 200", "display.width", "128x64"),
        ("[program]\ncountdown_s = -3", "program.countdown_s", "from 0 to 60"),
        ("[program]\ndefault = \"yoga\"\ncycle = [\"squat\"]", "program.default", "cycle"),
        ("[mqtt]\nport = 70000", "mqtt.port", "from 1 to 65535"),
        ("[mqtt]\nport = true", "mqtt.port", "an integer"),
        ("[mqtt]\nprotocol = \"4\"", "mqtt.protocol", "'3.1.1'"),
        ("[mqtt]\nbase_topic = \"a/#\"", "mqtt.base_topic", "no '#'"),
        ("[mqtt]\npassword = \"x\"", "mqtt.password", "username"),
        ("[mqtt]\nhostname = \"x\"", "mqtt.hostname", "did you mean 'host'"),
        ("[device]\nid = \"my unit\"", "device.id", "letters, digits"),
        ("[cameras]\nfps = 3", "cameras", "did you mean [camera]"),
        ("camera = 3", "camera", "a table"),
    ],
)
def test_bad_values_name_file_key_and_fix(text, key, fix):
    msg = _err(text)
    assert msg.startswith(f"{WHERE}: {key}:"), msg
    assert fix in msg, msg


def test_mqtt_settings_checks_are_reported_with_the_key():
    msg = _err("[mqtt]\ntls_ca = \"/nonexistent/ca.crt\"")
    assert msg.startswith(f"{WHERE}: mqtt.tls_ca:"), msg


def test_toml_syntax_error_names_file_and_line():
    msg = _err("[camera]\nwidth = 640\nfps == 3\n")
    assert msg.startswith(f"{WHERE}: line 3: TOML syntax error"), msg


def test_missing_explicit_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "nope.toml")


def test_missing_default_file_falls_back_to_defaults(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGEPOSE_CONFIG", str(tmp_path / "absent.toml"))
    cfg = load_config()
    assert cfg.gpio.button == 17 and cfg.path is None


def test_environment_sets_directories(monkeypatch):
    monkeypatch.setenv("EDGEPOSE_MODELS", "/opt/m")
    monkeypatch.setenv("STATE_DIRECTORY", "/var/lib/edgepose-x")
    cfg = loads("", WHERE)
    assert cfg.device.models_dir == Path("/opt/m")
    assert cfg.device.state_dir == Path("/var/lib/edgepose-x")


def test_unreadable_file_is_named(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_bytes(b"\xff\xfe[camera]")
    with pytest.raises(ConfigError, match=str(p)):
        load_config(p)


def test_manifest_pose_models_are_accepted(tmp_path):
    from edgepose.config import load_config

    f = tmp_path / "edgepose.toml"
    f.write_text('[model]\nlandmark = "movenet-lightning"\n')
    assert load_config(f).model.landmark == "movenet-lightning"


def test_motion_can_be_switched_off(tmp_path):
    from edgepose.config import load_config

    f = tmp_path / "edgepose.toml"
    f.write_text("[model]\nmotion = false\n")
    assert load_config(f).model.motion is False
    f.write_text("[model]\nmotion = 1\n")
    with pytest.raises(Exception, match="model.motion"):
        load_config(f)
