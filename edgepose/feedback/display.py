"""Display sinks: where the live view goes.

* :class:`NullDisplay` -- headless; the default.
* :class:`WindowDisplay` -- an OpenCV window, when a desktop session exists (``$DISPLAY`` or
  ``$WAYLAND_DISPLAY``) and OpenCV was built with a GUI backend.
* :class:`FramebufferDisplay` -- the HDMI/DSI screen of a device without a desktop, by writing
  pixels to ``/dev/fb0`` (geometry from ``/sys/class/graphics/fb0``).
* :class:`SSD1306Display` -- a 128x64 I2C OLED through luma.oled: text, not video (program, state,
  timer, reps, score, cue).

:func:`open_display` picks one from ``[display]``; when the screen asked for is not there it says
why, once, and falls back to headless instead of stopping the device.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from edgepose.config import DisplayConfig
from edgepose.errors import DisplayError
from edgepose.feedback.overlay import Hud, format_time

log = logging.getLogger(__name__)


class Display(Protocol):
    def show(self, image: np.ndarray | None, hud: Hud | None = None) -> None: ...

    def close(self) -> None: ...


class NullDisplay:
    """Headless: shows nothing."""

    name = "none"

    def __init__(self) -> None:
        self.frames = 0

    def show(self, image: np.ndarray | None, hud: Hud | None = None) -> None:
        self.frames += 1

    def close(self) -> None:
        pass


def opencv_has_gui() -> bool:
    """Whether this OpenCV build can open windows (``opencv-python-headless`` cannot)."""
    info = cv2.getBuildInformation()
    for line in info.splitlines():
        if line.strip().startswith("GUI:"):
            return line.split(":", 1)[1].strip().upper() not in ("NONE", "")
    return False


def detect_screen(environ: Mapping[str, str] | None = None, fb: str | os.PathLike[str] = "/dev/fb0") -> tuple[str | None, str]:
    """``("window" | "framebuffer" | None, reason)`` for the screen this process can use."""
    env = os.environ if environ is None else environ
    desktop = env.get("WAYLAND_DISPLAY") or env.get("DISPLAY")
    why = []
    if desktop:
        if opencv_has_gui():
            return "window", f"desktop session {desktop}"
        why.append(f"a desktop session ({desktop}) exists but this OpenCV has no GUI backend "
                   "(opencv-python-headless) and the live window (pygame-ce) could not open it")
    else:
        why.append("no desktop session ($DISPLAY / $WAYLAND_DISPLAY unset)")
    fbp = Path(fb)
    if fbp.exists():
        if os.access(fbp, os.W_OK):
            return "framebuffer", f"{fbp} is writable"
        why.append(f"{fbp} is not writable by this user (add it to the 'video' group)")
    else:
        why.append(f"no framebuffer {fbp} (no HDMI/DSI screen attached, or the fbdev emulation is off)")
    return None, "; ".join(why)


class WindowDisplay:
    """An OpenCV window (full screen by default)."""

    name = "window"

    def __init__(self, title: str = "edgepose", fullscreen: bool = True) -> None:
        self.title = title
        try:
            cv2.namedWindow(title, cv2.WINDOW_NORMAL)
            if fullscreen:
                cv2.setWindowProperty(title, cv2.WND_PROP_FULLSCREEN, cv2.WINDOW_FULLSCREEN)
        except cv2.error as e:
            raise DisplayError(f"cannot open an OpenCV window: {e.err or e}; use display.kind = \"none\"") from e

    def show(self, image: np.ndarray | None, hud: Hud | None = None) -> None:
        if image is not None:
            cv2.imshow(self.title, image)
            cv2.waitKey(1)

    def close(self) -> None:
        try:
            cv2.destroyWindow(self.title)
        except cv2.error:
            pass


def letterbox(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Fit ``image`` into ``width x height`` keeping its aspect ratio, black borders."""
    h, w = image.shape[:2]
    s = min(width / w, height / h)
    nw, nh = max(1, round(w * s)), max(1, round(h * s))
    out = np.zeros((height, width, 3), np.uint8)
    x0, y0 = (width - nw) // 2, (height - nh) // 2
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
    out[y0:y0 + nh, x0:x0 + nw] = cv2.resize(image, (nw, nh), interpolation=interp)
    return out


def bgr_to_fb(image: np.ndarray, bpp: int) -> np.ndarray:
    """Convert BGR to framebuffer pixels: RGB565 (16 bpp), BGR888 (24) or BGRX8888 (32), little-endian."""
    if bpp == 16:
        b = image[..., 0].astype(np.uint16)
        g = image[..., 1].astype(np.uint16)
        r = image[..., 2].astype(np.uint16)
        return ((r >> 3) << 11 | (g >> 2) << 5 | (b >> 3)).astype("<u2")
    if bpp == 24:
        return image
    if bpp == 32:
        return cv2.cvtColor(image, cv2.COLOR_BGR2BGRA)
    raise DisplayError(f"framebuffer depth {bpp} bpp is not supported; use 16 or 32 (set in /boot/firmware/config.txt)")


class FramebufferDisplay:
    """Writes frames to a Linux framebuffer device.

    Parameters
    ----------
    device:
        The framebuffer (``/dev/fb0``).
    sysfs:
        Its sysfs directory, which gives ``virtual_size``, ``bits_per_pixel`` and ``stride``.
    """

    name = "framebuffer"

    def __init__(self, device: str | os.PathLike[str] = "/dev/fb0", sysfs: str | os.PathLike[str] | None = None) -> None:
        self.device = Path(device)
        sys_dir = Path(sysfs) if sysfs is not None else Path("/sys/class/graphics") / self.device.name
        try:
            w, h = (int(v) for v in (sys_dir / "virtual_size").read_text().strip().split(","))
            self.bpp = int((sys_dir / "bits_per_pixel").read_text())
            stride_f = sys_dir / "stride"
            self.stride = int(stride_f.read_text()) if stride_f.exists() else w * self.bpp // 8
        except (OSError, ValueError) as e:
            raise DisplayError(f"cannot read the geometry of {self.device} from {sys_dir}: {e}") from e
        self.width, self.height = w, h
        if self.bpp not in (16, 24, 32):
            raise DisplayError(f"{self.device}: {self.bpp} bpp is not supported; use 16 or 32")
        try:
            self._fd: int | None = os.open(self.device, os.O_RDWR | os.O_CLOEXEC)
        except OSError as e:
            raise DisplayError(f"cannot open {self.device}: {e.strerror}; is the user in the 'video' group?") from e

    def show(self, image: np.ndarray | None, hud: Hud | None = None) -> None:
        if image is None or self._fd is None:
            return
        px = bgr_to_fb(letterbox(image, self.width, self.height), self.bpp)
        row_bytes = self.width * self.bpp // 8
        raw = np.ascontiguousarray(px).view(np.uint8).reshape(self.height, row_bytes)
        if self.stride == row_bytes:
            os.pwrite(self._fd, raw.tobytes(), 0)
        else:
            padded = np.zeros((self.height, self.stride), np.uint8)
            padded[:, :row_bytes] = raw
            os.pwrite(self._fd, padded.tobytes(), 0)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class SSD1306Display:
    """Session text on a small monochrome OLED (luma.oled).

    Parameters
    ----------
    device:
        A luma device; ``None`` opens an SSD1306 on I2C ``port``/``address``. Tests pass
        ``luma.core.device.dummy``.
    """

    name = "ssd1306"

    def __init__(self, device: Any = None, port: int = 1, address: int = 0x3C, width: int = 128,
                 height: int = 64) -> None:
        from PIL import ImageFont

        if device is None:
            try:
                from luma.core.interface.serial import i2c
                from luma.oled.device import ssd1306
            except ImportError as e:
                raise DisplayError("luma.oled is not installed; pip install luma.oled") from e
            try:
                device = ssd1306(i2c(port=port, address=address), width=width, height=height)
            except Exception as e:  # luma raises DeviceNotFoundError / OSError / PermissionError
                raise DisplayError(
                    f"no SSD1306 at I2C bus {port} address 0x{address:02X} ({e}); check the wiring, enable I2C "
                    "(raspi-config) and `i2cdetect -y 1`"
                ) from e
        self.device = device
        self.width, self.height = device.width, device.height
        self.font = ImageFont.load_default()
        try:
            self.big = ImageFont.load_default(size=max(16, self.height - 12))
        except TypeError:  # Pillow without FreeType: one bitmap size
            self.big = self.font
        self._last: tuple | None = None

    def render(self, hud: Hud | None):
        """The PIL image for this HUD (mode ``"1"``)."""
        from PIL import Image, ImageDraw

        img = Image.new("1", (self.width, self.height), 0)
        d = ImageDraw.Draw(img)
        hud = hud or Hud()
        if hud.countdown_s is not None and hud.countdown_s > 0:
            n = str(int(np.ceil(hud.countdown_s)))
            x0, y0, x1, y1 = d.textbbox((0, 0), n, font=self.big)
            d.text(((self.width - (x1 - x0)) // 2 - x0, (self.height - (y1 - y0)) // 2 - y0), n, font=self.big, fill=1)
            return img
        line_h = self.font.getbbox("Ag")[3] + 2
        # header: program on an inverted bar
        d.rectangle((0, 0, self.width - 1, line_h), fill=1)
        d.text((2, 1), self._clip(d, hud.program or "edgepose", self.width - 4), font=self.font, fill=0)
        y = line_h + 2
        row = []
        if hud.state:
            row.append(hud.state.upper())
        if hud.elapsed_s is not None:
            row.append(format_time(hud.elapsed_s))
        if row:
            d.text((2, y), self._clip(d, "  ".join(row), self.width - 4), font=self.font, fill=1)
            y += line_h
        row = []
        if hud.reps is not None:
            row.append(f"reps {hud.reps}")
        if hud.score is not None:
            row.append(f"score {hud.score:.0f}")
        if row:
            d.text((2, y), self._clip(d, "  ".join(row), self.width - 4), font=self.font, fill=1)
            y += line_h
        for line in self._wrap(d, hud.cue, self.width - 4):
            if y + line_h > self.height:
                break
            d.text((2, y), line, font=self.font, fill=1)
            y += line_h
        return img

    def _clip(self, d: Any, text: str, width: int) -> str:
        while text and d.textlength(text, font=self.font) > width:
            text = text[:-1]
        return text

    def _wrap(self, d: Any, text: str, width: int) -> list[str]:
        lines: list[str] = []
        cur = ""
        for word in text.split():
            cand = f"{cur} {word}".strip()
            if d.textlength(cand, font=self.font) <= width:
                cur = cand
            else:
                if cur:
                    lines.append(cur)
                cur = self._clip(d, word, width)
        if cur:
            lines.append(cur)
        return lines

    def show(self, image: np.ndarray | None, hud: Hud | None = None) -> None:
        """Show the HUD (the camera image is not shown on a 128x64 OLED). Redraws only on change."""
        key = (hud.program, hud.state, hud.cue, hud.reps, None if hud.elapsed_s is None else int(hud.elapsed_s),
               None if hud.score is None else round(hud.score),
               None if hud.countdown_s is None else int(np.ceil(hud.countdown_s))) if hud else None
        if key == self._last:
            return
        self._last = key
        self.device.display(self.render(hud).convert(self.device.mode))

    def close(self) -> None:
        try:
            self.device.cleanup()
        except Exception:  # cleanup talks to hardware that may be gone; closing must not raise
            log.debug("OLED cleanup failed", exc_info=True)


def open_display(cfg: DisplayConfig, environ: Mapping[str, str] | None = None,
                 fb: str | os.PathLike[str] = "/dev/fb0", strict: bool = False) -> Display:
    """The display sink ``[display]`` asks for.

    When it is not available the reason is logged once and a :class:`NullDisplay` is returned,
    so a device without its screen still coaches by LEDs and voice; ``strict=True`` raises
    :class:`DisplayError` instead (``edgepose run --display`` uses that).
    """
    try:
        if cfg.kind == "none":
            return NullDisplay()
        if cfg.kind == "ssd1306":
            return SSD1306Display(port=cfg.i2c_port, address=cfg.i2c_address, width=cfg.width, height=cfg.height)
        kind, why = detect_screen(environ, fb)
        if kind == "framebuffer":
            return FramebufferDisplay(fb)
        if kind == "window" and cfg.kind == "hdmi":
            return WindowDisplay()
        if cfg.kind == "auto" and not strict:
            log.warning("display: headless (%s)", why)
            return NullDisplay()
        raise DisplayError(f"display.kind = \"{cfg.kind}\" but no screen is usable: {why}")
    except DisplayError as e:
        if strict:
            raise
        log.warning("%s; running headless", e)
        return NullDisplay()
