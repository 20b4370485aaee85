"""``edgepose doctor``: check the device, one line per check, ``ok`` or what to fix.

Critical checks (config, Python, LiteRT, delegate, required models, camera, state directory,
disk space) decide the exit code; the others (display, audio, GPIO, broker) print ``warn``
because the device still works without them (headless, silent, MQTT-only start, outbox).
"""

from __future__ import annotations

import ctypes.util
import glob
import hashlib
import importlib
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from edgepose.config import Config, ConfigError, default_path, from_dict, load_config

MIN_FREE_MB = 200
LOW_FREE_MB = 1024


@dataclass(frozen=True)
class Check:
    """One line of the report."""

    name: str
    ok: bool
    detail: str
    critical: bool = True

    @property
    def label(self) -> str:
        return "ok" if self.ok else ("FAIL" if self.critical else "warn")

    def line(self) -> str:
        return f"{self.label:<5} {self.name}: {self.detail}"


# --------------------------------------------------------------------------- checks


def check_python() -> Check:
    v = sys.version_info
    ok = v >= (3, 11)
    return Check("python", ok, f"{sys.version.split()[0]} ({sys.executable})" if ok else
                 f"{sys.version.split()[0]} is too old; edgepose needs Python >= 3.11 (Raspberry Pi OS bookworm has 3.11)")


def check_runtime() -> Check:
    try:
        from edgepose.inference.runtime import runtime_info

        name, ver = runtime_info()
        return Check("litert", True, f"{name} {ver}")
    except ImportError as e:
        if "edgepose.inference" not in str(e):
            return Check("litert", False, f"{e}")
    for mod, pkg in (("ai_edge_litert", "ai-edge-litert"), ("tflite_runtime", "tflite-runtime")):
        try:
            m = importlib.import_module(mod)
        except ImportError:
            continue
        from importlib.metadata import PackageNotFoundError, version

        try:
            ver = getattr(m, "__version__", None) or version(pkg)
        except PackageNotFoundError:
            ver = "?"
        return Check("litert", True, f"{mod} {ver}")
    return Check("litert", False, "no TFLite runtime: pip install ai-edge-litert (or tflite-runtime)")


def check_delegate(cfg: Config) -> Check:
    d = cfg.model.delegate
    if d == "xnnpack":
        return Check("delegate", True, "xnnpack (CPU, built into LiteRT)")
    if d == "edgetpu":
        for lib in ("libedgetpu.so.1", "libedgetpu.so.1.0"):
            try:
                ctypes.CDLL(lib)
                return Check("delegate", True, f"edgetpu ({lib} loads)")
            except OSError:
                continue
        found = ctypes.util.find_library("edgetpu")
        return Check("delegate", False, "edgetpu: libedgetpu.so.1 not found" + (f" (found {found} but it does not load)" if found else "")
                     + "; apt-get install libedgetpu1-std from the Coral repository, or set model.delegate = \"xnnpack\"")
    p = Path(d)
    if not p.is_file():
        return Check("delegate", False, f"{d} does not exist; give the path of the delegate .so or use \"xnnpack\"")
    try:
        ctypes.CDLL(str(p))
    except OSError as e:
        return Check("delegate", False, f"{d} does not load ({e}); install its dependencies or use \"xnnpack\"")
    return Check("delegate", True, f"{d} loads")


def _required_models(cfg: Config) -> set[str]:
    lm = cfg.model.landmark
    need = {"pose_detection"}
    if lm in ("float", "default"):  # "default" falls back to the fetched float file
        need.add("pose_landmark_full")
    elif lm == "lean":
        need.add("pose_landmark_full_lean")
    elif lm == "int8":
        need.add("pose_landmark_full_int8")
    return need


def _manifest_status(models_dir: Path, manifest: Path) -> dict[str, str]:
    """name → "ok" or the problem, read from the manifest with hashlib (when the models module is absent)."""
    data = tomllib.loads(manifest.read_text())
    out = {}
    for name, m in data.get("models", {}).items():
        path = models_dir / m["file"]
        want = m.get("sha256", "")
        side = path.with_name(path.name + ".sha256")
        if not want and side.exists():
            want = side.read_text().split()[0]
        if not path.is_file():
            out[name] = f"model {m['file']} is not in {models_dir}; run `edgepose models fetch`"
            continue
        if not want:
            out[name] = f"{path} has no known checksum"
            continue
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        out[name] = "ok" if h.hexdigest() == want else f"{path} has the wrong sha256; run `edgepose models fetch`"
    return out


def check_models(cfg: Config) -> list[Check]:
    models_dir = cfg.device.models_dir
    try:
        models = importlib.import_module("edgepose.inference.models")
        status = models.verify_all(models_dir)
    except ImportError:
        manifest = Path(__file__).resolve().parents[2] / "models" / "manifest.toml"
        if not manifest.exists():
            return [Check("models", False, f"no model manifest at {manifest}; reinstall edgepose")]
        status = _manifest_status(models_dir, manifest)
    except Exception as e:  # a broken manifest is itself the finding
        return [Check("models", False, f"{e}")]
    need = _required_models(cfg)
    out = []
    lm = cfg.model.landmark
    if lm not in ("default", "float", "lean", "int8"):
        p = Path(lm)
        out.append(Check("model landmark", p.is_file(), f"{p} ({p.stat().st_size} bytes)" if p.is_file()
                         else f"{p} does not exist; fix model.landmark"))
    absent = []
    for name in sorted(status):
        msg = status[name]
        critical = name in need
        if msg == "ok":
            out.append(Check(f"model {name}", True, f"sha256 verified in {models_dir}", critical))
        elif not critical and " is not in " in msg:
            absent.append(name)
        else:
            out.append(Check(f"model {name}", False, msg + ("" if critical else " (optional model)"), critical))
    if absent:
        out.append(Check("optional models", True, f"not installed: {', '.join(absent)}", critical=False))
    missing = need - set(status)
    for name in sorted(missing):
        out.append(Check(f"model {name}", False, f"{name} is not in the model manifest; reinstall edgepose"))
    return out


def machine_kind(model_file: Path = Path("/proc/device-tree/model"),
                 tegra_file: Path = Path("/etc/nv_tegra_release")) -> tuple[str, str]:
    """``("rpi" | "jetson" | "other", description)`` of the machine doctor runs on."""
    try:
        model = model_file.read_bytes().decode("utf-8", "replace").strip("\x00\n ")
    except OSError:
        model = ""
    if "raspberry pi" in model.lower():
        return "rpi", model
    if "jetson" in model.lower() or tegra_file.exists():
        return "jetson", model or "NVIDIA Jetson"
    import platform

    return "other", f"{platform.machine()} {platform.system()} machine (not a Raspberry Pi or Jetson)"


def check_camera(cfg: Config, machine: tuple[str, str] | None = None) -> Check:
    cam = cfg.camera
    kind = cam.kind
    if kind == "picam":
        try:
            importlib.import_module("picamera2")
        except ImportError:
            board, what = machine or machine_kind()
            if board == "jetson":
                return Check("camera", False, f"camera.kind is picam but this is a {what}: picamera2 is for the "
                             "Raspberry Pi camera and not needed here; set camera.source to a USB camera index (0) or "
                             "a GStreamer pipeline (nvarguscamerasrc ... ! appsink) for a CSI camera")
            if board == "other":
                return Check("camera", False, f"camera.kind is picam but this is an {what}: picamera2 is not "
                             "needed here; use a USB webcam with camera.source = 0 (or `edgepose run --source 0`), "
                             "a video file or an rtsp:// URL")
            return Check("camera", False, "picamera2 is not importable: apt-get install python3-picamera2 and create "
                         "the venv with --system-site-packages (firmware/rpi5/install.sh does both)")
        except Exception as e:  # picamera2 imports libcamera, which can fail in odd ways
            return Check("camera", False, f"picamera2 failed to import ({e})")
        media = sorted(glob.glob("/dev/media*"))
        if not media:
            return Check("camera", False, "picamera2 is installed but no /dev/media* device: check the ribbon cable "
                         "and camera_auto_detect=1 in /boot/firmware/config.txt, then `rpicam-hello --list-cameras`")
        return Check("camera", True, f"picamera2 importable; {', '.join(media)}")
    if kind == "index":
        dev = Path(f"/dev/video{cam.source}")
        if not dev.exists():
            have = ", ".join(sorted(glob.glob("/dev/video*"))) or "none"
            return Check("camera", False, f"{dev} does not exist (video devices: {have}); plug the camera in or fix camera.source")
        if not os.access(dev, os.R_OK | os.W_OK):
            return Check("camera", False, f"{dev} is not accessible by this user; add it to the 'video' group")
        return Check("camera", True, f"{dev}")
    if kind == "file":
        p = Path(str(cam.source))
        if not p.is_file():
            return Check("camera", False, f"camera.source {p} is not a file; fix camera.source")
        import cv2

        cap = cv2.VideoCapture(str(p))
        ok, frame = cap.read() if cap.isOpened() else (False, None)
        cap.release()
        if not ok or frame is None:
            return Check("camera", False, f"{p} cannot be decoded by OpenCV; convert it (e.g. ffmpeg -i in -c:v libx264 out.mp4)")
        return Check("camera", True, f"file {p} ({frame.shape[1]}x{frame.shape[0]})")
    if kind == "gstreamer":
        import cv2

        gst = any(line.strip().startswith("GStreamer:") and "YES" in line for line in cv2.getBuildInformation().splitlines())
        if not gst:
            return Check("camera", False, "camera.source is a GStreamer pipeline but this OpenCV has no GStreamer "
                         "support; use the distribution's python3-opencv (venv with --system-site-packages)")
        return Check("camera", True, "GStreamer pipeline (OpenCV has GStreamer)")
    return Check("camera", True, f"stream {cam.source} (opened and retried at start)", critical=False)


def check_display(cfg: Config, environ: Mapping[str, str] | None = None) -> Check:
    d = cfg.display
    if d.kind == "none":
        return Check("display", True, "none (headless)", critical=False)
    if d.kind == "ssd1306":
        dev = Path(f"/dev/i2c-{d.i2c_port}")
        if not dev.exists():
            return Check("display", False, f"{dev} does not exist; enable I2C (raspi-config, dtparam=i2c_arm=on)", critical=False)
        if not os.access(dev, os.R_OK | os.W_OK):
            return Check("display", False, f"{dev} is not accessible; add the user to the 'i2c' group", critical=False)
        try:
            importlib.import_module("luma.oled.device")
        except ImportError:
            return Check("display", False, "luma.oled is not installed; pip install luma.oled", critical=False)
        return Check("display", True, f"ssd1306 on {dev} address 0x{d.i2c_address:02X} (check it with `i2cdetect -y {d.i2c_port}`)",
                     critical=False)
    from edgepose.feedback.display import detect_screen
    from edgepose.live.window import detect_window

    driver, why_window = detect_window(environ)
    if driver is not None:
        return Check("display", True, f"{d.kind}: the live window on {driver} ({why_window})", critical=False)
    kind, why = detect_screen(environ)
    if kind == "framebuffer":
        return Check("display", True, f"{d.kind}: the framebuffer ({why})", critical=False)
    if d.kind == "auto":  # headless is what auto means when there is no screen
        return Check("display", True, f"auto: headless ({why_window})", critical=False)
    return Check("display", False, f"hdmi: {why_window}; {why}; the device will run headless", critical=False)


def _alsa_cards() -> list[str]:
    try:
        text = Path("/proc/asound/cards").read_text()
    except OSError:
        return []
    return [line.split("]:", 1)[1].strip() for line in text.splitlines() if "]:" in line]


def check_audio(cfg: Config) -> Check:
    a = cfg.audio
    if not a.enabled:
        return Check("audio", True, "off (audio.enabled = false)", critical=False)
    missing = [f"{tool} ({pkg})" for tool, pkg in (("espeak-ng", "espeak-ng"), ("aplay", "alsa-utils"))
               if shutil.which(tool) is None]
    if missing:
        return Check("audio", False, f"missing {', '.join(missing)}: apt-get install espeak-ng alsa-utils", critical=False)
    cards = _alsa_cards()
    if not cards:
        return Check("audio", False, "espeak-ng and aplay present, but no ALSA sound card (/proc/asound/cards); "
                     "plug in a USB speaker or enable HDMI audio", critical=False)
    known = alsa_pcm_names()
    base = a.device.split(":")[0]
    if a.device not in known and base not in ("hw", "plughw") and base not in known:
        return Check("audio", False, f"audio.device {a.device!r} is not an ALSA device here; pick one from `aplay -L` "
                     f"(cards: {'; '.join(cards)})", critical=False)
    return Check("audio", True, f"espeak-ng, aplay; cards: {'; '.join(cards)}; device {a.device}", critical=False)


def alsa_pcm_names() -> set[str]:
    """PCM names ``aplay -L`` lists (``default``, ``null``, ``plughw:CARD=...,DEV=0``, ...)."""
    try:
        p = subprocess.run(["aplay", "-L"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return set()
    return {line.strip() for line in p.stdout.splitlines() if line and not line[0].isspace()}


def check_gpio(cfg: Config) -> Check:
    if not cfg.gpio.enabled:
        return Check("gpio", True, "off (gpio.enabled = false)", critical=False)
    try:
        from gpiozero import Device, GPIOZeroError
    except ImportError:
        return Check("gpio", False, "gpiozero is not installed; pip install gpiozero", critical=False)
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            factory = Device.pin_factory or Device._default_pin_factory()
    except (GPIOZeroError, OSError, RuntimeError) as e:
        board, what = machine_kind()
        if board == "other":
            return Check("gpio", False, f"no GPIO pins on this {what}: the button and LEDs are not needed here "
                         "(the keyboard and window stand in); set gpio.enabled = false to skip this check",
                         critical=False)
        return Check("gpio", False, f"no usable gpiozero pin factory ({e}); on a Pi 5 install python3-lgpio "
                     "(venv with --system-site-packages) and add the user to the 'gpio' group", critical=False)
    name = type(factory).__name__
    chips = sorted(glob.glob("/dev/gpiochip*"))
    return Check("gpio", True, f"pin factory {name}; {', '.join(chips) or 'no /dev/gpiochip*'}; button GPIO{cfg.gpio.button}",
                 critical=False)


def check_broker(cfg: Config, timeout: float = 2.0) -> Check:
    """A real MQTT CONNECT with the config's TLS files and credentials, a subscription to the
    unit's cmd topic and one QoS 1 event: says what the broker refused, not just "TCP works"."""
    m = cfg.mqtt
    if m is None or not m.enabled:
        return Check("broker", True, "off (mqtt.enabled = false)", critical=False)
    from edgepose.telemetry.probe import probe_broker

    r = probe_broker(m, timeout=max(timeout, 1.0))
    if r.ok:
        return Check("broker", True, r.detail, critical=False)
    return Check("broker", False, f"{r.detail} Sessions wait in the outbox meanwhile.", critical=False)


def check_programs(cfg: Config) -> Check:
    """program.default and program.cycle name installed programs that load."""
    from edgepose.appliance.selection import offered_programs, program_problems

    problems = program_problems(cfg)
    if problems:
        return Check("programs", False, "; ".join(p.split(": ", 1)[-1] for p in problems))
    offered = offered_programs(cfg)
    return Check("programs", True, f"{len(offered)} offered, {cfg.program.default or offered[0]!r} selected at start")


def _existing_parent(p: Path) -> Path:
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def check_state_dir(cfg: Config) -> Check:
    d = cfg.device.state_dir
    if not d.exists():
        parent = _existing_parent(d)
        if parent.is_dir() and os.access(parent, os.W_OK):
            return Check("state dir", True, f"{d} will be created (in {parent}, writable)")
        return Check("state dir", False, f"{d} does not exist and {parent} is not writable; create it "
                     f"(install -d -o edgepose {d}) or let systemd's StateDirectory= do it")
    if not d.is_dir():
        return Check("state dir", False, f"{d} is not a directory; fix device.state_dir")
    try:
        with tempfile.NamedTemporaryFile(dir=d, prefix=".doctor-"):
            pass
    except OSError as e:
        return Check("state dir", False, f"{d} is not writable ({e.strerror}); chown it to the service user")
    return Check("state dir", True, f"{d} writable")


def check_disk(cfg: Config) -> Check:
    d = _existing_parent(cfg.device.state_dir)
    u = shutil.disk_usage(d)
    free = u.free // (1 << 20)
    if free < MIN_FREE_MB:
        return Check("disk", False, f"only {free} MB free on {d}; free at least {MIN_FREE_MB} MB (models, outbox, recordings)")
    if free < LOW_FREE_MB:
        return Check("disk", False, f"{free} MB free on {d}; recordings may fill it", critical=False)
    return Check("disk", True, f"{free / 1024:.1f} GB free on {d}")


def run_checks(cfg: Config, config_check: Check, broker_timeout: float = 2.0,
               environ: Mapping[str, str] | None = None) -> list[Check]:
    """Every check, in report order."""
    checks = [config_check, check_programs(cfg), check_python(), check_runtime(), check_delegate(cfg)]
    checks += check_models(cfg)
    checks += [check_camera(cfg), check_display(cfg, environ), check_audio(cfg), check_gpio(cfg),
               check_broker(cfg, broker_timeout), check_state_dir(cfg), check_disk(cfg)]
    return checks


def load_for_doctor(path: str | None) -> tuple[Config, Check]:
    """The config to check against, and the config's own check line (defaults if it is broken)."""
    try:
        cfg = load_config(path)
    except ConfigError as e:
        return from_dict({}, "<defaults>"), Check("config", False, str(e))
    where = str(cfg.path) if cfg.path else f"{default_path()} absent: built-in defaults"
    return cfg, Check("config", True, where)
