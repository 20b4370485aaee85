"""The device configuration: one TOML file, validated into frozen dataclasses.

The file is ``/etc/edgepose/edgepose.toml`` (or ``$EDGEPOSE_CONFIG``, or ``--config``). Every
section and key is optional; the defaults run on a Raspberry Pi 5 with a camera module, a button
on GPIO17 and five status LEDs. Anything the device cannot use -- an unknown key, a wrong type, a
negative frame rate, a pin that does not exist, an unknown delegate -- stops start-up with a
:class:`ConfigError` naming the file, the key path (``gpio.button: ...``) and the fix.

Example
-------
>>> cfg = load_config("firmware/edgepose.example.toml")   # doctest: +SKIP
>>> cfg.gpio.leds.ready
5
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
import os
import re
import socket
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgepose.errors import ConfigError, SettingsError
from edgepose.telemetry.broker import ID_RE, MqttSettings, parse_hostport

__all__ = ["ConfigError", "SettingsError", "Config", "MqttSettings", "parse_hostport", "load_config", "loads", "from_dict",
           "default_path", "default_state_dir", "device_dirs", "DeviceDirs"]

log = logging.getLogger(__name__)

DEFAULT_PATH = Path("/etc/edgepose/edgepose.toml")
DEFAULT_MODELS_DIR = Path("/var/lib/edgepose/models")
DEFAULT_STATE_DIR = Path("/var/lib/edgepose")

# BCM numbering of the 40-pin header: GPIO0..GPIO27 (0/1 are the HAT EEPROM bus, 2/3 are I2C-1).
GPIO_PINS = range(0, 28)
I2C1_PINS = (2, 3)
LED_NAMES = ("ready", "active", "good", "fix", "fault")
DELEGATES = ("xnnpack", "edgetpu")
LANDMARK_VARIANTS = ("default", "float", "lean", "int8")
DISPLAY_KINDS = ("auto", "none", "hdmi", "ssd1306")
MQTT_PROTOCOLS = ("5", "3.1.1")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")  # \Z: "$" lets "squat\n" through
_ID_RE = ID_RE  # one MQTT topic level / HA object id (edgepose.telemetry.broker)


# --------------------------------------------------------------------------- sections


@dataclass(frozen=True)
class DeviceConfig:
    """``[device]``: who this unit is and where it keeps its files."""

    id: str
    models_dir: Path = DEFAULT_MODELS_DIR
    state_dir: Path = DEFAULT_STATE_DIR
    cache_dir: Path = Path("/var/cache/edgepose")


@dataclass(frozen=True)
class CameraConfig:
    """``[camera]``: the frame source and the size/rate asked of it."""

    source: str | int = "picam"
    width: int = 640
    height: int = 480
    fps: float = 30.0

    @property
    def kind(self) -> str:
        """``"picam"``, ``"index"``, ``"url"``, ``"gstreamer"`` or ``"file"``."""
        s = self.source
        if isinstance(s, int):
            return "index"
        if s == "picam":
            return "picam"
        if "://" in s:
            return "url"
        if "!" in s:
            return "gstreamer"
        return "file"


@dataclass(frozen=True)
class ModelConfig:
    """``[model]``: which landmark model, how many threads, which delegate."""

    landmark: str = "default"
    threads: int = 4
    delegate: str = "xnnpack"
    max_people: int = 1
    detector_every: int = 0  # 0: run the detector only when tracking is lost
    motion: bool = True  # also look where the picture moved while someone is missing (fixed camera)


@dataclass(frozen=True)
class ProgramConfig:
    """``[program]``: the program selected at boot, the countdown and the summary display time."""

    default: str = ""  # "" means the first program of ``cycle`` (or of the installed programs)
    countdown_s: float = 3.0
    summary_s: float = 10.0
    cycle: tuple[str, ...] = ()  # the order a long press steps through; () means all installed


@dataclass(frozen=True)
class LedPins:
    """BCM pin of each status LED."""

    ready: int = 5
    active: int = 6
    good: int = 13
    fix: int = 19
    fault: int = 26

    def as_dict(self) -> dict[str, int]:
        return {n: getattr(self, n) for n in LED_NAMES}


@dataclass(frozen=True)
class GpioConfig:
    """``[gpio]``: the start button and the status LEDs."""

    enabled: bool = True
    button: int = 17
    long_press_s: float = 2.0
    leds: LedPins = field(default_factory=LedPins)


@dataclass(frozen=True)
class DisplayConfig:
    """``[display]``: ``none`` (headless), ``hdmi`` (HDMI/DSI screen) or ``ssd1306`` (I2C OLED)."""

    kind: str = "auto"  # a window when a desktop or a KMS screen exists, else headless (says which)
    i2c_port: int = 1
    i2c_address: int = 0x3C
    width: int = 128
    height: int = 64


@dataclass(frozen=True)
class AudioConfig:
    """``[audio]``: spoken cues through espeak-ng and aplay."""

    enabled: bool = True
    voice: str = "en"
    device: str = "default"
    min_interval_s: float = 2.5


@dataclass(frozen=True)
class Config:
    """The whole device configuration."""

    device: DeviceConfig
    camera: CameraConfig = field(default_factory=CameraConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    program: ProgramConfig = field(default_factory=ProgramConfig)
    gpio: GpioConfig = field(default_factory=GpioConfig)
    display: DisplayConfig = field(default_factory=DisplayConfig)
    audio: AudioConfig = field(default_factory=AudioConfig)
    mqtt: MqttSettings | None = None
    path: Path | None = None


# --------------------------------------------------------------------------- reading


class _Table:
    """Reads one TOML table, checking each key once and refusing what is left over."""

    def __init__(self, data: Any, path: str, where: str) -> None:
        if not isinstance(data, dict):
            raise ConfigError(f"{where}: {path}: expected a table ([{path}]), got {_tname(data)}")
        self.data = data
        self.prefix = path
        self.where = where
        self.seen: set[str] = set()

    def fail(self, key: str, problem: str, fix: str) -> ConfigError:
        return ConfigError(f"{self.where}: {self.prefix}.{key}: {problem}; {fix}")

    def get(self, key: str, default: Any, types: tuple[type, ...], expect: str) -> Any:
        self.seen.add(key)
        if key not in self.data:
            return default
        v = self.data[key]
        # bool is an int in Python; never accept true/false where a number is meant.
        if isinstance(v, bool) and bool not in types:
            raise self.fail(key, f"expected {expect}, got a boolean ({str(v).lower()})", f"write {expect}")
        if not isinstance(v, types):
            raise self.fail(key, f"expected {expect}, got {_tname(v)} {v!r}", f"write {expect}")
        return v

    def string(self, key: str, default: str, choices: tuple[str, ...] | None = None) -> str:
        v = self.get(key, default, (str,), "a string")
        if choices is not None and v not in choices:
            raise self.fail(key, f"{v!r} is not one of {', '.join(map(repr, choices))}",
                            f"use one of {', '.join(map(repr, choices))}")
        return v

    def optional_string(self, key: str) -> str | None:
        v = self.get(key, None, (str,), "a string")
        return v if v else None

    def integer(self, key: str, default: int, lo: int | None = None, hi: int | None = None) -> int:
        v = self.get(key, default, (int,), "an integer")
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            raise self.fail(key, f"{v} is out of range", f"use a value {_range(lo, hi)}")
        return v

    def number(self, key: str, default: float, lo: float | None = None, hi: float | None = None,
               lo_open: bool = False) -> float:
        v = float(self.get(key, default, (int, float), "a number"))
        bad_lo = lo is not None and (v <= lo if lo_open else v < lo)
        if bad_lo or (hi is not None and v > hi) or v != v:
            rng = _range(lo, hi)
            if lo_open:
                rng = f"greater than {lo:g}" + (f" and at most {hi:g}" if hi is not None else "")
            raise self.fail(key, f"{v:g} is out of range", f"use a value {rng}")
        return v

    def boolean(self, key: str, default: bool) -> bool:
        return self.get(key, default, (bool,), "true or false")

    def path(self, key: str, default: Path) -> Path:
        v = self.get(key, None, (str,), "a path string")
        if v is None:
            return default
        if not v:
            raise self.fail(key, "is empty", "give a directory path or remove the key")
        return Path(v).expanduser()

    def sub(self, key: str) -> _Table:
        self.seen.add(key)
        return _Table(self.data.get(key, {}), f"{self.prefix}.{key}", self.where)

    def done(self) -> None:
        extra = [k for k in self.data if k not in self.seen]
        if extra:
            k = extra[0]
            close = difflib.get_close_matches(k, sorted(self.seen), n=1)
            fix = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(sorted(self.seen))}"
            raise self.fail(k, "unknown key", fix)


def _tname(v: Any) -> str:
    return {dict: "a table", list: "an array", str: "a string", bool: "a boolean", int: "an integer",
            float: "a number"}.get(type(v), type(v).__name__)


def _range(lo: float | None, hi: float | None) -> str:
    if lo is not None and hi is not None:
        return f"from {lo:g} to {hi:g}"
    if lo is not None:
        return f">= {lo:g}"
    return f"<= {hi:g}"


def _env_path(name: str, default: Path) -> Path:
    v = os.environ.get(name, "").split(":")[0]
    return Path(v).expanduser() if v else default


# --------------------------------------------------------------------------- device folders


def default_state_dir() -> Path:
    """The state folder when ``[device] state_dir`` is not set (nothing is created here).

    Order: ``$EDGEPOSE_STATE``; ``$STATE_DIRECTORY`` (set by systemd's ``StateDirectory=``; the
    first entry when it lists several); ``/var/lib/edgepose`` when running as root and it can be
    written; otherwise ``$XDG_STATE_HOME/edgepose`` (default ``~/.local/state/edgepose``).
    """
    for name in ("EDGEPOSE_STATE", "STATE_DIRECTORY"):
        v = os.environ.get(name, "").split(":")[0]
        if v:
            return Path(v).expanduser()
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        probe = DEFAULT_STATE_DIR if DEFAULT_STATE_DIR.exists() else DEFAULT_STATE_DIR.parent
        if os.access(probe, os.W_OK):
            return DEFAULT_STATE_DIR
        log.warning("cannot use %s (not writable); falling back to the per-user state folder", DEFAULT_STATE_DIR)
    xdg = os.environ.get("XDG_STATE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".local" / "state") / "edgepose"


def default_models_dir() -> Path:
    """The models folder when ``[device] models_dir`` is not set: ``$EDGEPOSE_MODELS``; else
    ``models/`` of a source checkout; else ``/var/lib/edgepose/models``."""
    from edgepose.inference.models import models_dir

    return models_dir()


@dataclass(frozen=True)
class DeviceDirs:
    """The folders a command works in, resolved from ``[device]`` of one config."""

    state: Path
    models: Path


def device_dirs(cfg: Config | str | os.PathLike[str] | None = None, create_state: bool = True) -> DeviceDirs:
    """The state and models folders of ``cfg`` (a :class:`Config`, a config file path, or
    ``None`` for the default config file) -- the one place every command asks.

    ``[device] state_dir`` / ``models_dir`` when the file sets them, else the defaults of
    :func:`default_state_dir` / :func:`default_models_dir`. The state folder is created
    (``create_state``); if that fails the error names the folder, where it came from and the fix.
    """
    if not isinstance(cfg, Config):
        cfg = load_config(cfg)
    state = cfg.device.state_dir
    if create_state:
        try:
            state.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            where = cfg.path or "the defaults"
            raise ConfigError(f"{where}: device.state_dir: {state} cannot be created ({e.strerror or e}); "
                              "point it (or EDGEPOSE_STATE) at a writable folder") from e
    return DeviceDirs(state=state, models=cfg.device.models_dir)


# --------------------------------------------------------------------------- sections


def _device(t: _Table) -> DeviceConfig:
    dev_id = t.string("id", socket.gethostname().split(".")[0] or "edgepose")
    if not _ID_RE.match(dev_id):
        raise t.fail("id", f"{dev_id!r} is not usable in an MQTT topic",
                     "use 1-64 letters, digits, '_' or '-', starting with a letter or digit (e.g. \"gym-pi-01\")")
    # Defaults: default_models_dir() and default_state_dir() (environment, then the device folders).
    models = t.path("models_dir", default_models_dir())
    state = t.path("state_dir", default_state_dir())
    cache = t.path("cache_dir", _env_path("CACHE_DIRECTORY", Path("/var/cache/edgepose")))
    t.done()
    return DeviceConfig(id=dev_id, models_dir=models, state_dir=state, cache_dir=cache)


def _camera(t: _Table) -> CameraConfig:
    src = t.get("source", "picam", (str, int), "\"picam\", a camera index, a file path, a URL or a GStreamer pipeline")
    if isinstance(src, int) and src < 0:
        raise t.fail("source", f"camera index {src} is negative", "use 0 for /dev/video0, 1 for /dev/video1, ...")
    if isinstance(src, str):
        src = src.strip()
        if not src:
            raise t.fail("source", "is empty", "use \"picam\", a camera index, a file path, a URL or a GStreamer pipeline")
        if src.isdigit():
            src = int(src)
    width = t.integer("width", 640, 16, 8192)
    height = t.integer("height", 480, 16, 8192)
    fps = t.number("fps", 30.0, 0.0, 240.0, lo_open=True)
    t.done()
    return CameraConfig(source=src, width=width, height=height, fps=fps)


def _pose_models() -> list[str]:
    """Manifest models that can be the pose model (``movenet-lightning``...), dash-spelt."""
    from edgepose.errors import ModelError
    from edgepose.inference import models

    try:
        entries, _ = models.load_manifest()
    except ModelError:
        return []
    return [n.replace("_", "-") for n, e in entries.items() if e.decoder == "movenet"]


def _model(t: _Table) -> ModelConfig:
    lm = t.string("landmark", "default")
    named = _pose_models()
    if lm not in LANDMARK_VARIANTS and lm not in named and not lm.endswith(".tflite"):
        raise t.fail("landmark", f"{lm!r} is neither a variant, a model of the manifest nor a model file",
                     "use \"default\", \"float\", \"lean\", \"int8\", "
                     + "".join(f'"{n}", ' for n in named) + "or the path of a .tflite file")
    threads = t.integer("threads", 4, 1, 64)
    dl = t.string("delegate", "xnnpack")
    if dl not in DELEGATES and ".so" not in Path(dl).name:
        raise t.fail("delegate", f"unknown delegate {dl!r}",
                     "use \"xnnpack\", \"edgetpu\" or the path of an external delegate library (.so)")
    max_people = t.integer("max_people", 1, 1, 32)
    det = t.integer("detector_every", 0, 0, 10_000)
    motion = t.boolean("motion", True)
    t.done()
    return ModelConfig(landmark=lm, threads=threads, delegate=dl, max_people=max_people, detector_every=det,
                       motion=motion)


def _program(t: _Table) -> ProgramConfig:
    default = t.string("default", "")
    countdown = t.number("countdown_s", 3.0, 0.0, 60.0)
    summary = t.number("summary_s", 10.0, 0.0, 3600.0)
    cycle = t.get("cycle", [], (list,), "an array of program names")
    for i, name in enumerate(cycle):
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise t.fail(f"cycle[{i}]", f"{name!r} is not a program name", "use the names of installed programs")
    if len(set(cycle)) != len(cycle):
        raise t.fail("cycle", "lists a program twice", "list each program once")
    if default and cycle and default not in cycle:
        raise t.fail("default", f"{default!r} is not in program.cycle", "add it to cycle or pick one of the cycle")
    t.done()
    return ProgramConfig(default=default, countdown_s=countdown, summary_s=summary, cycle=tuple(cycle))


def _gpio(t: _Table, display_kind: str) -> GpioConfig:
    enabled = t.boolean("enabled", True)
    lo, hi = GPIO_PINS.start, GPIO_PINS.stop - 1
    button = t.integer("button", 17, lo, hi)
    hold = t.number("long_press_s", 2.0, 0.2, 30.0)
    lt = t.sub("leds")
    defaults = LedPins()
    pins = {n: lt.integer(n, getattr(defaults, n), lo, hi) for n in LED_NAMES}
    lt.done()
    t.done()
    used: dict[int, str] = {button: "gpio.button"}
    for n, p in pins.items():
        if p in used:
            raise ConfigError(f"{t.where}: gpio.leds.{n}: pin {p} is already used by {used[p]}; "
                              "give every LED and the button its own pin")
        used[p] = f"gpio.leds.{n}"
    if display_kind == "ssd1306":
        for p, key in used.items():
            if p in I2C1_PINS:
                raise ConfigError(f"{t.where}: {key}: pin {p} is an I2C pin (SDA=2, SCL=3) used by the "
                                  "SSD1306 display; move it to another pin")
    return GpioConfig(enabled=enabled, button=button, long_press_s=hold, leds=LedPins(**pins))


def _display(t: _Table) -> DisplayConfig:
    kind = t.string("kind", "auto", DISPLAY_KINDS)
    port = t.integer("i2c_port", 1, 0, 31)
    addr = t.integer("i2c_address", 0x3C, 0x03, 0x77)
    width = t.integer("width", 128, 8, 8192)
    height = t.integer("height", 64, 8, 8192)
    if kind == "ssd1306" and (width, height) not in ((128, 64), (128, 32), (96, 16), (64, 48), (64, 32)):
        raise t.fail("width", f"an SSD1306 has no {width}x{height} mode",
                     "use 128x64, 128x32, 96x16, 64x48 or 64x32")
    t.done()
    return DisplayConfig(kind=kind, i2c_port=port, i2c_address=addr, width=width, height=height)


def _audio(t: _Table) -> AudioConfig:
    enabled = t.boolean("enabled", True)
    voice = t.string("voice", "en")
    if not re.match(r"^[A-Za-z0-9_+\-/]{1,40}$", voice):
        raise t.fail("voice", f"{voice!r} is not an espeak-ng voice name", "use e.g. \"en\", \"en-us\", \"de\" (espeak-ng --voices)")
    device = t.string("device", "default")
    if not device:
        raise t.fail("device", "is empty", "use \"default\" or an ALSA device such as \"plughw:1,0\" (aplay -L)")
    interval = t.number("min_interval_s", 2.5, 0.0, 600.0)
    t.done()
    return AudioConfig(enabled=enabled, voice=voice, device=device, min_interval_s=interval)


def _mqtt(t: _Table, device_id: str) -> MqttSettings:
    """``[mqtt]``: the TOML types are read here; the values are checked by :class:`MqttSettings`
    (the one place), whose error is given the file and the key path."""
    values: dict[str, Any] = {
        "enabled": t.boolean("enabled", True),
        "host": t.string("host", "localhost"),
        "port": t.integer("port", 1883, 1, 65535),
        "hosts": tuple(t.get("hosts", [], (list,), 'a list of "HOST:PORT" strings')),
        "device_id": t.string("device_id", device_id),
        "base_topic": t.string("base_topic", "edgepose"),
        "username": t.optional_string("username"),
        "password": t.optional_string("password"),
        "tls_ca": t.optional_string("tls_ca"),
        "tls_cert": t.optional_string("tls_cert"),
        "tls_key": t.optional_string("tls_key"),
        "keepalive": t.integer("keepalive", 30, 5, 3600),
        "protocol": t.string("protocol", "5", MQTT_PROTOCOLS),
        "export_keypoints": t.boolean("export_keypoints", False),
    }
    t.done()
    if values["hosts"] and "host" in t.data:
        raise t.fail("hosts", "is set together with mqtt.host",
                     "list every broker in mqtt.hosts and remove mqtt.host (or the other way round)")
    try:
        return MqttSettings(**values)
    except SettingsError as e:
        key = f"mqtt.{e.key}" if e.key else "mqtt"
        raise ConfigError(f"{t.where}: {key}: {e.problem}") from e


# --------------------------------------------------------------------------- entry points


def from_dict(data: Mapping[str, Any], where: str = "<config>") -> Config:
    """Validate an already-parsed TOML document."""
    sections = ("device", "camera", "model", "program", "gpio", "display", "audio", "mqtt")
    for k in data:
        if k not in sections:
            close = difflib.get_close_matches(k, sections, n=1)
            fix = f"did you mean [{close[0]}]?" if close else f"sections are: {', '.join(sections)}"
            raise ConfigError(f"{where}: {k}: unknown section; {fix}")

    def table(name: str) -> _Table:
        return _Table(data.get(name, {}), name, where)

    device = _device(table("device"))
    display = _display(table("display"))
    return Config(
        device=device,
        camera=_camera(table("camera")),
        model=_model(table("model")),
        program=_program(table("program")),
        gpio=_gpio(table("gpio"), display.kind),
        display=display,
        audio=_audio(table("audio")),
        mqtt=_mqtt(table("mqtt"), device.id),
    )


def loads(text: str, where: str = "<string>") -> Config:
    """Parse and validate TOML text."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        m = re.search(r"line (\d+)", str(e))
        line = int(m.group(1)) if m else text.count("\n") + 1
        raise ConfigError(f"{where}: line {line}: TOML syntax error ({e}); fix the syntax at that line") from e
    return from_dict(data, where)


def default_path() -> Path:
    """``$EDGEPOSE_CONFIG`` if set, otherwise ``/etc/edgepose/edgepose.toml``."""
    return Path(os.environ.get("EDGEPOSE_CONFIG") or DEFAULT_PATH)


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Read and validate the configuration file.

    Parameters
    ----------
    path:
        The file. ``None`` means :func:`default_path`; if *that* file does not exist the
        built-in defaults are used. A path given explicitly must exist.

    Raises
    ------
    ConfigError
        The file is missing (when named explicitly), unreadable, not TOML, or has a key the
        device cannot use; the message names the file, the key and the fix.
    """
    explicit = path is not None
    p = Path(path) if explicit else default_path()
    if not p.exists():
        if explicit:
            raise ConfigError(f"{p}: no such config file; create it with `edgepose config init {p}` (the "
                              "commented example) or leave out --config to use the defaults")
        return from_dict({}, f"{p} (absent: defaults)")
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{p}: cannot read the config file ({e}); check its permissions and encoding") from e
    return dataclasses.replace(loads(text, str(p)), path=p)
